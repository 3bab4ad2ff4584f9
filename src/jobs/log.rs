//! The delivery log: e-mail and webhook jobs with their attempts, newest first.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;
use utoipa::ToSchema;

use crate::clock::rfc3339;
use crate::db::entities::job;
use crate::db::mail_entities::job_attempt;
use crate::error::{Error, Result};

/// One attempt as shown in the log.
#[derive(Serialize, ToSchema)]
pub struct AttemptView {
    /// 1-based attempt number.
    pub attempt: i32,
    /// When it started.
    pub started_at: String,
    /// How long it took, milliseconds.
    pub duration_ms: i64,
    /// Whether it succeeded.
    pub ok: bool,
    /// The receiver's answer or the error.
    pub response: String,
}

/// One delivery (an e-mail to one recipient, or one webhook request).
#[derive(Serialize, ToSchema)]
pub struct DeliveryView {
    /// Job id (used to retry or cancel).
    pub id: i64,
    /// `email` or `webhook`.
    pub channel: String,
    /// What triggered it (`ticket_created`, `comment.created`, `digest`, …).
    pub kind: String,
    /// Recipient address or webhook URL.
    pub target: Option<String>,
    /// Ticket it concerns.
    pub ticket_id: Option<i64>,
    /// `queued`, `running`, `done`, `dead`, `cancelled`, `bounced` or `skipped`.
    pub status: String,
    /// Attempts so far.
    pub attempts: i32,
    /// Attempts allowed before `dead`.
    pub max_attempts: i32,
    /// Next try, while queued.
    pub next_attempt_at: Option<String>,
    /// Last error, if any.
    pub last_error: Option<String>,
    /// Idempotency key sent with every attempt.
    pub idempotency_key: String,
    /// Created.
    pub created_at: String,
    /// Finished (delivered, dead, cancelled).
    pub finished_at: Option<String>,
    /// Every attempt, oldest first.
    pub attempts_log: Vec<AttemptView>,
}

/// Filters of the log.
#[derive(Default)]
pub struct LogFilter {
    /// `email` or `webhook`; both when absent.
    pub channel: Option<String>,
    /// One status.
    pub status: Option<String>,
    /// One ticket.
    pub ticket_id: Option<i64>,
    /// Only ids below this (the cursor).
    pub before_id: Option<i64>,
}

/// Every job status, in lifecycle order.
pub const STATUSES: &[&str] = &[
    "queued",
    "running",
    "done",
    "dead",
    "cancelled",
    "bounced",
    "skipped",
];

/// Lists deliveries newest first; returns the page and the next cursor.
pub async fn list(
    conn: &impl ConnectionTrait,
    f: &LogFilter,
    limit: u64,
) -> Result<(Vec<DeliveryView>, Option<i64>)> {
    let mut q = job::Entity::find();
    match f.channel.as_deref() {
        None => q = q.filter(job::Column::Channel.is_in(["email", "webhook"])),
        Some(c @ ("email" | "webhook")) => q = q.filter(job::Column::Channel.eq(c)),
        Some(_) => return Err(Error::field("channel", "must be email or webhook")),
    }
    if let Some(s) = &f.status {
        if !STATUSES.contains(&s.as_str()) {
            return Err(Error::field(
                "status",
                format!("must be one of {}", STATUSES.join(", ")),
            ));
        }
        q = q.filter(job::Column::Status.eq(s.as_str()));
    }
    if let Some(t) = f.ticket_id {
        q = q.filter(job::Column::TicketId.eq(t));
    }
    if let Some(b) = f.before_id {
        q = q.filter(job::Column::Id.lt(b));
    }
    let mut rows = q
        .order_by_desc(job::Column::Id)
        .limit(limit + 1)
        .all(conn)
        .await?;
    let next = if rows.len() as u64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| r.id)
    } else {
        None
    };
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let attempts = job_attempt::Entity::find()
        .filter(job_attempt::Column::JobId.is_in(ids))
        .order_by_asc(job_attempt::Column::Id)
        .all(conn)
        .await?;
    let views = rows
        .into_iter()
        .map(|j| {
            let log = attempts
                .iter()
                .filter(|a| a.job_id == j.id)
                .map(|a| AttemptView {
                    attempt: a.attempt,
                    started_at: rfc3339(a.started_at),
                    duration_ms: (a.finished_at - a.started_at) / 1000,
                    ok: a.ok,
                    response: a.response.clone(),
                })
                .collect();
            view(j, log)
        })
        .collect();
    Ok((views, next))
}

fn view(j: job::Model, attempts_log: Vec<AttemptView>) -> DeliveryView {
    let kind = serde_json::from_str::<serde_json::Value>(&j.payload)
        .ok()
        .and_then(|p| p.get("template").or(p.get("event")).cloned())
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| j.kind.clone());
    DeliveryView {
        id: j.id,
        channel: j.channel,
        kind,
        target: j.target,
        ticket_id: j.ticket_id,
        next_attempt_at: (j.status == "queued").then(|| rfc3339(j.run_at)),
        status: j.status,
        attempts: j.attempts,
        max_attempts: j.max_attempts,
        last_error: j.last_error,
        idempotency_key: j.idempotency_key,
        created_at: rfc3339(j.created_at),
        finished_at: j.finished_at.map(rfc3339),
        attempts_log,
    }
}
