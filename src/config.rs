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
    /// Connections in the read pool (SQLite) or the whole pool (PostgreSQL).
    pub db_pool_size: u32,
    /// Attempts per minute per client IP on login/register/refresh and on the public form.
    pub rate_limit_per_minute: u32,
    /// SQLite `synchronous`: `full` (default: a commit survives power loss) or `normal`.
    pub sqlite_synchronous: String,
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
