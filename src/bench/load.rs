//! The load driver: K concurrent clients send one scenario's requests to the real HTTP API for
//! T seconds; each request is timed from send to the last byte of its answer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::Method;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use super::client::{Client, Endpoint};
use super::report::{ScenarioResult, summarise};
use super::server::RssProbe;

/// Every scenario `triage bench` knows, in the order it runs them by default.
pub const SCENARIOS: &[&str] = &[
    "create",
    "get",
    "list",
    "list_deep",
    "search",
    "comment",
    "mixed",
    "mail",
    "health",
];

/// Something that sends one request of a scenario: the HTTP clients, or inbound mail.
pub trait Workload: Send + Sync + 'static {
    /// What one client keeps between its requests (its connection).
    type Client: Default + Send;

    /// Sends one request of `scenario` as `client`; `Ok` when it had the expected outcome.
    fn one<'a>(
        &'a self,
        client: &'a mut Self::Client,
        scenario: &'a str,
        rng: &'a mut SmallRng,
    ) -> impl std::future::Future<Output = Result<(), String>> + Send + 'a;

    /// Whether the clients may run on a thread of their own (see [`drive`]): only when they
    /// share nothing bound to the caller's runtime (connections, pools).
    fn own_thread(&self) -> bool {
        false
    }
}

impl Workload for Target {
    type Client = Client;

    fn one<'a>(
        &'a self,
        client: &'a mut Client,
        scenario: &'a str,
        rng: &'a mut SmallRng,
    ) -> impl std::future::Future<Output = Result<(), String>> + Send + 'a {
        self.request(client, scenario, rng)
    }

    fn own_thread(&self) -> bool {
        // Each client opens its own connection; the shared (reqwest) one is the runtime's.
        self.endpoint.is_some()
    }
}

/// Longest a request may take before it counts as an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Words for search requests, most of them common in bulk-seeded tickets; the last is meant
/// to match nothing, so the create scenario's subjects never use it.
const WORDS: &[&str] = &[
    "password",
    "invoice",
    "webhook",
    "export",
    "dashboard",
    "vpn",
    "checkout",
    "android",
    "refund",
    "sso",
    "deadline",
    "firefox",
    "warehouse",
    "duplicate",
    "calendar",
    "screenshot",
    "timeout",
    "nonexistentword",
];
const STATUSES: &[&str] = &[
    "open,in_progress",
    "closed",
    "resolved",
    "waiting,on_hold",
    "open,assigned,in_progress,reopened",
];
const PRIORITIES: &[&str] = &["high,urgent", "medium", "low", "urgent", "low,medium"];

/// What the clients need to know about the server under test.
pub struct Target {
    /// `http://host:port`.
    pub base: String,
    /// `Bearer` token of a staff account that sees every ticket.
    pub token: String,
    /// HTTP client for preparing (keep-alive pool).
    pub http: reqwest::Client,
    /// Where the load clients send their requests, as whom; `None` for an `https://` server,
    /// which the shared client (`http`) serves instead.
    pub endpoint: Option<Endpoint>,
    /// Ticket ids to read.
    pub ids: Vec<i64>,
    /// Ticket ids still being worked (for comments).
    pub active_ids: Vec<i64>,
    /// Cursors of deep pages of a filtered list.
    pub cursors: Vec<(String, String)>,
    /// Category slugs for new tickets.
    pub categories: Vec<String>,
}

