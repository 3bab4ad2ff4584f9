//! Ticket actions: status, priority, assignment, comments, history, bulk, stats, tracking links.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

use super::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use super::tickets::ticket_view;
use crate::app::AppState;
use crate::auth::Actor;
use crate::conversations::{self, CommentView};
use crate::error::{Error, Result};
use crate::tickets::changes::{self, AssignTarget};
use crate::tickets::history::{self, EventView};
use crate::tickets::model::Channel;
use crate::tickets::query::{self, Stats};
use crate::tickets::view::TicketView;
use crate::tickets::{access, service, tracking};

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
    /// Canned response to use (arrives with the templates issue).
    pub template_id: Option<i64>,
}

/// Add a public reply or an internal note.
#[utoipa::path(post, path = "/tickets/{id}/comments", tag = "comments", params(("id" = String, Path)), request_body = CommentBody,
    responses((status = 201, body = CommentView), (status = 400), (status = 403), (status = 404), (status = 409)),
    security(("bearer" = [])))]
pub async fn add_comment(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(key): ApiPath<String>,
    ApiJson(b): ApiJson<CommentBody>,
) -> Result<(StatusCode, Json<CommentView>)> {
    if b.template_id.is_some() {
        return Err(Error::field(
            "template_id",
            "templates are not available on this server yet",
        ));
    }
    let c = conversations::add(&s.ctx, &a, &key, &b.body, b.internal, Channel::Api).await?;
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
    let t = access::load(&s.ctx.db.read, &a, &key).await?;
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

/// One ticket that a bulk action could not change.
#[derive(Serialize, ToSchema)]
pub struct BulkFailure {
    /// Ticket id.
    pub id: i64,
    /// Error code.
    pub code: String,
    /// Why.
    pub message: String,
}

/// Result of a bulk action.
#[derive(Serialize, ToSchema)]
pub struct BulkResult {
    /// Ids changed.
    pub updated: Vec<i64>,
    /// Ids not changed, with reasons.
    pub failed: Vec<BulkFailure>,
}

async fn bulk_one(
    s: &AppState,
    a: &Actor,
    id: i64,
    action: &str,
    value: &serde_json::Value,
) -> Result<()> {
    let key = id.to_string();
    let text = || {
        value
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| Error::field("value", "must be a string"))
    };
    match action {
        "status" => changes::set_status(&s.ctx, a, &key, &text()?, None)
            .await
            .map(|_| ()),
        "priority" => changes::set_priority(&s.ctx, a, &key, &text()?)
            .await
            .map(|_| ()),
        "assign" => {
            let target = match value {
                serde_json::Value::Null => AssignTarget::Nobody,
                serde_json::Value::String(v) if v == "auto" => AssignTarget::Auto,
                v => AssignTarget::Agent(v.as_i64().ok_or_else(|| {
                    Error::field("value", "must be an agent id, \"auto\" or null")
                })?),
            };
            changes::assign(&s.ctx, a, &key, target).await.map(|_| ())
        }
        "tag" => {
            let patch = service::TicketPatch {
                add_tags: vec![text()?],
                ..Default::default()
            };
            service::update(&s.ctx, a, &key, patch).await.map(|_| ())
        }
        _ => Err(Error::field(
            "action",
            "must be one of: status, priority, assign, tag",
        )),
    }
}

/// Apply one action to many tickets; each ticket succeeds or fails on its own.
#[utoipa::path(post, path = "/tickets/bulk", tag = "tickets", request_body = BulkBody,
    responses((status = 200, body = BulkResult), (status = 400), (status = 403)), security(("bearer" = [])))]
pub async fn bulk(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(b): ApiJson<BulkBody>,
) -> Result<Json<BulkResult>> {
    access::require_staff(&a)?;
    if b.ids.is_empty() || b.ids.len() > 100 {
        return Err(Error::field("ids", "must hold 1 to 100 ticket ids"));
    }
    if !["status", "priority", "assign", "tag"].contains(&b.action.as_str()) {
        return Err(Error::field(
            "action",
            "must be one of: status, priority, assign, tag",
        ));
    }
    if b.action == "assign" {
        access::require_admin(&a)?;
    }
    let mut out = BulkResult {
        updated: Vec::new(),
        failed: Vec::new(),
    };
    let mut seen = Vec::new();
    for id in b.ids {
        if seen.contains(&id) {
            continue;
        }
        seen.push(id);
        match bulk_one(&s, &a, id, &b.action, &b.value).await {
            Ok(()) => out.updated.push(id),
            Err(e @ (Error::Db(_) | Error::Internal(_))) => return Err(e),
            Err(e) => {
                let code = match &e {
                    Error::Validation { .. } => "VALIDATION_ERROR",
                    Error::NotFound(_) => "NOT_FOUND",
                    Error::Forbidden(_) => "FORBIDDEN",
                    Error::InvalidTransition { .. } => "INVALID_TRANSITION",
                    _ => "CONFLICT",
                };
                let message = match &e {
                    Error::Validation { errors, .. } => errors
                        .iter()
                        .map(|(k, v)| format!("{k}: {}", v.join("; ")))
                        .collect::<Vec<_>>()
                        .join(", "),
                    other => other.to_string(),
                };
                out.failed.push(BulkFailure {
                    id,
                    code: code.into(),
                    message,
                });
            }
        }
    }
    Ok(Json(out))
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
    let t = access::load(&s.ctx.db.read, &actor, &number).await?;
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
    ApiJson(b): ApiJson<CommentBody>,
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
    let c = conversations::add(&s.ctx, &actor, &number, &b.body, false, Channel::Web).await?;
    Ok((StatusCode::CREATED, Json(c)))
}
