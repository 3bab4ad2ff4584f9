//! Chat transcripts and ticket drafts made from them.

use super::json::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use super::extract::{ApiJson, Auth};
use crate::app::AppState;
use crate::drafts::classify::ChatMessage;
use crate::drafts::{self, ConversationView, DraftAnswer};
use crate::error::Result;

/// `POST /conversations` body.
#[derive(Deserialize, ToSchema, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ConversationBody {
    /// The transcript: `[{role, content}]`, roles `user`, `assistant`, `agent`, `system`.
    pub messages: Vec<ChatMessage>,
}

/// Store a chat transcript (any signed-in user); draft a ticket from it next.
#[utoipa::path(post, path = "/conversations", tag = "drafts", request_body = ConversationBody,
    responses((status = 201, body = ConversationView), (status = 400), (status = 401)), security(("bearer" = [])))]
pub async fn store(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(b): ApiJson<ConversationBody>,
) -> Result<(StatusCode, Json<ConversationView>)> {
    Ok((
        StatusCode::CREATED,
        Json(drafts::store(&s.ctx, &a, b.messages).await?),
    ))
}

/// `POST /tickets/draft` body.
#[derive(Deserialize, ToSchema, Default)]
#[serde(default, deny_unknown_fields)]
pub struct DraftBody {
    /// A stored conversation (yours, or any for staff).
    pub conversation_id: Option<i64>,
    /// Or the transcript itself.
    pub messages: Option<Vec<ChatMessage>>,
}

/// Draft a ticket (title, summary, priority, category) from a conversation, for the user to
/// edit and submit with `POST /tickets` and `conversation_id`.
#[utoipa::path(post, path = "/tickets/draft", tag = "drafts", request_body = DraftBody,
    responses((status = 200, body = DraftAnswer), (status = 400), (status = 404)), security(("bearer" = [])))]
pub async fn draft(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(b): ApiJson<DraftBody>,
) -> Result<Json<DraftAnswer>> {
    Ok(Json(
        drafts::draft(&s.ctx, &a, b.conversation_id, b.messages).await?,
    ))
}
