//! Ticket history: one event per changed field, written in the change's transaction.

use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QueryTrait, Set,
};
use serde::Serialize;
use std::collections::HashMap;

use crate::auth::Actor;
use crate::clock::rfc3339;
use crate::db::entities::{ticket_event, user};
use crate::db::pipeline::Pipeline;
use crate::error::Result;

/// One change to record.
pub struct Change {
    /// Field name (`status`, `priority`, `assignee`, `comment`, …).
    pub field: &'static str,
    /// Value before.
    pub old: Option<String>,
    /// Value after.
    pub new: Option<String>,
    /// Hidden from customers.
    pub internal: bool,
}

impl Change {
    /// A public change.
    pub fn public(field: &'static str, old: Option<String>, new: Option<String>) -> Change {
        Change {
            field,
            old,
            new,
            internal: false,
        }
    }
    /// A change only staff see.
    pub fn internal(field: &'static str, old: Option<String>, new: Option<String>) -> Change {
        Change {
            field,
            old,
            new,
            internal: true,
        }
    }
}

/// Writes the changes for a ticket; `actor` is `None` for the system.
pub async fn record(
    conn: &impl ConnectionTrait,
    ticket_id: i64,
    actor: Option<i64>,
    changes: Vec<Change>,
    now: i64,
) -> Result<()> {
    let mut p = Pipeline::new(conn);
    queue(&mut p, ticket_id, actor, changes, now);
    p.run(conn).await
}

/// Queues the history rows of `record` on a pipeline instead of writing them at once.
pub fn queue(p: &mut Pipeline, ticket_id: i64, actor: Option<i64>, changes: Vec<Change>, now: i64) {
    if changes.is_empty() {
        return;
    }
    let rows = changes.into_iter().map(|c| ticket_event::ActiveModel {
        ticket_id: Set(ticket_id),
        actor_id: Set(actor),
        field: Set(c.field.to_string()),
        old_value: Set(c.old),
        new_value: Set(c.new),
        internal: Set(c.internal),
        created_at: Set(now),
        ..Default::default()
    });
    p.push(&ticket_event::Entity::insert_many(rows).into_query());
}

/// Who made a change.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventActor {
    /// User id.
    pub id: i64,
    /// Name.
    pub name: String,
}

/// A history event as the API returns it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventView {
    /// Id.
    pub id: i64,
    /// Who; `null` for the system.
    pub actor: Option<EventActor>,
    /// Field changed.
    pub field: String,
    /// Before.
    pub old_value: Option<String>,
    /// After.
    pub new_value: Option<String>,
    /// Staff-only event.
    pub internal: bool,
    /// RFC 3339.
    pub created_at: String,
}

/// The ticket's history, oldest first; customers get public events only.
pub async fn list(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    ticket_id: i64,
) -> Result<Vec<EventView>> {
    let mut q = ticket_event::Entity::find().filter(ticket_event::Column::TicketId.eq(ticket_id));
    if !actor.is_staff() {
        q = q.filter(ticket_event::Column::Internal.eq(false));
    }
    let events = q.order_by_asc(ticket_event::Column::Id).all(conn).await?;
    views(conn, events).await
}

/// Views of events with their actors' names (one query for the names).
async fn views(
    conn: &impl ConnectionTrait,
    events: Vec<ticket_event::Model>,
) -> Result<Vec<EventView>> {
    let ids: Vec<i64> = events.iter().filter_map(|e| e.actor_id).collect();
    let names: HashMap<i64, String> = user::Entity::find()
        .filter(user::Column::Id.is_in(ids))
        .all(conn)
        .await?
        .into_iter()
        .map(|u| (u.id, u.name))
        .collect();
    Ok(events
        .into_iter()
        .map(|e| EventView {
            id: e.id,
            actor: e.actor_id.map(|id| EventActor {
                id,
                name: names.get(&id).cloned().unwrap_or_default(),
            }),
            field: e.field,
            old_value: e.old_value,
            new_value: e.new_value,
            internal: e.internal,
            created_at: rfc3339(e.created_at),
        })
        .collect())
}

/// The latest events across all tickets (admin dashboard), newest first, with ticket numbers.
pub async fn recent(conn: &impl ConnectionTrait, limit: u64) -> Result<Vec<(String, EventView)>> {
    use sea_orm::QuerySelect;
    let events = ticket_event::Entity::find()
        .order_by_desc(ticket_event::Column::Id)
        .limit(limit)
        .all(conn)
        .await?;
    let ticket_of: Vec<i64> = events.iter().map(|e| e.ticket_id).collect();
    let numbers: HashMap<i64, String> = crate::db::entities::ticket::Entity::find()
        .filter(crate::db::entities::ticket::Column::Id.is_in(ticket_of.clone()))
        .all(conn)
        .await?
        .into_iter()
        .map(|t| (t.id, t.number))
        .collect();
    let out = views(conn, events).await?;
    Ok(ticket_of
        .iter()
        .zip(out)
        .map(|(t, v)| (numbers.get(t).cloned().unwrap_or_default(), v))
        .collect())
}