impl Target {
    /// Learns ids, deep cursors and categories from the API itself.
    pub async fn prepare(
        base: String,
        token: String,
        http: reqwest::Client,
        deep_pages: usize,
    ) -> anyhow::Result<Target> {
        let mut t = Target {
            endpoint: Endpoint::new(&base, &token),
            base,
            token,
            http,
            ids: Vec::new(),
            active_ids: Vec::new(),
            cursors: Vec::new(),
            categories: Vec::new(),
        };
        let cats = t.get_json("/api/v1/categories").await?;
        t.categories = cats
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["slug"].as_str().map(String::from))
            .collect();
        anyhow::ensure!(!t.categories.is_empty(), "the server has no categories");
        for sort in ["created_at", "-created_at", "-priority", "updated_at"] {
            let page = t
                .get_json(&format!("/api/v1/tickets?limit=100&sort={sort}"))
                .await?;
            t.ids.extend(ids_of(&page));
        }
        let active = t
            .get_json("/api/v1/tickets?limit=100&status=open,assigned,in_progress,reopened")
            .await?;
        t.active_ids = ids_of(&active);
        // A long filtered list walked page by page; every cursor on the way is a deep page.
        let filter = "status=closed,resolved&priority=low,medium&limit=50".to_string();
        let mut cursor: Option<String> = None;
        for _ in 0..deep_pages {
            let path = match &cursor {
                Some(c) => format!("/api/v1/tickets?{filter}&cursor={c}"),
                None => format!("/api/v1/tickets?{filter}"),
            };
            let page = t.get_json(&path).await?;
            t.ids.extend(ids_of(&page).into_iter().step_by(10));
            match page["next_cursor"].as_str() {
                Some(c) => {
                    cursor = Some(c.to_string());
                    t.cursors.push((filter.clone(), c.to_string()));
                }
                None => break,
            }
        }
        t.ids.sort_unstable();
        t.ids.dedup();
        if t.active_ids.is_empty() {
            t.active_ids = t.ids.clone();
        }
        Ok(t)
    }

    async fn get_json(&self, path: &str) -> anyhow::Result<Value> {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await?;
        let status = r.status();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        anyhow::ensure!(status.is_success(), "GET {path}: {status} {body}");
        Ok(body)
    }

    /// Sends one request of `scenario`; `Ok` when the expected status came back.
    async fn request(
        &self,
        client: &mut Client,
        scenario: &str,
        rng: &mut SmallRng,
    ) -> Result<(), String> {
        let op = match scenario {
            "mixed" => match rng.random_range(0..100) {
                0..45 => "get",
                45..65 => "list",
                65..75 => "search",
                75..90 => "comment",
                _ => "create",
            },
            s => s,
        };
        let (method, path, body, want) = match op {
            "create" => {
                let cat = &self.categories[rng.random_range(0..self.categories.len())];
                let priority = ["low", "medium", "high", "urgent"][rng.random_range(0..4)];
                let body = json!({
                    "subject": format!("Bench ticket {} about the {}", rng.random_range(0..1_000_000), WORDS[rng.random_range(0..WORDS.len() - 1)]),
                    "description": "Created by triage bench: the checkout page times out after the payment step for several customers.",
                    "category": cat,
                    "priority": priority,
                });
                (Method::POST, "/api/v1/tickets".to_string(), Some(body), 201)
            }
            // The floor: what the HTTP stack and this client cost without any database work.
            "health" => (Method::GET, "/health".to_string(), None, 200),
            "get" => {
                let id = self.ids[rng.random_range(0..self.ids.len())];
                (Method::GET, format!("/api/v1/tickets/{id}"), None, 200)
            }
            "list" => {
                let s = STATUSES[rng.random_range(0..STATUSES.len())];
                let p = PRIORITIES[rng.random_range(0..PRIORITIES.len())];
                (
                    Method::GET,
                    format!("/api/v1/tickets?status={s}&priority={p}&limit=50"),
                    None,
                    200,
                )
            }
            "list_deep" => {
                if self.cursors.is_empty() {
                    return Err("no deep pages to read (too few tickets)".into());
                }
                let (f, c) = &self.cursors[rng.random_range(0..self.cursors.len())];
                (
                    Method::GET,
                    format!("/api/v1/tickets?{f}&cursor={c}"),
                    None,
                    200,
                )
            }
            "search" => {
                let w = WORDS[rng.random_range(0..WORDS.len())];
                (
                    Method::GET,
                    format!("/api/v1/tickets?q={w}&limit=50"),
                    None,
                    200,
                )
            }
            "comment" => {
                let id = self.active_ids[rng.random_range(0..self.active_ids.len())];
                let body = json!({"body": "Bench note: checked the logs, nothing unusual for this account.", "internal": true});
                (
                    Method::POST,
                    format!("/api/v1/tickets/{id}/comments"),
                    Some(body),
                    201,
                )
            }
            other => return Err(format!("unknown scenario {other}")),
        };
        let body = body.map(|b| b.to_string().into_bytes());
        let sent = match &self.endpoint {
            Some(to) => client.send(to, method, &path, body).await,
            None => self.shared(method, &path, body).await,
        };
        let (status, body) = sent.map_err(|e| format!("{op}: {e}"))?;
        if status == want {
            Ok(())
        } else {
            Err(format!(
                "{op}: HTTP {status} {}",
                String::from_utf8_lossy(&body[..body.len().min(200)])
            ))
        }
    }

    /// One request through the shared client (any URL scheme).
    async fn shared(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<(u16, hyper::body::Bytes), String> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req
                .header(hyper::header::CONTENT_TYPE, "application/json")
                .body(b);
        }
        let resp = req.send().await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(|e| e.to_string())?;
        Ok((status, bytes))
    }
}

