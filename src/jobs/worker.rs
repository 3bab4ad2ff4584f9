//! The worker loop: claim a batch, run each job with a timeout, settle it; sleep when idle.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::queue::{self, Outcome};
use crate::context::Ctx;
use crate::db::entities::job;

/// What runs a claimed job. Implemented by `notify` (deliveries) so this loop stays generic.
pub trait Handler: Send + Sync + 'static {
    /// Runs one job; never panics on bad input, returns a failing outcome instead.
    fn handle(&self, job: &job::Model) -> impl Future<Output = Outcome> + Send;
    /// Called about once a minute to enqueue scheduled work (de-duplicated by key).
    fn tick(&self) -> impl Future<Output = ()> + Send;
}

/// Jobs run at once inside one batch.
const CONCURRENCY: usize = 8;

/// Runs until `stop` is cancelled; the batch in flight is finished first.
pub async fn run<H: Handler>(ctx: Ctx, handler: Arc<H>, stop: CancellationToken) {
    let cfg = ctx.config.clone();
    let lease = cfg.job_lease_secs.max(1) * 1_000_000;
    let timeout = Duration::from_secs(cfg.delivery_timeout_secs.max(1) * 2);
    let idle = Duration::from_millis(cfg.worker_poll_ms.max(10));
    let limit = batch_limit(cfg.worker_batch, cfg.job_lease_secs, timeout);
    let mut last_tick: Option<tokio::time::Instant> = None;
    let settler = super::settler::Settler::start(&ctx.db);
    // Settles of the last batch, still on their way to the writer while the next claim goes.
    let mut settling: Vec<JoinHandle<()>> = Vec::new();
    while !stop.is_cancelled() {
        if last_tick.is_none_or(|t| t.elapsed() >= Duration::from_secs(60)) {
            handler.tick().await;
            last_tick = Some(tokio::time::Instant::now());
        }
        let now = ctx.clock.now_micros();
        let batch = match queue::claim(&ctx.db, now, lease, limit).await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "claiming jobs failed; retrying");
                Vec::new()
            }
        };
        // Their jobs stay leased until they land, so the claim above could not take them again.
        for h in settling.drain(..) {
            let _ = h.await;
        }
        if batch.is_empty() {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(idle) => continue,
            }
        }
        // Jobs for one webhook destination run in order, so its rate limit and digests see
        // each other's results; everything else runs side by side.
        let mut groups: Vec<Vec<job::Model>> = Vec::new();
        for j in batch {
            let key = (j.channel == "webhook").then(|| j.target.clone()).flatten();
            match groups
                .iter_mut()
                .find(|g| key.is_some() && g[0].channel == "webhook" && g[0].target == key)
            {
                Some(g) => g.push(j),
                None => groups.push(vec![j]),
            }
        }
        settling = futures::stream::iter(groups)
            .map(|group| {
                let (ctx, handler, settler) = (&ctx, &handler, &settler);
                async move {
                    // A webhook destination's next job must see the last one's outcome.
                    let in_order = group.len() > 1;
                    let mut sent = Vec::new();
                    for j in group {
                        let settle = run_one(ctx, handler.as_ref(), settler, j, timeout).await;
                        if in_order {
                            settle.await;
                        } else {
                            sent.push(tokio::spawn(settle));
                        }
                    }
                    sent
                }
            })
            .buffer_unordered(CONCURRENCY)
            .concat()
            .await;
    }
    for h in settling {
        let _ = h.await;
    }
}

/// Jobs claimed at once: `worker_batch`, but never so many that a batch whose every job runs
/// to its timeout (`CONCURRENCY` at a time) would outlive the lease, leaving one round for
/// the settles; past the lease another worker could claim a job still waiting its turn.
fn batch_limit(worker_batch: u32, lease_secs: i64, timeout: Duration) -> u32 {
    let rounds = (lease_secs.max(1) as u64 / timeout.as_secs().max(1)).saturating_sub(1);
    let safe = rounds.saturating_mul(CONCURRENCY as u64).max(1);
    worker_batch.clamp(1, u32::try_from(safe).unwrap_or(u32::MAX))
}

/// Runs one job and answers with the write that records its outcome. A worker that waited
/// for each settle's durable commit before its next job drained events at ~8 per commit
/// (600–900/s under a create burst): sent on, a batch's settles share one commit.
async fn run_one<H: Handler>(
    ctx: &Ctx,
    handler: &H,
    settler: &super::settler::Settler,
    j: job::Model,
    timeout: Duration,
) -> impl Future<Output = ()> + Send + 'static {
    let started = ctx.clock.now_micros();
    let outcome = match tokio::time::timeout(timeout, handler.handle(&j)).await {
        Ok(o) => o,
        Err(_) => Outcome::Retry {
            error: format!("timed out after {} s", timeout.as_secs()),
            after_secs: None,
        },
    };
    match &outcome {
        Outcome::Done(_) | Outcome::Skipped(_) | Outcome::Postpone { .. } => {
            tracing::debug!(job = j.id, kind = %j.kind, "job done")
        }
        Outcome::Retry { error, .. } | Outcome::Fail(error) => {
            tracing::warn!(job = j.id, kind = %j.kind, attempt = j.attempts, %error, "job failed")
        }
    }
    let now = ctx.clock.now_micros();
    let base = ctx.config.job_backoff_secs;
    // The attempt row and the job's new state commit together; on SQLite the settles of a
    // batch share a durable commit with the request writes queued at the same time.
    let writes = queue::settle_writes(ctx.db.backend, &j, &outcome, started, now, base);
    let settler = settler.clone();
    async move {
        if let Err(e) = settler.settle(writes).await {
            // The lease will expire and the job run again; deliveries carry idempotency keys.
            tracing::error!(job = j.id, error = %e, "could not record job outcome");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_of_timeouts_ends_inside_the_lease() {
        let t = Duration::from_secs(30);
        // Defaults: 300 s lease, 30 s per job: 9 rounds of 8.
        assert_eq!(batch_limit(64, 300, t), 64);
        assert_eq!(batch_limit(500, 300, t), 72);
        assert_eq!(batch_limit(64, 90, t), 16);
        // A lease shorter than one timeout still claims one job at a time.
        assert_eq!(batch_limit(64, 10, t), 1);
        assert_eq!(batch_limit(0, 300, t), 1);
    }
}
