//! Webhook destinations (admin CRUD) and the jobs an event makes for them. The payload's data
//! is captured at fan-out; the body is finished (and signed) at send time.

use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, QueryOrder, Set};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::fanout::Facts;
use crate::clock::rfc3339;
use crate::context::Ctx;
use crate::db::mail_entities::webhook;
use crate::error::{Error, FieldErrors, Result, push};
use crate::jobs::{Channel, NewJob};

/// Events a webhook can subscribe to.
pub const EVENTS: &[&str] = &[
    "ticket.created",
    "ticket.updated",
    "ticket.status_changed",
    "ticket.assigned",
    "comment.created",
    "sla.warning",
    "sla.breached",
    "ticket.rated",
    "ticket.merged",
];

const KINDS: &[&str] = &["discord", "slack", "generic"];

/// A webhook as the API shows it (the secret is never shown).
#[derive(Serialize, ToSchema)]
pub struct WebhookView {
    /// Id.
    pub id: i64,
    /// Label.
    pub name: String,
    /// Destination URL.
    pub url: String,
    /// `discord`, `slack` or `generic`.
    pub kind: String,
    /// Subscribed events.
    pub events: Vec<String>,
    /// Whether a signing secret is set.
    pub has_secret: bool,
    /// Enabled.
    pub active: bool,
    /// Requests per minute to this destination before messages are held (and, for chat
    /// destinations, coalesced into one digest).
    pub rate_per_minute: i32,
    /// Held until (after the receiver answered 429).
    pub blocked_until: Option<String>,
    /// Created.
    pub created_at: String,
    /// Updated.
    pub updated_at: String,
}

impl From<webhook::Model> for WebhookView {
    fn from(w: webhook::Model) -> Self {
        WebhookView {
            id: w.id,
            name: w.name,
            events: serde_json::from_str(&w.events).unwrap_or_default(),
            url: w.url,
            kind: w.kind,
            has_secret: w.secret.as_deref().is_some_and(|s| !s.is_empty()),
            active: w.active,
            rate_per_minute: w.rate_per_minute,
            blocked_until: w.blocked_until.map(rfc3339),
            created_at: rfc3339(w.created_at),
            updated_at: rfc3339(w.updated_at),
        }
    }
}

/// Create/update input; on update, absent fields stay as they are.
#[derive(Deserialize, ToSchema, Default)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookInput {
    /// Label.
    pub name: Option<String>,
    /// `http(s)://…`.
    pub url: Option<String>,
    /// `discord`, `slack` or `generic`.
    pub kind: Option<String>,
    /// Events, e.g. `["ticket.created"]`.
    pub events: Option<Vec<String>>,
    /// HMAC secret for generic webhooks (empty string removes it).
    pub secret: Option<String>,
    /// Enabled (default true).
    pub active: Option<bool>,
    /// 1–600 (default 30).
    pub rate_per_minute: Option<i32>,
}

fn check(input: &WebhookInput, creating: bool) -> Result<()> {
    let mut e = FieldErrors::new();
    match &input.url {
        Some(u) => match reqwest::Url::parse(u.trim()) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {}
            _ => push(&mut e, "url", "must be an http:// or https:// URL"),
        },
        None if creating => push(&mut e, "url", "is required"),
        None => {}
    }
    match &input.kind {
        Some(k) if !KINDS.contains(&k.as_str()) => {
            push(&mut e, "kind", "must be discord, slack or generic")
        }
        None if creating => push(&mut e, "kind", "is required"),
        _ => {}
    }
    match &input.events {
        Some(ev) if ev.is_empty() => push(&mut e, "events", "must name at least one event"),
        Some(ev) => {
            for x in ev {
                if !EVENTS.contains(&x.as_str()) {
                    push(
                        &mut e,
                        "events",
                        format!("unknown event {x:?}; one of {}", EVENTS.join(", ")),
                    );
                }
            }
        }
        None if creating => push(&mut e, "events", "is required"),
        None => {}
    }
    if let Some(r) = input.rate_per_minute
        && !(1..=600).contains(&r)
    {
        push(&mut e, "rate_per_minute", "must be 1 to 600");
    }
    if input.name.as_ref().is_some_and(|n| n.chars().count() > 100) {
        push(&mut e, "name", "must be at most 100 characters");
    }
    if input.secret.as_ref().is_some_and(|s| s.len() > 200) {
        push(&mut e, "secret", "must be at most 200 characters");
    }
    Error::check(e)
}

/// Lists webhooks.
pub async fn list(ctx: &Ctx) -> Result<Vec<WebhookView>> {
    Ok(webhook::Entity::find()
        .order_by_asc(webhook::Column::Id)
        .all(&ctx.db.read)
        .await?
        .into_iter()
        .map(WebhookView::from)
        .collect())
}

