//! A list page on PostgreSQL in one round trip: the caller's account, the page's key walks
//! (`keyset::union_all`), their merge and the page's views as one statement.
//!
//! On SQLite a statement is a call on the request's own thread, so the page is read as
//! before (`query::list_views`). On PostgreSQL each statement is a round trip to a backend
//! process on the same cores, and a page was three: the account, the key walks, the views.
//! Here the key walks are merged by the database (`ORDER BY` the sort keys and id, as
//! `keyset::compare` orders them, `LIMIT` a page plus one) and the views are read for those
//! ids in the same statement; the rows come back unordered and are put in list order here.

use sea_orm::sea_query::Expr;
use sea_orm::{DatabaseBackend, EntityTrait, QueryFilter, QueryTrait, Statement, Value};
use std::collections::BTreeMap;
use std::sync::LazyLock;

use super::keyset::{self, SortKeys};
use super::query::{self, Filters, Sort};
use super::view::{self, RowWithExtras, TicketView};
use crate::auth::Actor;
use crate::auth::caller::{self, Caller};
use crate::context::Ctx;
use crate::db::direct::RowsOf;
use crate::db::entities::ticket;
use crate::error::{Error, Result};
use crate::search::Plan;

/// One page of the tickets `caller` may see, from query-string parameters, with the next
/// cursor and the caller's live account.
pub async fn list_views_as(
    ctx: &Ctx,
    caller: &Caller,
    params: &BTreeMap<String, String>,
) -> Result<(Actor, Vec<TicketView>, Option<String>)> {
    // A text query's statement is planned for its words at every request (PostgreSQL keeps
    // no generic plan for it). Folded, with the views or only the account beside it, searches
    // ran slower (846 and 900 against 960-990/s): planning the larger statement cost more than
    // the round trips saved. Searches go as before.
    if !ctx.db.is_postgres()
        || caller.hint.is_none()
        || params.get("q").is_some_and(|q| !q.trim().is_empty())
    {
        let actor = caller::actor(ctx, caller).await?;
        let (views, next) = query::list_views(ctx, &actor, params).await?;
        return Ok((actor, views, next));
    }
    let (sort, limit, after) = match parsed(params) {
        Ok(p) => p,
        Err(e) => {
            // An unknown caller learns nothing of the query's errors: 401 comes first.
            caller::actor(ctx, caller).await?;
            return Err(e);
        }
    };
    let want = limit + 1;
    let (actor, rows) = caller::read_as(
        ctx,
        caller,
        |actor| {
            let filters = query::parse_filters(params, actor.id)?;
            page_statement(
                ctx.db.backend,
                actor,
                &filters,
                &sort,
                after.as_deref(),
                want,
            )
        },
        &RowsOf::<RowWithExtras>::default(),
    )
    .await?;
    let (rows, next) = keyset::page_of(
        &sort,
        rows,
        |r: &RowWithExtras| SortKeys::of(&sort, &r.ticket),
        limit,
    );
    let views = view::views_of(rows, ctx.clock.now_micros())?;
    Ok((actor, views, next))
}

/// A page's sort, size and cursor position, the filters checked too (which errors they have
/// does not depend on who asks; "me" is filled in per account, later).
fn parsed(params: &BTreeMap<String, String>) -> Result<(Sort, u64, Option<Vec<i64>>)> {
    query::parse_filters(params, 0)?;
    let sort = Sort::parse(params.get("sort").map(String::as_str))?;
    let limit = query::parse_limit(params)?;
    let after = match params.get("cursor").filter(|c| !c.trim().is_empty()) {
        Some(c) => Some(keyset::decode_cursor(&sort, c)?),
        None => None,
    };
    Ok((sort, limit, after))
}

/// `WITH page AS (<merged key walks>) <views of the page's ids>`.
fn page_statement(
    backend: DatabaseBackend,
    actor: &Actor,
    filters: &Filters,
    sort: &Sort,
    after: Option<&[i64]>,
    want: u64,
) -> Result<Statement> {
    // Searches are not folded (see `list_views_as`), so there is no text plan to choose.
    let members = query::members(backend, actor, filters, sort, after, Some(Plan::Drive));
    let walks = keyset::union_all(backend, members, want)
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("a list page without key walks")))?;
    let values: Vec<Value> = walks.values.map(|v| v.0).unwrap_or_default();
    let sql = format!(
        "WITH \"page\" AS (SELECT \"id\" FROM ({}) AS \"walks\" ORDER BY {} LIMIT {want}) {}",
        walks.sql,
        keyset::order_by(sort),
        page_views(backend)?
    );
    Ok(Statement::from_sql_and_values(backend, sql, values))
}

/// The views of the ids in `page`: the same text for every page, built once per backend.
/// It binds no values (a test checks), so the walks' placeholders before it stay as they are.
fn page_views(backend: DatabaseBackend) -> Result<&'static str> {
    static TEXTS: LazyLock<[Statement; 2]> = LazyLock::new(|| {
        [DatabaseBackend::Sqlite, DatabaseBackend::Postgres].map(page_views_built)
    });
    match backend {
        DatabaseBackend::Sqlite => Ok(&TEXTS[0].sql),
        DatabaseBackend::Postgres => Ok(&TEXTS[1].sql),
        _ => Err(Error::Internal(anyhow::anyhow!(
            "no list pages on {backend:?}"
        ))),
    }
}

/// `page_views`' statement as sea-query builds it.
fn page_views_built(backend: DatabaseBackend) -> Statement {
    let select = ticket::Entity::find().filter(Expr::cust(
        "\"tickets\".\"id\" IN (SELECT \"id\" FROM \"page\")",
    ));
    view::with_extras(select, backend).build(backend)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_views_text_binds_nothing_and_is_what_sea_query_builds() {
        for backend in [DatabaseBackend::Sqlite, DatabaseBackend::Postgres] {
            let built = page_views_built(backend);
            assert!(
                built.values.as_ref().is_none_or(|v| v.0.is_empty()),
                "{backend:?}: the walks' placeholders would need moving"
            );
            assert_eq!(page_views(backend).expect("text"), built.sql);
            assert!(built.sql.contains("IN (SELECT \"id\" FROM \"page\")"));
        }
    }
}
