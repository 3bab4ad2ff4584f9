//! PostgreSQL connections kept by the app itself, for its hottest single statements.
//!
//! sqlx's pool sends a Sync message and waits for the answer whenever a connection goes back
//! to it (to flush what a cancelled statement may have left): a second round trip to a
//! backend process for every statement run through the pool. A [`Keeper`] hands out
//! connections for one statement at a time and takes them back without that round trip. What
//! the pool's check guards against is handled here by ownership: a connection goes back only
//! when its statement finished (answered, or failed with PostgreSQL's own error); a statement
//! cancelled half-way (the request's future dropped) or broken below SQL drops its connection
//! instead, and PostgreSQL ends that backend. A connection idle for a while is tested before
//! use, as the pools do (see [`super::pg_pool`]).

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sea_orm::{DbErr, QueryResult, RuntimeErr, Statement};
use sea_query_sqlx::SqlxValues;
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgRow};
use tokio::sync::{Semaphore, SemaphorePermit};

use super::pg_pool::TEST_AFTER_IDLE;

/// A kept connection idle this long is closed rather than tested (as sqlx's pools close
/// theirs), so a quiet process does not hold backends it no longer needs.
const IDLE_CLOSE: Duration = Duration::from_secs(600);

/// How long a caller waits for a connection (a free one, or a new one to open).
const LEASE_TIMEOUT: Duration = Duration::from_secs(10);

/// At most `size` connections, opened on demand and kept.
pub struct Keeper {
    options: PgConnectOptions,
    idle: Mutex<Vec<(PgConnection, Instant)>>,
    permits: Semaphore,
    closed: AtomicBool,
}

/// One connection lent for one statement; it goes back only through [`Lease::finished`]
/// (dropped otherwise, which closes it).
pub struct Lease<'a> {
    conn: PgConnection,
    keeper: &'a Keeper,
    _permit: SemaphorePermit<'a>,
}

impl Keeper {
    /// A keeper of at most `size` connections opened with `options`.
    pub fn new(options: PgConnectOptions, size: usize) -> Arc<Keeper> {
        Arc::new(Keeper {
            options,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(size.max(1)),
            closed: AtomicBool::new(false),
        })
    }

    /// A connection for one statement: a kept one (tested first when it sat idle a while,
    /// closed when idle for long), or a new one.
    pub async fn lease(&self) -> Result<Lease<'_>, sqlx::Error> {
        if self.closed.load(Ordering::Acquire) {
            return Err(sqlx::Error::PoolClosed);
        }
        let permit = tokio::time::timeout(LEASE_TIMEOUT, self.permits.acquire())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?
            .map_err(|_| sqlx::Error::PoolClosed)?;
        loop {
            let kept = self.idle.lock().ok().and_then(|mut idle| idle.pop());
            let Some((mut conn, since)) = kept else {
                break;
            };
            if since.elapsed() >= IDLE_CLOSE {
                let _ = conn.close().await;
                continue;
            }
            if since.elapsed() < TEST_AFTER_IDLE || conn.ping().await.is_ok() {
                return Ok(Lease {
                    conn,
                    keeper: self,
                    _permit: permit,
                });
            }
        }
        let opened = tokio::time::timeout(LEASE_TIMEOUT, PgConnection::connect_with(&self.options))
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)??;
        Ok(Lease {
            conn: opened,
            keeper: self,
            _permit: permit,
        })
    }

    /// Every row of `stmt`, run on a kept connection.
    pub async fn query_all(&self, stmt: &Statement) -> Result<Vec<QueryResult>, DbErr> {
        let mut lease = self.lease().await.map_err(conn_err)?;
        let rows: Result<Vec<PgRow>, sqlx::Error> = bound(stmt).fetch_all(lease.conn()).await;
        let rows = lease.finished(rows).map_err(query_err)?;
        Ok(rows.into_iter().map(QueryResult::from).collect())
    }

    /// Runs the write `stmt` (on its own, committed when it returns); rows it changed.
    pub async fn execute(&self, stmt: &Statement) -> Result<u64, DbErr> {
        let mut lease = self.lease().await.map_err(conn_err)?;
        let done = bound(stmt).execute(lease.conn()).await;
        let done = lease.finished(done).map_err(exec_err)?;
        Ok(done.rows_affected())
    }

    /// Closes the kept connections; later leases fail.
    pub async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let idle = match self.idle.lock() {
            Ok(mut idle) => std::mem::take(&mut *idle),
            Err(_) => Vec::new(),
        };
        for (c, _) in idle {
            let _ = c.close().await;
        }
    }
}

impl Lease<'_> {
    /// The lent connection.
    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.conn
    }

    /// Gives the connection back when `outcome` leaves it ready for another statement (an
    /// answer, or PostgreSQL's own error); drops it otherwise. Returns `outcome`.
    pub fn finished<T>(self, outcome: Result<T, sqlx::Error>) -> Result<T, sqlx::Error> {
        let Lease { conn, keeper, .. } = self;
        if matches!(&outcome, Ok(_) | Err(sqlx::Error::Database(_)))
            && !keeper.closed.load(Ordering::Acquire)
            && let Ok(mut idle) = keeper.idle.lock()
        {
            idle.push((conn, Instant::now()));
        }
        outcome
    }
}

/// `stmt` with its values bound, for sqlx.
fn bound(stmt: &Statement) -> sqlx::query::Query<'_, sqlx::Postgres, SqlxValues> {
    let values = stmt.values.clone().unwrap_or(sea_orm::Values(Vec::new()));
    sqlx::query_with(sqlx::AssertSqlSafe(stmt.sql.as_str()), SqlxValues(values))
}

fn conn_err(e: sqlx::Error) -> DbErr {
    DbErr::Conn(RuntimeErr::SqlxError(Arc::new(e)))
}

fn query_err(e: sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(Arc::new(e)))
}

fn exec_err(e: sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(Arc::new(e)))
}
