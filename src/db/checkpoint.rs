//! WAL checkpoints off the writer. SQLite's default lets the connection whose commit grows
//! the WAL past 1,000 pages copy them back into the database file (and fsync it) before that
//! commit returns: on the single writer that stalls every queued write for tens to hundreds
//! of milliseconds (the create scenario's p99 spikes). The writer therefore never
//! checkpoints; this task does, on a reader connection, with PASSIVE checkpoints that wait
//! for no one and are waited on by no one. Durability is unchanged: commits are durable in
//! the WAL (`synchronous=FULL`) before they are acknowledged.
//!
//! Under a steady stream of writes a PASSIVE checkpoint never sees the WAL's end (frames are
//! appended while it copies), so SQLite never starts the WAL over and it grows without bound
//! (900 MB after a few minutes of the create scenario, every new frame a page the kernel
//! zeroes first). When it passes [`RESTART_FRAMES`] this task asks the writer, through
//! [`WalRestart`], to run a RESTART checkpoint between two batches: the PASSIVE ones have
//! copied nearly everything, so it copies only the tail, and the next write starts the WAL
//! from its beginning.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::SqlitePool;

/// How often the WAL is copied back into the database file.
pub const EVERY: Duration = Duration::from_millis(500);

/// WAL length (pages) past which the writer is asked to start the WAL over: 32 MB of pages.
pub const RESTART_FRAMES: i64 = 8192;

/// A request from the checkpointer to the writer to start the WAL over.
#[derive(Clone, Default)]
pub struct WalRestart(Arc<AtomicBool>);

impl WalRestart {
    /// Asks for a restart.
    pub fn request(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// True once per request: the writer takes the request it is about to serve.
    pub fn take(&self) -> bool {
        self.0.swap(false, Ordering::Relaxed)
    }
}

/// Checkpoints the WAL every `EVERY` until the pool closes, asking `restart` for a restart
/// when the WAL has grown past [`RESTART_FRAMES`].
pub async fn run(pool: SqlitePool, restart: WalRestart) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if pool.is_closed() {
            return;
        }
        // (busy, frames in the WAL, frames copied back)
        let done: Result<(i64, i64, i64), _> = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&pool)
            .await;
        match done {
            Ok((_, log, _)) if log >= RESTART_FRAMES => restart.request(),
            Ok(_) => {}
            Err(e) => {
                if pool.is_closed() {
                    return;
                }
                tracing::warn!(error = %e, "WAL checkpoint failed; trying again");
            }
        }
    }
}
