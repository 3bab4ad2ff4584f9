//! `triage bench`: seeds a database fast, then drives the real HTTP API from K concurrent
//! clients for T seconds per scenario and prints throughput, latency percentiles, errors and
//! server memory (like pgbench, for a helpdesk). It benchmarks a running Triage (`--url`) or
//! starts its own `serve` child on a temporary (or given) database.

pub mod client;
pub mod load;
pub mod mail;
pub mod report;
pub mod server;
pub mod settle;
pub mod steal;

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::app::open_context;
use crate::auth::Actor;
use crate::clock::Clock;
use crate::config::Config;
use crate::context::Ctx;
use crate::tickets::model::Role;
use report::RunReport;
use server::{OwnServer, RssProbe};

/// Everything `triage bench` can be told.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// A running Triage to benchmark; `None` starts one.
    pub url: Option<String>,
    /// Staff login for `url` (or `token`).
    pub email: Option<String>,
    /// Password for `email`.
    pub password: Option<String>,
    /// API token for `url`, instead of a login.
    pub token: Option<String>,
    /// Tickets the database should hold before the scenarios (own server; seeded in bulk).
    pub tickets: usize,
    /// Clients for the read and comment scenarios.
    pub clients: usize,
    /// Clients for the create scenario.
    pub create_clients: usize,
    /// Seconds per scenario.
    pub seconds: u64,
    /// Scenarios to run, in order.
    pub scenarios: Vec<String>,
    /// Where to write the JSON report.
    pub json: Option<PathBuf>,
    /// Own server on PostgreSQL instead of SQLite.
    pub database_url: Option<String>,
    /// Own server's data directory (kept); default a temporary one, removed afterwards.
    pub data_dir: Option<PathBuf>,
    /// SQLite `synchronous` mode for the own server (`full` or `normal`).
    pub sqlite_synchronous: String,
    /// Pages walked to collect deep cursors.
    pub deep_pages: usize,
    /// Longest wait for the server's background jobs before each scenario; 0 does not wait.
    pub settle_seconds: u64,
}

/// Runs the whole bench and returns its report (also printed as a table).
pub async fn run(opts: BenchOptions) -> anyhow::Result<RunReport> {
    for s in &opts.scenarios {
        anyhow::ensure!(
            load::SCENARIOS.contains(&s.as_str()),
            "unknown scenario {s}; choose from {}",
            load::SCENARIOS.join(", ")
        );
    }
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(opts.clients.max(opts.create_clients) + 4)
        .timeout(Duration::from_secs(30))
        .build()?;
    let mut report = RunReport {
        target: String::new(),
        tickets: 0,
        seed_seconds: None,
        ready_ms: None,
        rss_idle_mb: None,
        results: Vec::new(),
        sqlite_synchronous: None,
        finished_at: String::new(),
        machine: machine(),
    };
    let mut server_config = None;
    let (base, token, own, temp_dir) = match &opts.url {
        Some(url) => {
            anyhow::ensure!(
                !opts.scenarios.iter().any(|s| s == "mail"),
                "the mail scenario writes to the server's database, so it needs the bench's own server (no --url)"
            );
            let token = remote_token(&http, url, &opts).await?;
            report.target = url.clone();
            (url.trim_end_matches('/').to_string(), token, None, None)
        }
        None => {
            let (dir, temp) = match &opts.data_dir {
                Some(d) => (d.clone(), false),
                None => (
                    std::env::temp_dir().join(format!(
                        "triage-bench-{}-{}",
                        std::process::id(),
                        chrono::Utc::now().timestamp()
                    )),
                    true,
                ),
            };
            std::fs::create_dir_all(&dir)?;
            let mut config = Config::load(None)?;
            config.data_dir = dir.clone();
            config.database_url = opts.database_url.clone().unwrap_or_default();
            config.sqlite_synchronous = opts.sqlite_synchronous.clone();
            server_config = Some(config.clone());
            let (token, tickets, seed) = prepare_database(config, opts.tickets).await?;
            report.tickets = tickets;
            report.seed_seconds = seed;
            report.target = if opts.database_url.is_some() {
                "postgres (own server)".into()
            } else {
                report.sqlite_synchronous = Some(opts.sqlite_synchronous.clone());
                "sqlite (own server)".into()
            };
            let exe = std::env::current_exe()?;
            let srv = OwnServer::start(
                &exe,
                &dir,
                opts.database_url.as_deref(),
                &opts.sqlite_synchronous,
                dir.join("bench-server.log"),
            )
            .await?;
            report.ready_ms = Some(srv.ready_ms);
            eprintln!("server ready in {:.0} ms at {}", srv.ready_ms, srv.base);
            tokio::time::sleep(Duration::from_millis(500)).await;
            report.rss_idle_mb = server::rss_mb(srv.pid);
            (srv.base.clone(), token, Some(srv), temp.then_some(dir))
        }
    };
    let probe = own.as_ref().map(|s| RssProbe::start(s.pid));
    eprintln!("collecting ticket ids and deep cursors ...");
    let target = Arc::new(load::Target::prepare(base, token, http, opts.deep_pages).await?);
    if report.tickets == 0 {
        report.tickets = target.ids.len() as u64;
    }
    println!("{}", report::table(&[]).trim_end());
    for s in &opts.scenarios {
        let clients = if s == "create" {
            opts.create_clients
        } else {
            opts.clients
        };
        let settled = match opts.settle_seconds {
            0 => None,
            limit => {
                settle::background(&target.http, &target.base, Duration::from_secs(limit)).await
            }
        };
        if let Some(w) = settled.filter(|w| w.jobs > 0) {
            eprintln!(
                "  waited {:.1} s for {} background jobs{}",
                w.seconds,
                w.jobs,
                if w.timed_out { " (some still due)" } else { "" }
            );
        }
        let seconds = Duration::from_secs(opts.seconds);
        let cpu_before = steal::now();
        let mut r = match (s.as_str(), &server_config) {
            ("mail", Some(config)) => {
                // Its own connections to the server's database, as a mailgate process has.
                let ctx = open_context(config.clone(), Clock::default()).await?;
                let load = Arc::new(mail::MailLoad::new(ctx.clone()));
                let r = load::drive(load, s, clients, seconds, probe.as_ref()).await;
                ctx.db.close().await;
                r
            }
            _ => load::drive(target.clone(), s, clients, seconds, probe.as_ref()).await,
        };
        r.settled = settled;
        r.steal_pct = steal::between(cpu_before, steal::now());
        let line = report::table(std::slice::from_ref(&r));
        println!("{}", line.lines().nth(1).unwrap_or(""));
        if let Some(p) = r.steal_pct.filter(|p| *p > steal::HIGH_PCT) {
            eprintln!(
                "  the host stole {p:.0} % of the CPU time during {s}: not comparable with a quiet host's figures"
            );
        }
        if let Some(e) = &r.first_error {
            eprintln!("  first error in {s}: {e}");
        }
        report.results.push(r);
    }
    if let Some(r) = report.rss_idle_mb {
        println!(
            "server RSS idle {r:.0} MB; ready in {:.0} ms",
            report.ready_ms.unwrap_or(0.0)
        );
    }
    drop(probe);
    if let Some(srv) = own
        && !srv.stop().await
    {
        eprintln!("the server did not stop cleanly; see its log");
    }
    if let Some(dir) = temp_dir {
        let _ = std::fs::remove_dir_all(dir);
    }
    report.finished_at = crate::clock::rfc3339(chrono::Utc::now().timestamp_micros());
    if let Some(path) = &opts.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)?;
        eprintln!("report written to {}", path.display());
    }
    Ok(report)
}

