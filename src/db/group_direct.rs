//! The group writer's direct batches: writes that are plain functions of a rusqlite
//! connection run on the writer's thread, where through sqlx each statement is a hand-off to
//! the connection's thread and back.
//!
//! On a database file the writer keeps a connection of its own ([`WriteHandle`]), so the
//! statements it prepares stay prepared from one batch to the next: lent sqlx's handle for
//! each batch, it prepared them again every time (trigger programs included), 13 % of the
//! writer's time in the create scenario. The batch still holds the pool's one write
//! connection while it runs, so it queues behind other writes of this process exactly as
//! sea-orm ones do and never meets their lock. An in-memory database, which a second
//! connection cannot open, lends sqlx's handle as before.

use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::time::Duration;

use rusqlite::Connection;
use sea_orm::{DatabaseBackend, DatabaseConnection};

use super::group::{DirectWork, Outcome, Reply, fail_all, savepoint};
use crate::error::Error;

/// Statements the writer runs in every direct batch's transaction: `open` right after
/// `BEGIN`, `close` after the last write and before `COMMIT` (see `schema_search::DIRECT_BATCH`).
#[derive(Clone, Copy, Debug)]
pub struct BatchEnds {
    /// Run first; when they fail (a schema not migrated yet) the batch runs without `close`.
    pub open: &'static [&'static str],
    /// Run last; when they fail the whole batch is rolled back.
    pub close: &'static [&'static str],
}

impl BatchEnds {
    /// Nothing around the writes.
    pub const NONE: BatchEnds = BatchEnds {
        open: &[],
        close: &[],
    };
}

/// Settings of the write connection beside `synchronous`, `foreign_keys` and the page cache,
/// for sqlx's and the writer's own (why: `Db::connect`).
pub(super) const WRITER_PRAGMAS: &[(&str, &str)] = &[
    ("wal_autocheckpoint", "0"),
    ("journal_size_limit", "67108864"),
    ("temp_store", "memory"),
];

/// Statements the writer's own connection keeps prepared: the direct writes' distinct texts
/// (multi-row inserts have one per row count) with room to spare.
const KEPT_STATEMENTS: usize = 256;

/// The database file the writer opens its own connection to, and how its commits sync.
#[derive(Clone, Debug)]
pub struct WriterFile {
    /// The SQLite file (already in WAL mode: the pool opened it first).
    pub path: PathBuf,
    /// `FULL` or `NORMAL`, as the pool's connections have it.
    pub synchronous: &'static str,
    /// Page cache in KiB, as the pool's connections have it.
    pub cache_kib: i64,
}

/// The SQLite connection direct batches run on.
pub(super) struct WriteHandle {
    own: Option<Connection>,
}

impl WriteHandle {
    /// The writer's own connection to `file`, or sqlx's handle lent per batch when there is
    /// no file or it cannot be opened.
    pub(super) fn open(file: Option<&WriterFile>) -> WriteHandle {
        let own = file.and_then(|f| match open_own(f) {
            Ok(db) => Some(db),
            Err(e) => {
                tracing::warn!(error = %e, "the writer runs on sqlx's handle");
                None
            }
        });
        WriteHandle { own }
    }
}

fn open_own(file: &WriterFile) -> rusqlite::Result<Connection> {
    let db = Connection::open_with_flags(
        &file.path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let mut pragmas = format!(
        "PRAGMA synchronous = {}; PRAGMA foreign_keys = ON; PRAGMA cache_size = -{};",
        file.synchronous, file.cache_kib
    );
    for (name, value) in WRITER_PRAGMAS {
        pragmas.push_str(&format!(" PRAGMA {name} = {value};"));
    }
    db.execute_batch(&pragmas)?;
    let mode: String = db.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "journal mode {mode}, not WAL"
        )));
    }
    super::busy::set(&db)?;
    db.set_prepared_statement_cache_capacity(KEPT_STATEMENTS);
    Ok(db)
}

/// Runs `statements` in order, each prepared once per connection (they run in every batch).
fn run_each(db: &Connection, statements: &[&str]) -> rusqlite::Result<()> {
    for sql in statements {
        db.prepare_cached(sql)?.execute([])?;
    }
    Ok(())
}

/// Runs `batch` in one transaction on the write connection's handle, answering every write
/// once the transaction is committed (or with the error that stopped it).
pub(super) async fn run_batch(
    conn: &DatabaseConnection,
    handle: &WriteHandle,
    ends: BatchEnds,
    batch: Vec<(DirectWork, Reply)>,
) {
    let mut pending = Some(batch);
    let ran = on_write_handle(conn, handle, |db| {
        in_transaction(db, ends, pending.take().unwrap_or_default())
    });
    match ran.await {
        Ok(answers) => {
            for (reply, out) in answers {
                let _ = reply.send(out);
            }
        }
        Err(msg) => fail_all(pending.unwrap_or_default(), &msg),
    }
}

