//! Admin endpoints for notifications: webhooks, the delivery log (retry/cancel), e-mail
//! templates, and inbound mail (raw intake and its log).

use super::json::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use sea_orm::{
    ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, sea_query::OnConflict,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

use super::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use crate::app::AppState;
use crate::clock::rfc3339;
use crate::db::mail_entities::{inbound_mail, mail_template};
use crate::error::{Error, Result};
use crate::jobs::log::{self, DeliveryView, LogFilter};
use crate::jobs::queue;
use crate::mail::templates::{self, Template};
use crate::notify::webhooks::{self, WebhookInput, WebhookView};
use crate::tickets::access::require_admin;

/// List webhooks (admin).
#[utoipa::path(get, path = "/webhooks", tag = "notifications",
    responses((status = 200, body = Vec<WebhookView>)), security(("bearer" = [])))]
pub async fn list_webhooks(
    State(s): State<AppState>,
    Auth(a): Auth,
) -> Result<Json<Vec<WebhookView>>> {
    require_admin(&a)?;
    Ok(Json(webhooks::list(&s.ctx).await?))
}

/// Create a webhook (admin).
#[utoipa::path(post, path = "/webhooks", tag = "notifications", request_body = WebhookInput,
    responses((status = 201, body = WebhookView), (status = 400)), security(("bearer" = [])))]
pub async fn create_webhook(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(b): ApiJson<WebhookInput>,
) -> Result<(StatusCode, Json<WebhookView>)> {
    require_admin(&a)?;
    Ok((
        StatusCode::CREATED,
        Json(webhooks::create(&s.ctx, b).await?),
    ))
}

/// Update a webhook (admin); absent fields stay.
#[utoipa::path(patch, path = "/webhooks/{id}", tag = "notifications", params(("id" = i64, Path)),
    request_body = WebhookInput, responses((status = 200, body = WebhookView), (status = 404)), security(("bearer" = [])))]
pub async fn patch_webhook(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<WebhookInput>,
) -> Result<Json<WebhookView>> {
    require_admin(&a)?;
    Ok(Json(webhooks::update(&s.ctx, id, b).await?))
}

/// Delete a webhook (admin).
#[utoipa::path(delete, path = "/webhooks/{id}", tag = "notifications", params(("id" = i64, Path)),
    responses((status = 204), (status = 404)), security(("bearer" = [])))]
pub async fn delete_webhook(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode> {
    require_admin(&a)?;
    webhooks::delete(&s.ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A page of the delivery log.
#[derive(Serialize, ToSchema)]
pub struct DeliveryPage {
    /// Deliveries, newest first.
    pub data: Vec<DeliveryView>,
    /// Cursor for the next page.
    pub next_cursor: Option<String>,
}

/// Delivery log of e-mails and webhooks (admin): filters `channel` (email|webhook), `status`,
/// `ticket_id`; `limit` ≤ 100 and `cursor`.
#[utoipa::path(get, path = "/notifications/log", tag = "notifications",
    params(("channel" = Option<String>, Query), ("status" = Option<String>, Query), ("ticket_id" = Option<i64>, Query),
           ("limit" = Option<u64>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = DeliveryPage), (status = 403)), security(("bearer" = [])))]
pub async fn delivery_log(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiQuery(p): ApiQuery<BTreeMap<String, String>>,
) -> Result<Json<DeliveryPage>> {
    require_admin(&a)?;
    let int = |k: &str| -> Result<Option<i64>> {
        p.get(k)
            .filter(|v| !v.trim().is_empty())
            .map(|v| {
                v.trim()
                    .parse::<i64>()
                    .map_err(|_| Error::field(k, "must be an integer"))
            })
            .transpose()
    };
    let f = LogFilter {
        channel: p.get("channel").filter(|v| !v.is_empty()).cloned(),
        status: p.get("status").filter(|v| !v.is_empty()).cloned(),
        ticket_id: int("ticket_id")?,
        before_id: int("cursor")?,
    };
    let limit = super::tickets::parse_limit(&p)?;
    let (data, next) = log::list(&s.ctx.db.read, &f, limit).await?;
    Ok(Json(DeliveryPage {
        data,
        next_cursor: next.map(|n| n.to_string()),
    }))
}

/// Send a delivery again now (admin): dead, bounced, cancelled or skipped ones start over.
#[utoipa::path(post, path = "/notifications/log/{id}/retry", tag = "notifications", params(("id" = i64, Path)),
    responses((status = 204), (status = 409)), security(("bearer" = [])))]
pub async fn retry_delivery(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode> {
    require_admin(&a)?;
    if queue::retry(&s.ctx.db.write, id, s.ctx.clock.now_micros()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Error::Conflict(
            "only a queued, dead, bounced, cancelled or skipped delivery can be retried".into(),
        ))
    }
}

/// Cancel a delivery that has not gone out (admin).
#[utoipa::path(post, path = "/notifications/log/{id}/cancel", tag = "notifications", params(("id" = i64, Path)),
    responses((status = 204), (status = 409)), security(("bearer" = [])))]
pub async fn cancel_delivery(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode> {
    require_admin(&a)?;
    if queue::cancel(&s.ctx.db.write, id, s.ctx.clock.now_micros()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Error::Conflict(
            "only a queued or dead delivery can be cancelled".into(),
        ))
    }
}

/// E-mail templates in force (admin).
#[utoipa::path(get, path = "/mail-templates", tag = "notifications",
    responses((status = 200, body = Vec<Template>)), security(("bearer" = [])))]
