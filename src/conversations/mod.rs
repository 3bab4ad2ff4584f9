//! Ticket threads: public replies and internal notes, and the status moves a reply causes.

use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QueryTrait, Set,
};
use serde::Serialize;
use std::collections::HashMap;

use crate::attachments;
pub use crate::attachments::AttachmentView;
use crate::auth::Actor;
use crate::clock::rfc3339;
use crate::context::Ctx;
use crate::db::entities::{message, ticket, user};
use crate::db::pipeline::Pipeline;
use crate::db::tx::{self, OnHandle, Tx};
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
    /// Channel it arrived through (`api`, `web`, `portal`, `email`).
    pub channel: String,
    /// Quoted history of an e-mail reply, collapsed for display (`null` when none).
    pub quoted: Option<String>,
}

async fn views(
    conn: &(impl ConnectionTrait + Tx),
    msgs: Vec<message::Model>,
) -> Result<Vec<CommentView>> {
    let ids: Vec<i64> = msgs.iter().filter_map(|m| m.author_id).collect();
    let people: HashMap<i64, user::Model> = user::Entity::find()
        .filter(user::Column::Id.is_in(ids))
        .all(conn)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    let files = attachments::for_messages(conn, msgs.iter().map(|m| m.id).collect()).await?;
    Ok(msgs
        .into_iter()
        .map(|m| CommentView {
            id: m.id,
            author: m.author_id.and_then(|id| people.get(&id)).map(|u| Author {
                id: u.id,
                name: u.name.clone(),
                role: u.role.clone(),
            }),
            created_at: rfc3339(m.created_at),
            attachments: files
                .iter()
                .filter(|f| f.message_row == Some(m.id))
                .map(AttachmentView::from)
                .collect(),
            body: m.body,
            internal: m.internal,
            channel: m.channel,
            quoted: m.quoted,
        })
        .collect())
}

/// The thread of a visible ticket, oldest first; customers never get internal notes.
pub async fn list(ctx: &Ctx, actor: &Actor, key: &str) -> Result<Vec<CommentView>> {
    let t = access::load(&ctx.db, actor, key).await?;
    let mut q = message::Entity::find().filter(message::Column::TicketId.eq(t.id));
    if !actor.is_staff() {
        q = q.filter(message::Column::Internal.eq(false));
    }
    // Time order: a merge brings in older messages with newer ids.
    let msgs = q
        .order_by_asc(message::Column::CreatedAt)
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
    add_with_files(ctx, actor, key, body, internal, channel, Vec::new()).await
}

/// `add`, with uploaded files attached to the new message in the same transaction.
pub async fn add_with_files(
    ctx: &Ctx,
    actor: &Actor,
    key: &str,
    body: &str,
    internal: bool,
    channel: Channel,
    files: Vec<attachments::NewAttachment>,
) -> Result<CommentView> {
    let body = check_body(body)?;
    let (c, who, key) = (ctx.clone(), actor.clone(), key.to_string());
    let reply = Reply {
        body,
        internal,
        channel,
        quoted: None,
        message_id: None,
        files,
    };
    // Concurrent replies share one durable commit on SQLite (see `db::group`), written on
    // the writer's own handle.
    let (msg, stored) = if ctx.db.group.runs_direct() {
        ctx.db
            .group
            .run_direct(move |db| tx::finish(add_in(&c, &OnHandle(db), &who, &key, reply)))
            .await?
    } else {
        ctx.db
            .group
            .run(move |txn| Box::pin(async move { add_in(&c, txn, &who, &key, reply).await }))
            .await?
    };
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
        attachments: stored.iter().map(AttachmentView::from).collect(),
        channel: msg.channel,
        quoted: msg.quoted,
    })
}

