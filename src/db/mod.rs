//! Database access: SQLite (one writer, a pool of readers) or PostgreSQL, chosen from the URL.

pub mod backup;
mod busy;
pub mod checkpoint;
pub mod coalesce;
pub mod deferred;
pub mod desk_entities;
pub mod direct;
pub mod entities;
pub mod group;
mod group_direct;
pub mod ids;
pub mod keeper;
pub mod mail_entities;
pub mod migrations;
pub mod pg_pool;
pub mod pipeline;
mod schema_counts;
mod schema_desk;
mod schema_files;
mod schema_kb;
mod schema_mail;
mod schema_rated;
pub(crate) mod schema_search;
mod schema_tags;
mod schema_web;
pub(crate) mod tx;

use crate::config::Config;
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DatabaseTransaction, DbErr,
    SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};
use sea_orm::{SqlxPostgresConnector, SqlxSqliteConnector};
use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::str::FromStr;
use std::time::Duration;

/// How long a SQLite connection waits for a lock another connection holds.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Batched PostgreSQL reads in flight at once (see [`coalesce`]).
const COALESCE_SLOTS: usize = 2;

/// Page cache of a pooled SQLite connection and of the writer's own, in KiB.
const PAGE_CACHE_KIB: i64 = 32_000;

/// The connections the app uses: writes go to `write`, plain reads to `read`.
#[derive(Clone)]
pub struct Db {
    /// Connection for writes and transactions (a single connection on SQLite).
    pub write: DatabaseConnection,
    /// Pool for reads (on PostgreSQL a pool of its own beside `write`'s, sized to the cores
    /// when the server is on this machine).
    pub read: DatabaseConnection,
    /// Which SQL dialect is behind the connections.
    pub backend: DatabaseBackend,
    /// Hot writes (ticket creation, comments) go through here: batched commits on SQLite.
    pub group: group::GroupCommit,
    /// Full-text plans chosen recently (SQLite), reused for a minute.
    pub plans: crate::search::PlanCache,
    /// Full-text match sets (SQLite files), exact while tickets are only added.
    pub matches: crate::search::matches::MatchCache,
    /// Short reads on the calling thread (SQLite files only; `None` on PostgreSQL).
    pub direct: Option<direct::DirectReads>,
    /// Short reads from concurrent requests folded into one statement (PostgreSQL only).
    pub coalesce: Option<coalesce::Coalescer>,
    /// Connections kept for single reads (PostgreSQL only; see [`keeper`]).
    pub kept_reads: Option<std::sync::Arc<keeper::Keeper>>,
    /// Connections kept for single-statement writes (PostgreSQL only; see [`keeper`]).
    pub kept_writes: Option<std::sync::Arc<keeper::Keeper>>,
    /// Ticket ids drawn ahead from the sequence (PostgreSQL only; see [`ids`]).
    pub ids: std::sync::Arc<ids::IdBlocks>,
}

impl Db {
    /// Closes the writer's connection and the pools, on SQLite after copying the WAL back
    /// into the file. A bulk load leaves a WAL of over a GB (nothing asks the writer to
    /// start it over while no write goes through it): left to the last connection's close,
    /// which sqlx runs on a thread of its own after `close` returns, it was still being
    /// copied when the next process opened the file, and that process waited 0.4-0.8 s.
    pub async fn close(&self) {
        // The writer first: what was queued before `close` is in the WAL that is copied back.
        self.group.close().await;
        if self.backend == DatabaseBackend::Sqlite
            && let Err(e) = self
                .write
                .execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
                .await
        {
            tracing::warn!(error = %e, "the WAL was not copied back before closing");
        }
        if let Some(c) = &self.coalesce {
            c.close().await;
        }
        for k in [&self.kept_reads, &self.kept_writes].into_iter().flatten() {
            k.close().await;
        }
        let _ = self.read.clone().close().await;
        let _ = self.write.clone().close().await;
    }

