//! Waiting for the server's background work between scenarios. A create burst leaves its
//! events to be fanned out after the last request: measured without waiting, the next
//! scenario shared the cores with that work (PostgreSQL get: ~11,900/s right after a create
//! burst against ~16,000/s on a quiet queue). Each scenario is measured on a settled queue,
//! and how long the wait took is reported with it; the mixed scenario measures the two
//! together.

use std::time::{Duration, Instant};

/// What a wait found and how long it took.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Settled {
    /// Jobs due when the wait began.
    pub jobs: i64,
    /// Seconds until none was due (or the limit ran out).
    pub seconds: f64,
    /// Whether the queue was still not empty at the limit.
    pub timed_out: bool,
}

/// The `triage_jobs{state="due"}` gauge from a `/metrics` text, if it is there.
pub fn due_jobs(metrics: &str) -> Option<i64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("triage_jobs{state=\"due\"} "))
        .and_then(|v| v.trim().parse().ok())
}

/// Polls `base`'s `/metrics` until no job is due, for at most `limit`. `None` when the
/// server does not report its queue (an older version, or `/metrics` not reachable).
pub async fn background(http: &reqwest::Client, base: &str, limit: Duration) -> Option<Settled> {
    let started = Instant::now();
    let mut first = None;
    loop {
        let text = http
            .get(format!("{base}/metrics"))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        let due = due_jobs(&text)?;
        let jobs = *first.get_or_insert(due);
        let seconds = started.elapsed().as_secs_f64();
        if due == 0 || started.elapsed() >= limit {
            return Some(Settled {
                jobs,
                seconds,
                timed_out: due > 0,
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::due_jobs;

    #[test]
    fn the_due_gauge_is_read_from_the_metrics_text() {
        let text = "# TYPE triage_jobs gauge\ntriage_jobs{state=\"running\"} 3\n\
                    triage_jobs{state=\"due\"} 7175\ntriage_jobs{state=\"waiting\"} 1\n";
        assert_eq!(due_jobs(text), Some(7175));
        assert_eq!(due_jobs("triage_http_requests_total 5\n"), None);
        assert_eq!(due_jobs("triage_jobs{state=\"due\"} lots\n"), None);
    }
}
