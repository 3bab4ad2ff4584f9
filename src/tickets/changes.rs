//! Status, priority and assignment changes, each with its history event and job.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set,
};
use std::collections::HashMap;

use super::access;
use super::history::{self, Change};
use super::model::{Priority, Role, Status};
use super::workflow::{self, Refusal};
use crate::auth::Actor;
use crate::context::Ctx;
use crate::db::entities::{ticket, user};
use crate::error::{Error, Result};

/// Builds the 409 for a refused transition, naming what is allowed instead.
pub fn refusal(from: Status, to: Status, why: Refusal) -> Error {
    let allowed: Vec<&'static str> = workflow::allowed_next(from)
        .iter()
        .map(|s| s.as_str())
        .collect();
    match why {
        Refusal::NotAllowed => Error::InvalidTransition {
            from: from.to_string(),
            to: to.to_string(),
            allowed,
        },
        Refusal::WindowExpired => Error::InvalidTransition {
            from: format!("{from} (reopen window expired)"),
            to: to.to_string(),
            allowed: allowed.into_iter().filter(|s| *s != "reopened").collect(),
        },
    }
}

/// Applies a status move to an active model: timestamps follow the status.
pub fn apply_status(am: &mut ticket::ActiveModel, to: Status, now: i64) {
    am.status = Set(to.as_str().into());
    match to {
        Status::Resolved => am.resolved_at = Set(Some(now)),
        Status::Closed => am.closed_at = Set(Some(now)),
        Status::Reopened => {
            am.resolved_at = Set(None);
            am.closed_at = Set(None);
        }
        _ => {}
    }
}

/// Changes status. Staff may make any allowed move; a requester may only reopen.
pub async fn set_status(
    ctx: &Ctx,
    actor: &Actor,
    key: &str,
    to_raw: &str,
    resolution: Option<String>,
) -> Result<ticket::Model> {
    let to = Status::parse(to_raw.trim())
        .ok_or_else(|| Error::field("status", format!("must be one of: {}", Status::choices())))?;
    if let Some(r) = &resolution
        && r.chars().count() > 5000
    {
        return Err(Error::field(
            "resolution",
            "must be at most 5000 characters",
        ));
    }
    let txn = ctx.db.begin().await?;
    let t = access::load_for_update(&txn, actor, key).await?;
    if !actor.is_staff() && to != Status::Reopened {
        return Err(Error::Forbidden(
            "customers may only reopen their tickets".into(),
        ));
    }
    let from = Status::parse(&t.status).unwrap_or(Status::Open);
    let now = ctx.clock.now_micros();
    workflow::check(from, to, t.closed_at, now, ctx.config.reopen_window_days)
        .map_err(|why| refusal(from, to, why))?;
    let mut am: ticket::ActiveModel = t.clone().into();
    apply_status(&mut am, to, now);
    let mut changes = vec![Change::public(
        "status",
        Some(from.to_string()),
        Some(to.to_string()),
    )];
    if let Some(r) = resolution
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty())
    {
        changes.push(Change::public(
            "resolution",
            t.resolution.clone(),
            Some(r.clone()),
        ));
        am.resolution = Set(Some(r));
    }
    ctx.catalog.refresh_sla(&txn, &mut am, now).await?;
    am.updated_at = Set(now);
    let updated = am.update(&txn).await?;
    history::record(&txn, t.id, Some(actor.id), changes, now).await?;
    if t.assignee_id.is_some() && from.is_active() && !to.is_active() {
        super::autoassign::fill_backlog(&txn, now).await?;
    }
    crate::jobs::enqueue_event(
        &txn,
        "ticket.status_changed",
        t.id,
        Some(actor.id),
        serde_json::json!({"from": from, "to": to}),
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(updated)
}