    /// Connects from a URL; an empty URL means `triage.db` in the data dir.
    pub async fn connect(config: &Config) -> anyhow::Result<Db> {
        let (url, data_dir, pool_size) = (
            config.database_url.as_str(),
            config.data_dir.as_path(),
            config.db_pool_size,
        );
        let plans =
            crate::search::PlanCache::new(config.search_drive_limit, config.search_scan_budget);
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url)?;
            // Writes wait for the WAL's flush, so more of them at once share a flush; reads of
            // a cached database only compete for the cores (see `pg_read_pool_size`).
            let write = SqlxPostgresConnector::from_sqlx_postgres_pool(
                pg_pool::options(pool_size.max(2))
                    .connect_with(options.clone())
                    .await?,
            );
            let conn = SqlxPostgresConnector::from_sqlx_postgres_pool(
                pg_pool::options(pg_read_pool_size(pool_size, &options))
                    .connect_with(options.clone())
                    .await?,
            );
            // Batches only look rows up by key, where a nested loop is always the right join;
            // the generic plan, costed for ten rows of unknown keys, merged the assignee's
            // join over a sort instead (pgbench, 8 reads a batch: +10-17 % with merges off).
            let batches = keeper::Keeper::new(
                options.clone().options([
                    ("plan_cache_mode", "force_generic_plan"),
                    ("enable_mergejoin", "off"),
                    ("enable_hashjoin", "off"),
                ]),
                COALESCE_SLOTS,
            );
            let kept_reads =
                keeper::Keeper::new(options.clone(), pg_kept_reads(pool_size, &options));
            let kept_writes = keeper::Keeper::new(options.clone(), pool_size.max(2) as usize);
            return Ok(Db {
                group: group::GroupCommit::direct(write.clone(), kept_writes.clone()),
                write,
                read: conn.clone(),
                backend: DatabaseBackend::Postgres,
                plans,
                matches: Default::default(),
                direct: None,
                coalesce: Some(coalesce::Coalescer::start(
                    kept_reads.clone(),
                    batches,
                    COALESCE_SLOTS,
                )),
                kept_reads: Some(kept_reads),
                kept_writes: Some(kept_writes),
                ids: Default::default(),
            });
        }
        let opts = if url.is_empty() {
            std::fs::create_dir_all(data_dir)?;
            SqliteConnectOptions::new().filename(data_dir.join("triage.db"))
        } else if url.starts_with("sqlite:") {
            SqliteConnectOptions::from_str(url)?
        } else {
            anyhow::bail!("unsupported database URL (expected postgres://… or sqlite:…)");
        };
        // FULL makes every acknowledged commit survive power loss; NORMAL (WAL) only survives
        // a crash of the process, and is offered for deployments that accept that trade.
        let (synchronous, sync_name) = match config.sqlite_synchronous.to_lowercase().as_str() {
            "full" => (SqliteSynchronous::Full, "FULL"),
            "normal" => (SqliteSynchronous::Normal, "NORMAL"),
            other => anyhow::bail!("sqlite_synchronous must be full or normal, not {other:?}"),
        };
        let opts = opts
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(synchronous)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            .pragma("cache_size", format!("-{PAGE_CACHE_KIB}"));
        let mut writer_opts = opts.clone();
        for (name, value) in group_direct::WRITER_PRAGMAS {
            writer_opts = writer_opts.pragma(*name, *value);
        }
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(|conn, _| Box::pin(busy::set_on(conn)))
            // The writer never stops to checkpoint; `checkpoint::run` does it beside it. A WAL
            // started over keeps its file, cut back to 64 MB. Every write in a group commit has
            // a savepoint, whose journal of page images spilled to a temporary file past 64 KiB:
            // five times as many `pwrite` calls as the WAL itself got. In memory, it is freed at
            // each release; the WAL and its fsync are what make a commit durable.
            .connect_with(writer_opts)
            .await?;
        let file = opts.get_filename().to_path_buf();
        let writer_file = is_file(&file).then(|| group_direct::WriterFile {
            path: file.clone(),
            synchronous: sync_name,
            cache_kib: PAGE_CACHE_KIB,
        });
        let readers = SqlitePoolOptions::new()
            .max_connections(sqlite_readers(pool_size))
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(opts)
            .await?;
        let restart = checkpoint::WalRestart::default();
        tokio::spawn(checkpoint::run(readers.clone(), restart.clone()));
        let direct = direct_reads(&file);
        let write = SqlxSqliteConnector::from_sqlx_sqlite_pool(writer);
        Ok(Db {
            group: group::GroupCommit::batching(
                write.clone(),
                restart,
                schema_search::DIRECT_BATCH,
                writer_file,
            )?,
            write,
            read: SqlxSqliteConnector::from_sqlx_sqlite_pool(readers),
            backend: DatabaseBackend::Sqlite,
            plans,
            matches: Default::default(),
            direct,
            coalesce: None,
            kept_reads: None,
            kept_writes: None,
            ids: Default::default(),
        })
    }

    /// Starts a write transaction. On SQLite it takes the write lock at `BEGIN` (IMMEDIATE):
    /// a deferred transaction that reads first cannot wait for another process's writer (a
    /// mailgate, a worker) and fails with "database is locked" instead of queueing behind it.
    pub async fn begin(&self) -> Result<DatabaseTransaction, DbErr> {
        begin_write(&self.write).await
    }

    /// Every row of a short, index-bound read: on SQLite on the calling thread (see
    /// [`direct`]), elsewhere through the read pool.
    pub async fn read_all<T: direct::FromCells>(&self, stmt: Statement) -> Result<Vec<T>, DbErr> {
        self.read_with(stmt, &direct::RowsOf::<T>::default()).await
    }

    /// The first row of a short, index-bound read (see [`Db::read_all`]).
    pub async fn read_one<T: direct::FromCells>(
        &self,
        stmt: Statement,
    ) -> Result<Option<T>, DbErr> {
        Ok(self.read_all(stmt).await?.into_iter().next())
    }

    /// `read_all` with a decoder that knows the rows' layout.
    pub async fn read_with<D: direct::Decode>(
        &self,
        stmt: Statement,
        decoder: &D,
    ) -> Result<Vec<D::Row>, DbErr> {
        match &self.direct {
            Some(d) => d.all(&stmt, decoder),
            None => self.read_pooled(stmt, decoder).await,
        }
    }

    /// `read_with` for a statement of a few rows whose order does not matter, folded on
    /// PostgreSQL with concurrent reads of the same text (see [`coalesce`]).
    pub async fn read_coalesced<D: direct::Decode>(
        &self,
        stmt: Statement,
        decoder: &D,
    ) -> Result<Vec<D::Row>, DbErr> {
        let Some(c) = &self.coalesce else {
            return self.read_with(stmt, decoder).await;
        };
        let read = c.read(stmt).await?;
        direct::decode_all(&read.rows, read.shift, decoder)
    }

    /// The first row of a short by-key read, folded on PostgreSQL with concurrent reads of
    /// the same text (see [`Db::read_coalesced`]).
    pub async fn read_one_coalesced<T: direct::FromCells>(
        &self,
        stmt: Statement,
    ) -> Result<Option<T>, DbErr> {
        let rows = self
            .read_coalesced(stmt, &direct::RowsOf::<T>::default())
            .await?;
        Ok(rows.into_iter().next())
    }

    /// `read_with` always through the read pool: for long reads (searches), which must not
    /// hold a runtime thread. On PostgreSQL on a kept connection (see [`keeper`]).
    pub async fn read_pooled<D: direct::Decode>(
        &self,
        stmt: Statement,
        decoder: &D,
    ) -> Result<Vec<D::Row>, DbErr> {
        let rows = match &self.kept_reads {
            Some(k) => k.query_all(&stmt).await?,
            None => self.read.query_all_raw(stmt).await?,
        };
        direct::decode_all(&rows, 0, decoder)
    }

    /// Runs one write statement on its own (committed when it returns): on PostgreSQL on a
    /// kept connection (see [`keeper`]), elsewhere through the writer. Rows it changed.
    pub async fn execute_alone(&self, stmt: Statement) -> Result<u64, DbErr> {
        match &self.kept_writes {
            Some(k) => k.execute(&stmt).await,
            None => Ok(self.write.execute_raw(stmt).await?.rows_affected()),
        }
    }

    /// True when the backend is PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.backend == DatabaseBackend::Postgres
    }
}

