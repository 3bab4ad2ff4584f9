//! The durable job queue: every side effect is a row written in the transaction of the change
//! that caused it. Workers claim rows (one writer on SQLite, `FOR UPDATE SKIP LOCKED` on
//! PostgreSQL), retry with exponential backoff and jitter, and end in `dead` after N attempts.
//! Email and webhook jobs double as the delivery log.

pub mod log;
pub mod queue;
pub mod settler;
pub mod worker;

use sea_orm::sea_query::{InsertStatement, OnConflict};
use sea_orm::{ConnectionTrait, EntityTrait, QueryTrait, Set};

use crate::db::entities::job;
use crate::db::pipeline::Pipeline;
use crate::error::Result;

/// Which kind of work a job is; the delivery log shows `email` and `webhook`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    /// A domain event waiting to be fanned out into deliveries.
    Event,
    /// One e-mail to one recipient.
    Email,
    /// One webhook request to one destination.
    Webhook,
    /// Housekeeping (daily summary and the like).
    System,
}

impl Channel {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Event => "event",
            Channel::Email => "email",
            Channel::Webhook => "webhook",
            Channel::System => "system",
        }
    }
}

/// A job to enqueue.
#[derive(Clone, Debug)]
pub struct NewJob {
    /// What the handler dispatches on (`ticket.created`, `email`, …).
    pub kind: String,
    /// Channel for the delivery log.
    pub channel: Channel,
    /// Recipient address or webhook URL, for the log.
    pub target: Option<String>,
    /// Ticket the job is about, when there is one.
    pub ticket_id: Option<i64>,
    /// Handler input.
    pub payload: serde_json::Value,
    /// Unique key; a second job with the same key is silently dropped.
    pub key: String,
    /// Earliest run time, µs.
    pub run_at: i64,
    /// Attempts before the job is dead.
    pub max_attempts: i32,
}

/// Enqueues jobs, skipping any whose idempotency key already exists; returns how many were new.
pub async fn enqueue_all(conn: &impl ConnectionTrait, jobs: Vec<NewJob>, now: i64) -> Result<u64> {
    if jobs.is_empty() {
        return Ok(0);
    }
    let statement = conn.get_database_backend().build(&insert_of(jobs, now));
    Ok(conn.execute_raw(statement).await?.rows_affected())
}

/// Queues the insert of `jobs` (skipping keys that exist) on a pipeline; nothing when empty.
pub fn queue_all(p: &mut Pipeline, jobs: Vec<NewJob>, now: i64) {
    if !jobs.is_empty() {
        p.push(&insert_of(jobs, now));
    }
}

/// The insert of `jobs` (at least one), skipping keys that exist.
fn insert_of(jobs: Vec<NewJob>, now: i64) -> InsertStatement {
    let rows = jobs.into_iter().map(|j| job::ActiveModel {
        kind: Set(j.kind),
        channel: Set(j.channel.as_str().into()),
        target: Set(j.target),
        ticket_id: Set(j.ticket_id),
        payload: Set(j.payload.to_string()),
        status: Set("queued".into()),
        attempts: Set(0),
        max_attempts: Set(j.max_attempts),
        run_at: Set(j.run_at),
        locked_until: Set(None),
        last_error: Set(None),
        idempotency_key: Set(j.key),
        created_at: Set(now),
        updated_at: Set(now),
        finished_at: Set(None),
        ..Default::default()
    });
    job::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::column(job::Column::IdempotencyKey)
                .do_nothing()
                .to_owned(),
        )
        .into_query()
}

/// Enqueues a ticket event (`ticket.created`, `ticket.status_changed`, …) with a fresh key.
/// `actor_id` is who caused it, so nobody is notified of their own action.
pub async fn enqueue_event(
    conn: &impl ConnectionTrait,
    event: &str,
    ticket_id: i64,
    actor_id: Option<i64>,
    extra: serde_json::Value,
    now: i64,
) -> Result<()> {
    let mut p = Pipeline::new(conn);
    queue_event(&mut p, event, ticket_id, actor_id, extra, now);
    p.run(conn).await
}

/// Queues the job of `enqueue_event` on a pipeline instead of writing it at once.
pub fn queue_event(
    p: &mut Pipeline,
    event: &str,
    ticket_id: i64,
    actor_id: Option<i64>,
    extra: serde_json::Value,
    now: i64,
) {
    let payload = serde_json::json!({
        "event": event, "ticket_id": ticket_id, "actor_id": actor_id, "data": extra
    });
    let job = NewJob {
        kind: event.to_string(),
        channel: Channel::Event,
        target: None,
        ticket_id: Some(ticket_id),
        payload,
        // Time-ordered, so each new key lands at the end of the unique index: a random one
        // dirtied a leaf page of its own in every commit (one per new ticket, comment, ...).
        key: uuid::Uuid::now_v7().to_string(),
        run_at: now,
        max_attempts: 8,
    };
    p.push(&insert_of(vec![job], now));
}
