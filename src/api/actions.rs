//! Ticket actions: status, priority, assignment, comments, history, bulk, stats, tracking links.

use super::json::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

use super::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use super::tickets::ticket_view;
use super::upload::JsonOrForm;
use crate::app::AppState;
use crate::conversations::{self, CommentView};
use crate::error::{Error, Result};
use crate::tickets::bulk::{self, BulkResult};
use crate::tickets::changes::{self, AssignTarget};
use crate::tickets::history::{self, EventView};
use crate::tickets::model::Channel;
use crate::tickets::query::{self, Stats};
use crate::tickets::view::TicketView;
use crate::tickets::{access, tracking};

/// `PUT /tickets/{id}/status` body.
#[derive(Deserialize, ToSchema, Default)]
#[serde(default, deny_unknown_fields)]
pub struct StatusBody {
    /// Target status.
    pub status: String,
    /// Resolution note (when resolving).
    pub resolution: Option<String>,
}

/// Change status along the workflow (409 `INVALID_TRANSITION` names the allowed statuses).
#[utoipa::path(put, path = "/tickets/{id}/status", tag = "tickets", params(("id" = String, Path)), request_body = StatusBody,
    responses((status = 200, body = TicketView), (status = 400), (status = 403), (status = 404), (status = 409)),
    security(("bearer" = [])))]
pub async fn set_status(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(key): ApiPath<String>,
    ApiJson(b): ApiJson<StatusBody>,
) -> Result<Json<TicketView>> {
    let t = changes::set_status(&s.ctx, &a, &key, &b.status, b.resolution).await?;
    ticket_view(&s, &t).await
}

/// `PUT /tickets/{id}/priority` body.
#[derive(Deserialize, ToSchema, Default)]
#[serde(default, deny_unknown_fields)]
pub struct PriorityBody {
    /// New priority.
    pub priority: String,
}

/// Change priority; SLA due times are recomputed.
#[utoipa::path(put, path = "/tickets/{id}/priority", tag = "tickets", params(("id" = String, Path)), request_body = PriorityBody,
    responses((status = 200, body = TicketView), (status = 400), (status = 403), (status = 404)), security(("bearer" = [])))]
pub async fn set_priority(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(key): ApiPath<String>,
    ApiJson(b): ApiJson<PriorityBody>,
) -> Result<Json<TicketView>> {
    let t = changes::set_priority(&s.ctx, &a, &key, &b.priority).await?;
    ticket_view(&s, &t).await
}

/// `POST /tickets/{id}/assign` body: `{agent_id}` (null to unassign) or `{auto: true}`.
#[derive(Deserialize, ToSchema, Default)]
#[serde(default, deny_unknown_fields)]
pub struct AssignBody {
    /// Agent to assign; `null` unassigns.
    pub agent_id: Option<i64>,
    /// Pick the active agent with the fewest open tickets (ties round-robin).
    pub auto: bool,
}

/// Assign a ticket (admin).
#[utoipa::path(post, path = "/tickets/{id}/assign", tag = "tickets", params(("id" = String, Path)), request_body = AssignBody,
    responses((status = 200, body = TicketView), (status = 400), (status = 403), (status = 404), (status = 409)),
    security(("bearer" = [])))]
pub async fn assign(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(key): ApiPath<String>,
    ApiJson(b): ApiJson<AssignBody>,
) -> Result<Json<TicketView>> {
    let target = match (b.auto, b.agent_id) {
        (true, Some(_)) => return Err(Error::field("auto", "give agent_id or auto, not both")),
        (true, None) => AssignTarget::Auto,
        (false, Some(id)) => AssignTarget::Agent(id),
        (false, None) => AssignTarget::Nobody,
    };
    let t = changes::assign(&s.ctx, &a, &key, target).await?;
    ticket_view(&s, &t).await
}

/// The thread (customers never see internal notes).
#[utoipa::path(get, path = "/tickets/{id}/comments", tag = "comments", params(("id" = String, Path)),
    responses((status = 200, body = Vec<CommentView>), (status = 404)), security(("bearer" = [])))]
pub async fn list_comments(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(key): ApiPath<String>,
) -> Result<Json<Vec<CommentView>>> {
    Ok(Json(conversations::list(&s.ctx, &a, &key).await?))
}

/// `POST /tickets/{id}/comments` body.
#[derive(Deserialize, ToSchema, Default)]
#[serde(default, deny_unknown_fields)]
pub struct CommentBody {
    /// Markdown text, 1–20000 characters.
    pub body: String,
    /// Internal note (staff only).
    pub internal: bool,
    /// Canned reply to use (staff): filled in for this ticket when `body` is empty; with a
    /// body, the body (the agent's edited version) is sent as is.
    pub template_id: Option<i64>,
}

/// Add a public reply or an internal note.
#[utoipa::path(post, path = "/tickets/{id}/comments", tag = "comments", params(("id" = String, Path)),
    request_body(content((CommentBody = "application/json"), (CommentBody = "multipart/form-data")), description = "JSON, or multipart/form-data with files in `attachments`"),
    responses((status = 201, body = CommentView), (status = 400), (status = 403), (status = 404), (status = 409)),
    security(("bearer" = [])))]
pub async fn add_comment(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(key): ApiPath<String>,
    JsonOrForm { body: b, files }: JsonOrForm<CommentBody>,
) -> Result<(StatusCode, Json<CommentView>)> {
    let body = match b.template_id {
        Some(id) if b.body.trim().is_empty() => {
            crate::canned::render_for(&s.ctx, &a, id, &key).await?
        }
        Some(_) => {
            access::require_staff(&a)?;
            b.body
        }
        None => b.body,
    };
    let c = conversations::add_with_files(&s.ctx, &a, &key, &body, b.internal, Channel::Api, files)
        .await?;
    Ok((StatusCode::CREATED, Json(c)))
}

