//! TestApp: the real application on 127.0.0.1:0 with a fresh database, driven over HTTP.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU32, Ordering};
use triage::app::Application;
use triage::clock::Clock;
use triage::config::Config;
use triage::context::Ctx;
use triage::tickets::model::Role;
use triage::users::service::{self as users, NewUser};

/// Which storage a test runs on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub ctx: Ctx,
    dir: std::sync::Arc<tempfile::TempDir>,
}

/// An HTTP answer: status and JSON (or text wrapped as a JSON string).
pub struct Res {
    pub status: StatusCode,
    pub body: Value,
    pub text: String,
    pub headers: reqwest::header::HeaderMap,
}

impl Res {
    /// Reads status, headers and body (JSON when it parses, else the text as a JSON string).
    pub async fn read(resp: reqwest::Response) -> Res {
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text.clone()));
        Res {
            status,
            body,
            text,
            headers,
        }
    }

    pub fn ok(&self, expected: u16) -> &Value {
        assert_eq!(
            self.status.as_u16(),
            expected,
            "unexpected status; body: {}",
            self.text
        );
        &self.body
    }
    pub fn err(&self, status: u16, code: &str) -> &Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.text
        );
        assert_eq!(self.body["status"], "error", "{}", self.text);
        assert_eq!(self.body["code"], code, "{}", self.text);
        assert!(self.body["message"].as_str().is_some_and(|m| !m.is_empty()));
        &self.body
    }
}

/// Postgres URL for tests, when configured.
pub fn pg_url() -> Option<String> {
    std::env::var("TRIAGE_TEST_DATABASE_URL")
        .ok()
        .filter(|s| !s.is_empty())
}