/// Creates the bench accounts, tops the database up to `want` tickets in bulk, and returns a
/// staff API token, the ticket count and the seeding time.
async fn prepare_database(
    config: Config,
    want: usize,
) -> anyhow::Result<(String, u64, Option<f64>)> {
    let ctx = open_context(config, Clock::default()).await?;
    let admin = account(
        &ctx,
        "bench-admin@bench.triage.dev",
        "Bench Admin",
        Role::Admin,
    )
    .await?;
    let mut agents = Vec::new();
    for i in 1..=3 {
        let a = account(
            &ctx,
            &format!("bench-agent{i}@bench.triage.dev"),
            &format!("Bench Agent {i}"),
            Role::Agent,
        )
        .await?;
        agents.push(a.id);
    }
    // The trigger-kept counters (COUNT(*) reads the whole table: ~2 s at a million).
    let have = crate::tickets::query::stats(&ctx.db.read, &admin)
        .await?
        .total as usize;
    let mut seed = None;
    if have < want {
        let started = Instant::now();
        let progress = |done: usize, total: usize| progress_bar(done, total, started);
        let r = crate::demo::seed_bulk(&ctx, &agents, want - have, &progress).await?;
        eprintln!(
            "seeded {r} ({:.0} tickets/s)",
            r.tickets as f64 / r.seconds.max(0.001)
        );
        seed = Some(r.seconds);
    }
    let token = crate::auth::service::create_api_token(&ctx, &admin, "triage bench")
        .await?
        .token
        .ok_or_else(|| anyhow::anyhow!("token missing from its creation"))?;
    let count = crate::tickets::query::stats(&ctx.db.read, &admin)
        .await?
        .total as u64;
    ctx.db.close().await;
    Ok((token, count, seed))
}

async fn account(ctx: &Ctx, email: &str, name: &str, role: Role) -> anyhow::Result<Actor> {
    // No password: the bench works through an API token made in-process.
    crate::demo::ensure_account(ctx, email, name, role, None).await
}

/// A token for a running server: the one given, or a new API token made after logging in.
async fn remote_token(
    http: &reqwest::Client,
    url: &str,
    opts: &BenchOptions,
) -> anyhow::Result<String> {
    if let Some(t) = &opts.token {
        return Ok(t.clone());
    }
    let (Some(email), Some(password)) = (&opts.email, &opts.password) else {
        anyhow::bail!("--url needs --token, or --email with TRIAGE_BENCH_PASSWORD");
    };
    let base = url.trim_end_matches('/');
    let login: serde_json::Value = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"email": email, "password": password}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let access = login["access_token"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("login answered without an access token"))?;
    let made: serde_json::Value = http
        .post(format!("{base}/api/v1/auth/tokens"))
        .bearer_auth(access)
        .json(&serde_json::json!({"name": "triage bench"}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    made["token"]
        .as_str()
        .map(String::from)
        .ok_or_else(|| anyhow::anyhow!("token creation answered without a token"))
}

fn progress_bar(done: usize, total: usize, started: Instant) {
    let width = 30;
    let filled = done * width / total.max(1);
    let secs = started.elapsed().as_secs_f64();
    let mut err = std::io::stderr();
    let _ = write!(
        err,
        "\rseeding [{}{}] {done}/{total} {secs:.1} s",
        "#".repeat(filled),
        "-".repeat(width - filled)
    );
    if done >= total {
        let _ = writeln!(err);
    }
    let _ = err.flush();
}

/// CPU count and model from `/proc/cpuinfo` (Linux), for the report.
fn machine() -> String {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cpus} CPUs, {model}")
}
