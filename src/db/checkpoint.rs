//! WAL checkpoints off the writer. SQLite's default lets the connection whose commit grows
//! the WAL past 1,000 pages copy them back into the database file (and fsync it) before that
//! commit returns: on the single writer that stalls every queued write for tens to hundreds
//! of milliseconds (the create scenario's p99 spikes). The writer therefore never
//! checkpoints; this task does, on a reader connection, with PASSIVE checkpoints that wait
//! for no one and are waited on by no one. Durability is unchanged: commits are durable in
//! the WAL (`synchronous=FULL`) before they are acknowledged.

use std::time::Duration;

use sqlx::SqlitePool;

/// How often the WAL is copied back into the database file.
pub const EVERY: Duration = Duration::from_millis(500);

/// Checkpoints the WAL every `EVERY` until the pool closes.
pub async fn run(pool: SqlitePool) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if pool.is_closed() {
            return;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            if pool.is_closed() {
                return;
            }
            tracing::warn!(error = %e, "WAL checkpoint failed; trying again");
        }
    }
}