pub async fn list_mail_templates(
    State(s): State<AppState>,
    Auth(a): Auth,
) -> Result<Json<Vec<Template>>> {
    require_admin(&a)?;
    let mut out = Vec::new();
    for n in templates::names() {
        out.push(templates::load(&s.ctx.db.read, n).await?);
    }
    Ok(Json(out))
}

/// `PUT /mail-templates/{name}` body (minijinja; HTML values are escaped automatically).
#[derive(Deserialize, ToSchema, Default)]
#[serde(default, deny_unknown_fields)]
pub struct TemplateBody {
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text_body: String,
    /// HTML body.
    pub html_body: String,
}

/// Override a built-in e-mail template (admin); it must render against sample data.
#[utoipa::path(put, path = "/mail-templates/{name}", tag = "notifications", params(("name" = String, Path)),
    request_body = TemplateBody, responses((status = 200, body = Template), (status = 400), (status = 404)), security(("bearer" = [])))]
pub async fn put_mail_template(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(name): ApiPath<String>,
    ApiJson(b): ApiJson<TemplateBody>,
) -> Result<Json<Template>> {
    require_admin(&a)?;
    let base = templates::load(&s.ctx.db.read, &name).await?;
    let t = Template {
        name: base.name.clone(),
        subject: b.subject,
        text_body: b.text_body,
        html_body: b.html_body,
        overridden: true,
    };
    let mut errors = crate::error::FieldErrors::new();
    for (field, v) in [
        ("subject", &t.subject),
        ("text_body", &t.text_body),
        ("html_body", &t.html_body),
    ] {
        if v.trim().is_empty() || v.len() > 50_000 {
            crate::error::push(&mut errors, field, "must be 1 to 50000 characters");
        }
    }
    Error::check(errors)?;
    templates::check(&t)?;
    let row = mail_template::ActiveModel {
        name: Set(t.name.clone()),
        subject: Set(t.subject.clone()),
        text_body: Set(t.text_body.clone()),
        html_body: Set(t.html_body.clone()),
        updated_at: Set(s.ctx.clock.now_micros()),
    };
    mail_template::Entity::insert(row)
        .on_conflict(
            OnConflict::column(mail_template::Column::Name)
                .update_columns([
                    mail_template::Column::Subject,
                    mail_template::Column::TextBody,
                    mail_template::Column::HtmlBody,
                    mail_template::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(&s.ctx.db.write)
        .await?;
    Ok(Json(t))
}

/// Go back to the built-in template (admin).
#[utoipa::path(delete, path = "/mail-templates/{name}", tag = "notifications", params(("name" = String, Path)),
    responses((status = 204), (status = 404)), security(("bearer" = [])))]
pub async fn reset_mail_template(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode> {
    require_admin(&a)?;
    templates::load(&s.ctx.db.read, &name).await?;
    mail_template::Entity::delete_by_id(name)
        .exec(&s.ctx.db.write)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What intake did with one message.
#[derive(Serialize, ToSchema)]
pub struct IntakeView {
    /// `created`, `follow_up`, `threaded`, `duplicate`, `ignored` or `bounce`.
    pub outcome: String,
    /// Ticket concerned.
    pub ticket_id: Option<i64>,
    /// Details (why it was ignored, how it was threaded).
    pub detail: String,
}

/// Take in one raw RFC 822 message (admin; for mail gateways that post over HTTP).
#[utoipa::path(post, path = "/mail/inbound", tag = "notifications", request_body(content = String, content_type = "message/rfc822"),
    responses((status = 200, body = IntakeView), (status = 400)), security(("bearer" = [])))]
pub async fn inbound(
    State(s): State<AppState>,
    Auth(a): Auth,
    body: Bytes,
) -> Result<Json<IntakeView>> {
    require_admin(&a)?;
    let out = crate::mail::inbound::receive(&s.ctx, &body).await?;
    Ok(Json(IntakeView {
        outcome: out.name().into(),
        ticket_id: out.ticket_id(),
        detail: format!("{out:?}"),
    }))
}

/// One inbound message in the log.
#[derive(Serialize, ToSchema)]
pub struct InboundLogView {
    /// Id.
    pub id: i64,
    /// Message-ID.
    pub message_id: Option<String>,
    /// Sender.
    pub sender: String,
    /// Subject.
    pub subject: String,
    /// Outcome.
    pub outcome: String,
    /// Why.
    pub reason: String,
    /// Ticket.
    pub ticket_id: Option<i64>,
    /// When.
    pub created_at: String,
}

/// Recent inbound mail and what happened to it (admin), newest first; `limit` ≤ 100.
#[utoipa::path(get, path = "/mail/inbound", tag = "notifications", params(("limit" = Option<u64>, Query), ("outcome" = Option<String>, Query)),
    responses((status = 200, body = Vec<InboundLogView>)), security(("bearer" = [])))]
pub async fn inbound_log(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiQuery(p): ApiQuery<BTreeMap<String, String>>,
) -> Result<Json<Vec<InboundLogView>>> {
    require_admin(&a)?;
    let limit = super::tickets::parse_limit(&p)?;
    let mut q = inbound_mail::Entity::find();
    if let Some(o) = p.get("outcome").filter(|o| !o.is_empty()) {
        q = q.filter(inbound_mail::Column::Outcome.eq(o.as_str()));
    }
    let rows = q
        .order_by_desc(inbound_mail::Column::Id)
        .limit(limit)
        .all(&s.ctx.db.read)
        .await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| InboundLogView {
                id: r.id,
                message_id: r.message_id,
                sender: r.sender,
                subject: r.subject,
                outcome: r.outcome,
                reason: r.reason,
                ticket_id: r.ticket_id,
                created_at: rfc3339(r.created_at),
            })
            .collect(),
    ))
}