/// Creates a webhook.
pub async fn create(ctx: &Ctx, input: WebhookInput) -> Result<WebhookView> {
    check(&input, true)?;
    let now = ctx.clock.now_micros();
    let url = input.url.unwrap_or_default().trim().to_string();
    let m = webhook::ActiveModel {
        name: Set(input.name.unwrap_or_else(|| url.clone()).trim().to_string()),
        url: Set(url),
        kind: Set(input.kind.unwrap_or_default()),
        events: Set(json!(input.events.unwrap_or_default()).to_string()),
        secret: Set(input.secret.filter(|s| !s.is_empty())),
        active: Set(input.active.unwrap_or(true)),
        rate_per_minute: Set(input.rate_per_minute.unwrap_or(30)),
        blocked_until: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&ctx.db.write)
    .await?;
    ctx.catalog.changed();
    Ok(m.into())
}

/// Updates a webhook.
pub async fn update(ctx: &Ctx, id: i64, input: WebhookInput) -> Result<WebhookView> {
    check(&input, false)?;
    let w = webhook::Entity::find_by_id(id)
        .one(&ctx.db.write)
        .await?
        .ok_or(Error::NotFound("webhook"))?;
    let mut am: webhook::ActiveModel = w.into();
    if let Some(n) = input.name {
        am.name = Set(n.trim().to_string());
    }
    if let Some(u) = input.url {
        am.url = Set(u.trim().to_string());
    }
    if let Some(k) = input.kind {
        am.kind = Set(k);
    }
    if let Some(ev) = input.events {
        am.events = Set(json!(ev).to_string());
    }
    if let Some(s) = input.secret {
        am.secret = Set((!s.is_empty()).then_some(s));
    }
    if let Some(a) = input.active {
        am.active = Set(a);
    }
    if let Some(r) = input.rate_per_minute {
        am.rate_per_minute = Set(r);
    }
    am.updated_at = Set(ctx.clock.now_micros());
    let updated = am.update(&ctx.db.write).await?;
    ctx.catalog.changed();
    Ok(updated.into())
}

/// Deletes a webhook (queued deliveries to it are then skipped).
pub async fn delete(ctx: &Ctx, id: i64) -> Result<()> {
    let r = webhook::Entity::delete_by_id(id)
        .exec(&ctx.db.write)
        .await?;
    if r.rows_affected == 0 {
        return Err(Error::NotFound("webhook"));
    }
    ctx.catalog.changed();
    Ok(())
}

/// Jobs for every active webhook subscribed to `event`.
pub async fn jobs_for(
    ctx: &Ctx,
    conn: &impl ConnectionTrait,
    event_key: &str,
    event: &str,
    f: &Facts<'_>,
    now: i64,
) -> Result<Vec<NewJob>> {
    let hooks: Vec<webhook::Model> = ctx
        .catalog
        .webhooks(&ctx.db)
        .await?
        .iter()
        .filter(|w| {
            serde_json::from_str::<Vec<String>>(&w.events)
                .is_ok_and(|ev| ev.iter().any(|e| e == event))
        })
        .cloned()
        .collect();
    if hooks.is_empty() {
        return Ok(Vec::new());
    }
    let data = event_data(ctx, conn, f, now).await?;
    Ok(hooks
        .into_iter()
        .map(|w| NewJob {
            kind: format!("webhook.{}", w.kind),
            channel: Channel::Webhook,
            target: Some(w.url.clone()),
            ticket_id: Some(f.t.id),
            payload: json!({"webhook_id": w.id, "event": event, "data": data}),
            key: uuid::Uuid::new_v5(
                &uuid::Uuid::NAMESPACE_OID,
                format!("{event_key}|{}", w.id).as_bytes(),
            )
            .to_string(),
            run_at: now,
            max_attempts: ctx.config.job_max_attempts,
        })
        .collect())
}

/// `data` of a webhook body: the ticket as the API shows it, plus the event's details.
async fn event_data(
    ctx: &Ctx,
    conn: &impl ConnectionTrait,
    f: &Facts<'_>,
    now: i64,
) -> Result<Value> {
    let view = crate::tickets::view::load_by_id_on(conn, f.t.id, now).await?;
    let mut data = json!({
        "ticket": view,
        "url": format!("{}/agent/tickets/{}", ctx.config.public_base_url(), f.t.number),
    });
    if let Some(c) = f.comment {
        data["comment"] = json!({
            "id": c.id, "body": c.body, "created_at": rfc3339(c.created_at),
            "author": f.actor.map(|a| json!({"id": a.id, "name": a.name, "role": a.role})),
        });
    }
    if let Some(actor) = f.actor {
        data["actor"] = json!({"id": actor.id, "name": actor.name});
    }
    if let Some(obj) = f.data.as_object() {
        for (k, v) in obj {
            if !matches!(k.as_str(), "comment_id" | "suppress_ack" | "number") {
                data[k] = v.clone();
            }
        }
    }
    Ok(data)
}
