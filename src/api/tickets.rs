//! Ticket endpoints: submit, list, create, get, edit, delete, CSV export.

use super::json::Json;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use utoipa::ToSchema;

use super::extract::{ApiJson, ApiPath, ApiQuery, Auth, Bearer};
use super::upload::JsonOrForm;
use crate::app::AppState;
use crate::auth::Actor;
use crate::db::entities::ticket;
use crate::error::{Error, Result};
use crate::tickets::model::Channel;
use crate::tickets::query::{self, Sort};
use crate::tickets::service::{self, NewTicket, RequesterInput, TicketPatch};
use crate::tickets::view::{self, TicketView};
use crate::tickets::{access, tracking};

/// The API representation of one ticket, as of the app clock.
pub async fn ticket_view(s: &AppState, t: &ticket::Model) -> Result<Json<TicketView>> {
    // Re-read after the write's commit: one statement instead of one per part of the view.
    Ok(Json(
        view::load_by_id(&s.ctx.db, t.id, s.ctx.clock.now_micros()).await?,
    ))
}

/// `POST /tickets/submit` body (the public support form).
#[derive(Deserialize, ToSchema, Default)]
#[serde(default, deny_unknown_fields)]
pub struct SubmitBody {
    /// Your name.
    pub name: String,
    /// Your email; replies and the tracking link go there.
    pub email: String,
    /// Category slug.
    pub category: String,
    /// `low`, `medium`, `high` or `urgent`.
    pub priority: Option<String>,
    /// 3–200 characters.
    pub subject: String,
    /// 10–5000 characters.
    pub message: String,
    /// Page the form was sent from.
    pub page_url: Option<String>,
    /// Browser description.
    pub browser_info: Option<String>,
}

/// `POST /tickets/submit` response.
#[derive(Serialize, ToSchema)]
pub struct SubmitResponse {
    /// Always true.
    pub success: bool,
    /// The ticket number.
    pub ticket_id: String,
    /// Category slug.
    pub category: String,
    /// Priority.
    pub priority: String,
    /// Confirmation text.
    pub message: String,
    /// Link to follow the ticket without an account.
    pub tracking_url: String,
}

/// Submit a ticket from the public form (no account needed).
#[utoipa::path(post, path = "/tickets/submit", tag = "tickets",
    request_body(content((SubmitBody = "application/json"), (SubmitBody = "multipart/form-data")), description = "JSON, or the same fields as multipart/form-data with files in `attachments`"),
    responses((status = 201, body = SubmitResponse), (status = 400)))]
pub async fn submit(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    JsonOrForm { body: b, files }: JsonOrForm<SubmitBody>,
) -> Result<(StatusCode, Json<SubmitResponse>)> {
    let t = service::create(
        &s.ctx,
        NewTicket {
            subject: b.subject,
            description: b.message,
            description_field: "message",
            category: b.category,
            priority: b.priority,
            tags: Vec::new(),
            channel: Channel::Web,
            requester: RequesterInput::Contact {
                name: b.name,
                email: b.email,
            },
            page_url: b.page_url,
            browser_info: b.browser_info,
            ip: Some(peer.ip().to_string()),
            conversation_id: None,
            follow_up_of: None,
            suppress_ack: false,
            attachments: files,
        },
    )
    .await?;
    let tracking_url = tracking::url(&s.ctx, &t);
    Ok((
        StatusCode::CREATED,
        Json(SubmitResponse {
            success: true,
            message: format!(
                "Thank you! Your ticket {} has been received. We will reply by email.",
                t.number
            ),
            ticket_id: t.number,
            category: t.category,
            priority: t.priority,
            tracking_url,
        }),
    ))
}

/// Someone for whom a ticket is created.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactBody {
    /// Name.
    pub name: String,
    /// Email.
    pub email: String,
}

/// `POST /tickets` body.
#[derive(Deserialize, ToSchema, Default)]
#[serde(default, deny_unknown_fields)]
pub struct CreateBody {
    /// 3–200 characters.
    pub subject: String,
    /// 10–5000 characters, Markdown.
    pub description: String,
    /// Category slug.
    pub category: String,
    /// Priority (default `medium`).
    pub priority: Option<String>,
    /// Labels (staff only).
    pub tags: Option<Vec<String>>,
    /// Staff: an existing user the ticket is for.
    pub requester_id: Option<i64>,
    /// Staff: a contact the ticket is for (created when unknown).
    pub requester: Option<ContactBody>,
    /// Staff: the channel it arrived by (default `api`).
    pub channel: Option<String>,
    /// Page context.
    pub page_url: Option<String>,
    /// Browser context.
    pub browser_info: Option<String>,
    /// Chat conversation this ticket was drafted from.
    pub conversation_id: Option<i64>,
}

