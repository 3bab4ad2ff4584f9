//! Ticket lists: filters, full-text, multi-key sort and keyset (cursor) pagination; stats.

use sea_orm::sea_query::SelectStatement;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, Order, QueryFilter, QuerySelect,
};
use serde::Serialize;
use std::collections::BTreeMap;

use super::access;
use super::model::{Priority, Status};
use crate::auth::Actor;
use crate::db::entities::{ticket, ticket_tag};
use crate::error::{Error, FieldErrors, Result, push};

/// Filters of the ticket list, as parsed from the query string.
#[derive(Default, Clone, Debug)]
pub struct Filters {
    /// Any of these statuses.
    pub status: Vec<Status>,
    /// Any of these priorities.
    pub priority: Vec<Priority>,
    /// Any of these categories.
    pub category: Vec<String>,
    /// `Some(None)` = unassigned; `Some(Some(id))` = assigned to id.
    pub assignee: Option<Option<i64>>,
    /// Requester id.
    pub requester: Option<i64>,
    /// Has this tag.
    pub tag: Option<String>,
    /// Full-text query.
    pub q: Option<String>,
    /// Created at or after (µs).
    pub created_after: Option<i64>,
    /// Created before (µs).
    pub created_before: Option<i64>,
}

/// A sort key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortField {
    /// Priority rank.
    Priority,
    /// Creation time.
    CreatedAt,
    /// Last change.
    UpdatedAt,
}

impl SortField {
    pub(crate) fn column(self) -> ticket::Column {
        match self {
            SortField::Priority => ticket::Column::PriorityRank,
            SortField::CreatedAt => ticket::Column::CreatedAt,
            SortField::UpdatedAt => ticket::Column::UpdatedAt,
        }
    }
    /// Where `SortKeys` keeps this field's value.
    pub(crate) fn slot(self) -> usize {
        match self {
            SortField::Priority => 0,
            SortField::CreatedAt => 1,
            SortField::UpdatedAt => 2,
        }
    }
}

/// A parsed `sort` parameter: keys with descending flags (id ascending breaks ties).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sort(pub Vec<(SortField, bool)>);

impl Sort {
    /// Parses `-priority,created_at` style; the default is priority high→low, then oldest first.
    pub fn parse(raw: Option<&str>) -> Result<Sort> {
        let raw = raw
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .unwrap_or("-priority,created_at");
        let mut keys = Vec::new();
        for part in raw.split(',').map(str::trim) {
            let (desc, name) = match part.strip_prefix('-') {
                Some(n) => (true, n),
                None => (false, part.strip_prefix('+').unwrap_or(part)),
            };
            let field = match name {
                "priority" => SortField::Priority,
                "created_at" => SortField::CreatedAt,
                "updated_at" => SortField::UpdatedAt,
                _ => {
                    return Err(Error::field(
                        "sort",
                        "sort by priority, created_at or updated_at, comma separated, '-' for descending",
                    ));
                }
            };
            if keys.iter().any(|(f, _)| *f == field) {
                return Err(Error::field("sort", format!("{name} given twice")));
            }
            keys.push((field, desc));
        }
        Ok(Sort(keys))
    }
}

/// Applies the filters (not visibility) to a ticket query.
pub fn apply_filters(
    backend: sea_orm::DatabaseBackend,
    f: &Filters,
    text_plan: crate::search::Plan,
) -> Condition {
    let mut c = Condition::all();
    if !f.status.is_empty() {
        c = c.add(ticket::Column::Status.is_in(f.status.iter().map(|s| s.as_str())));
    }
    if !f.priority.is_empty() {
        // The rank is in the list indexes (the name is not), so the filter is checked on the
        // index entry and, with one status, becomes a seek.
        c = c.add(ticket::Column::PriorityRank.is_in(f.priority.iter().map(|p| p.rank())));
    }
    if !f.category.is_empty() {
        c = c.add(ticket::Column::Category.is_in(f.category.clone()));
    }
    match f.assignee {
        Some(None) => c = c.add(ticket::Column::AssigneeId.is_null()),
        Some(Some(id)) => c = c.add(ticket::Column::AssigneeId.eq(id)),
        None => {}
    }
    if let Some(r) = f.requester {
        c = c.add(ticket::Column::RequesterId.eq(r));
    }
    if let Some(tag) = &f.tag {
        c = c.add(
            ticket::Column::Id.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(ticket_tag::Column::TicketId)
                    .from(ticket_tag::Entity)
                    .and_where(ticket_tag::Column::Tag.eq(tag.trim().to_lowercase()))
                    .to_owned(),
            ),
        );
    }
    if let Some(q) = &f.q
        && let Some(expr) = crate::search::ticket_filter(backend, q, text_plan)
    {
        c = c.add(expr);
    }
    if let Some(a) = f.created_after {
        c = c.add(ticket::Column::CreatedAt.gte(a));
    }
    if let Some(b) = f.created_before {
        c = c.add(ticket::Column::CreatedAt.lt(b));
    }
    c
}

