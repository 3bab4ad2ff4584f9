//! Configuration: defaults, then `triage.toml`, then `TRIAGE_*` environment variables (env wins).

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Everything Triage reads at start-up; loaded once and passed down.
#[derive(Clone, Serialize, Deserialize)]
pub struct Config {
    /// HTTP listen address.
    pub listen: String,
    /// Directory for the SQLite file, attachments and generated keys.
    pub data_dir: PathBuf,
    /// `postgres://…` or `sqlite://…`; empty means SQLite in the data dir.
    pub database_url: String,
    /// Public base URL used in links; empty means `http://<listen>`.
    pub base_url: String,
    /// Secret for tokens and signed links; empty means generated once into the data dir.
    pub secret_key: String,
    /// Prefix of ticket numbers.
    pub ticket_prefix: String,
    /// Days after closing during which a ticket may still be reopened.
    pub reopen_window_days: i64,
    /// Lifetime of JWT access tokens, seconds.
    pub access_token_ttl_secs: i64,
    /// Lifetime of refresh tokens, days.
    pub refresh_token_ttl_days: i64,
    /// Largest accepted request body, bytes.
    pub max_body_bytes: usize,
    /// Connections in the read pool (SQLite: at most two per core; PostgreSQL on this machine:
    /// at most two per core plus one) and in PostgreSQL's write pool.
    pub db_pool_size: u32,
    /// Attempts per minute per client IP on login/register/refresh and on the public form.
    pub rate_limit_per_minute: u32,
    /// SQLite `synchronous`: `full` (default: a commit survives power loss) or `normal`.
    pub sqlite_synchronous: String,
    /// Outgoing mail server: `smtp://user:pass@host:587?tls=required` (STARTTLS),
    /// `?tls=opportunistic`, `smtps://…` (implicit TLS) or plain `smtp://host:25` (local relay);
    /// empty turns e-mail off (logged).
    pub smtp_url: String,
    /// Sender address of outgoing mail, e.g. `Support <support@example.com>`.
    pub mail_from: String,
    /// Team address told about new tickets; also the base of reply-to plus-addresses.
    pub support_address: String,
    /// PEM file of extra trusted CA certificates for SMTP and IMAP (a private mail server);
    /// empty means the public web PKI roots only.
    pub tls_ca_file: String,
    /// Mailbox to poll: `imaps://user:pass@host:993/INBOX` (or `imap://` for a local server).
    pub imap_url: String,
    /// Seconds between IMAP polls.
    pub imap_poll_secs: u64,
    /// Folder processed mail is moved to; empty means mark it `\Seen` and leave it.
    pub imap_processed_folder: String,
    /// Whether `serve` runs the delivery workers in-process (`triage worker` runs them alone).
    pub workers: bool,
    /// Milliseconds between polls of the job queue when it is idle.
    pub worker_poll_ms: u64,
    /// Jobs claimed per poll (fewer when the lease could not cover a batch of timeouts). A
    /// batch costs one durable commit for its claim, so this bounds how fast events drain.
    pub worker_batch: u32,
    /// Seconds a claimed job stays leased before another worker may retry it.
    pub job_lease_secs: i64,
    /// Matches up to which a search reads and sorts all of them; beyond, it walks the list's
    /// own index and checks each entry (`search::Plan`).
    pub search_drive_limit: i64,
    /// PostgreSQL: rows a search's walk of the list index reads (per part of the filter)
    /// before it gives up and reads the matches instead (`tickets::budget`).
    pub search_scan_budget: u64,
    /// Delivery attempts before a job is dead.
    pub job_max_attempts: i32,
    /// First retry delay in seconds; doubles each attempt (with jitter), capped at 6 hours.
    pub job_backoff_secs: i64,
    /// Timeout of one webhook or SMTP delivery, seconds.
    pub delivery_timeout_secs: u64,
    /// Days finished jobs (delivered, skipped, cancelled) stay in the delivery log.
    pub job_retention_days: i64,
    /// Hour of the day (UTC) the daily summary goes to admins; negative disables it.
    pub daily_summary_hour: i32,
    /// Attachment store: empty for `<data dir>/attachments`, or `s3://bucket/prefix` (credentials,
    /// region and endpoint from the standard `AWS_*` environment).
    pub storage_url: String,
    /// object_store S3 options overriding the environment (`aws_endpoint`, `aws_region`,
    /// `aws_access_key_id`, `aws_secret_access_key`, `aws_allow_http`, …); never logged.
    pub storage_options: std::collections::BTreeMap<String, String>,
    /// Largest attachment, bytes.
    pub max_attachment_bytes: usize,
    /// Most attachments on one message.
    pub max_attachments: usize,
    /// Largest inbound e-mail accepted by `mailgate` and the poller, bytes.
    pub max_mail_bytes: usize,
    /// OpenAI-compatible API base (e.g. `http://127.0.0.1:11434/v1`) for ticket drafts; empty
    /// uses the built-in classifier only.
    pub llm_url: String,
    /// Bearer key for `llm_url` (may be empty for local servers).
    pub llm_api_key: String,
    /// Model name sent to `llm_url`.
    pub llm_model: String,
    /// Milliseconds to wait for the model before falling back to the built-in classifier.
    pub llm_timeout_ms: u64,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets (the key, passwords in URLs) never reach logs.
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("database", &redact_url(&self.database_url))
            .field("base_url", &self.base_url)
            .field("ticket_prefix", &self.ticket_prefix)
            .field("smtp", &redact_url(&self.smtp_url))
            .field("imap", &redact_url(&self.imap_url))
            .field("llm", &redact_url(&self.llm_url))
            .field("storage", &self.storage_url)
            .finish_non_exhaustive()
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./triage-data"),
            database_url: String::new(),
            base_url: String::new(),
            secret_key: String::new(),
            ticket_prefix: "TKT".into(),
            reopen_window_days: 7,
            access_token_ttl_secs: 900,
            refresh_token_ttl_days: 30,
            max_body_bytes: 2 * 1024 * 1024,
            db_pool_size: 8,
            sqlite_synchronous: "full".into(),
            rate_limit_per_minute: 20,
            smtp_url: String::new(),
            mail_from: String::new(),
            support_address: String::new(),
            imap_url: String::new(),
            tls_ca_file: String::new(),
            imap_poll_secs: 60,
            imap_processed_folder: String::new(),
            workers: true,
            worker_poll_ms: 500,
            worker_batch: 64,
            job_lease_secs: 300,
            search_drive_limit: crate::search::DRIVE_LIMIT,
            search_scan_budget: crate::search::SCAN_BUDGET,
            job_max_attempts: 8,
            job_backoff_secs: 30,
            delivery_timeout_secs: 15,
            daily_summary_hour: 7,
            job_retention_days: 30,
            storage_url: String::new(),
            storage_options: Default::default(),
            max_attachment_bytes: 10 * 1024 * 1024,
            max_attachments: 5,
            max_mail_bytes: 40 * 1024 * 1024,
            llm_url: String::new(),
            llm_api_key: String::new(),
            llm_model: "gpt-4o-mini".into(),
            llm_timeout_ms: 8000,
        }
    }
}

impl Config {
    /// Loads defaults, then the TOML file (explicit path, or `./triage.toml` when present), then env.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Config> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) => {
                if !path.exists() {
                    anyhow::bail!("config file {} does not exist", path.display());
                }
                fig = fig.merge(Toml::file(path));
            }
            None => {
                if Path::new("triage.toml").exists() {
                    fig = fig.merge(Toml::file("triage.toml"));
                }
            }
        }
        fig = fig.merge(Env::prefixed("TRIAGE_"));
        Ok(fig.extract()?)
    }

    /// The public base URL, without a trailing slash.
    pub fn public_base_url(&self) -> String {
        if self.base_url.is_empty() {
            format!("http://{}", self.listen)
        } else {
            self.base_url.trim_end_matches('/').to_string()
        }
    }
}

/// Hides the password part of a URL.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***@{}", &url[..s], &url[at + 1..]),
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("postgres://u:secret@h:5432/db"),
            "postgres://***@h:5432/db"
        );
        assert_eq!(redact_url("sqlite://x.db"), "sqlite://x.db");
    }
}