/// Appends `reply` to the ticket `key` inside `txn`; the new message and its files.
async fn add_in(
    ctx: &Ctx,
    txn: &impl Tx,
    who: &Actor,
    key: &str,
    reply: Reply,
) -> Result<(
    message::Model,
    Vec<crate::db::mail_entities::attachment::Model>,
)> {
    let t = access::load_for_update(txn, who, key).await?;
    if reply.internal && !who.is_staff() {
        return Err(Error::Forbidden(
            "only agents and admins may add internal notes".into(),
        ));
    }
    let with_files = !reply.files.is_empty();
    let now = ctx.clock.now_micros();
    let mut writes = Pipeline::for_backend(txn.backend());
    let msg = append(ctx, txn, &t, who, reply, now, &mut writes).await?;
    txn.run(writes).await?;
    let stored = if with_files {
        attachments::for_messages(txn, vec![msg.id]).await?
    } else {
        Vec::new()
    };
    Ok((msg, stored))
}

/// Trims a message body and checks its length.
pub fn check_body(body: &str) -> Result<String> {
    let body = body.trim();
    let len = body.chars().count();
    if !(1..=MAX_BODY_CHARS).contains(&len) {
        return Err(Error::field("body", "must be 1 to 20000 characters"));
    }
    Ok(body.to_string())
}

/// Longest message body, in characters.
pub const MAX_BODY_CHARS: usize = 20_000;

/// A message to append to a thread.
pub struct Reply {
    /// Checked body.
    pub body: String,
    /// Internal note.
    pub internal: bool,
    /// Channel it came through.
    pub channel: Channel,
    /// Quoted history of an e-mail reply.
    pub quoted: Option<String>,
    /// Message-ID of the e-mail it came in.
    pub message_id: Option<String>,
    /// Stored files to attach.
    pub files: Vec<attachments::NewAttachment>,
}

/// Appends a message to a ticket already loaded (and locked) in `txn`, applying the status
/// moves of a customer-side reply and the first-response time of a staff reply; the caller has
/// checked that `actor` may write here (the API by visibility, mail intake by its evidence).
/// The ticket's update, history and event job are queued on `writes` for the caller to run.
pub async fn append(
    ctx: &Ctx,
    txn: &impl Tx,
    t: &ticket::Model,
    actor: &Actor,
    reply: Reply,
    now: i64,
    writes: &mut Pipeline,
) -> Result<message::Model> {
    let window = ctx.config.reopen_window_days;
    let from = Status::parse(&t.status).unwrap_or(Status::Open);
    let customer_side = !reply.internal && !actor.is_staff();
    let mut moved = None;
    if customer_side && let Some(to) = workflow::after_customer_reply(from) {
        workflow::check(from, to, t.closed_at, now, window).map_err(|why| match why {
            workflow::Refusal::WindowExpired => Error::Conflict(
                "this ticket is closed and can no longer be reopened; please open a new ticket"
                    .into(),
            ),
            other => refusal(from, to, other),
        })?;
        moved = Some(to);
    }
    let internal = reply.internal;
    let msg = message::ActiveModel {
        ticket_id: Set(t.id),
        author_id: Set(Some(actor.id)),
        body: Set(reply.body),
        internal: Set(internal),
        channel: Set(reply.channel.as_str().into()),
        created_at: Set(now),
        quoted: Set(reply.quoted),
        message_id: Set(reply.message_id),
        ..Default::default()
    };
    let msg = tx::insert_returning::<message::Entity, message::Model>(
        txn,
        message::Entity::insert(msg).into_query(),
    )
    .await?
    .ok_or_else(|| Error::Internal(anyhow::anyhow!("message row not stored")))?;
    attachments::record(txn, t.id, Some(msg.id), reply.files, now).await?;
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
    ctx.catalog.refresh_sla(txn, &mut am, now).await?;
    am.updated_at = Set(now);
    // The ticket's update, its history and the event job go to the writer in one call.
    writes.push(&ticket::Entity::update(am).validate()?.into_query());
    history::queue(writes, t.id, Some(actor.id), changes, now);
    if !internal {
        crate::jobs::queue_event(
            writes,
            "comment.created",
            t.id,
            Some(actor.id),
            serde_json::json!({"comment_id": msg.id}),
            now,
        );
    }
    Ok(msg)
}