/// The ids of one page of visible tickets, in list order, and the next cursor: every part
/// of the filter reads only ids and sort keys. Without a text query the parts are index
/// walks and read directly (`Db::read_with`); a search for a common word on SQLite walks
/// them against its match set (`scan`), any other search goes through the pool.
pub async fn page_ids(
    db: &crate::db::Db,
    actor: &Actor,
    filters: &Filters,
    sort: &Sort,
    cursor: Option<&str>,
    limit: u64,
) -> Result<(Vec<i64>, Option<String>)> {
    let backend = db.backend;
    let after = match cursor.filter(|c| !c.trim().is_empty()) {
        Some(c) => Some(super::keyset::decode_cursor(sort, c)?),
        None => None,
    };
    let want = limit + 1;
    let text_plan = match &filters.q {
        Some(q) => crate::search::plan(&db.read, &db.plans, q).await?,
        None => crate::search::Plan::Drive,
    };
    let (scanned, text_plan) = match (&db.direct, &filters.q, text_plan) {
        (Some(direct), Some(q), crate::search::Plan::Scan) => {
            let members = members(backend, actor, filters, sort, after.as_deref(), None);
            let rows = super::scan::page(direct, &db.matches, q, members, sort, want).await?;
            (rows, text_plan)
        }
        (None, Some(q), crate::search::Plan::Scan) if db.is_postgres() => {
            let budget = db.plans.scan_budget;
            let (id, role) = (actor.id, actor.role);
            let key = format!("{id}|{role:?}|{filters:?}|{sort:?}|{cursor:?}|{limit}");
            let page = if db.plans.ran_out_lately(&key) {
                None
            } else {
                let after = after.as_deref();
                let page =
                    super::budget::page(db, actor, filters, sort, after, q, want, budget).await?;
                db.plans.walk_ended(key, page.is_none());
                page
            };
            match page {
                Some(rows) => (Some(rows), text_plan),
                // A walk ran out of budget before the page was known: the matches drive.
                None => (None, crate::search::Plan::Drive),
            }
        }
        _ => (None, text_plan),
    };
    let rows = match scanned {
        Some(rows) => rows,
        None => {
            // One index range per (part, range); all of them go to the database as one
            // UNION ALL, each member limited to a page, and are merged here in list order.
            let members = members(
                backend,
                actor,
                filters,
                sort,
                after.as_deref(),
                Some(text_plan),
            );
            let Some(stmt) = super::keyset::union_all(backend, members, want) else {
                return Ok((Vec::new(), None));
            };
            if filters.q.is_some() {
                db.read_pooled(stmt, sort).await?
            } else {
                db.read_with(stmt, sort).await?
            }
        }
    };
    let (keys, next) = super::keyset::page_of(sort, rows, |k| *k, limit);
    Ok((keys.iter().map(|k| k.id).collect(), next))
}

/// The columns a list's key walk reads (its filters, the caller's visibility, the sorts): a
/// driving search's matches carry only these (a unit test checks every filter, role and sort).
pub(super) const LISTED_COLUMNS: [ticket::Column; 8] = [
    ticket::Column::Id,
    ticket::Column::Status,
    ticket::Column::PriorityRank,
    ticket::Column::Category,
    ticket::Column::AssigneeId,
    ticket::Column::RequesterId,
    ticket::Column::CreatedAt,
    ticket::Column::UpdatedAt,
];

