//! Ticket representations for the API, built in batches (one query each for people and tags).

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;
use std::collections::HashMap;

use crate::clock::rfc3339;
use crate::db::entities::{ticket, ticket_tag, user};
use crate::error::Result;

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

/// SLA state of one target: `pending`, `met`, `breached` or `none`.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct SlaState {
    /// First-response target.
    pub first_response: &'static str,
    /// Resolution target.
    pub resolution: &'static str,
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
    pub sla: SlaState,
}

fn sla_state(due: Option<i64>, done: Option<i64>, now: i64) -> &'static str {
    match (due, done) {
        (None, _) => "none",
        (Some(d), Some(at)) => {
            if at <= d {
                "met"
            } else {
                "breached"
            }
        }
        (Some(d), None) => {
            if now > d {
                "breached"
            } else {
                "pending"
            }
        }
    }
}

/// Builds views for tickets, loading their people and tags in two queries.
pub async fn build(
    conn: &impl ConnectionTrait,
    tickets: &[ticket::Model],
    now: i64,
) -> Result<Vec<TicketView>> {
    if tickets.is_empty() {
        return Ok(Vec::new());
    }
    let mut user_ids: Vec<i64> = tickets
        .iter()
        .flat_map(|t| std::iter::once(t.requester_id).chain(t.assignee_id))
        .collect();
    user_ids.sort_unstable();
    user_ids.dedup();
    let people: HashMap<i64, user::Model> = user::Entity::find()
        .filter(user::Column::Id.is_in(user_ids))
        .all(conn)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    let mut tags: HashMap<i64, Vec<String>> = HashMap::new();
    for row in ticket_tag::Entity::find()
        .filter(ticket_tag::Column::TicketId.is_in(tickets.iter().map(|t| t.id)))
        .order_by_asc(ticket_tag::Column::Tag)
        .all(conn)
        .await?
    {
        tags.entry(row.ticket_id).or_default().push(row.tag);
    }
    Ok(tickets
        .iter()
        .map(|t| {
            let requester = people.get(&t.requester_id).map(|u| Requester {
                id: u.id,
                name: u.name.clone(),
                email: u.email.clone(),
            });
            let assignee = t
                .assignee_id
                .and_then(|id| people.get(&id))
                .map(|u| Assignee {
                    id: u.id,
                    name: u.name.clone(),
                });
            let resolved = t.resolved_at.or(t.closed_at);
            TicketView {
                id: t.id,
                number: t.number.clone(),
                subject: t.subject.clone(),
                description: t.description.clone(),
                category: t.category.clone(),
                priority: t.priority.clone(),
                status: t.status.clone(),
                channel: t.channel.clone(),
                tags: tags.remove(&t.id).unwrap_or_default(),
                requester,
                assignee,
                page_url: t.page_url.clone(),
                browser_info: t.browser_info.clone(),
                conversation_id: t.conversation_id,
                merged_into: t.merged_into,
                resolution: t.resolution.clone(),
                created_at: rfc3339(t.created_at),
                updated_at: rfc3339(t.updated_at),
                first_response_at: t.first_response_at.map(rfc3339),
                resolved_at: t.resolved_at.map(rfc3339),
                closed_at: t.closed_at.map(rfc3339),
                first_response_due_at: t.first_response_due_at.map(rfc3339),
                resolution_due_at: t.resolution_due_at.map(rfc3339),
                sla: SlaState {
                    first_response: sla_state(t.first_response_due_at, t.first_response_at, now),
                    resolution: sla_state(t.resolution_due_at, resolved, now),
                },
            }
        })
        .collect())
}

/// Builds the view of one ticket.
pub async fn build_one(
    conn: &impl ConnectionTrait,
    t: &ticket::Model,
    now: i64,
) -> Result<TicketView> {
    build(conn, std::slice::from_ref(t), now)
        .await?
        .pop()
        .ok_or_else(|| crate::error::Error::Internal(anyhow::anyhow!("empty ticket view")))
}