async fn fresh_pg_database(admin_url: &str) -> String {
    let name = format!(
        "triage_t_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst),
        uuid::Uuid::new_v4()
            .simple()
            .to_string()
            .get(..8)
            .unwrap_or("x")
    );
    let pool = sqlx::PgPool::connect(admin_url)
        .await
        .expect("connect to TRIAGE_TEST_DATABASE_URL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&pool)
        .await
        .expect("create test database");
    pool.close().await;
    let (prefix, _) = admin_url.rsplit_once('/').expect("database URL has a path");
    format!("{prefix}/{name}")
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Spawns with test defaults changed by `tweak` (SMTP sink, webhooks, limits).
    pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        let database_url = match backend {
            Backend::Sqlite => String::new(),
            Backend::Postgres => {
                fresh_pg_database(&pg_url().expect("TRIAGE_TEST_DATABASE_URL")).await
            }
        };
        let config = Config {
            listen: "127.0.0.1:0".into(),
            data_dir: dir.path().to_path_buf(),
            database_url,
            secret_key: "test-secret".into(),
            max_body_bytes: 64 * 1024,
            db_pool_size: 4,
            worker_poll_ms: 20,
            job_backoff_secs: 1,
            delivery_timeout_secs: 5,
            daily_summary_hour: -1,
            ..Config::default()
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut config = config;
        config.base_url = format!("http://{addr}");
        tweak(&mut config);
        let app = Application::build(config, Clock::default())
            .await
            .expect("build app");
        let ctx = app.ctx.clone();
        tokio::spawn(app.serve(listener, std::future::pending()));
        TestApp {
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
            ctx,
            dir: std::sync::Arc::new(dir),
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Res {
        let mut req = self
            .client
            .request(method, format!("{}{}", self.base, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        Res::read(req.send().await.expect("request")).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Res {
        self.call(Method::GET, path, Some(token), None).await
    }
    pub async fn post(&self, path: &str, token: &str, body: Value) -> Res {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }
    pub async fn put(&self, path: &str, token: &str, body: Value) -> Res {
        self.call(Method::PUT, path, Some(token), Some(body)).await
    }
    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Res {
        self.call(Method::PATCH, path, Some(token), Some(body))
            .await
    }
    pub async fn delete(&self, path: &str, token: &str) -> Res {
        self.call(Method::DELETE, path, Some(token), None).await
    }
    pub async fn anon_post(&self, path: &str, body: Value) -> Res {
        self.call(Method::POST, path, None, Some(body)).await
    }

    /// Creates a user and a personal API token over HTTP (immune to clock jumps); returns (id, token).
    pub async fn user(&self, role: Role, name: &str) -> (i64, String) {
        let (id, jwt) = self.user_jwt(role, name).await;
        let t = self
            .post("/api/v1/auth/tokens", &jwt, json!({"name": "tests"}))
            .await;
        (
            id,
            t.ok(201)["token"].as_str().expect("api token").to_string(),
        )
    }

    /// Creates a user directly and logs in over HTTP; returns (id, JWT access token).
    pub async fn user_jwt(&self, role: Role, name: &str) -> (i64, String) {
        let email = format!("{}@example.test", name.to_lowercase().replace(' ', "."));
        let u = users::create(
            &self.ctx,
            NewUser {
                email: email.clone(),
                name: name.into(),
                role,
                password: Some("password123".into()),
            },
        )
        .await
        .expect("create user");
        let res = self
            .anon_post(
                "/api/v1/auth/login",
                json!({"email": email, "password": "password123"}),
            )
            .await;
        let token = res.ok(200)["access_token"]
            .as_str()
            .expect("token")
            .to_string();
        (u.id, token)
    }

    /// The ids of every ticket `GET /api/v1/tickets?limit=…{query}` lists, page after page,
    /// checking that no page is longer than `limit`.
    pub async fn all_pages(&self, token: &str, query: &str, limit: usize) -> Vec<i64> {
        let mut ids = Vec::new();
        let mut cursor = String::new();
        loop {
            let page = self
                .get(
                    &format!("/api/v1/tickets?limit={limit}{query}{cursor}"),
                    token,
                )
                .await;
            let body = page.ok(200);
            let data = body["data"].as_array().expect("data");
            assert!(
                data.len() <= limit,
                "a page of {} for limit {limit}",
                data.len()
            );
            ids.extend(data.iter().map(|t| t["id"].as_i64().expect("id")));
            match body["next_cursor"].as_str() {
                Some(c) => cursor = format!("&cursor={c}"),
                None => return ids,
            }
        }
    }

    /// Creates a ticket as `token` and returns its JSON.
    pub async fn ticket(&self, token: &str, subject: &str, priority: &str) -> Value {
        self.post(
            "/api/v1/tickets",
            token,
            json!({"subject": subject, "description": "Something does not work as expected.", "category": "technical", "priority": priority}),
        )
        .await
        .ok(201)
        .clone()
    }

    /// Assigns `ticket` (its JSON) to agent `agent_id` as `token`, expecting success.
    pub async fn assign(&self, token: &str, ticket: &Value, agent_id: i64) {
        self.post(
            &format!("/api/v1/tickets/{}/assign", ticket["id"]),
            token,
            json!({"agent_id": agent_id}),
        )
        .await
        .ok(200);
    }

    pub fn advance(&self, by: chrono::Duration) {
        self.ctx.clock.advance(by);
    }

    /// Tickets whose `opening_files` differs from their opening post's attachment rows (the
    /// triggers keep it; zero when they did).
    pub async fn opening_files_drift(&self) -> i64 {
        self.scalar(
            "SELECT COUNT(*) FROM tickets WHERE opening_files <> (SELECT COUNT(*) FROM attachments a \
             WHERE a.ticket_id = tickets.id AND a.message_row IS NULL)",
        )
        .await
    }

    /// The id of the category with `slug` (as the public category list gives it).
    pub async fn category_id(&self, slug: &str) -> i64 {
        let all = self
            .call(Method::GET, "/api/v1/categories", None, None)
            .await;
        all.ok(200)
            .as_array()
            .expect("categories")
            .iter()
            .find(|c| c["slug"] == slug)
            .and_then(|c| c["id"].as_i64())
            .expect("category")
    }

    /// Tickets whose `rated` flag (kept by triggers) disagrees with their `ratings` row.
    pub async fn rated_drift(&self) -> i64 {
        self.scalar(
            "SELECT COUNT(*) FROM tickets WHERE rated <> \
             EXISTS (SELECT 1 FROM ratings WHERE ratings.ticket_id = tickets.id)",
        )
        .await
    }

    /// Tickets whose `tag_list` (PostgreSQL's copy of their tags, kept by triggers) differs
    /// from their `ticket_tags` rows; SQLite keeps no copy, so none there.
    pub async fn tag_list_drift(&self) -> i64 {
        if self.ctx.db.backend != sea_orm::DatabaseBackend::Postgres {
            return 0;
        }
        self.scalar(
            "SELECT COUNT(*) FROM tickets WHERE tag_list IS DISTINCT FROM \
             (SELECT string_agg(tag, chr(31) ORDER BY tag COLLATE \"C\") FROM ticket_tags \
              WHERE ticket_tags.ticket_id = tickets.id)",
        )
        .await
    }

    /// The one integer a statement of no parameters answers (a count, say).
    pub async fn scalar(&self, sql: &str) -> i64 {
        use sea_orm::{ConnectionTrait, Statement};
        let row = self
            .ctx
            .db
            .read
            .query_one_raw(Statement::from_string(self.ctx.db.backend, sql))
            .await
            .expect("query")
            .expect("a row");
        row.try_get_by_index(0).expect("an integer")
    }
}

/// Runs an async test body on SQLite, and on PostgreSQL when `TRIAGE_TEST_DATABASE_URL` is set.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = TestApp::spawn(Backend::Sqlite).await;
                let _dir = app.dir_guard();
                ($body)(app).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if pg_url().is_none() {
                    eprintln!("TRIAGE_TEST_DATABASE_URL not set: PostgreSQL variant not run");
                    return;
                }
                let app = TestApp::spawn(Backend::Postgres).await;
                let _dir = app.dir_guard();
                ($body)(app).await;
            }
        }
    };
}

/// Like `both_backends!`, but the body gets the backend and spawns its own app (to set config).
#[macro_export]
macro_rules! on_both {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                ($body)(Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if pg_url().is_none() {
                    eprintln!("TRIAGE_TEST_DATABASE_URL not set: PostgreSQL variant not run");
                    return;
                }
                ($body)(Backend::Postgres).await;
            }
        }
    };
}