/// One ordered key query (id and sort values) per (part, range) of a page. With a text
/// plan the text query is one of the filters; without, it is left out (a scan checks it).
///
/// Built on a bare `SelectStatement`: `Entity::find()` lists all ~45 columns only for
/// `select_only` to drop them, and each range cloned them first — two thirds of building a
/// list page's statement, ~8 % of the server's instructions for a page.
pub(super) fn members(
    backend: sea_orm::DatabaseBackend,
    actor: &Actor,
    filters: &Filters,
    sort: &Sort,
    after: Option<&[i64]>,
    text_plan: Option<crate::search::Plan>,
) -> Vec<SelectStatement> {
    let mut out = Vec::new();
    for mut part in super::keyset::split(filters) {
        if text_plan.is_none() {
            part.q = None;
        }
        let mut base = sea_orm::sea_query::Query::select();
        base.column((ticket::Entity, ticket::Column::Id));
        for (f, _) in &sort.0 {
            base.column((ticket::Entity, f.column()));
        }
        let matches = match (backend, text_plan, part.q.as_deref()) {
            (sea_orm::DatabaseBackend::Postgres, Some(crate::search::Plan::Drive), Some(q)) => {
                crate::search::matching_tickets(q, LISTED_COLUMNS)
            }
            _ => None,
        };
        match matches {
            Some(rows) => {
                base.from_subquery(rows, ticket::Entity);
                part.q = None;
            }
            None => {
                base.from(ticket::Entity);
            }
        }
        base.cond_where(access::visible(actor))
            .cond_where(apply_filters(backend, &part, text_plan.unwrap_or_default()));
        for range in super::keyset::ranges(sort, after) {
            let mut keys = base.clone();
            if let Some(c) = range {
                keys.cond_where(c);
            }
            for (f, desc) in &sort.0 {
                let order = if *desc { Order::Desc } else { Order::Asc };
                keys.order_by((ticket::Entity, f.column()), order);
            }
            keys.order_by((ticket::Entity, ticket::Column::Id), Order::Asc);
            out.push(keys);
        }
    }
    out
}

/// Parses list query parameters into filters, collecting every error.
pub fn parse_filters(params: &BTreeMap<String, String>, me: i64) -> Result<Filters> {
    let mut errors = FieldErrors::new();
    let mut f = Filters::default();
    let list = |k: &str| -> Vec<String> {
        params
            .get(k)
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    };
    for s in list("status") {
        match Status::parse(&s) {
            Some(st) => f.status.push(st),
            None => push(
                &mut errors,
                "status",
                format!("unknown status {s:?}; one of: {}", Status::choices()),
            ),
        }
    }
    for p in list("priority") {
        match Priority::parse(&p) {
            Some(pr) => f.priority.push(pr),
            None => push(
                &mut errors,
                "priority",
                format!("unknown priority {p:?}; one of: {}", Priority::choices()),
            ),
        }
    }
    f.category = list("category")
        .into_iter()
        .map(|c| c.to_lowercase())
        .collect();
    if let Some(a) = params
        .get("assignee")
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
    {
        f.assignee = match a {
            "none" => Some(None),
            "me" => Some(Some(me)),
            id => match id.parse::<i64>() {
                Ok(id) => Some(Some(id)),
                Err(_) => {
                    push(
                        &mut errors,
                        "assignee",
                        "must be a user id, \"me\" or \"none\"",
                    );
                    None
                }
            },
        };
    }
    if let Some(r) = params
        .get("requester")
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
    {
        match r.parse::<i64>() {
            Ok(id) => f.requester = Some(id),
            Err(_) => push(&mut errors, "requester", "must be a user id"),
        }
    }
    f.tag = params
        .get("tag")
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    f.q = params
        .get("q")
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    for (key, slot) in [
        ("created_after", &mut f.created_after),
        ("created_before", &mut f.created_before),
    ] {
        if let Some(v) = params.get(key).map(|s| s.trim()).filter(|s| !s.is_empty()) {
            match crate::clock::parse_time(v) {
                Some(t) => *slot = Some(t),
                None => push(&mut errors, key, "must be an RFC 3339 time or YYYY-MM-DD"),
            }
        }
    }
    Error::check(errors)?;
    Ok(f)
}

/// Counts of visible tickets by status, priority and category.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Stats {
    /// All visible tickets.
    pub total: i64,
    /// Per status (every status present, zero included).
    pub by_status: BTreeMap<String, i64>,
    /// Per priority (every priority present).
    pub by_priority: BTreeMap<String, i64>,
    /// Per category that has tickets.
    pub by_category: BTreeMap<String, i64>,
}

/// Counts of every ticket from the trigger-kept `ticket_counts` (admins see everything, so no
/// per-row filter applies): a few hundred rows summed instead of a table scan.
async fn all_counts(conn: &impl ConnectionTrait) -> Result<Vec<(String, String, String, i64)>> {
    let rows = conn
        .query_all_raw(sea_orm::Statement::from_string(
            conn.get_database_backend(),
            "SELECT status, priority, category, CAST(SUM(n) AS BIGINT) FROM ticket_counts \
             GROUP BY status, priority, category",
        ))
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push((
            r.try_get_by_index(0)?,
            r.try_get_by_index(1)?,
            r.try_get_by_index(2)?,
            r.try_get_by_index(3)?,
        ));
    }
    Ok(out)
}

