//! The public support form, its confirmation, and the tracking-link page.

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::response::Response;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;

use super::form::WebForm;
use super::session::Viewer;
use super::thread::{self, MessageItem, TicketSummary};
use super::{FieldErrs, Layout, page, see_other};
use crate::app::AppState;
use crate::conversations;
use crate::error::{Error, Result};
use crate::tickets::model::{Channel, Priority};
use crate::tickets::service::{self, NewTicket, RequesterInput};
use crate::tickets::tracking;

/// The form's fields (also what is echoed back after an error).
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SupportForm {
    /// Name.
    pub name: String,
    /// E-mail.
    pub email: String,
    /// Category slug.
    pub category: String,
    /// Priority slug.
    pub priority: String,
    /// Subject.
    pub subject: String,
    /// Message.
    pub message: String,
    /// Page the form was opened from.
    pub page_url: String,
    /// Browser description.
    pub browser_info: String,
}

/// `/`: the support form.
#[derive(askama::Template)]
#[template(path = "form.html")]
pub struct FormPage {
    l: Layout,
    f: SupportForm,
    e: FieldErrs,
    categories: Vec<(String, String)>,
    priorities: Vec<(&'static str, &'static str)>,
    max_files: usize,
    max_mb: usize,
}

async fn form_page(s: &AppState, v: &Viewer, f: SupportForm, e: FieldErrs) -> Result<FormPage> {
    let cats = crate::tickets::categories::list(&s.ctx, false).await?;
    Ok(FormPage {
        l: Layout::new(v, "New request", "support-form"),
        f,
        e,
        categories: cats.into_iter().map(|c| (c.slug, c.name)).collect(),
        priorities: vec![
            ("low", "Low"),
            ("medium", "Medium"),
            ("high", "High"),
            ("urgent", "Urgent"),
        ],
        max_files: s.ctx.config.max_attachments,
        max_mb: s.ctx.config.max_attachment_bytes / (1024 * 1024),
    })
}

/// GET `/`.
pub async fn form(
    State(s): State<AppState>,
    v: Viewer,
    Query(q): Query<BTreeMap<String, String>>,
) -> Result<Response> {
    let f = SupportForm {
        priority: Priority::Medium.as_str().into(),
        page_url: q.get("from").cloned().unwrap_or_default(),
        name: v.actor.as_ref().map(|a| a.name.clone()).unwrap_or_default(),
        ..Default::default()
    };
    Ok(page(
        &v,
        200,
        &form_page(&s, &v, f, FieldErrs::default()).await?,
    ))
}

/// POST `/`: the form without JavaScript; errors re-render it with the values kept.
pub async fn submit(
    State(s): State<AppState>,
    v: Viewer,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    WebForm { body: f, files }: WebForm<SupportForm>,
) -> Result<Response> {
    let opt = |x: &str| (!x.trim().is_empty()).then(|| x.to_string());
    let created = service::create(
        &s.ctx,
        NewTicket {
            subject: f.subject.clone(),
            description: f.message.clone(),
            description_field: "message",
            category: f.category.clone(),
            priority: opt(&f.priority),
            tags: Vec::new(),
            channel: Channel::Web,
            requester: RequesterInput::Contact {
                name: f.name.clone(),
                email: f.email.clone(),
            },
            page_url: opt(&f.page_url),
            browser_info: opt(&f.browser_info),
            ip: Some(peer.ip().to_string()),
            conversation_id: None,
            follow_up_of: None,
            suppress_ack: false,
            attachments: files,
        },
    )
    .await;
    match created {
        Ok(t) => {
            let token = tracking::token(&s.ctx.keys, &t.number, t.requester_id);
            Ok(see_other(&format!("/submitted/{}?token={token}", t.number)))
        }
        Err(e @ Error::Validation { .. }) => {
            let errs = FieldErrs::from_error(&e);
            Ok(page(&v, 400, &form_page(&s, &v, f, errs).await?))
        }
        Err(e) => Err(e),
    }
}

/// `/submitted/{number}`: the confirmation after a form without JavaScript.
#[derive(askama::Template)]
#[template(path = "submitted.html")]
pub struct SubmittedPage {
    l: Layout,
    number: String,
    tracking_url: String,
}

/// Token in the query string of tracking pages.
#[derive(Deserialize)]
pub struct TokenQuery {
    /// Signed tracking token.
    #[serde(default)]
    pub token: String,
    /// Score picked in the resolution e-mail, preselected on the rating form.
    #[serde(default)]
    pub score: Option<i64>,
}