/// How long a WAL restart waits for readers still on the old WAL before giving up (it is
/// asked again half a second later): writes wait meanwhile.
const RESTART_PATIENCE: Duration = Duration::from_millis(100);

/// Runs a RESTART checkpoint on the write connection, between two batches, so the next write
/// starts the WAL over (see `db::checkpoint`).
pub(super) async fn restart_wal(conn: &DatabaseConnection, handle: &WriteHandle) {
    let done = on_write_handle(conn, handle, |db| {
        let _ = db.busy_timeout(RESTART_PATIENCE);
        let done = db.query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
        });
        let _ = super::busy::set(db);
        done.map_err(|e| e.to_string())
    });
    match done.await.and_then(|d| d) {
        Ok((0, frames)) => tracing::debug!(frames, "WAL started over"),
        Ok((_, frames)) => tracing::debug!(frames, "WAL restart waited too long for readers"),
        Err(e) => tracing::warn!(error = %e, "WAL restart failed"),
    }
}

/// Runs `f` on `handle` while holding the pool's write connection, and leaves the
/// connection outside any transaction; an error says why the handle could not be had.
async fn on_write_handle<T>(
    conn: &DatabaseConnection,
    handle: &WriteHandle,
    f: impl FnOnce(&Connection) -> T,
) -> Result<T, String> {
    if conn.get_database_backend() != DatabaseBackend::Sqlite {
        return Err("direct writes need SQLite".into());
    }
    // Held while `f` runs even on the writer's own connection: no other write of this
    // process can take SQLite's write lock meanwhile, so none waits on it in a busy loop.
    let mut pooled = conn
        .get_sqlite_connection_pool()
        .acquire()
        .await
        .map_err(|e| e.to_string())?;
    let finished = |db: &Connection| {
        let out = f(db);
        // Whatever happened, the connection is left outside any transaction.
        if !db.is_autocommit() {
            let _ = db.execute_batch("ROLLBACK");
        }
        out
    };
    match &handle.own {
        Some(db) => Ok(finished(db)),
        None => {
            with_handle(&mut pooled, |db| {
                db.set_prepared_statement_cache_capacity(64);
                finished(db)
            })
            .await
        }
    }
}

/// Runs `f` on the SQLite handle of a connection sqlx opened, lent as a rusqlite connection
/// (with an empty statement cache: what it prepares is finalized before the handle goes back).
pub(super) async fn with_handle<T>(
    conn: &mut sqlx::SqliteConnection,
    f: impl FnOnce(&Connection) -> T,
) -> Result<T, String> {
    let mut locked = conn.lock_handle().await.map_err(|e| e.to_string())?;
    // SAFETY: sqlx opened this handle and keeps it open while its connection lives, and the
    // lock guard `locked` keeps sqlx's worker off it until it drops. `from_handle` never
    // closes the handle, and `db` (with every statement it prepared) is dropped before
    // `locked` is.
    let db = unsafe { Connection::from_handle(locked.as_raw_handle().as_ptr()) }
        .map_err(|e| e.to_string())?;
    let out = f(&db);
    drop(db);
    drop(locked);
    Ok(out)
}

fn in_transaction(
    db: &Connection,
    ends: BatchEnds,
    batch: Vec<(DirectWork, Reply)>,
) -> Vec<(Reply, Outcome)> {
    if let Err(e) = db.execute_batch("BEGIN IMMEDIATE") {
        return unanswered(batch, &e.to_string());
    }
    let closes = match run_each(db, ends.open) {
        Ok(()) => !ends.close.is_empty(),
        Err(e) => {
            tracing::warn!(error = %e, "direct batch runs without its closing statement");
            false
        }
    };
    let mut answers = Vec::with_capacity(batch.len());
    let mut open = false;
    for (work, reply) in batch {
        let out = match db.execute_batch(savepoint(open)) {
            Ok(()) => {
                open = true;
                // A panic in one write must not take the writer (and every later write) down.
                let out = std::panic::catch_unwind(AssertUnwindSafe(|| work(db)))
                    .unwrap_or_else(|_| Err(internal("a write panicked")));
                if out.is_err() {
                    let _ = db.execute_batch("ROLLBACK TO triage_write");
                }
                out
            }
            Err(e) => {
                open = false;
                Err(internal(&e.to_string()))
            }
        };
        answers.push((reply, out));
    }
    let closed = if closes {
        run_each(db, ends.close)
    } else {
        Ok(())
    };
    match closed.and_then(|()| db.execute_batch("COMMIT")) {
        Ok(()) => answers,
        Err(e) => {
            let msg = format!("commit failed: {e}");
            answers
                .into_iter()
                .map(|(reply, out)| (reply, out.and_then(|_| Err(internal(&msg)))))
                .collect()
        }
    }
}

