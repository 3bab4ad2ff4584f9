//! Automatic assignment: per category on/off; the active, present agent with the fewest open
//! tickets below their capacity gets the ticket, ties going to whoever waited longest since
//! their last assignment (round-robin). Runs on creation and whenever an agent frees up.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use super::changes::{apply_status, open_loads};
use super::history::{self, Change};
use super::model::{Role, Status};
use crate::db::entities::{category, ticket, user};
use crate::db::tx::Tx;
use crate::error::Result;

/// Tickets handed out per backlog run (the next freed-up agent continues).
const BACKLOG_BATCH: u64 = 50;

/// The agent to assign next, or `None` when nobody is present with room.
pub async fn pick(conn: &impl ConnectionTrait) -> Result<Option<(user::Model, i64)>> {
    let agents = user::Entity::find()
        .filter(user::Column::Role.eq(Role::Agent.as_str()))
        .filter(user::Column::Active.eq(true))
        .filter(user::Column::Away.eq(false))
        .all(conn)
        .await?;
    if agents.is_empty() {
        return Ok(None);
    }
    let loads = open_loads(conn, agents.iter().map(|a| a.id).collect()).await?;
    Ok(agents
        .into_iter()
        .map(|a| {
            let load = loads.get(&a.id).copied().unwrap_or(0);
            (a, load)
        })
        .filter(|(a, load)| a.capacity.is_none_or(|c| *load < i64::from(c)))
        .min_by_key(|(a, load)| (*load, a.last_assigned_at.unwrap_or(i64::MIN), a.id)))
}

async fn auto_categories(conn: &impl ConnectionTrait) -> Result<Vec<String>> {
    Ok(category::Entity::find()
        .select_only()
        .column(category::Column::Slug)
        .filter(category::Column::AutoAssign.eq(true))
        .into_tuple()
        .all(conn)
        .await?)
}

/// Gives `t` to `agent` as the system would: status `open` → `assigned`, history with no
/// actor and the reason, the agent's round-robin stamp, the assignment notification.
async fn give(
    conn: &(impl ConnectionTrait + Tx),
    t: &ticket::Model,
    agent: &user::Model,
    load: i64,
    now: i64,
) -> Result<ticket::Model> {
    let mut am: ticket::ActiveModel = t.clone().into();
    am.assignee_id = Set(Some(agent.id));
    let mut changes = vec![
        Change::public("assignee", None, Some(agent.name.clone())),
        Change::internal(
            "auto_assign",
            None,
            Some(format!(
                "least loaded agent ({load} open{})",
                agent
                    .capacity
                    .map(|c| format!(" of {c}"))
                    .unwrap_or_default()
            )),
        ),
    ];
    if t.status == Status::Open.as_str() {
        apply_status(&mut am, Status::Assigned, now);
        changes.push(Change::public(
            "status",
            Some(Status::Open.to_string()),
            Some(Status::Assigned.to_string()),
        ));
    }
    am.updated_at = Set(now);
    crate::sla::store::refresh(conn, &mut am, now).await?;
    let updated = am.update(conn).await?;
    user::Entity::update_many()
        .col_expr(user::Column::LastAssignedAt, Expr::value(now))
        .filter(user::Column::Id.eq(agent.id))
        .exec(conn)
        .await?;
    history::record(conn, t.id, None, changes, now).await?;
    crate::jobs::enqueue_event(
        conn,
        "ticket.assigned",
        t.id,
        None,
        serde_json::json!({"assignee_id": agent.id, "automatic": true}),
        now,
    )
    .await?;
    Ok(updated)
}

/// Assigns a new ticket when its category has auto-assignment on and someone has room;
/// returns the updated row, or the ticket unchanged.
pub async fn on_create(
    conn: &(impl ConnectionTrait + Tx),
    t: ticket::Model,
    now: i64,
) -> Result<ticket::Model> {
    let on = category::Entity::find()
        .filter(category::Column::Slug.eq(t.category.as_str()))
        .filter(category::Column::AutoAssign.eq(true))
        .one(conn)
        .await?
        .is_some();
    if !on {
        return Ok(t);
    }
    match pick(conn).await? {
        Some((agent, load)) => give(conn, &t, &agent, load, now).await,
        None => Ok(t),
    }
}

/// Hands waiting unassigned tickets (auto-assign categories, most urgent and oldest first) to
/// agents with room; call after an agent frees up. Returns how many were assigned.
pub async fn fill_backlog(conn: &(impl ConnectionTrait + Tx), now: i64) -> Result<usize> {
    let cats = auto_categories(conn).await?;
    if cats.is_empty() {
        return Ok(0);
    }
    let waiting = ticket::Entity::find()
        .filter(ticket::Column::AssigneeId.is_null())
        .filter(ticket::Column::Status.eq(Status::Open.as_str()))
        .filter(ticket::Column::MergedInto.is_null())
        .filter(ticket::Column::Category.is_in(cats))
        .order_by_desc(ticket::Column::PriorityRank)
        .order_by_asc(ticket::Column::CreatedAt)
        .order_by_asc(ticket::Column::Id)
        .limit(BACKLOG_BATCH)
        .all(conn)
        .await?;
    let mut n = 0;
    for t in waiting {
        let Some((agent, load)) = pick(conn).await? else {
            break;
        };
        give(conn, &t, &agent, load, now).await?;
        n += 1;
    }
    Ok(n)
}