/// GET `/submitted/{number}?token=`.
pub async fn submitted(
    State(s): State<AppState>,
    v: Viewer,
    Path(number): Path<String>,
    Query(q): Query<TokenQuery>,
) -> Result<Response> {
    tracking::actor_for(&s.ctx, &number, &q.token).await?;
    let p = SubmittedPage {
        l: Layout::new(&v, "Request received", "submitted"),
        tracking_url: format!("/track/{number}?token={}", q.token),
        number,
    };
    Ok(page(&v, 200, &p))
}

/// `/track/{number}`: the requester's view through the signed link.
#[derive(askama::Template)]
#[template(path = "track.html")]
pub struct TrackPage {
    l: Layout,
    t: TicketSummary,
    messages: Vec<MessageItem>,
    can_reply: bool,
    reply_action: String,
    live_url: String,
    error: String,
    rate_action: String,
    preset_score: i64,
}

async fn track_page(
    s: &AppState,
    v: &Viewer,
    number: &str,
    token: &str,
    error: String,
) -> Result<TrackPage> {
    track_page_scored(s, v, number, token, error, 0).await
}

async fn track_page_scored(
    s: &AppState,
    v: &Viewer,
    number: &str,
    token: &str,
    error: String,
    preset_score: i64,
) -> Result<TrackPage> {
    let actor = tracking::actor_for(&s.ctx, number, token).await?;
    let url = |id: i64| format!("/api/v1/track/{number}/attachments/{id}?token={token}");
    let (t, messages) = thread::load(&s.ctx, &actor, number, &url).await?;
    Ok(TrackPage {
        l: Layout::new(v, t.subject.clone(), "track"),
        can_reply: t.status != "closed",
        reply_action: format!("/track/{number}/reply?token={token}"),
        rate_action: format!("/track/{number}/rate?token={token}"),
        preset_score,
        live_url: String::new(),
        t,
        messages,
        error,
    })
}

/// GET `/track/{number}?token=`.
pub async fn track(
    State(s): State<AppState>,
    v: Viewer,
    Path(number): Path<String>,
    Query(q): Query<TokenQuery>,
) -> Result<Response> {
    Ok(page(
        &v,
        200,
        &track_page_scored(
            &s,
            &v,
            &number,
            &q.token,
            String::new(),
            q.score.unwrap_or(0),
        )
        .await?,
    ))
}

/// Rating form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RateForm {
    /// 1–5.
    pub score: String,
    /// Optional words.
    pub comment: String,
}

/// POST `/track/{number}/rate?token=`.
pub async fn track_rate(
    State(s): State<AppState>,
    v: Viewer,
    Path(number): Path<String>,
    Query(q): Query<TokenQuery>,
    WebForm { body: f, .. }: WebForm<RateForm>,
) -> Result<Response> {
    let actor = tracking::actor_for(&s.ctx, &number, &q.token).await?;
    let score = f.score.trim().parse().unwrap_or(0);
    match crate::tickets::rating::rate(&s.ctx, &actor, &number, score, &f.comment).await {
        Ok(_) => Ok(see_other(&format!(
            "/track/{number}?token={}#rate",
            q.token
        ))),
        Err(e @ (Error::Db(_) | Error::Internal(_) | Error::NotFound(_))) => Err(e),
        Err(e) => Ok(page(
            &v,
            400,
            &track_page(&s, &v, &number, &q.token, super::agent::describe(&e)).await?,
        )),
    }
}

/// A reply form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ReplyForm {
    /// Text.
    pub body: String,
    /// Internal note (staff only).
    pub internal: bool,
}

/// POST `/track/{number}/reply?token=`.
pub async fn track_reply(
    State(s): State<AppState>,
    v: Viewer,
    Path(number): Path<String>,
    Query(q): Query<TokenQuery>,
    WebForm { body: f, files }: WebForm<ReplyForm>,
) -> Result<Response> {
    let actor = tracking::actor_for(&s.ctx, &number, &q.token).await?;
    match conversations::add_with_files(
        &s.ctx,
        &actor,
        &number,
        &f.body,
        false,
        Channel::Web,
        files,
    )
    .await
    {
        Ok(c) => Ok(see_other(&format!(
            "/track/{number}?token={}#m{}",
            q.token, c.id
        ))),
        Err(e @ (Error::Validation { .. } | Error::Conflict(_))) => {
            let msg = FieldErrs::from_error(&e);
            let text = if msg.general.is_empty() {
                msg.first("body")
            } else {
                format!("{} {}", msg.general, msg.first("body"))
            };
            Ok(page(
                &v,
                400,
                &track_page(&s, &v, &number, &q.token, text).await?,
            ))
        }
        Err(e) => Err(e),
    }
}