/// Changes priority and recomputes SLA due times (staff only).
pub async fn set_priority(ctx: &Ctx, actor: &Actor, key: &str, raw: &str) -> Result<ticket::Model> {
    let p = Priority::parse(raw.trim()).ok_or_else(|| {
        Error::field(
            "priority",
            format!("must be one of: {}", Priority::choices()),
        )
    })?;
    let txn = ctx.db.begin().await?;
    let t = access::load_for_update(&txn, actor, key).await?;
    access::require_staff(actor)?;
    if t.priority == p.as_str() {
        return Ok(t);
    }
    let now = ctx.clock.now_micros();
    let mut am: ticket::ActiveModel = t.clone().into();
    super::service::apply_priority(&mut am, p);
    ctx.catalog.refresh_sla(&txn, &mut am, now).await?;
    am.updated_at = Set(now);
    let updated = am.update(&txn).await?;
    history::record(
        &txn,
        t.id,
        Some(actor.id),
        vec![Change::public(
            "priority",
            Some(t.priority.clone()),
            Some(p.to_string()),
        )],
        now,
    )
    .await?;
    crate::jobs::enqueue_event(
        &txn,
        "ticket.updated",
        t.id,
        Some(actor.id),
        serde_json::json!({"priority": p}),
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(updated)
}

/// Whom to assign.
pub enum AssignTarget {
    /// A named agent or admin.
    Agent(i64),
    /// The active, present agent with the fewest open tickets; ties go round-robin.
    Auto,
    /// Nobody (back to the queue).
    Nobody,
}

/// Open (not resolved or closed) tickets per assignee, for the given users.
pub async fn open_loads(
    conn: &impl ConnectionTrait,
    user_ids: Vec<i64>,
) -> Result<HashMap<i64, i64>> {
    let open = Status::active_names();
    Ok(ticket::Entity::find()
        .select_only()
        .column(ticket::Column::AssigneeId)
        .column_as(ticket::Column::Id.count(), "n")
        .filter(ticket::Column::AssigneeId.is_in(user_ids))
        .filter(ticket::Column::Status.is_in(open))
        .group_by(ticket::Column::AssigneeId)
        .into_tuple::<(Option<i64>, i64)>()
        .all(conn)
        .await?
        .into_iter()
        .filter_map(|(id, n)| id.map(|id| (id, n)))
        .collect())
}

/// Assigns a ticket (admins). Assigning an `open` ticket moves it to `assigned`; unassigning an
/// `assigned` one moves it back to `open`.
pub async fn assign(
    ctx: &Ctx,
    actor: &Actor,
    key: &str,
    target: AssignTarget,
) -> Result<ticket::Model> {
    let txn = ctx.db.begin().await?;
    let t = access::load_for_update(&txn, actor, key).await?;
    access::require_admin(actor)?;
    let now = ctx.clock.now_micros();
    let agent = match target {
        AssignTarget::Nobody => None,
        AssignTarget::Agent(id) => Some(
            user::Entity::find_by_id(id)
                .one(&txn)
                .await?
                .filter(|u| u.active && u.role != Role::Customer.as_str())
                .ok_or_else(|| Error::field("agent_id", "must be an active agent or admin"))?,
        ),
        AssignTarget::Auto => Some(
            super::autoassign::pick(&txn)
                .await?
                .map(|(a, _)| a)
                .ok_or_else(|| {
                    Error::Conflict(
                        "no agent is available for assignment (all away or at capacity)".into(),
                    )
                })?,
        ),
    };
    let new_id = agent.as_ref().map(|a| a.id);
    if new_id == t.assignee_id {
        txn.rollback().await?;
        return Ok(t);
    }
    let old_name = match t.assignee_id {
        Some(id) => user::Entity::find_by_id(id)
            .one(&txn)
            .await?
            .map(|u| u.name),
        None => None,
    };
    let mut am: ticket::ActiveModel = t.clone().into();
    am.assignee_id = Set(new_id);
    let mut changes = vec![Change::public(
        "assignee",
        old_name,
        agent.as_ref().map(|a| a.name.clone()),
    )];
    let from = Status::parse(&t.status).unwrap_or(Status::Open);
    let moved = match (from, new_id) {
        (Status::Open, Some(_)) => Some(Status::Assigned),
        (Status::Assigned, None) => Some(Status::Open),
        _ => None,
    };
    if let Some(to) = moved {
        super::changes::apply_status(&mut am, to, now);
        changes.push(Change::public(
            "status",
            Some(from.to_string()),
            Some(to.to_string()),
        ));
    }
    ctx.catalog.refresh_sla(&txn, &mut am, now).await?;
    am.updated_at = Set(now);
    let updated = am.update(&txn).await?;
    if let Some(a) = &agent {
        user::Entity::update_many()
            .col_expr(user::Column::LastAssignedAt, Expr::value(now))
            .filter(user::Column::Id.eq(a.id))
            .exec(&txn)
            .await?;
    }
    history::record(&txn, t.id, Some(actor.id), changes, now).await?;
    if t.assignee_id.is_some() {
        // The previous assignee has room again.
        super::autoassign::fill_backlog(&txn, now).await?;
    }
    crate::jobs::enqueue_event(
        &txn,
        "ticket.assigned",
        t.id,
        Some(actor.id),
        serde_json::json!({"assignee_id": new_id}),
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(updated)
}
