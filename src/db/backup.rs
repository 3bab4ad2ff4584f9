//! Online backups: SQLite via `VACUUM INTO` (a consistent snapshot while serving),
//! PostgreSQL via the server's own `pg_dump`.

use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
use std::path::{Path, PathBuf};

use super::Db;
use crate::config::Config;

/// Default backup path: `<data dir>/backups/triage-<UTC timestamp>.<db|sql>`.
pub fn default_path(
    config: &Config,
    backend: DatabaseBackend,
    now: chrono::DateTime<chrono::Utc>,
) -> PathBuf {
    let ext = if backend == DatabaseBackend::Postgres {
        "sql"
    } else {
        "db"
    };
    config
        .data_dir
        .join("backups")
        .join(format!("triage-{}.{ext}", now.format("%Y%m%d-%H%M%S")))
}

/// Writes a consistent copy of the database to `out` (which must not exist yet).
pub async fn backup(db: &Db, config: &Config, out: &Path) -> anyhow::Result<()> {
    if out.exists() {
        anyhow::bail!("{} already exists; refusing to overwrite", out.display());
    }
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    match db.backend {
        DatabaseBackend::Postgres => {
            let status = tokio::process::Command::new("pg_dump")
                .arg("--no-owner")
                .arg("--file")
                .arg(out)
                .arg(&config.database_url)
                .status()
                .await
                .map_err(|e| {
                    anyhow::anyhow!("cannot run pg_dump (install the PostgreSQL client tools): {e}")
                })?;
            if !status.success() {
                anyhow::bail!("pg_dump failed with {status}");
            }
        }
        _ => {
            let path = out
                .to_str()
                .ok_or_else(|| anyhow::anyhow!("backup path must be valid UTF-8"))?;
            db.read
                .execute_raw(Statement::from_sql_and_values(
                    DatabaseBackend::Sqlite,
                    "VACUUM INTO ?",
                    [path.into()],
                ))
                .await?;
        }
    }
    Ok(())
}
