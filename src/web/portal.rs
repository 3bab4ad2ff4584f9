//! The customer portal: own tickets with counts, search and filters; a ticket page with the
//! thread, replies with files, reopening, and live updates.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use std::collections::BTreeMap;

use super::agent::urlencode;
use super::form::WebForm;
use super::public::ReplyForm;
use super::session::Viewer;
use super::thread::{self, MessageItem, TicketSummary, human_time};
use super::{Layout, Need, page, require, see_other};
use crate::app::AppState;
use crate::error::Result;
use crate::tickets::model::Channel;
use crate::tickets::{changes, query};

/// A ticket card.
pub struct Card {
    number: String,
    subject: String,
    status: String,
    status_label: String,
    updated_at: String,
}

/// `/portal`.
#[derive(askama::Template)]
#[template(path = "portal.html")]
pub struct PortalPage {
    l: Layout,
    stats: Vec<(String, String, i64)>,
    rows: Vec<Card>,
    q: String,
    status: String,
    next: Option<String>,
    query: String,
}

/// GET `/portal`.
pub async fn home(
    State(s): State<AppState>,
    v: Viewer,
    Query(mut p): Query<BTreeMap<String, String>>,
) -> Result<Response> {
    let a = require!(v, "/portal", Need::SignedIn);
    p.retain(|k, val| !val.is_empty() && ["q", "status", "cursor"].contains(&k.as_str()));
    p.insert("sort".into(), "-updated_at".into());
    let stats = query::stats(&s.ctx.db.read, &a).await?;
    let count = |k: &str| *stats.by_status.get(k).unwrap_or(&0);
    let (views, next) = query::list_views(&s.ctx, &a, &p).await?;
    let get = |k: &str| p.get(k).cloned().unwrap_or_default();
    let query = p
        .iter()
        .filter(|(k, _)| k.as_str() != "cursor")
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let view = PortalPage {
        l: Layout::new(&v, "My tickets", "portal"),
        stats: vec![
            ("".into(), "total".into(), stats.total),
            (
                "open".into(),
                "open".into(),
                count("open") + count("assigned") + count("reopened"),
            ),
            (
                "in_progress".into(),
                "in progress".into(),
                count("in_progress"),
            ),
            ("waiting".into(), "waiting for you".into(), count("waiting")),
            (
                "resolved".into(),
                "resolved".into(),
                count("resolved") + count("closed"),
            ),
        ],
        rows: views
            .into_iter()
            .map(|t| Card {
                number: t.number,
                subject: t.subject,
                status_label: t.status.replace('_', " "),
                status: t.status,
                updated_at: human_time(&t.updated_at),
            })
            .collect(),
        q: get("q"),
        status: get("status"),
        next,
        query,
    };
    Ok(page(&v, 200, &view))
}

/// `/portal/tickets/{number}`.
#[derive(askama::Template)]
#[template(path = "portal_ticket.html")]
pub struct PortalTicket {
    l: Layout,
    t: TicketSummary,
    messages: Vec<MessageItem>,
    can_reply: bool,
    reopenable: bool,
    live_url: String,
    rate_action: String,
    preset_score: i64,
}

/// GET `/portal/tickets/{number}`.
pub async fn ticket(
    State(s): State<AppState>,
    v: Viewer,
    Path(number): Path<String>,
    Query(p): Query<BTreeMap<String, String>>,
) -> Result<Response> {
    let here = format!("/portal/tickets/{number}");
    let a = require!(v, &here, Need::SignedIn);
    if a.is_staff() {
        return Ok(see_other(&format!("/agent/tickets/{number}")));
    }
    let url = |id: i64| format!("/files/{number}/{id}");
    let (t, messages) = thread::load(&s.ctx, &a, &number, &url).await?;
    let mut l = Layout::new(&v, t.subject.clone(), "portal-ticket");
    l.flash = p.get("flash").cloned();
    let view = PortalTicket {
        l,
        can_reply: t.status != "closed",
        reopenable: t.status == "closed",
        live_url: format!("/live/{number}"),
        rate_action: format!("/portal/tickets/{number}/rate"),
        preset_score: p.get("score").and_then(|s| s.parse().ok()).unwrap_or(0),
        t,
        messages,
    };
    Ok(page(&v, 200, &view))
}

/// POST `/portal/tickets/{number}/reply`.
pub async fn reply(
    State(s): State<AppState>,
    v: Viewer,
    Path(number): Path<String>,
    WebForm { body: f, files }: WebForm<ReplyForm>,
) -> Result<Response> {
    let here = format!("/portal/tickets/{number}");
    let a = require!(v, &here, Need::SignedIn);
    let added = crate::conversations::add_with_files(
        &s.ctx,
        &a,
        &number,
        &f.body,
        false,
        Channel::Portal,
        files,
    )
    .await;
    Ok(match super::refusal(added)? {
        Ok(c) => see_other(&format!("{here}#m{}", c.id)),
        Err(m) => see_other(&format!("{here}?flash={}", urlencode(&m))),
    })
}

/// POST `/portal/tickets/{number}/reopen`.
pub async fn reopen(
    State(s): State<AppState>,
    v: Viewer,
    Path(number): Path<String>,
    WebForm { .. }: WebForm<serde_json::Value>,
) -> Result<Response> {
    let here = format!("/portal/tickets/{number}");
    let a = require!(v, &here, Need::SignedIn);
    let msg = super::said(
        changes::set_status(&s.ctx, &a, &number, "reopened", None).await,
        |_| "Reopened; we will look at it again.".to_string(),
    )?;
    Ok(see_other(&format!("{here}?flash={}", urlencode(&msg))))
}

/// POST `/portal/tickets/{number}/rate`.
pub async fn rate(
    State(s): State<AppState>,
    v: Viewer,
    Path(number): Path<String>,
    WebForm { body: f, .. }: WebForm<super::public::RateForm>,
) -> Result<Response> {
    let here = format!("/portal/tickets/{number}");
    let a = require!(v, &here, Need::SignedIn);
    let score = f.score.trim().parse().unwrap_or(0);
    let msg = super::said(
        crate::tickets::rating::rate(&s.ctx, &a, &number, score, &f.comment).await,
        |r| format!("Thank you for rating us {}/5.", r.score),
    )?;
    Ok(see_other(&format!("{here}?flash={}#rate", urlencode(&msg))))
}
