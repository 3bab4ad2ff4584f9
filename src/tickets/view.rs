//! Ticket representations for the API: one statement per ticket or page, the people joined;
//! tags, the opening post's files and the rating read with it (see `with_extras`).

use sea_orm::sea_query::{Alias, Expr, ExprTrait, JoinType};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DbErr, EntityTrait, QueryFilter, QuerySelect,
    QueryTrait, Select, Statement,
};
use serde::Serialize;
use std::collections::HashMap;

use crate::auth::Actor;
use crate::clock::rfc3339;
use crate::db::Db;
use crate::db::direct::{Cells, FromCells};
use crate::db::entities::{ticket, user};
use crate::error::{Error, Result};

/// The requester as shown on a ticket.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Requester {
    /// User id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Email.
    pub email: String,
}

/// The assignee as shown on a ticket.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Assignee {
    /// User id.
    pub id: i64,
    /// Name.
    pub name: String,
}

/// A ticket as the API returns it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct TicketView {
    pub id: i64,
    pub number: String,
    pub subject: String,
    pub description: String,
    pub category: String,
    pub priority: String,
    pub status: String,
    pub channel: String,
    pub tags: Vec<String>,
    pub requester: Option<Requester>,
    pub assignee: Option<Assignee>,
    pub page_url: Option<String>,
    pub browser_info: Option<String>,
    pub conversation_id: Option<i64>,
    pub merged_into: Option<i64>,
    pub resolution: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub first_response_at: Option<String>,
    pub resolved_at: Option<String>,
    pub closed_at: Option<String>,
    pub first_response_due_at: Option<String>,
    pub resolution_due_at: Option<String>,
    /// SLA clocks: due time and state (`running`, `warning`, `breached`, `paused`, `met`, `missed`).
    pub sla: crate::sla::State,
    /// Files attached to the opening post.
    pub attachments: Vec<crate::attachments::AttachmentView>,
    /// Closed ticket this one follows up.
    pub follow_up_of: Option<i64>,
    /// The requester's satisfaction rating, once given.
    pub rating: Option<super::rating::RatingView>,
}

/// What a view holds besides the ticket row itself.
struct Extras {
    requester: Option<Requester>,
    assignee: Option<Assignee>,
    tags: Vec<String>,
    attachments: Vec<crate::attachments::AttachmentView>,
    rating: Option<super::rating::RatingView>,
}

/// The view of `t` (taken, so that its strings move into the view rather than being copied).
fn assemble(t: ticket::Model, x: Extras, now: i64) -> TicketView {
    let sla = crate::sla::store::state_of(&t, now);
    TicketView {
        id: t.id,
        number: t.number,
        subject: t.subject,
        description: t.description,
        category: t.category,
        priority: t.priority,
        status: t.status,
        channel: t.channel,
        tags: x.tags,
        requester: x.requester,
        assignee: x.assignee,
        page_url: t.page_url,
        browser_info: t.browser_info,
        conversation_id: t.conversation_id,
        merged_into: t.merged_into,
        resolution: t.resolution,
        created_at: rfc3339(t.created_at),
        updated_at: rfc3339(t.updated_at),
        first_response_at: t.first_response_at.map(rfc3339),
        resolved_at: t.resolved_at.map(rfc3339),
        closed_at: t.closed_at.map(rfc3339),
        first_response_due_at: t.first_response_due_at.map(rfc3339),
        resolution_due_at: t.resolution_due_at.map(rfc3339),
        sla,
        attachments: x.attachments,
        follow_up_of: t.follow_up_of,
        rating: x.rating,
    }
}

/// The view of a ticket just created with `tags` and nothing else (no assignee, files or
/// rating): what reading it back would return.
pub fn of_new(
    t: &ticket::Model,
    requester: Requester,
    mut tags: Vec<String>,
    now: i64,
) -> TicketView {
    tags.sort_unstable();
    let extras = Extras {
        requester: Some(requester),
        assignee: None,
        tags,
        attachments: Vec::new(),
        rating: None,
    };
    assemble(t.clone(), extras, now)
}

/// A ticket row with its people, tags, opening-post files and rating, read by the same
/// statement (`with_extras`).
pub(super) struct RowWithExtras {
    pub(super) ticket: ticket::Model,
    requester_name: Option<String>,
    requester_email: Option<String>,
    assignee_name: Option<String>,
    tag_list: Option<String>,
    /// JSON array of `[id, filename, content_type, size]`; NULL or `[]` without files.
    files: Option<String>,
    /// JSON array of `[score, comment, created_at]`; NULL when not rated.
    rating: Option<String>,
}