impl TestApp {
    /// A counter from `/metrics` (`name` with its labels, if any), or `None` when the server
    /// does not report it.
    pub async fn metric(&self, name: &str) -> Option<u64> {
        let text = self
            .client
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text");
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
    }

    /// A hold on the data directory. A test body's `async move` block captures only the fields
    /// it uses: one that touches only `app.ctx` dropped the rest of the app, directory and
    /// database file included, while the pools still had it open (new connections then failed).
    pub fn dir_guard(&self) -> std::sync::Arc<tempfile::TempDir> {
        self.dir.clone()
    }

    /// An app whose mail goes to `sink` from support@acme.test.
    pub async fn with_mail(backend: Backend, sink: &crate::sinks::SmtpSink) -> TestApp {
        let url = sink.url();
        TestApp::spawn_with(backend, move |c| {
            c.smtp_url = url;
            c.mail_from = "Acme Support <support@acme.test>".into();
            c.support_address = "support@acme.test".into();
        })
        .await
    }

    /// Posts a raw e-mail to the intake endpoint as `admin`; returns the intake answer.
    pub async fn inbound(&self, admin: &str, raw: impl Into<reqwest::Body>) -> Res {
        let req = self
            .client
            .post(format!("{}/api/v1/mail/inbound", self.base))
            .bearer_auth(admin)
            .header("content-type", "message/rfc822")
            .body(raw);
        Res::read(req.send().await.expect("request")).await
    }

    /// Waits until no job is queued or running that is due now (5 s at most).
    pub async fn settle(&self) {
        use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
        use triage::db::entities::job;
        for _ in 0..1500 {
            let now = self.ctx.clock.now_micros();
            let busy = job::Entity::find()
                .filter(job::Column::Status.is_in(["queued", "running"]))
                .filter(job::Column::RunAt.lte(now))
                .count(&self.ctx.db.read)
                .await
                .expect("count jobs");
            if busy == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("jobs did not settle");
    }
}

/// Waits for every spawned request task and returns their results in spawn order.
pub async fn joined<T>(tasks: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        out.push(t.await.expect("request task"));
    }
    out
}