/// Reader connections for SQLite: `db_pool_size`, but no more than two per core (at least
/// four). Reads of a cached file are CPU-bound, so readers beyond that only add page caches
/// (32 MB each): on two cores, eight readers took a server under search load to 277–314 MB
/// against 182 MB with four, at the same throughput.
fn sqlite_readers(pool_size: u32) -> u32 {
    pool_size.clamp(1, (2 * cores()).max(4))
}

/// The PostgreSQL read pool: `db_pool_size` (at least two), but when the server runs on this
/// machine (a loopback host or a Unix socket), no more than two per core plus one. Its
/// backends then share the cores with this process, and a cached database's reads are
/// CPU-bound: more backends only take turns on the cores. On two cores a pool of five gave
/// list pages a p99 of 17.8-19.9 ms against 22.4-24.4 ms with eight, at the same rate. (The
/// write pool keeps `db_pool_size`: mail intake fell by a tenth on five connections.)
fn pg_read_pool_size(pool_size: u32, options: &PgConnectOptions) -> u32 {
    let pool = pool_size.max(2);
    match is_local(options) {
        true => pool.min(2 * cores() + 1),
        false => pool,
    }
}

/// Kept read connections (see [`keeper`]): as the read pool, but on this machine no more than
/// two per core. Without the pool's round trip per statement each connection keeps its
/// backend busier; on two cores five of them gave list pages a p99 of 18-20 ms and deep pages
/// 21-24 ms, four 15-17 and 18-19 ms at a higher rate, three 14 and 17-18 ms at a lower one.
fn pg_kept_reads(pool_size: u32, options: &PgConnectOptions) -> usize {
    let pool = pool_size.max(2);
    let size = match is_local(options) {
        true => pool.min(2 * cores()),
        false => pool,
    };
    size as usize
}

