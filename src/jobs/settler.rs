//! Job outcomes recorded together. On PostgreSQL each settle (the attempt row and the job's
//! new state) was a statement and a WAL flush of its own, one per delivered event; settles
//! that queue while one is being written now go as one statement (`Pipeline::folded_together`:
//! each job is settled once per lease, so no two of them update the same row). On SQLite the
//! group committer already gives the settles of a batch one commit.

use tokio::sync::{mpsc, oneshot};

use crate::db::Db;
use crate::db::group::GroupCommit;
use crate::db::pipeline::Pipeline;
use crate::error::{Error, Result};

/// Most settles folded into one statement.
const MAX_FOLD: usize = 64;

type Queued = (Pipeline, oneshot::Sender<Result<()>>);

/// Hands settles to the task that writes them; cloning shares the task, which ends when the
/// last clone is dropped.
#[derive(Clone)]
pub struct Settler {
    tx: Option<mpsc::UnboundedSender<Queued>>,
    group: GroupCommit,
}

impl Settler {
    /// A settler for `db`: folding on PostgreSQL, straight through the group committer else.
    pub fn start(db: &Db) -> Settler {
        let tx = (db.backend == sea_orm::DatabaseBackend::Postgres).then(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(fold(db.clone(), rx));
            tx
        });
        Settler {
            tx,
            group: db.group.clone(),
        }
    }

    /// Writes one job's settle (`queue::settle_writes`), durably, alone or with others.
    pub async fn settle(&self, writes: Pipeline) -> Result<()> {
        let Some(tx) = &self.tx else {
            return self.group.run_pipeline(writes).await;
        };
        let (reply, answer) = oneshot::channel();
        match tx.send((writes, reply)) {
            Ok(()) => answer.await.unwrap_or_else(|_| {
                Err(Error::Internal(anyhow::anyhow!(
                    "the settling task stopped"
                )))
            }),
            Err(mpsc::error::SendError((writes, _))) => self.group.run_pipeline(writes).await,
        }
    }
}

/// Writes what has queued since the last write, folded when there is more than one; a fold
/// that fails is written settle by settle, so each answers for itself.
async fn fold(db: Db, mut rx: mpsc::UnboundedReceiver<Queued>) {
    while let Some(first) = rx.recv().await {
        let mut queued = vec![first];
        while queued.len() < MAX_FOLD
            && let Ok(q) = rx.try_recv()
        {
            queued.push(q);
        }
        if queued.len() > 1 {
            let (pipelines, replies): (Vec<Pipeline>, Vec<_>) = queued.into_iter().unzip();
            if written_folded(&db, &pipelines).await {
                for reply in replies {
                    let _ = reply.send(Ok(()));
                }
                continue;
            }
            queued = pipelines.into_iter().zip(replies).collect();
        }
        for (writes, reply) in queued {
            let _ = reply.send(db.group.run_pipeline(writes).await);
        }
    }
}

/// Whether `pipelines` folded into one statement and it was written.
async fn written_folded(db: &Db, pipelines: &[Pipeline]) -> bool {
    let Some(statement) = Pipeline::folded_together(pipelines) else {
        return false;
    };
    match db.execute_alone(statement).await {
        Ok(_) => true,
        Err(e) => {
            tracing::debug!(error = %e, settles = pipelines.len(), "a folded settle failed");
            false
        }
    }
}