/// Create a ticket (customers create for themselves; staff may name a requester).
#[utoipa::path(post, path = "/tickets", tag = "tickets",
    request_body(content((CreateBody = "application/json"), (CreateBody = "multipart/form-data")), description = "JSON, or multipart/form-data with files in `attachments`"),
    responses((status = 201, body = TicketView), (status = 400), (status = 401), (status = 403)),
    security(("bearer" = [])))]
pub async fn create(
    State(s): State<AppState>,
    Auth(a): Auth,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    JsonOrForm { body: b, files }: JsonOrForm<CreateBody>,
) -> Result<(StatusCode, Json<TicketView>)> {
    if !a.is_staff()
        && (b.requester_id.is_some()
            || b.requester.is_some()
            || b.tags.is_some()
            || b.channel.is_some())
    {
        return Err(Error::Forbidden(
            "customers cannot set requester, tags or channel".into(),
        ));
    }
    let requester = match (b.requester_id, b.requester) {
        (Some(_), Some(_)) => {
            return Err(Error::field(
                "requester",
                "give requester_id or requester, not both",
            ));
        }
        (Some(id), None) => RequesterInput::Id(id),
        (None, Some(c)) => RequesterInput::Contact {
            name: c.name,
            email: c.email,
        },
        (None, None) => RequesterInput::Known(a.id),
    };
    let channel = match b.channel.as_deref() {
        None => Channel::Api,
        Some(c) => Channel::parse(c).ok_or_else(|| {
            Error::field("channel", format!("must be one of: {}", Channel::choices()))
        })?,
    };
    let conversation = b.conversation_id;
    let new = NewTicket {
        subject: b.subject,
        description: b.description,
        description_field: "description",
        category: b.category,
        priority: b.priority,
        tags: b.tags.unwrap_or_default(),
        channel,
        requester,
        page_url: b.page_url,
        browser_info: b.browser_info,
        ip: Some(peer.ip().to_string()),
        conversation_id: b.conversation_id,
        follow_up_of: None,
        suppress_ack: false,
        attachments: files,
    };
    let Some(id) = conversation else {
        let view = service::create_viewed(&s.ctx, &a, new).await?;
        return Ok((StatusCode::CREATED, Json(view)));
    };
    // Drafted from a chat: the ticket and the link are one write.
    let txn = s.ctx.db.begin().await?;
    let now = s.ctx.clock.now_micros();
    let t = service::create_in(&s.ctx, &txn, new, now).await?;
    crate::drafts::link(&txn, &a, id, t.id).await?;
    txn.commit().await?;
    Ok((StatusCode::CREATED, ticket_view(&s, &t).await?))
}

/// A page of tickets.
#[derive(Serialize, ToSchema)]
pub struct TicketPage {
    /// Tickets on this page.
    pub data: Vec<TicketView>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// Parses `limit` (1–100, default 25).
pub fn parse_limit(params: &BTreeMap<String, String>) -> Result<u64> {
    query::parse_limit(params)
}

pub async fn list_for(
    s: &AppState,
    a: &Actor,
    params: &BTreeMap<String, String>,
) -> Result<TicketPage> {
    let (data, next_cursor) = query::list_views(&s.ctx, a, params).await?;
    Ok(TicketPage { data, next_cursor })
}

/// List visible tickets with filters, full-text `q`, `sort` and cursor pagination.
#[utoipa::path(get, path = "/tickets", tag = "tickets",
    params(
        ("status" = Option<String>, Query, description = "comma-separated statuses"),
        ("priority" = Option<String>, Query, description = "comma-separated priorities"),
        ("category" = Option<String>, Query), ("assignee" = Option<String>, Query, description = "user id, me or none"),
        ("requester" = Option<i64>, Query), ("tag" = Option<String>, Query), ("q" = Option<String>, Query, description = "full text"),
        ("created_after" = Option<String>, Query), ("created_before" = Option<String>, Query),
        ("sort" = Option<String>, Query, description = "default -priority,created_at"),
        ("limit" = Option<u64>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = TicketPage), (status = 400)), security(("bearer" = [])))]
pub async fn list(
    State(s): State<AppState>,
    Bearer(caller): Bearer,
    ApiQuery(params): ApiQuery<BTreeMap<String, String>>,
) -> Result<Json<TicketPage>> {
    let (_, data, next_cursor) =
        crate::tickets::page_fold::list_views_as(&s.ctx, &caller, &params).await?;
    Ok(Json(TicketPage { data, next_cursor }))
}

/// One ticket by id or number.
#[utoipa::path(get, path = "/tickets/{id}", tag = "tickets", params(("id" = String, Path, description = "id or number")),
    responses((status = 200, body = TicketView), (status = 404)), security(("bearer" = [])))]
pub async fn get(
    State(s): State<AppState>,
    Bearer(caller): Bearer,
    ApiPath(key): ApiPath<String>,
) -> Result<Json<TicketView>> {
    Ok(Json(view::load_one_as(&s.ctx, &caller, &key).await?))
}

