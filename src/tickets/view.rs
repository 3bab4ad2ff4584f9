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
    let mut files: HashMap<i64, Vec<crate::attachments::AttachmentView>> = HashMap::new();
    for a in crate::db::mail_entities::attachment::Entity::find()
        .filter(
            crate::db::mail_entities::attachment::Column::TicketId
                .is_in(tickets.iter().map(|t| t.id)),
        )
        .filter(crate::db::mail_entities::attachment::Column::MessageRow.is_null())
        .order_by_asc(crate::db::mail_entities::attachment::Column::Id)
        .all(conn)
        .await?
    {
        files.entry(a.ticket_id).or_default().push((&a).into());
    }
    let ids: Vec<i64> = tickets.iter().map(|t| t.id).collect();
    let mut ratings = super::rating::for_tickets(conn, &ids).await?;
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
                sla: crate::sla::store::state_of(t, now),
                attachments: files.remove(&t.id).unwrap_or_default(),
                follow_up_of: t.follow_up_of,
                rating: ratings.remove(&t.id),
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
