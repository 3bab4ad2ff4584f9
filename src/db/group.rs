//! Group commit for SQLite's single writer. With `synchronous=FULL` every commit waits for an
//! fsync, which caps one-row transactions at the disk's sync rate. Writes sent here while the
//! writer is busy are gathered into one transaction (each in its own savepoint, so one failing
//! write rolls back only itself) and committed together; every caller is answered only after
//! that commit is durable. On PostgreSQL, which has a pool and its own group commit, each write
//! simply runs in its own transaction.
//!
//! The hottest writes (new tickets, replies, mail intake, job settles, event fan-out) can be sent as plain
//! functions of a rusqlite connection ([`GroupCommit::run_direct`]): the writer runs those on the write
//! connection's own SQLite handle, on its thread, with no hand-off per statement.

use std::any::Any;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use futures::future::BoxFuture;
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction};
use tokio::sync::{mpsc, oneshot};

use crate::error::{Error, Result};

pub(super) type Outcome = Result<Box<dyn Any + Send>>;
pub(super) type Reply = oneshot::Sender<Outcome>;
type OrmWork = Box<dyn for<'t> FnOnce(&'t DatabaseTransaction) -> BoxFuture<'t, Outcome> + Send>;
pub(super) type DirectWork = Box<dyn FnOnce(&rusqlite::Connection) -> Outcome + Send>;

/// One write waiting for the writer: through sea-orm, or direct on the SQLite handle; or
/// the request to close the writer's connection and stop.
enum Work {
    Orm(OrmWork),
    Direct(DirectWork),
    Close,
}

type Request = (Work, Reply);

/// Most writes folded into one commit.
const MAX_BATCH: usize = 64;

/// Runs write transactions, batching them on SQLite.
#[derive(Clone)]
pub struct GroupCommit {
    conn: DatabaseConnection,
    queue: Option<mpsc::Sender<Request>>,
    /// Connections for single statements (PostgreSQL; see [`super::keeper`]).
    kept: Option<std::sync::Arc<super::keeper::Keeper>>,
}

impl GroupCommit {
    /// A committer that batches (SQLite). The writer runs on a thread of its own: each of its
    /// statements is a hand-off to the connection's thread and back, and on the shared runtime
    /// every "back" waited in the run queue behind all the requests in flight, which left the
    /// single writer idle two thirds of the time under load.
    /// Between batches it serves the checkpointer's requests to start the WAL over.
    pub fn batching(
        conn: DatabaseConnection,
        restart: super::checkpoint::WalRestart,
        ends: super::group_direct::BatchEnds,
        file: Option<super::group_direct::WriterFile>,
    ) -> std::io::Result<GroupCommit> {
        let (tx, rx) = mpsc::channel(MAX_BATCH * 4);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let writer_conn = conn.clone();
        std::thread::Builder::new()
            .name("triage-writer".into())
            .spawn(move || runtime.block_on(writer(writer_conn, rx, restart, ends, file)))?;
        Ok(GroupCommit {
            conn,
            queue: Some(tx),
            kept: None,
        })
    }

    /// A committer that gives every write its own transaction (PostgreSQL).
    /// A single statement runs on one of `kept`'s connections.
    pub fn direct(
        conn: DatabaseConnection,
        kept: std::sync::Arc<super::keeper::Keeper>,
    ) -> GroupCommit {
        GroupCommit {
            conn,
            queue: None,
            kept: Some(kept),
        }
    }

    /// Runs `work` in a transaction and returns its result once the transaction is committed.
    pub async fn run<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'t> FnOnce(&'t DatabaseTransaction) -> BoxFuture<'t, Result<T>> + Send + 'static,
    {
        let Some(queue) = &self.queue else {
            let txn = super::begin_write(&self.conn).await?;
            let out = work(&txn).await?;
            txn.commit().await?;
            return Ok(out);
        };
        let boxed: OrmWork = Box::new(move |t| {
            Box::pin(async move { work(t).await.map(|v| Box::new(v) as Box<dyn Any + Send>) })
        });
        submit(queue, Work::Orm(boxed)).await
    }

    /// Runs queued statements in a transaction of their own (directly on SQLite's writer).
    pub async fn run_pipeline(&self, writes: super::pipeline::Pipeline) -> Result<()> {
        if self.runs_direct() {
            self.run_direct(move |db| writes.run_direct(db)).await
        } else if let Some(one) = writes.single() {
            // BEGIN and COMMIT around one statement were two round trips of three (a job's
            // settle, twice per inbound message with its fan-out).
            match &self.kept {
                Some(k) => k.execute(&one).await.map(|_| ())?,
                None => self.conn.execute_raw(one).await.map(|_| ())?,
            }
            Ok(())
        } else {
            self.run(move |txn| Box::pin(async move { writes.run(txn).await }))
                .await
        }
    }

    /// Stops the writer once the writes queued before this call are answered, and closes its
    /// own connection to the file (see `db::group_direct`): before the pools close, so that
    /// their last connection, as the file's last, copies the WAL back and removes it. Writes
    /// sent afterwards fail.
    pub async fn close(&self) {
        if let Some(queue) = &self.queue {
            let _ = submit::<()>(queue, Work::Close).await;
        }
    }

    /// True when [`GroupCommit::run_direct`] is available (a batching SQLite writer).
    pub fn runs_direct(&self) -> bool {
        self.queue.is_some()
    }

    /// Runs `work` on the write connection's SQLite handle inside the writer's transaction
    /// (in a savepoint of its own) and returns its result once that transaction is committed.
    /// Only on a batching writer: callers check [`GroupCommit::runs_direct`] first.
    pub async fn run_direct<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Connection) -> Result<T> + Send + 'static,
    {
        let Some(queue) = &self.queue else {
            return Err(Error::Internal(anyhow::anyhow!(
                "direct writes need the SQLite writer"
            )));
        };
        let boxed: DirectWork =
            Box::new(move |db| work(db).map(|v| Box::new(v) as Box<dyn Any + Send>));
        submit(queue, Work::Direct(boxed)).await
    }
}