/// `PATCH /tickets/{id}` body.
#[derive(Deserialize, ToSchema, Default)]
#[serde(default, deny_unknown_fields)]
pub struct PatchBody {
    /// New subject.
    pub subject: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New category (staff).
    pub category: Option<String>,
    /// New priority (staff).
    pub priority: Option<String>,
    /// New full tag set (staff).
    pub tags: Option<Vec<String>>,
}

/// Edit ticket fields.
#[utoipa::path(patch, path = "/tickets/{id}", tag = "tickets", params(("id" = String, Path)), request_body = PatchBody,
    responses((status = 200, body = TicketView), (status = 400), (status = 403), (status = 404), (status = 409)),
    security(("bearer" = [])))]
pub async fn patch(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(key): ApiPath<String>,
    ApiJson(b): ApiJson<PatchBody>,
) -> Result<Json<TicketView>> {
    let p = TicketPatch {
        subject: b.subject,
        description: b.description,
        category: b.category,
        priority: b.priority,
        tags: b.tags,
        add_tags: Vec::new(),
    };
    let t = service::update(&s.ctx, &a, &key, p).await?;
    ticket_view(&s, &t).await
}

/// Delete a ticket with its thread and history (admin).
#[utoipa::path(delete, path = "/tickets/{id}", tag = "tickets", params(("id" = String, Path)),
    responses((status = 204), (status = 403), (status = 404)), security(("bearer" = [])))]
pub async fn delete(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(key): ApiPath<String>,
) -> Result<StatusCode> {
    service::delete(&s.ctx, &a, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}

use crate::reports::csv::safe_cell as cell;

const CSV_HEADER: &[&str] = &[
    "number",
    "subject",
    "status",
    "priority",
    "category",
    "channel",
    "requester_name",
    "requester_email",
    "assignee",
    "tags",
    "created_at",
    "updated_at",
    "first_response_at",
    "resolved_at",
    "closed_at",
    "first_response_due_at",
    "resolution_due_at",
];

fn csv_rows(rows: &[TicketView], header: bool) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    if header {
        let _ = w.write_record(CSV_HEADER);
    }
    for t in rows {
        let o = |v: &Option<String>| v.clone().unwrap_or_default();
        let _ = w.write_record([
            t.number.clone(),
            cell(&t.subject),
            t.status.clone(),
            t.priority.clone(),
            t.category.clone(),
            t.channel.clone(),
            cell(
                &t.requester
                    .as_ref()
                    .map(|r| r.name.clone())
                    .unwrap_or_default(),
            ),
            cell(
                &t.requester
                    .as_ref()
                    .map(|r| r.email.clone())
                    .unwrap_or_default(),
            ),
            cell(
                &t.assignee
                    .as_ref()
                    .map(|r| r.name.clone())
                    .unwrap_or_default(),
            ),
            t.tags.join(" "),
            t.created_at.clone(),
            t.updated_at.clone(),
            o(&t.first_response_at),
            o(&t.resolved_at),
            o(&t.closed_at),
            o(&t.first_response_due_at),
            o(&t.resolution_due_at),
        ]);
    }
    w.into_inner().unwrap_or_default()
}

/// Export the filtered list as CSV, streamed page by page (admin).
#[utoipa::path(get, path = "/tickets/export.csv", tag = "tickets",
    responses((status = 200, content_type = "text/csv"), (status = 403)), security(("bearer" = [])))]
pub async fn export_csv(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiQuery(params): ApiQuery<BTreeMap<String, String>>,
) -> Result<Response> {
    access::require_admin(&a)?;
    let filters = query::parse_filters(&params, a.id)?;
    let sort = Sort::parse(params.get("sort").map(String::as_str))?;
    // Validate the first page before committing to a 200, so bad input still gets a JSON error.
    let first = query::page_ids(&s.ctx.db, &a, &filters, &sort, None, 500).await?;
    let state = Some((first, true));
    let stream = futures::stream::unfold(state, move |st| {
        let (s, a, filters, sort) = (s.clone(), a.clone(), filters.clone(), sort.clone());
        async move {
            let ((ids, next), header) = st?;
            let views = match view::load_many(&s.ctx.db, &ids, s.ctx.clock.now_micros()).await {
                Ok(v) => v,
                Err(e) => return Some((Err(std::io::Error::other(e.to_string())), None)),
            };
            let chunk = csv_rows(&views, header);
            let following = match next {
                None => None,
                Some(c) => {
                    match query::page_ids(&s.ctx.db, &a, &filters, &sort, Some(&c), 500).await {
                        Ok(p) => Some((p, false)),
                        Err(e) => return Some((Err(std::io::Error::other(e.to_string())), None)),
                    }
                }
            };
            Some((Ok::<_, std::io::Error>(chunk), following))
        }
    });
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"tickets.csv\"",
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}
