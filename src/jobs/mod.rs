//! The durable job queue. Side effects are enqueued in the caller's transaction; the email
//! issue adds the claiming workers (single writer on SQLite, `SKIP LOCKED` on PostgreSQL).

use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};

use crate::db::entities::job;
use crate::error::Result;

/// Enqueues a job; `key` makes delivery idempotent (a duplicate key is an error, by design).
pub async fn enqueue(
    conn: &impl ConnectionTrait,
    kind: &str,
    payload: serde_json::Value,
    key: String,
    now: i64,
) -> Result<i64> {
    let m = job::ActiveModel {
        kind: Set(kind.to_string()),
        payload: Set(payload.to_string()),
        status: Set("queued".into()),
        attempts: Set(0),
        max_attempts: Set(8),
        run_at: Set(now),
        locked_until: Set(None),
        last_error: Set(None),
        idempotency_key: Set(key),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(m.id)
}

/// Enqueues a ticket event (`ticket.created`, `ticket.status_changed`, …) with a fresh key.
pub async fn enqueue_event(
    conn: &impl ConnectionTrait,
    event: &str,
    ticket_id: i64,
    extra: serde_json::Value,
    now: i64,
) -> Result<i64> {
    let payload = serde_json::json!({"event": event, "ticket_id": ticket_id, "data": extra});
    enqueue(conn, event, payload, uuid::Uuid::new_v4().to_string(), now).await
}