/// True when the PostgreSQL server is on this machine (a loopback host or a Unix socket).
fn is_local(options: &PgConnectOptions) -> bool {
    let host = options.get_host();
    options.get_socket().is_some()
        || host.starts_with('/')
        || matches!(host, "localhost" | "127.0.0.1" | "::1" | "[::1]")
        || host.starts_with("127.")
}

/// This machine's cores (two when unknown).
fn cores() -> u32 {
    std::thread::available_parallelism().map_or(2, |n| n.get()) as u32
}

/// Direct reads of a database file; none for in-memory databases (each connection would
/// open its own empty one). Two connections per core: the runtime's worker threads use them.
fn direct_reads(file: &std::path::Path) -> Option<direct::DirectReads> {
    if !is_file(file) {
        return None;
    }
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    Some(direct::DirectReads::new(file.to_path_buf(), 2 * cores))
}

/// True when `file` names a database file a second connection can open (not in memory).
fn is_file(file: &std::path::Path) -> bool {
    let name = file.to_string_lossy();
    !(name.starts_with("file:") || name == ":memory:") && file.is_file()
}

/// `BEGIN IMMEDIATE` on SQLite, a plain `BEGIN` elsewhere (the mode is SQLite's only).
pub async fn begin_write(conn: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    conn.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_postgresql_pool_is_bounded_by_the_cores_a_remote_one_is_not() {
        let cap = 2 * cores() + 1;
        for host in [
            "localhost",
            "127.0.0.1",
            "127.0.1.1",
            "::1",
            "/var/run/postgresql",
        ] {
            let url = if host.starts_with('/') {
                format!("postgres://u@x/db?host={host}")
            } else if host.contains(':') {
                format!("postgres://u@[{host}]:5432/db")
            } else {
                format!("postgres://u@{host}:5432/db")
            };
            let parsed = PgConnectOptions::from_str(&url).expect("url");
            assert_eq!(pg_read_pool_size(cap + 20, &parsed), cap, "{url}");
            assert_eq!(pg_read_pool_size(1, &parsed), 2, "{url}: at least two");
            assert_eq!(
                pg_kept_reads(cap + 20, &parsed),
                (cap - 1) as usize,
                "{url}"
            );
            assert_eq!(pg_kept_reads(1, &parsed), 2, "{url}: at least two");
        }
        let remote = PgConnectOptions::from_str("postgres://u@db.internal:5432/db").expect("url");
        assert_eq!(pg_read_pool_size(cap + 20, &remote), cap + 20);
        assert_eq!(pg_kept_reads(cap + 20, &remote), (cap + 20) as usize);
    }

    #[tokio::test]
    async fn close_copies_the_wal_back_into_the_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = Config {
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        let db = Db::connect(&config).await.expect("connect");
        db.write
            .execute_unprepared("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
            .await
            .expect("table");
        for i in 0..20 {
            db.group
                .run_direct(move |c| {
                    c.execute("INSERT INTO t (name) VALUES (?1)", [format!("row {i}")])
                        .map_err(|e| crate::error::Error::Internal(e.into()))
                })
                .await
                .expect("write");
        }
        // Another process's connection stays open, so no close here is the file's last
        // (which would copy the WAL back by itself): only `close` itself can have done it.
        let other = rusqlite::Connection::open(dir.path().join("triage.db")).expect("open");
        let seen: i64 = other
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .expect("count");
        assert_eq!(seen, 20);
        let wal = dir.path().join("triage.db-wal");
        let before = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        assert!(before > 0, "the writes are in the WAL");
        db.close().await;
        let after = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        assert_eq!(after, 0, "the WAL was copied back and cut to nothing");
        let n: i64 = other
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .expect("count");
        assert_eq!(n, 20, "every write is still there");
    }
}
