//! Ticket threads: public replies and internal notes, and the status moves a reply causes.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
    TransactionTrait,
};
use serde::Serialize;
use std::collections::HashMap;

use crate::auth::Actor;
use crate::clock::rfc3339;
use crate::context::Ctx;
use crate::db::entities::{message, ticket, user};
use crate::error::{Error, Result};
use crate::tickets::access;
use crate::tickets::changes::{apply_status, refusal};
use crate::tickets::history::{self, Change};
use crate::tickets::model::{Channel, Status};
use crate::tickets::workflow;

/// The author of a message.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Author {
    /// User id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Role.
    pub role: String,
}

/// An attachment's metadata (uploads arrive with the attachments issue).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AttachmentView {
    /// Id.
    pub id: i64,
    /// Original file name.
    pub filename: String,
    /// Sniffed type.
    pub content_type: String,
    /// Bytes.
    pub size: i64,
}

/// A message as the API returns it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CommentView {
    /// Id.
    pub id: i64,
    /// Markdown body.
    pub body: String,
    /// Internal note (staff only).
    pub internal: bool,
    /// Who wrote it; `null` for the system.
    pub author: Option<Author>,
    /// RFC 3339.
    pub created_at: String,
    /// Files attached.
    pub attachments: Vec<AttachmentView>,
}

async fn views(conn: &impl ConnectionTrait, msgs: Vec<message::Model>) -> Result<Vec<CommentView>> {
    let ids: Vec<i64> = msgs.iter().filter_map(|m| m.author_id).collect();
    let people: HashMap<i64, user::Model> = user::Entity::find()
        .filter(user::Column::Id.is_in(ids))
        .all(conn)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    Ok(msgs
        .into_iter()
        .map(|m| CommentView {
            id: m.id,
            body: m.body,
            internal: m.internal,
            author: m.author_id.and_then(|id| people.get(&id)).map(|u| Author {
                id: u.id,
                name: u.name.clone(),
                role: u.role.clone(),
            }),
            created_at: rfc3339(m.created_at),
            attachments: Vec::new(),
        })
        .collect())
}

/// The thread of a visible ticket, oldest first; customers never get internal notes.
pub async fn list(ctx: &Ctx, actor: &Actor, key: &str) -> Result<Vec<CommentView>> {
    let t = access::load(&ctx.db.read, actor, key).await?;
    let mut q = message::Entity::find().filter(message::Column::TicketId.eq(t.id));
    if !actor.is_staff() {
        q = q.filter(message::Column::Internal.eq(false));
    }
    let msgs = q
        .order_by_asc(message::Column::Id)
        .all(&ctx.db.read)
        .await?;
    views(&ctx.db.read, msgs).await
}

/// Adds a reply or note. A requester's reply moves `waiting` → `in_progress` and reopens a
/// resolved ticket (or a closed one inside the reopen window); the first public staff reply
/// sets `first_response_at`.
pub async fn add(
    ctx: &Ctx,
    actor: &Actor,
    key: &str,
    body: &str,
    internal: bool,
    channel: Channel,
) -> Result<CommentView> {
    let body = body.trim();
    let len = body.chars().count();
    if !(1..=20_000).contains(&len) {
        return Err(Error::field("body", "must be 1 to 20000 characters"));
    }
    let txn = ctx.db.write.begin().await?;
    let t = access::load_for_update(&txn, actor, key).await?;
    if internal && !actor.is_staff() {
        return Err(Error::Forbidden(
            "only agents and admins may add internal notes".into(),
        ));
    }
    let now = ctx.clock.now_micros();
    let from = Status::parse(&t.status).unwrap_or(Status::Open);
    let is_requester_reply = !internal && !actor.is_staff() && actor.id == t.requester_id;
    let mut moved = None;
    if is_requester_reply && let Some(to) = workflow::after_customer_reply(from) {
        workflow::check(from, to, t.closed_at, now, ctx.config.reopen_window_days).map_err(
            |why| match why {
                workflow::Refusal::WindowExpired => Error::Conflict(
                    "this ticket is closed and can no longer be reopened; please open a new ticket"
                        .into(),
                ),
                other => refusal(from, to, other),
            },
        )?;
        moved = Some(to);
    }
    let msg = message::ActiveModel {
        ticket_id: Set(t.id),
        author_id: Set(Some(actor.id)),
        body: Set(body.to_string()),
        internal: Set(internal),
        channel: Set(channel.as_str().into()),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let mut am: ticket::ActiveModel = t.clone().into();
    let kind = if internal {
        "internal note"
    } else {
        "public reply"
    };
    let mut changes = vec![if internal {
        Change::internal("comment", None, Some(kind.into()))
    } else {
        Change::public("comment", None, Some(kind.into()))
    }];
    if let Some(to) = moved {
        apply_status(&mut am, to, now);
        changes.push(Change::public(
            "status",
            Some(from.to_string()),
            Some(to.to_string()),
        ));
    }
    if !internal && actor.is_staff() && actor.id != t.requester_id && t.first_response_at.is_none()
    {
        am.first_response_at = Set(Some(now));
        changes.push(Change::internal(
            "first_response_at",
            None,
            Some(rfc3339(now)),
        ));
    }
    am.updated_at = Set(now);
    am.update(&txn).await?;
    history::record(&txn, t.id, Some(actor.id), changes, now).await?;
    if !internal {
        crate::jobs::enqueue_event(
            &txn,
            "comment.created",
            t.id,
            serde_json::json!({"comment_id": msg.id}),
            now,
        )
        .await?;
    }
    txn.commit().await?;
    Ok(CommentView {
        id: msg.id,
        body: msg.body,
        internal: msg.internal,
        author: Some(Author {
            id: actor.id,
            name: actor.name.clone(),
            role: actor.role.to_string(),
        }),
        created_at: rfc3339(msg.created_at),
        attachments: Vec::new(),
    })
}
