//! Searches for common words on SQLite: the page's key queries walk the list indexes in list
//! order without the text condition, and each entry is checked against the query's match set
//! (`search::matches`), until a page is full. SQL alone would first copy every match (up to
//! 200,000 ids at a million tickets) into a temporary index for each request.

use sea_orm::DbErr;
use sea_orm::sea_query::{SelectStatement, SqliteQueryBuilder};

use super::keyset::SortKeys;
use super::query::Sort;
use crate::db::direct::{self, DirectReads};
use crate::error::{Error, Result};
use crate::search::matches::MatchCache;

/// The walks' `LIMIT`: the planner sees `LIMIT ?` as on the SQL path, so it picks the same
/// index walks; the walk itself stops at a full page.
const UNBOUNDED: u64 = i64::MAX as u64;

/// The rows of up to `want` matches per key query (unsorted across queries), or `None` when
/// a match set cannot be used (ticket ids beyond a bitmap's reach): the caller runs the SQL.
/// Runs off the runtime's threads, at most one walk per core at a time (it is CPU-bound, and
/// each walk holds a direct connection whose page cache should stay warm).
pub async fn page(
    direct: &DirectReads,
    cache: &MatchCache,
    q: &str,
    members: Vec<SelectStatement>,
    sort: &Sort,
    want: u64,
) -> Result<Option<Vec<SortKeys>>> {
    let Some(fts) = crate::search::fts5_query(q) else {
        return Ok(None);
    };
    let stmts: Vec<_> = members
        .into_iter()
        .map(|mut m| {
            let (sql, values) = m.limit(UNBOUNDED).build(SqliteQueryBuilder);
            sea_orm::Statement::from_sql_and_values(sea_orm::DatabaseBackend::Sqlite, sql, values)
        })
        .collect();
    let _slot = cache.slot().await;
    let (direct, cache, sort) = (direct.clone(), cache.clone(), sort.clone());
    let walk = move || -> std::result::Result<_, DbErr> {
        direct.snapshot(|conn| {
            let Some(set) = cache.matches(conn, &fts)? else {
                return Ok(None);
            };
            let mut rows = Vec::new();
            for stmt in &stmts {
                let mut kept = 0;
                direct::each(conn, stmt, &sort, |keys| {
                    if set.contains(keys.id) {
                        rows.push(keys);
                        kept += 1;
                    }
                    kept < want
                })?;
            }
            Ok(Some(rows))
        })
    };
    tokio::task::spawn_blocking(walk)
        .await
        .map_err(|e| Error::Internal(anyhow::anyhow!("search walk: {e}")))?
        .map_err(Error::from)
}
