//! Conversations → ticket drafts: stored chat transcripts and the drafting of a ticket from
//! one, by an OpenAI-compatible endpoint when configured, else (or on its failure) offline.

pub mod classify;
pub mod llm;

use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde::Serialize;

use crate::auth::Actor;
use crate::context::Ctx;
use crate::db::desk_entities::conversation;
use crate::error::{Error, FieldErrors, Result, push};
use classify::{ChatMessage, Draft};

const ROLES: &[&str] = &["user", "assistant", "agent", "system"];
const MAX_MESSAGES: usize = 200;
const MAX_CONTENT: usize = 20_000;
const MAX_TOTAL: usize = 200_000;

/// A stored conversation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConversationView {
    /// Id, for `POST /tickets/draft` and `conversation_id` on `POST /tickets`.
    pub id: i64,
    /// Number of messages.
    pub messages: usize,
    /// The ticket created from it, once there is one.
    pub ticket_id: Option<i64>,
    /// When it was stored, RFC 3339.
    pub created_at: String,
}

/// A draft and where it came from.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DraftAnswer {
    /// The proposed ticket, for the user to edit and submit.
    pub ticket: Draft,
    /// `llm` or `classifier`.
    pub source: &'static str,
    /// The conversation it was drafted from, when stored.
    pub conversation_id: Option<i64>,
}

/// Checks a transcript, reporting problems by field.
pub fn check(messages: &[ChatMessage]) -> Result<()> {
    let mut errors = FieldErrors::new();
    if messages.is_empty() || messages.len() > MAX_MESSAGES {
        push(
            &mut errors,
            "messages",
            format!("must hold 1 to {MAX_MESSAGES} messages"),
        );
    }
    let mut total = 0;
    for (i, m) in messages.iter().enumerate() {
        if !ROLES.contains(&m.role.as_str()) {
            push(
                &mut errors,
                "messages",
                format!("message {i}: role must be one of {}", ROLES.join(", ")),
            );
        }
        let n = m.content.chars().count();
        total += n;
        if m.content.trim().is_empty() || n > MAX_CONTENT {
            push(
                &mut errors,
                "messages",
                format!("message {i}: content must be 1 to {MAX_CONTENT} characters"),
            );
        }
    }
    if total > MAX_TOTAL {
        push(
            &mut errors,
            "messages",
            format!("at most {MAX_TOTAL} characters in all"),
        );
    }
    if !messages.iter().any(|m| m.role == "user") {
        push(
            &mut errors,
            "messages",
            "must include at least one message from the user",
        );
    }
    Error::check(errors)
}

/// Stores a transcript for the caller.
pub async fn store(
    ctx: &Ctx,
    actor: &Actor,
    messages: Vec<ChatMessage>,
) -> Result<ConversationView> {
    check(&messages)?;
    let now = ctx.clock.now_micros();
    let row = conversation::ActiveModel {
        user_id: Set(Some(actor.id)),
        messages: Set(serde_json::to_string(&messages).map_err(|e| Error::Internal(e.into()))?),
        ticket_id: Set(None),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&ctx.db.write)
    .await?;
    Ok(ConversationView {
        id: row.id,
        messages: messages.len(),
        ticket_id: None,
        created_at: crate::clock::rfc3339(now),
    })
}

/// A conversation the actor may use: their own, or any for staff (others: 404).
pub async fn load(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    id: i64,
) -> Result<(conversation::Model, Vec<ChatMessage>)> {
    let row = conversation::Entity::find_by_id(id)
        .one(conn)
        .await?
        .filter(|c| actor.is_staff() || c.user_id == Some(actor.id))
        .ok_or(Error::NotFound("conversation"))?;
    let messages = serde_json::from_str(&row.messages).map_err(|e| Error::Internal(e.into()))?;
    Ok((row, messages))
}

/// Drafts a ticket from a stored conversation or from messages given directly.
pub async fn draft(
    ctx: &Ctx,
    actor: &Actor,
    conversation_id: Option<i64>,
    messages: Option<Vec<ChatMessage>>,
) -> Result<DraftAnswer> {
    let messages = match (conversation_id, messages) {
        (Some(id), None) => load(&ctx.db.read, actor, id).await?.1,
        (None, Some(m)) => {
            check(&m)?;
            m
        }
        _ => {
            return Err(Error::field(
                "conversation_id",
                "give either conversation_id or messages",
            ));
        }
    };
    if !ctx.config.llm_url.trim().is_empty() {
        let categories: Vec<String> = crate::tickets::categories::list(ctx, false)
            .await?
            .into_iter()
            .map(|c| c.slug)
            .collect();
        match llm::draft(&ctx.config, &messages, &categories).await {
            Ok(ticket) => {
                return Ok(DraftAnswer {
                    ticket,
                    source: "llm",
                    conversation_id,
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "language model draft failed; using the built-in classifier")
            }
        }
    }
    Ok(DraftAnswer {
        ticket: classify::draft(&messages),
        source: "classifier",
        conversation_id,
    })
}

/// Links a conversation to the ticket created from it, inside the creating transaction;
/// refuses one the actor may not use or one already linked.
pub async fn link(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    id: i64,
    ticket_id: i64,
) -> Result<()> {
    let (row, _) = load(conn, actor, id)
        .await
        .map_err(|_| Error::field("conversation_id", "no such conversation"))?;
    if row.ticket_id.is_some() {
        return Err(Error::field("conversation_id", "already has a ticket"));
    }
    conversation::Entity::update_many()
        .col_expr(conversation::Column::TicketId, Expr::value(ticket_id))
        .filter(conversation::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}
