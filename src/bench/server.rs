//! The server under test when `triage bench` starts its own: this same binary running
//! `serve` as a child process on a free loopback port, so its memory is measured apart from the
//! load generator's.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

/// How long a stopped server may take to drain and close before it is killed.
const GRACE: Duration = Duration::from_secs(60);

/// A running `triage serve` child.
pub struct OwnServer {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// Process id, for memory readings.
    pub pid: u32,
    /// Milliseconds from spawning the process to `/ready` answering 200.
    pub ready_ms: f64,
}

impl OwnServer {
    /// Starts `exe serve` on `data_dir` (and `database_url`, when PostgreSQL) and waits for
    /// `/ready`.
    pub async fn start(
        exe: &Path,
        data_dir: &Path,
        database_url: Option<&str>,
        sqlite_synchronous: &str,
        log: PathBuf,
    ) -> anyhow::Result<OwnServer> {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0")?;
            l.local_addr()?.port()
        };
        let base = format!("http://127.0.0.1:{port}");
        let log = std::fs::File::create(&log)?;
        let mut cmd = Command::new(exe);
        cmd.arg("--data-dir")
            .arg(data_dir)
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .env("TRIAGE_SQLITE_SYNCHRONOUS", sqlite_synchronous)
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .kill_on_drop(true);
        match database_url {
            Some(u) => cmd.env("TRIAGE_DATABASE_URL", u),
            None => cmd.env_remove("TRIAGE_DATABASE_URL"),
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?;
        let spawned = Instant::now();
        let mut child = cmd.spawn()?;
        let pid = child.id().unwrap_or(0);
        loop {
            if let Ok(r) = http.get(format!("{base}/ready")).send().await
                && r.status().is_success()
            {
                break;
            }
            if let Some(status) = child.try_wait()? {
                anyhow::bail!("the server exited before it was ready ({status}); see its log");
            }
            if spawned.elapsed() > Duration::from_secs(120) {
                anyhow::bail!("the server was not ready after 120 s");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let ready_ms = spawned.elapsed().as_secs_f64() * 1000.0;
        Ok(OwnServer {
            child,
            base,
            pid,
            ready_ms,
        })
    }

    /// Stops the child the way an operator would (SIGTERM): it drains its requests, its
    /// workers settle the jobs they hold, and it closes the database. Killed outright, it
    /// left leased jobs and unsettled events behind for the next run's server to work off
    /// during that run's scenarios. Killed after `GRACE` if it has not exited by then.
    /// Answers whether it exited on its own with success.
    pub async fn stop(mut self) -> bool {
        #[cfg(unix)]
        if let Ok(pid) = i32::try_from(self.pid) {
            use nix::sys::signal::{Signal, kill};
            if kill(nix::unistd::Pid::from_raw(pid), Signal::SIGTERM).is_ok()
                && let Ok(Ok(status)) = tokio::time::timeout(GRACE, self.child.wait()).await
            {
                return status.success();
            }
        }
        let _ = self.child.kill().await;
        false
    }
}

/// Resident set size of a process in MB, from `/proc` (Linux); `None` elsewhere.
pub fn rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// Samples a process's RSS every 50 ms and keeps the peak since the last reset.
pub struct RssProbe {
    peak_kb: Arc<AtomicU64>,
    stop: tokio_util::sync::CancellationToken,
}

impl RssProbe {
    /// Starts sampling `pid`.
    pub fn start(pid: u32) -> RssProbe {
        let peak_kb = Arc::new(AtomicU64::new(0));
        let stop = tokio_util::sync::CancellationToken::new();
        let (p, s) = (peak_kb.clone(), stop.clone());
        tokio::spawn(async move {
            while !s.is_cancelled() {
                if let Some(mb) = rss_mb(pid) {
                    p.fetch_max((mb * 1024.0) as u64, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        RssProbe { peak_kb, stop }
    }

    /// Forgets the peak so far (start of a scenario).
    pub fn reset_peak(&self) {
        self.peak_kb.store(0, Ordering::Relaxed);
    }

    /// Highest RSS since the last reset, MB.
    pub fn peak_mb(&self) -> f64 {
        self.peak_kb.load(Ordering::Relaxed) as f64 / 1024.0
    }
}

impl Drop for RssProbe {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