/// History events (customers see public events only).
#[utoipa::path(get, path = "/tickets/{id}/history", tag = "tickets", params(("id" = String, Path)),
    responses((status = 200, body = Vec<EventView>), (status = 404)), security(("bearer" = [])))]
pub async fn history(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(key): ApiPath<String>,
) -> Result<Json<Vec<EventView>>> {
    let t = access::load(&s.ctx.db, &a, &key).await?;
    Ok(Json(history::list(&s.ctx.db.read, &a, t.id).await?))
}

/// `POST /tickets/bulk` body.
#[derive(Deserialize, ToSchema, Default)]
#[serde(default, deny_unknown_fields)]
pub struct BulkBody {
    /// Ticket ids (1–100).
    pub ids: Vec<i64>,
    /// `status`, `priority`, `assign` or `tag`.
    pub action: String,
    /// Status, priority, agent id (`"auto"`, `null` to unassign) or tag to add.
    pub value: serde_json::Value,
}

/// Apply one action to many tickets; each ticket succeeds or fails on its own.
#[utoipa::path(post, path = "/tickets/bulk", tag = "tickets", request_body = BulkBody,
    responses((status = 200, body = BulkResult), (status = 400), (status = 403)), security(("bearer" = [])))]
pub async fn bulk(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(b): ApiJson<BulkBody>,
) -> Result<Json<BulkResult>> {
    Ok(Json(
        bulk::run(&s.ctx, &a, b.ids, &b.action, &b.value).await?,
    ))
}

/// Ticket counts by status, priority and category (over the tickets you can see).
#[utoipa::path(get, path = "/stats", tag = "tickets", responses((status = 200, body = Stats), (status = 403)), security(("bearer" = [])))]
pub async fn stats(State(s): State<AppState>, Auth(a): Auth) -> Result<Json<Stats>> {
    access::require_staff(&a)?;
    Ok(Json(query::stats(&s.ctx.db.read, &a).await?))
}

/// A ticket followed through its tracking link.
#[derive(Serialize, ToSchema)]
pub struct TrackedTicket {
    /// The ticket.
    pub ticket: TicketView,
    /// Its public thread.
    pub comments: Vec<CommentView>,
}

/// Follow a ticket with the token from its tracking link (no account needed).
#[utoipa::path(get, path = "/track/{number}", tag = "tickets", params(("number" = String, Path), ("token" = String, Query)),
    responses((status = 200, body = TrackedTicket), (status = 404)))]
pub async fn track(
    State(s): State<AppState>,
    ApiPath(number): ApiPath<String>,
    ApiQuery(q): ApiQuery<BTreeMap<String, String>>,
) -> Result<Json<TrackedTicket>> {
    let actor = tracking::actor_for(
        &s.ctx,
        &number,
        q.get("token").map(String::as_str).unwrap_or(""),
    )
    .await?;
    let t = access::load(&s.ctx.db, &actor, &number).await?;
    let comments = conversations::list(&s.ctx, &actor, &number).await?;
    Ok(Json(TrackedTicket {
        ticket: super::tickets::ticket_view(&s, &t).await?.0,
        comments,
    }))
}

/// Reply to a ticket through its tracking link.
#[utoipa::path(post, path = "/track/{number}/comments", tag = "tickets", params(("number" = String, Path), ("token" = String, Query)),
    request_body = CommentBody, responses((status = 201, body = CommentView), (status = 404), (status = 409)))]
pub async fn track_reply(
    State(s): State<AppState>,
    ApiPath(number): ApiPath<String>,
    ApiQuery(q): ApiQuery<BTreeMap<String, String>>,
    JsonOrForm { body: b, files }: JsonOrForm<CommentBody>,
) -> Result<(StatusCode, Json<CommentView>)> {
    let actor = tracking::actor_for(
        &s.ctx,
        &number,
        q.get("token").map(String::as_str).unwrap_or(""),
    )
    .await?;
    if b.internal || b.template_id.is_some() {
        return Err(Error::Forbidden(
            "only public replies can be sent through a tracking link".into(),
        ));
    }
    let c =
        conversations::add_with_files(&s.ctx, &actor, &number, &b.body, false, Channel::Web, files)
            .await?;
    Ok((StatusCode::CREATED, Json(c)))
}

/// `POST /tickets/{id}/merge` body.
#[derive(Deserialize, ToSchema, Default)]
#[serde(default, deny_unknown_fields)]
pub struct MergeBody {
    /// The ticket to merge into: id or number.
    #[schema(value_type = String)]
    pub into: serde_json::Value,
}

/// Merge a ticket into another (agents, admins): its messages and files join the target's
/// thread in time order, its e-mail thread follows, and it is closed with `merged_into`.
#[utoipa::path(post, path = "/tickets/{id}/merge", tag = "tickets", params(("id" = String, Path)),
    request_body = MergeBody,
    responses((status = 200, body = TicketView), (status = 400), (status = 403), (status = 404), (status = 409)),
    security(("bearer" = [])))]
pub async fn merge(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(key): ApiPath<String>,
    ApiJson(b): ApiJson<MergeBody>,
) -> Result<Json<TicketView>> {
    let into = match &b.into {
        serde_json::Value::String(v) => v.clone(),
        serde_json::Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    let t = crate::tickets::merge::merge(&s.ctx, &a, &key, &into).await?;
    ticket_view(&s, &t).await
}