/// Counts tickets visible to the actor, grouped three ways.
pub async fn stats(conn: &impl ConnectionTrait, actor: &Actor) -> Result<Stats> {
    if actor.is_admin() {
        let mut by_status: BTreeMap<String, i64> =
            Status::ALL.iter().map(|s| (s.to_string(), 0)).collect();
        let mut by_priority: BTreeMap<String, i64> =
            Priority::ALL.iter().map(|s| (s.to_string(), 0)).collect();
        let mut by_category: BTreeMap<String, i64> = BTreeMap::new();
        for (s, p, c, n) in all_counts(conn).await?.into_iter().filter(|r| r.3 != 0) {
            *by_status.entry(s).or_default() += n;
            *by_priority.entry(p).or_default() += n;
            *by_category.entry(c).or_default() += n;
        }
        by_category.retain(|_, n| *n != 0);
        return Ok(Stats {
            total: by_status.values().sum(),
            by_status,
            by_priority,
            by_category,
        });
    }
    async fn grouped(
        conn: &impl ConnectionTrait,
        actor: &Actor,
        col: ticket::Column,
    ) -> Result<Vec<(String, i64)>> {
        Ok(ticket::Entity::find()
            .select_only()
            .column(col)
            .column_as(ticket::Column::Id.count(), "n")
            .filter(access::visible(actor))
            .group_by(col)
            .into_tuple::<(String, i64)>()
            .all(conn)
            .await?)
    }
    let mut by_status: BTreeMap<String, i64> =
        Status::ALL.iter().map(|s| (s.to_string(), 0)).collect();
    by_status.extend(grouped(conn, actor, ticket::Column::Status).await?);
    let mut by_priority: BTreeMap<String, i64> =
        Priority::ALL.iter().map(|s| (s.to_string(), 0)).collect();
    by_priority.extend(grouped(conn, actor, ticket::Column::Priority).await?);
    let by_category: BTreeMap<String, i64> = grouped(conn, actor, ticket::Column::Category)
        .await?
        .into_iter()
        .collect();
    Ok(Stats {
        total: by_status.values().sum(),
        by_status,
        by_priority,
        by_category,
    })
}

/// Parses `limit` (1–100, default 25).
pub fn parse_limit(params: &BTreeMap<String, String>) -> Result<u64> {
    match params
        .get("limit")
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
    {
        None => Ok(25),
        Some(l) => match l.parse::<u64>() {
            Ok(n) if (1..=100).contains(&n) => Ok(n),
            _ => Err(Error::field("limit", "must be an integer from 1 to 100")),
        },
    }
}

/// Lists a page of tickets for an actor with the given query parameters.
/// One page of visible tickets as views, from query-string parameters (filters, `sort`,
/// `cursor`, `limit`), and the next cursor.
pub async fn list_views(
    ctx: &crate::context::Ctx,
    a: &Actor,
    params: &BTreeMap<String, String>,
) -> Result<(Vec<super::view::TicketView>, Option<String>)> {
    let filters = parse_filters(params, a.id)?;
    let sort = Sort::parse(params.get("sort").map(String::as_str))?;
    let limit = parse_limit(params)?;
    let (ids, next) = page_ids(
        &ctx.db,
        a,
        &filters,
        &sort,
        params.get("cursor").map(String::as_str),
        limit,
    )
    .await?;
    Ok((
        super::view::load_many(&ctx.db, &ids, ctx.clock.now_micros()).await?,
        next,
    ))
}

/// Tickets created per UTC day since `since` (µs): `(day start µs, count)`, oldest first.
pub async fn daily_counts(conn: &impl ConnectionTrait, since: i64) -> Result<Vec<(i64, i64)>> {
    let backend = conn.get_database_backend();
    let rows = conn
        .query_all_raw(sea_orm::Statement::from_sql_and_values(
            backend,
            "SELECT created_at / 86400000000 AS d, COUNT(*) AS n FROM tickets WHERE created_at >= $1 GROUP BY created_at / 86400000000 ORDER BY d",
            [since.into()],
        ))
        .await?;
    let mut out = Vec::new();
    for r in rows {
        let d: i64 = r.try_get_by_index(0)?;
        let n: i64 = r.try_get_by_index(1)?;
        out.push((d * 86_400_000_000, n));
    }
    Ok(out)
}

/// Open tickets nobody is assigned to.
pub async fn stats_unassigned(conn: &impl ConnectionTrait) -> Result<i64> {
    use sea_orm::PaginatorTrait;
    let open = [
        "open",
        "assigned",
        "in_progress",
        "waiting",
        "on_hold",
        "reopened",
    ];
    Ok(ticket::Entity::find()
        .filter(ticket::Column::Status.is_in(open))
        .filter(ticket::Column::AssigneeId.is_null())
        .count(conn)
        .await? as i64)
}

#[cfg(test)]
#[path = "query_tests.rs"]
mod tests;
