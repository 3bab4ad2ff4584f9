//! Crash safety: a separate `triage worker` process is killed (SIGKILL) mid-batch and
//! restarted; every notification still arrives, and the idempotent receiver processes each
//! delivery exactly once (a redelivery carries the same X-Triage-Delivery key).

use crate::harness::*;
use crate::on_both;
use crate::sinks::HookReceiver;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;
use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use triage::db::entities::job;
use triage::tickets::model::Role;

fn start_worker(app: &TestApp) -> Child {
    let c = &app.ctx.config;
    Command::new(env!("CARGO_BIN_EXE_triage"))
        .arg("worker")
        .arg("--data-dir")
        .arg(&c.data_dir)
        .env("TRIAGE_DATABASE_URL", &c.database_url)
        .env("TRIAGE_SECRET_KEY", "test-secret")
        .env("TRIAGE_BASE_URL", &c.base_url)
        .env("TRIAGE_JOB_LEASE_SECS", "2")
        .env("TRIAGE_WORKER_POLL_MS", "50")
        .env("TRIAGE_DAILY_SUMMARY_HOUR", "-1")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start triage worker")
}

on_both!(
    killed_worker_loses_nothing_and_duplicates_nothing,
    |backend| async move {
        let rx = HookReceiver::start().await;
        rx.slow(Duration::from_millis(60));
        let app = TestApp::spawn_with(backend, |c| c.workers = false).await;
        let (_, admin) = app.user(Role::Admin, "Boss").await;
        let (_, agent) = app.user(Role::Agent, "Sam").await;
        for path in ["a", "b", "c"] {
            app.post(
                "/api/v1/webhooks",
                &admin,
                json!({"url": format!("{}/{path}", rx.base), "kind": "generic",
            "events": ["ticket.created"], "rate_per_minute": 600}),
            )
            .await
            .ok(201);
        }
        const TICKETS: usize = 20;
        for i in 0..TICKETS {
            app.ticket(&agent, &format!("Crash test ticket {i}"), "low")
                .await;
        }
        let total = TICKETS * 3;
        let hits =
            |rx: &HookReceiver| rx.hits("/a").len() + rx.hits("/b").len() + rx.hits("/c").len();

        let mut worker = start_worker(&app);
        for _ in 0..500 {
            if hits(&rx) >= 10 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        worker.kill().expect("kill -9");
        worker.wait().expect("reap");
        let at_kill = hits(&rx);
        assert!(
            at_kill >= 10 && at_kill < total,
            "killed mid-batch ({at_kill} of {total})"
        );

        let mut worker = start_worker(&app);
        let mut done = false;
        for _ in 0..1500 {
            let open = job::Entity::find()
                .filter(job::Column::Status.is_in(["queued", "running"]))
                .count(&app.ctx.db.read)
                .await
                .unwrap();
            if open == 0 && hits(&rx) >= total {
                done = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        worker.kill().ok();
        worker.wait().ok();
        assert!(done, "all jobs finished after the restart");

        // The receiver is idempotent: it processes the first request with each key.
        let mut seen: HashMap<String, usize> = HashMap::new();
        for path in ["/a", "/b", "/c"] {
            for h in rx.hits(path) {
                *seen
                    .entry(format!("{path} {}", h.header("x-triage-delivery").unwrap()))
                    .or_default() += 1;
            }
        }
        assert_eq!(
            seen.len(),
            total,
            "every notification delivered once per destination"
        );
        let redelivered: usize = seen.values().map(|n| n - 1).sum();
        assert!(
            redelivered <= 3,
            "only requests in flight at the kill are repeated: {redelivered}"
        );
        let webhook_jobs = job::Entity::find()
            .filter(job::Column::Channel.eq("webhook"))
            .all(&app.ctx.db.read)
            .await
            .unwrap();
        assert_eq!(webhook_jobs.len(), total, "fan-out ran once per event");
        assert!(webhook_jobs.iter().all(|j| j.status == "done"));
    }
);