impl FromCells for RowWithExtras {
    /// The ticket's columns first, then the sub-selects in the order `with_extras` adds them.
    fn from_cells(row: &impl Cells) -> std::result::Result<Self, DbErr> {
        let at = ticket::COLUMNS;
        Ok(RowWithExtras {
            ticket: ticket::Model::from_cells(row)?,
            requester_name: row.at(at)?,
            requester_email: row.at(at + 1)?,
            assignee_name: row.at(at + 2)?,
            tag_list: row.at(at + 3)?,
            files: row.at(at + 4)?,
            rating: row.at(at + 5)?,
        })
    }
}

/// Tags are joined with the unit separator, which validation never lets into a tag.
const TAG_SEPARATOR: char = '\u{1f}';

/// A ticket's tags as PostgreSQL keeps them on its row (`db::schema_tags`): in byte order,
/// joined by the separator; `None` for no tags.
pub(crate) fn tag_list<T: AsRef<str>>(tags: &[T]) -> Option<String> {
    let mut sorted: Vec<&str> = tags.iter().map(AsRef::as_ref).collect();
    sorted.sort_unstable();
    sorted.dedup();
    (!sorted.is_empty()).then(|| sorted.join(&TAG_SEPARATOR.to_string()))
}

/// The view of the ticket `key` (id or number) if `actor` may see it, in one statement;
/// "not found" otherwise.
pub async fn load_one(db: &Db, actor: &Actor, key: &str, now: i64) -> Result<TicketView> {
    first(views_for(db, super::view_sql::one(db.backend, actor, key), now).await?)
}

/// `load_one` for a caller whose account is read along with the ticket (one round trip on
/// PostgreSQL); the caller's live account decides what they may see, as in `load_one`.
pub async fn load_one_as(
    ctx: &crate::context::Ctx,
    caller: &crate::auth::caller::Caller,
    key: &str,
) -> Result<TicketView> {
    let backend = ctx.db.backend;
    let (_, rows) = crate::auth::caller::read_few_as(
        ctx,
        caller,
        |actor| Ok(super::view_sql::one(backend, actor, key)),
        &crate::db::direct::RowsOf::<RowWithExtras>::default(),
    )
    .await?;
    first(views_of(rows, ctx.clock.now_micros())?)
}

/// The view of ticket `id` as it is now, without a visibility check (for callers that have
/// checked access already: the response to a write, after its commit).
pub async fn load_by_id(db: &Db, id: i64, now: i64) -> Result<TicketView> {
    first(views_in(db, ticket::Entity::find_by_id(id), now).await?)
}

/// The views of the tickets `select` finds, their rows read directly where the backend can.
async fn views_in(db: &Db, select: Select<ticket::Entity>, now: i64) -> Result<Vec<TicketView>> {
    views_for(db, with_extras(select, db.backend).build(db.backend), now).await
}

/// The views of the rows of a statement built `with_extras`.
async fn views_for(db: &Db, stmt: Statement, now: i64) -> Result<Vec<TicketView>> {
    views_of(db.read_all(stmt).await?, now)
}

/// `load_by_id` on a given connection or transaction (webhook bodies rendered by a job).
pub async fn load_by_id_on(conn: &impl ConnectionTrait, id: i64, now: i64) -> Result<TicketView> {
    let backend = conn.get_database_backend();
    let stmt = with_extras(ticket::Entity::find_by_id(id), backend).build(backend);
    let rows = conn
        .query_all_raw(stmt)
        .await?
        .iter()
        .map(RowWithExtras::from_cells)
        .collect::<std::result::Result<Vec<_>, _>>()?;
    first(views_of(rows, now)?)
}

fn first(mut views: Vec<TicketView>) -> Result<TicketView> {
    views.pop().ok_or(Error::NotFound("ticket"))
}

/// The views of tickets `ids`, in that order (ids that do not exist are left out), in one
/// statement.
pub async fn load_many(db: &Db, ids: &[i64], now: i64) -> Result<Vec<TicketView>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let select = ticket::Entity::find().filter(ticket::Column::Id.is_in(ids.iter().copied()));
    let mut views = views_in(db, select, now).await?;
    let at: HashMap<i64, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    views.sort_by_key(|v| at.get(&v.id).copied().unwrap_or(usize::MAX));
    Ok(views)
}

