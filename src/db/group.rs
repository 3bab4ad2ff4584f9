//! Group commit for SQLite's single writer. With `synchronous=FULL` every commit waits for an
//! fsync, which caps one-row transactions at the disk's sync rate. Writes sent here while the
//! writer is busy are gathered into one transaction (each in its own savepoint, so one failing
//! write rolls back only itself) and committed together; every caller is answered only after
//! that commit is durable. On PostgreSQL, which has a pool and its own group commit, each write
//! simply runs in its own transaction.

use std::any::Any;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use futures::future::BoxFuture;
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction};
use tokio::sync::{mpsc, oneshot};

use crate::error::{Error, Result};

type Outcome = Result<Box<dyn Any + Send>>;
type Work = Box<dyn for<'t> FnOnce(&'t DatabaseTransaction) -> BoxFuture<'t, Outcome> + Send>;
type Request = (Work, oneshot::Sender<Outcome>);

/// Most writes folded into one commit.
const MAX_BATCH: usize = 64;

/// Runs write transactions, batching them on SQLite.
#[derive(Clone)]
pub struct GroupCommit {
    conn: DatabaseConnection,
    queue: Option<mpsc::Sender<Request>>,
}

impl GroupCommit {
    /// A committer that batches (SQLite). The writer runs on a thread of its own: each of its
    /// statements is a hand-off to the connection's thread and back, and on the shared runtime
    /// every "back" waited in the run queue behind all the requests in flight, which left the
    /// single writer idle two thirds of the time under load.
    pub fn batching(conn: DatabaseConnection) -> std::io::Result<GroupCommit> {
        let (tx, rx) = mpsc::channel(MAX_BATCH * 4);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let writer_conn = conn.clone();
        std::thread::Builder::new()
            .name("triage-writer".into())
            .spawn(move || runtime.block_on(writer(writer_conn, rx)))?;
        Ok(GroupCommit {
            conn,
            queue: Some(tx),
        })
    }

    /// A committer that gives every write its own transaction (PostgreSQL).
    pub fn direct(conn: DatabaseConnection) -> GroupCommit {
        GroupCommit { conn, queue: None }
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
        let boxed: Work = Box::new(move |t| {
            Box::pin(async move { work(t).await.map(|v| Box::new(v) as Box<dyn Any + Send>) })
        });
        let (reply, answer) = oneshot::channel();
        queue.send((boxed, reply)).await.map_err(|_| stopped())?;
        let out = answer.await.map_err(|_| stopped())??;
        out.downcast::<T>()
            .map(|b| *b)
            .map_err(|_| Error::Internal(anyhow::anyhow!("group commit: result of the wrong type")))
    }
}

fn stopped() -> Error {
    Error::Internal(anyhow::anyhow!("the database writer has stopped"))
}

async fn writer(conn: DatabaseConnection, mut rx: mpsc::Receiver<Request>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        run_batch(&conn, batch).await;
    }
}

async fn run_batch(conn: &DatabaseConnection, batch: Vec<Request>) {
    let txn = match super::begin_write(conn).await {
        Ok(t) => t,
        Err(e) => {
            let msg = e.to_string();
            for (_, reply) in batch {
                let _ = reply.send(Err(Error::Internal(anyhow::anyhow!("{msg}"))));
            }
            return;
        }
    };
    let mut answers = Vec::with_capacity(batch.len());
    // One savepoint name reused: releasing the last write's and opening the next one's is a
    // single call, and COMMIT keeps whatever the last savepoint holds.
    let mut open = false;
    for (work, reply) in batch {
        let mark = if open {
            "RELEASE triage_write; SAVEPOINT triage_write"
        } else {
            "SAVEPOINT triage_write"
        };
        let out = match txn.execute_unprepared(mark).await {
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