async fn submit<T: 'static>(queue: &mpsc::Sender<Request>, work: Work) -> Result<T> {
    let (reply, answer) = oneshot::channel();
    queue.send((work, reply)).await.map_err(|_| stopped())?;
    let out = answer.await.map_err(|_| stopped())??;
    out.downcast::<T>()
        .map(|b| *b)
        .map_err(|_| Error::Internal(anyhow::anyhow!("group commit: result of the wrong type")))
}

/// The statement that opens the next write's savepoint. One name is reused: releasing the
/// last write's and opening the next one's is a single call, and COMMIT keeps whatever the
/// last savepoint holds.
pub(super) fn savepoint(one_open: bool) -> &'static str {
    if one_open {
        "RELEASE triage_write; SAVEPOINT triage_write"
    } else {
        "SAVEPOINT triage_write"
    }
}

/// Answers every write of a batch that could not start with the same error.
pub(super) fn fail_all<W>(batch: Vec<(W, Reply)>, msg: &str) {
    for (_, reply) in batch {
        let _ = reply.send(Err(Error::Internal(anyhow::anyhow!("{msg}"))));
    }
}

fn stopped() -> Error {
    Error::Internal(anyhow::anyhow!("the database writer has stopped"))
}

async fn writer(
    conn: DatabaseConnection,
    mut rx: mpsc::Receiver<Request>,
    restart: super::checkpoint::WalRestart,
    ends: super::group_direct::BatchEnds,
    file: Option<super::group_direct::WriterFile>,
) {
    let handle = super::group_direct::WriteHandle::open(file.as_ref());
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        // Concurrent writes may commit in any order: the sea-orm ones go first, in their own
        // transaction, then the direct ones in another.
        let (mut orm, mut direct, mut close) = (Vec::new(), Vec::new(), Vec::new());
        for (work, reply) in batch {
            match work {
                Work::Orm(w) => orm.push((w, reply)),
                Work::Direct(w) => direct.push((w, reply)),
                Work::Close => close.push(reply),
            }
        }
        if !orm.is_empty() {
            run_batch(&conn, orm).await;
        }
        if !direct.is_empty() {
            super::group_direct::run_batch(&conn, &handle, ends, direct).await;
        }
        if restart.take() {
            super::group_direct::restart_wal(&conn, &handle).await;
        }
        if !close.is_empty() {
            drop(handle);
            for reply in close {
                let _ = reply.send(Ok(Box::new(())));
            }
            return;
        }
    }
}

async fn run_batch(conn: &DatabaseConnection, batch: Vec<(OrmWork, Reply)>) {
    let txn = match super::begin_write(conn).await {
        Ok(t) => t,
        Err(e) => return fail_all(batch, &e.to_string()),
    };
    let mut answers = Vec::with_capacity(batch.len());
    let mut open = false;
    for (work, reply) in batch {
        let out = match txn.execute_unprepared(savepoint(open)).await {
            Ok(_) => {
                open = true;
                // A panic in one write must not take the writer (and every later write) down.
                let ran = AssertUnwindSafe(work(&txn)).catch_unwind().await;
                let out = match ran {
                    Ok(out) => out,
                    Err(_) => Err(Error::Internal(anyhow::anyhow!("a write panicked"))),
                };
                if out.is_err() {
                    let _ = txn.execute_unprepared("ROLLBACK TO triage_write").await;
                }
                out
            }
            Err(e) => {
                open = false;
                Err(Error::from(e))
            }
        };
        answers.push((reply, out));
    }
    match txn.commit().await {
        Ok(()) => {
            for (reply, out) in answers {
                let _ = reply.send(out);
            }
        }
        Err(e) => {
            let msg = e.to_string();
            for (reply, out) in answers {
                let failed =
                    out.and_then(|_| Err(Error::Internal(anyhow::anyhow!("commit failed: {msg}"))));
                let _ = reply.send(failed);
            }
        }
    }
}
