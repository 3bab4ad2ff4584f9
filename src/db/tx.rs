//! One form of a write's statements for both ways a write runs: through sea-orm on a
//! connection or in a transaction (any backend), or on SQLite's writer handle inside a direct
//! batch (`db::group`), where each statement is a call on the writer's own thread instead of
//! a hand-off to sqlx's connection thread and back. Code written against [`Tx`] runs on
//! either; on the handle its futures never wait, and [`finish`] takes them to the end in a
//! single poll.

use futures::FutureExt;
use sea_orm::sea_query::{InsertStatement, Query};
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait,
    Iterable, Statement, StatementBuilder,
};

use super::direct::{self, FromCells, RowsOf};
use super::pipeline::Pipeline;
use crate::error::{Error, Result};

/// Where a write's statements run.
// Its futures are `Send` exactly when the connection's are (sea-orm's are, the handle's are
// not and never leave the writer's thread), which is what callers rely on: no bound is set.
#[allow(async_fn_in_trait)]
pub trait Tx {
    /// Its SQL dialect.
    fn backend(&self) -> DatabaseBackend;

    /// Every row of `stmt`, decoded by position.
    async fn rows<M: FromCells>(&self, stmt: Statement) -> std::result::Result<Vec<M>, DbErr>;

    /// Runs a statement that returns no rows; how many rows it changed.
    async fn exec(&self, stmt: Statement) -> std::result::Result<u64, DbErr>;

    /// Runs queued statements in order.
    async fn run(&self, writes: Pipeline) -> Result<()>;

    /// The sea-orm transaction behind it, for the few writes that have no other form yet
    /// (automatic assignment); `None` on the writer's handle and on a plain connection.
    fn orm(&self) -> Option<&DatabaseTransaction> {
        None
    }
}

async fn orm_rows<M: FromCells>(
    conn: &impl ConnectionTrait,
    stmt: Statement,
) -> std::result::Result<Vec<M>, DbErr> {
    conn.query_all_raw(stmt)
        .await?
        .iter()
        .map(M::from_cells)
        .collect()
}

/// [`Tx`] for a sea-orm connection type; any further items (`orm`) go into the impl.
macro_rules! sea_orm_tx {
    ($conn:ty $(, $($more:tt)*)?) => {
        impl Tx for $conn {
            fn backend(&self) -> DatabaseBackend {
                self.get_database_backend()
            }
            async fn rows<M: FromCells>(
                &self,
                stmt: Statement,
            ) -> std::result::Result<Vec<M>, DbErr> {
                orm_rows(self, stmt).await
            }
            async fn exec(&self, stmt: Statement) -> std::result::Result<u64, DbErr> {
                Ok(self.execute_raw(stmt).await?.rows_affected())
            }
            async fn run(&self, writes: Pipeline) -> Result<()> {
                writes.run(self).await
            }
            $($($more)*)?
        }
    };
}

sea_orm_tx!(
    DatabaseTransaction,
    fn orm(&self) -> Option<&DatabaseTransaction> {
        Some(self)
    }
);
sea_orm_tx!(DatabaseConnection);

/// The SQLite writer's own handle, inside a direct batch's transaction.
pub(crate) struct OnHandle<'c>(pub(crate) &'c rusqlite::Connection);

impl Tx for OnHandle<'_> {
    fn backend(&self) -> DatabaseBackend {
        DatabaseBackend::Sqlite
    }
    async fn rows<M: FromCells>(&self, stmt: Statement) -> std::result::Result<Vec<M>, DbErr> {
        direct::query(self.0, &stmt, &RowsOf::<M>::default())
    }
    async fn exec(&self, stmt: Statement) -> std::result::Result<u64, DbErr> {
        Ok(direct::execute(self.0, &stmt)? as u64)
    }
    async fn run(&self, writes: Pipeline) -> Result<()> {
        writes.run_direct(self.0)
    }
}

/// Takes a write made of [`OnHandle`] statements to its end. Nothing on the handle waits, so
/// it ends in the first poll; a future that would wait is a bug, reported as one.
pub(crate) fn finish<T>(write: impl Future<Output = Result<T>>) -> Result<T> {
    write.now_or_never().unwrap_or_else(|| {
        Err(Error::Internal(anyhow::anyhow!(
            "a write on the SQLite writer's handle waited for something else"
        )))
    })
}

/// Every row `query` finds.
pub(crate) async fn all<M: FromCells>(
    tx: &impl Tx,
    query: &impl StatementBuilder,
) -> std::result::Result<Vec<M>, DbErr> {
    tx.rows(tx.backend().build(query)).await
}

/// The first row `query` finds.
pub(crate) async fn first<M: FromCells>(
    tx: &impl Tx,
    query: &impl StatementBuilder,
) -> std::result::Result<Option<M>, DbErr> {
    Ok(all(tx, query).await?.into_iter().next())
}

/// Runs `insert` and returns the row it stored (every column of `E`, in `Column` order);
/// `None` when it stored nothing (an `ON CONFLICT DO NOTHING` that met a conflict).
pub(crate) async fn insert_returning<E, M>(
    tx: &impl Tx,
    mut insert: InsertStatement,
) -> std::result::Result<Option<M>, DbErr>
where
    E: EntityTrait,
    E::Column: Iterable,
    M: FromCells,
{
    insert.returning(Query::returning().columns(E::Column::iter()));
    first(tx, &insert).await
}
