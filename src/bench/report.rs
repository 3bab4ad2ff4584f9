//! Latency statistics, the results table and the JSON record of a bench run.

use serde::Serialize;

/// The outcome of one scenario.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioResult {
    /// Scenario name (`create`, `get`, `list`, `list_deep`, `search`, `comment`, `mixed`).
    pub scenario: String,
    /// Concurrent clients.
    pub clients: usize,
    /// Measured seconds.
    pub seconds: f64,
    /// Requests answered with the expected status.
    pub ok: u64,
    /// Requests that failed (transport error or unexpected status).
    pub errors: u64,
    /// Successful requests per second.
    pub throughput: f64,
    /// Latency percentiles and maximum, milliseconds.
    pub p50_ms: f64,
    /// 90th percentile, ms.
    pub p90_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Slowest request, ms.
    pub max_ms: f64,
    /// Peak resident memory of the server during the scenario, MB (own server only).
    pub rss_peak_mb: Option<f64>,
    /// First error seen, to tell what went wrong.
    pub first_error: Option<String>,
    /// The wait for the server's background jobs before the scenario, when there was one.
    pub settled: Option<super::settle::Settled>,
    /// CPU time the hypervisor gave to other guests during the scenario, % (Linux).
    pub steal_pct: Option<f64>,
}

/// Percentile (0–100) of sorted microsecond latencies, in milliseconds (nearest rank).
pub fn percentile_ms(sorted: &[u64], pct: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((pct / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1000.0
}

/// Builds a result from raw latencies.
pub fn summarise(
    scenario: &str,
    clients: usize,
    seconds: f64,
    mut latencies: Vec<u64>,
    errors: u64,
    first_error: Option<String>,
    rss_peak_mb: Option<f64>,
) -> ScenarioResult {
    latencies.sort_unstable();
    let ok = latencies.len() as u64;
    ScenarioResult {
        scenario: scenario.to_string(),
        clients,
        seconds,
        ok,
        errors,
        throughput: if seconds > 0.0 {
            ok as f64 / seconds
        } else {
            0.0
        },
        p50_ms: percentile_ms(&latencies, 50.0),
        p90_ms: percentile_ms(&latencies, 90.0),
        p99_ms: percentile_ms(&latencies, 99.0),
        max_ms: latencies.last().map(|m| *m as f64 / 1000.0).unwrap_or(0.0),
        rss_peak_mb,
        first_error,
        settled: None,
        steal_pct: None,
    }
}

/// The whole run, as written by `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// `sqlite` or `postgres` (own server), or the URL benchmarked.
    pub target: String,
    /// Tickets in the database when the scenarios ran.
    pub tickets: u64,
    /// Seconds the bulk seed took, when this run seeded.
    pub seed_seconds: Option<f64>,
    /// Milliseconds from starting the server process to `/ready` answering (own server).
    pub ready_ms: Option<f64>,
    /// Server RSS after start-up, before load, MB (own server).
    pub rss_idle_mb: Option<f64>,
    /// Per-scenario results.
    pub results: Vec<ScenarioResult>,
    /// SQLite `synchronous` mode the server ran with (own SQLite server).
    pub sqlite_synchronous: Option<String>,
    /// When the run finished (RFC 3339).
    pub finished_at: String,
    /// CPU count and model, for reading the numbers.
    pub machine: String,
}

/// The results as an aligned text table.
pub fn table(results: &[ScenarioResult]) -> String {
    let mut out = format!(
        "{:<11} {:>7} {:>9} {:>10} {:>8} {:>8} {:>8} {:>9} {:>7} {:>8} {:>7}\n",
        "scenario",
        "clients",
        "requests",
        "req/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "errors",
        "RSS MB",
        "steal %"
    );
    for r in results {
        out.push_str(&format!(
            "{:<11} {:>7} {:>9} {:>10.0} {:>8.2} {:>8.2} {:>8.2} {:>9.2} {:>7} {:>8} {:>7}\n",
            r.scenario,
            r.clients,
            r.ok,
            r.throughput,
            r.p50_ms,
            r.p90_ms,
            r.p99_ms,
            r.max_ms,
            r.errors,
            r.rss_peak_mb
                .map(|m| format!("{m:.0}"))
                .unwrap_or_else(|| "-".into()),
            r.steal_pct
                .map(|p| format!("{p:.1}"))
                .unwrap_or_else(|| "-".into())
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let v: Vec<u64> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile_ms(&v, 50.0), 50.0);
        assert_eq!(percentile_ms(&v, 99.0), 99.0);
        assert_eq!(percentile_ms(&v, 100.0), 100.0);
        assert_eq!(percentile_ms(&[7000], 99.0), 7.0);
        assert_eq!(percentile_ms(&[], 50.0), 0.0);
    }

    #[test]
    fn summary_counts_and_rates() {
        let r = summarise("get", 4, 2.0, vec![3000, 1000, 2000, 4000], 1, None, None);
        assert_eq!(r.ok, 4);
        assert_eq!(r.throughput, 2.0);
        assert_eq!(r.p50_ms, 2.0);
        assert_eq!(r.max_ms, 4.0);
        assert!(table(&[r]).contains("get"));
    }
}