/// The same error for every write of a batch that could not start.
fn unanswered(batch: Vec<(DirectWork, Reply)>, msg: &str) -> Vec<(Reply, Outcome)> {
    batch
        .into_iter()
        .map(|(_, reply)| (reply, Err(internal(msg))))
        .collect()
}

fn internal(msg: &str) -> Error {
    Error::Internal(anyhow::anyhow!("{msg}"))
}

#[cfg(test)]
mod tests {
    use super::super::checkpoint::WalRestart;
    use super::super::group::GroupCommit;
    use crate::error::Error;
    use sea_orm::{ConnectionTrait, SqlxSqliteConnector, Statement, TransactionTrait};
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};

    /// A writer on `dir`'s file: on a connection of its own (`own`) or on sqlx's handle.
    async fn writer_on_file(
        dir: &std::path::Path,
        own: bool,
    ) -> (sea_orm::DatabaseConnection, GroupCommit) {
        writer_with(dir, Default::default(), own).await
    }

    async fn writer_with(
        dir: &std::path::Path,
        restart: WalRestart,
        own: bool,
    ) -> (sea_orm::DatabaseConnection, GroupCommit) {
        let opts = SqliteConnectOptions::new()
            .filename(dir.join("t.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .pragma("wal_autocheckpoint", "0");
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts)
            .await
            .expect("pool");
        let conn = SqlxSqliteConnector::from_sqlx_sqlite_pool(pool);
        conn.execute_unprepared(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE);
             CREATE TABLE child (id INTEGER PRIMARY KEY, t_id INTEGER NOT NULL REFERENCES t (id))",
        )
        .await
        .expect("tables");
        let file = own.then(|| super::WriterFile {
            path: dir.join("t.db"),
            synchronous: "NORMAL",
            cache_kib: 2_000,
        });
        let group = GroupCommit::batching(conn.clone(), restart, super::BatchEnds::NONE, file)
            .expect("writer");
        (conn, group)
    }

    fn insert(db: &rusqlite::Connection, name: &str) -> crate::error::Result<i64> {
        db.execute("INSERT INTO t (name) VALUES (?1)", [name])
            .map_err(|e| Error::Internal(e.into()))?;
        Ok(db.last_insert_rowid())
    }

    async fn names(conn: &sea_orm::DatabaseConnection) -> Vec<String> {
        let rows = conn
            .query_all_raw(Statement::from_string(
                conn.get_database_backend(),
                "SELECT name FROM t ORDER BY name",
            ))
            .await
            .expect("read");
        rows.iter()
            .map(|r| r.try_get_by_index::<String>(0).expect("name"))
            .collect()
    }

    #[tokio::test]
    async fn a_failing_or_panicking_direct_write_takes_only_itself_down() {
        for own in [false, true] {
            failing_writes_take_only_themselves_down(own).await;
        }
    }

    async fn failing_writes_take_only_themselves_down(own: bool) {
        let dir = tempfile::tempdir().expect("temp dir");
        let (conn, group) = writer_on_file(dir.path(), own).await;
        let mut tasks = Vec::new();
        for i in 0..30 {
            let group = group.clone();
            tasks.push(tokio::spawn(async move {
                let out = group
                    .run_direct(move |db| match i % 3 {
                        // Every one after the first breaks the unique name.
                        0 => insert(db, "dup"),
                        // Writes, then panics: its row must not survive.
                        1 => {
                            insert(db, &format!("panicked {i:02}"))?;
                            panic!("write {i} panics");
                        }
                        _ => insert(db, &format!("kept {i:02}")),
                    })
                    .await;
                (i, out.is_ok())
            }));
        }
        let mut ok = [0; 3];
        for t in tasks {
            let (i, good) = t.await.expect("task");
            if good {
                ok[i % 3] += 1;
            }
        }
        assert_eq!(
            ok,
            [1, 0, 10],
            "one dup, no panicked write, every plain one"
        );
        let got = names(&conn).await;
        assert_eq!(got.len(), 11, "{got:?}");
        assert!(
            got.iter().all(|n| n == "dup" || n.starts_with("kept")),
            "{got:?}"
        );
        // The handle went back to sqlx outside any transaction: sea-orm writes, through the
        // writer and through a transaction of their own, still work and are kept.
        group
            .run(|txn| {
                Box::pin(async move {
                    txn.execute_unprepared("INSERT INTO t (name) VALUES ('orm write')")
                        .await?;
                    Ok(())
                })
            })
            .await
            .expect("orm write");
        let txn = conn.begin().await.expect("begin");
        txn.execute_unprepared("INSERT INTO t (name) VALUES ('own txn')")
            .await
            .expect("insert");
        txn.commit().await.expect("commit");
        let direct = group
            .run_direct(|db| insert(db, "direct again"))
            .await
            .expect("direct again");
        assert!(direct > 0);
        let got = names(&conn).await;
        for want in ["orm write", "own txn", "direct again"] {
            assert!(got.iter().any(|n| n == want), "{want} in {got:?}");
        }
    }

    /// One direct write (and so one commit) per name, one after the other.
    async fn write_each(group: &GroupCommit, names: impl IntoIterator<Item = String>) {
        for name in names {
            group
                .run_direct(move |db| insert(db, &name))
                .await
                .expect("write");
        }
    }

    /// Frames in the WAL, read from a connection of its own (a checkpoint copies them).
    fn wal_frames(dir: &std::path::Path) -> i64 {
        let db = rusqlite::Connection::open(dir.join("t.db")).expect("open");
        db.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))
            .expect("checkpoint")
    }

    #[tokio::test]
    async fn a_requested_restart_starts_the_wal_over() {
        let dir = tempfile::tempdir().expect("temp dir");
        let restart = WalRestart::default();
        let (_conn, group) = writer_with(dir.path(), restart.clone(), true).await;
        write_each(&group, (0..100).map(|i| format!("row {i}"))).await;
        // Served after the next batch; the write after that starts the WAL from its beginning
        // (nothing else checkpoints here: as in production, the writer never does by itself).
        restart.request();
        write_each(&group, ["served".into(), "after".into()]).await;
        let after = wal_frames(dir.path());
        assert!(after < 10, "{after} frames in the WAL after the restart");
        assert!(!restart.take(), "the request was taken");
        // Without a request the WAL keeps every commit's frames.
        write_each(&group, (0..20).map(|i| format!("more {i}"))).await;
        let grown = wal_frames(dir.path());
        assert!(grown >= 20, "one commit per write: {grown} frames");
    }

    #[tokio::test]
    async fn the_writers_own_connection_has_the_pools_settings_and_shares_its_turns() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (conn, group) = writer_on_file(dir.path(), true).await;
        let settings = group
            .run_direct(|db| {
                let read = |sql: &str| -> crate::error::Result<i64> {
                    db.query_row(sql, [], |r| r.get(0))
                        .map_err(|e| Error::Internal(e.into()))
                };
                Ok([
                    read("PRAGMA foreign_keys")?,
                    read("PRAGMA synchronous")?,
                    read("PRAGMA wal_autocheckpoint")?,
                    read("PRAGMA temp_store")?,
                ])
            })
            .await
            .expect("settings");
        // foreign keys on, NORMAL (1), no automatic checkpoint, temp store in memory (2).
        assert_eq!(settings, [1, 1, 0, 2]);
        let orphan = group
            .run_direct(|db| {
                db.execute("INSERT INTO child (t_id) VALUES (999)", [])
                    .map_err(|e| Error::Internal(e.into()))
            })
            .await;
        assert!(orphan.is_err(), "a row without its parent is refused");
        // Direct writes on the writer's connection and sea-orm transactions on the pool's,
        // interleaved: every one of them is kept.
        let mut tasks = Vec::new();
        for i in 0..40 {
            let (conn, group) = (conn.clone(), group.clone());
            tasks.push(tokio::spawn(async move {
                if i % 2 == 0 {
                    group
                        .run_direct(move |db| insert(db, &format!("direct {i:02}")))
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                } else {
                    let txn = super::super::begin_write(&conn)
                        .await
                        .map_err(|e| e.to_string())?;
                    txn.execute_unprepared(&format!("INSERT INTO t (name) VALUES ('own {i:02}')"))
                        .await
                        .map_err(|e| e.to_string())?;
                    txn.commit().await.map_err(|e| e.to_string())
                }
            }));
        }
        for t in tasks {
            t.await.expect("task").expect("write");
        }
        let got = names(&conn).await;
        assert_eq!(got.len(), 40, "{got:?}");
    }

    #[tokio::test]
    async fn closing_the_writer_lets_the_last_pool_connection_remove_the_wal() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (conn, group) = writer_on_file(dir.path(), true).await;
        write_each(&group, (0..50).map(|i| format!("row {i}"))).await;
        let wal = dir.path().join("t.db-wal");
        assert!(wal.exists(), "the writes are in the WAL");
        group.close().await;
        let late = group.run_direct(|db| insert(db, "late")).await;
        assert!(late.is_err(), "a write after close fails");
        conn.close().await.expect("pool closed");
        // The writer's own connection is closed too: the pool's was the file's last, so it
        // copied the WAL back and removed it (left open, it kept the WAL in place). sqlx
        // finishes closing on the connection's own thread, which may run a little later.
        for _ in 0..100 {
            if !wal.exists() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(!wal.exists(), "the WAL is gone");
        let db = rusqlite::Connection::open(dir.path().join("t.db")).expect("open");
        let n: i64 = db
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .expect("count");
        assert_eq!(n, 50);
    }
}