/// The ticket columns plus its people (joined), and its tags, opening-post files and rating
/// as sub-selects (files and rating only where the row says there are some). On PostgreSQL
/// each sub-select is a sub-plan of its own: with the people as three of them the statement
/// ran at ~half the rate it does with them joined (pgbench at 1M).
pub(super) fn with_extras(
    mut select: Select<ticket::Entity>,
    backend: DatabaseBackend,
) -> Select<ticket::Entity> {
    // Files come as one JSON array per ticket, so a ticket with files costs no second
    // statement (the array's order is fixed after parsing: aggregates promise none).
    // PostgreSQL keeps each ticket's tags on its row (migration 14, `db::schema_tags`).
    let (tags, files, rating) = match backend {
        DatabaseBackend::Postgres => (
            "tickets.tag_list",
            "json_agg(json_build_array(id, filename, content_type, size))::text",
            "json_build_array(score, comment, created_at)::text",
        ),
        _ => (
            "(SELECT group_concat(tag, char(31)) FROM ticket_tags \
             WHERE ticket_tags.ticket_id = tickets.id)",
            "json_group_array(json_array(id, filename, content_type, size))",
            "json_array(score, comment, created_at)",
        ),
    };
    let (requester, assignee) = (Alias::new("x_requester"), Alias::new("x_assignee"));
    for (alias, person) in [
        (&requester, ticket::Column::RequesterId),
        (&assignee, ticket::Column::AssigneeId),
    ] {
        let on = Expr::col((alias.clone(), user::Column::Id)).equals((ticket::Entity, person));
        QuerySelect::query(&mut select).join_as(
            JoinType::LeftJoin,
            user::Entity,
            alias.clone(),
            on,
        );
    }
    select
        .column_as(
            Expr::col((requester.clone(), user::Column::Name)),
            "x_requester_name",
        )
        .column_as(
            Expr::col((requester, user::Column::Email)),
            "x_requester_email",
        )
        .column_as(Expr::col((assignee, user::Column::Name)), "x_assignee_name")
        .column_as(Expr::cust(tags), "x_tags")
        .column_as(
            // `opening_files` (kept by triggers) spares the probe for tickets without files.
            Expr::cust(format!(
                "CASE WHEN tickets.opening_files > 0 THEN (SELECT {files} FROM attachments \
                 WHERE attachments.ticket_id = tickets.id AND attachments.message_row IS NULL) END"
            )),
            "x_files",
        )
        .column_as(
            // A ticket has at most one rating (`ratings.ticket_id` is unique), read with the
            // row where `rated` (kept by triggers, migration 15) says there is one.
            Expr::cust(format!(
                "CASE WHEN tickets.rated THEN (SELECT {rating} FROM ratings \
                 WHERE ratings.ticket_id = tickets.id) END"
            )),
            "x_rating",
        )
}

/// Views of rows read `with_extras`.
pub(super) fn views_of(rows: Vec<RowWithExtras>, now: i64) -> Result<Vec<TicketView>> {
    rows.into_iter()
        .map(|row| {
            let t = row.ticket;
            let mut tags: Vec<String> = row
                .tag_list
                .as_deref()
                .unwrap_or("")
                .split(TAG_SEPARATOR)
                .filter(|t| !t.is_empty())
                .map(String::from)
                .collect();
            tags.sort_unstable();
            let requester = match (row.requester_name, row.requester_email) {
                (Some(name), Some(email)) => Some(Requester {
                    id: t.requester_id,
                    name,
                    email,
                }),
                _ => None,
            };
            let assignee = t
                .assignee_id
                .zip(row.assignee_name)
                .map(|(id, name)| Assignee { id, name });
            let extras = Extras {
                requester,
                assignee,
                tags,
                attachments: files_of(row.files.as_deref())?,
                rating: rating_of(row.rating.as_deref())?,
            };
            Ok(assemble(t, extras, now))
        })
        .collect()
}

/// The rating of a `with_extras` row's JSON array, if the ticket is rated.
fn rating_of(json: Option<&str>) -> Result<Option<super::rating::RatingView>> {
    let Some(json) = json else {
        return Ok(None);
    };
    let (score, comment, at): (i32, String, i64) = serde_json::from_str(json)
        .map_err(|e| Error::Internal(anyhow::anyhow!("a ticket's rating as read: {e}")))?;
    Ok(Some(super::rating::RatingView {
        score,
        comment,
        created_at: rfc3339(at),
    }))
}

/// The files of a `with_extras` row's JSON array, in upload (id) order.
fn files_of(json: Option<&str>) -> Result<Vec<crate::attachments::AttachmentView>> {
    let Some(json) = json.filter(|j| *j != "[]") else {
        return Ok(Vec::new());
    };
    let rows: Vec<(i64, String, String, i64)> = serde_json::from_str(json)
        .map_err(|e| Error::Internal(anyhow::anyhow!("attachment list from the view: {e}")))?;
    let mut files: Vec<_> = rows
        .into_iter()
        .map(
            |(id, filename, content_type, size)| crate::attachments::AttachmentView {
                id,
                filename,
                content_type,
                size,
            },
        )
        .collect();
    files.sort_unstable_by_key(|f| f.id);
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::tag_list;

    #[test]
    fn tag_lists_are_in_byte_order_without_repeats_and_none_when_empty() {
        // Byte order, as PostgreSQL's `COLLATE "C"` in the triggers: uppercase before
        // lowercase, '-' before letters.
        assert_eq!(
            tag_list(&["vpn", "Zeta", "a-b", "ab", "vpn"]).as_deref(),
            Some("Zeta\u{1f}a-b\u{1f}ab\u{1f}vpn")
        );
        assert_eq!(tag_list::<&str>(&[]), None);
    }
}