fn ids_of(page: &Value) -> Vec<i64> {
    page["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["id"].as_i64())
        .collect()
}

/// Runs `scenario` from `clients` tasks for `duration` and summarises it.
///
/// HTTP clients run on one thread of their own with a single-threaded runtime: they mostly
/// wait, and on the multi-threaded runtime each answer woke a parked worker (a context switch
/// per request: half the load generator's CPU was the kernel switching tasks), on cores the
/// server and database share.
pub async fn drive<W: Workload>(
    target: Arc<W>,
    scenario: &str,
    clients: usize,
    duration: Duration,
    rss: Option<&RssProbe>,
) -> ScenarioResult {
    if let Some(p) = rss {
        p.reset_peak();
    }
    let started = Instant::now();
    let deadline = started + duration;
    let outcomes = if target.own_thread() {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let scenario = scenario.to_string();
        let spawned = std::thread::Builder::new()
            .name("bench-clients".into())
            .spawn(move || {
                let outcomes = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt.block_on(run_clients(target, scenario, clients, deadline)),
                    Err(e) => vec![(Vec::new(), 1, Some(format!("client runtime: {e}")))],
                };
                let _ = tx.send(outcomes);
            });
        match spawned {
            Ok(_) => rx.await.unwrap_or_default(),
            Err(e) => vec![(Vec::new(), 1, Some(format!("client thread: {e}")))],
        }
    } else {
        run_clients(target, scenario.to_string(), clients, deadline).await
    };
    let mut all = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    for (lat, e, fe) in outcomes {
        all.extend(lat);
        errors += e;
        if first_error.is_none() {
            first_error = fe;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    summarise(
        scenario,
        clients,
        seconds,
        all,
        errors,
        first_error,
        rss.map(|p| p.peak_mb()),
    )
}

/// What one client measured: latencies (µs), errors, the first error's text.
type Outcome = (Vec<u64>, u64, Option<String>);

/// Runs the clients on the current runtime until `deadline`.
async fn run_clients<W: Workload>(
    target: Arc<W>,
    scenario: String,
    clients: usize,
    deadline: Instant,
) -> Vec<Outcome> {
    let mut tasks = Vec::new();
    for c in 0..clients {
        let target = target.clone();
        let scenario = scenario.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = SmallRng::seed_from_u64(c as u64 * 7919 + 1);
            let mut client = W::Client::default();
            let mut lat = Vec::with_capacity(4096);
            let mut errors = 0u64;
            let mut first_error = None;
            while Instant::now() < deadline {
                let t0 = Instant::now();
                let sent = target.one(&mut client, &scenario, &mut rng);
                let outcome = tokio::time::timeout(REQUEST_TIMEOUT, sent)
                    .await
                    .unwrap_or_else(|_| {
                        Err(format!("{scenario}: no answer in {REQUEST_TIMEOUT:?}"))
                    });
                match outcome {
                    Ok(()) => lat.push(t0.elapsed().as_micros() as u64),
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert(e);
                    }
                }
            }
            (lat, errors, first_error)
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        if let Ok(o) = t.await {
            out.push(o);
        }
    }
    out
}
