//! Operational endpoints: API info, liveness, readiness, metrics, JSON fallbacks.

use super::json::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::error::Error;

/// API name, version and where the docs are.
pub async fn info() -> Json<Value> {
    Json(json!({
        "name": "Triage API",
        "version": "v1",
        "server_version": env!("CARGO_PKG_VERSION"),
        "openapi": "/api/v1/openapi.json",
        "docs": "/docs",
    }))
}

/// Liveness: the process answers.
pub async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Readiness: the database answers.
pub async fn ready(State(s): State<AppState>) -> impl IntoResponse {
    match s.ctx.db.read.execute_unprepared("SELECT 1").await {
        Ok(_) => (
            StatusCode::OK,
            Json(json!({"status": "ready", "database": "ok"})),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(
                    json!({"status": "error", "code": "NOT_READY", "message": "database unavailable"}),
                ),
            )
        }
    }
}

/// Appends the counter family `name`, one series per `(label value, counter)`.
fn labelled_counters(
    text: &mut String,
    name: &str,
    help: &str,
    label: &str,
    series: &[(&str, &std::sync::atomic::AtomicU64)],
) {
    text.push_str(&format!("# HELP {name} {help}\n# TYPE {name} counter\n"));
    for (value, n) in series {
        let n = n.load(std::sync::atomic::Ordering::Relaxed);
        text.push_str(&format!("{name}{{{label}=\"{value}\"}} {n}\n"));
    }
}

/// Prometheus text exposition.
pub async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    let mut text = s.metrics.render();
    if let Some(c) = &s.ctx.db.coalesce {
        let st = c.stats();
        for (name, help, value) in [
            (
                "triage_db_coalesced_reads_total",
                "Short reads offered for batching (PostgreSQL).",
                &st.reads,
            ),
            (
                "triage_db_read_batches_total",
                "Statements that answered more than one read.",
                &st.batches,
            ),
            (
                "triage_db_batched_reads_total",
                "Reads answered by those statements.",
                &st.batched_reads,
            ),
        ] {
            let v = value.load(std::sync::atomic::Ordering::Relaxed);
            text.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}\n"
            ));
        }
    }
    let chosen = &s.ctx.db.plans.chosen;
    labelled_counters(
        &mut text,
        "triage_search_plans_total",
        "Full-text searches by how their plan was chosen: cached (the same query in the last \
         minute), statistics (PostgreSQL's lexeme statistics), counted (the matches counted).",
        "by",
        &[
            ("cached", &chosen.cached),
            ("statistics", &chosen.statistics),
            ("counted", &chosen.counted),
        ],
    );
    labelled_counters(
        &mut text,
        "triage_search_walks_total",
        "PostgreSQL search pages walked along the list index: stood (found within the budget), \
         ran_out (the matches then drove), skipped (the same walk ran out in the last minute).",
        "outcome",
        &[
            ("stood", &chosen.walks_stood),
            ("ran_out", &chosen.walks_ran_out),
            ("skipped", &chosen.walks_skipped),
        ],
    );
    let now = s.ctx.clock.now_micros();
    match crate::jobs::queue::backlog(&s.ctx.db.read, now).await {
        Ok(b) => {
            text.push_str(
                "# HELP triage_jobs Jobs in the queue: due (runnable now, expired leases included), \
                 running (leased), waiting (scheduled for later).\n# TYPE triage_jobs gauge\n",
            );
            for (state, n) in [
                ("due", b.due),
                ("running", b.running),
                ("waiting", b.waiting),
            ] {
                text.push_str(&format!("triage_jobs{{state=\"{state}\"}} {n}\n"));
            }
        }
        // The HTTP figures are still worth a scrape when the database does not answer.
        Err(e) => tracing::warn!(error = %e, "job backlog not counted for /metrics"),
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}

/// Unknown route.
pub async fn not_found() -> Error {
    Error::NotFound("route")
}

/// Known route, wrong method.
pub async fn method_not_allowed() -> Error {
    Error::Request {
        status: 405,
        code: "METHOD_NOT_ALLOWED",
        message: "method not allowed on this route".into(),
    }
}
