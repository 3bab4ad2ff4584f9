//! The agent console: the queue (filters, sorting, paging, bulk actions, counts) and the
//! ticket workspace (thread with notes, composer, status/priority/assignment/tags, SLA, history).

use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use std::collections::BTreeMap;

use super::form::WebForm;
use super::session::Viewer;
use super::thread::{self, MessageItem, TicketSummary, human_time};
use super::{Layout, Need, page, require, see_other};
use crate::app::AppState;
use crate::conversations;
use crate::error::{Error, Result};
use crate::tickets::changes::{self, AssignTarget};
use crate::tickets::model::{Channel, Priority, Role, Status};
use crate::tickets::{bulk, history, query, service, workflow};

/// Percent-encodes a query value.
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A queue row.
pub struct Row {
    id: i64,
    number: String,
    subject: String,
    requester: String,
    priority: String,
    status: String,
    status_label: String,
    assignee: String,
    sla: String,
    created_at: String,
}

/// Current filter values (for the form).
#[derive(Default)]
pub struct Filters {
    q: String,
    status: String,
    priority: String,
    category: String,
    assignee: String,
    sort: String,
}

/// `/agent`.
#[derive(askama::Template)]
#[template(path = "agent_queue.html")]
pub struct QueuePage {
    l: Layout,
    stats: Vec<(String, String, i64)>,
    f: Filters,
    statuses: Vec<(&'static str, String)>,
    priorities: Vec<&'static str>,
    categories: Vec<(String, String)>,
    sorts: Vec<(&'static str, &'static str)>,
    rows: Vec<Row>,
    next: Option<String>,
    first_page: bool,
    query: String,
    query_no_cursor: String,
    is_admin: bool,
    views: Vec<(i64, String, String)>,
}

fn encode_query(p: &BTreeMap<String, String>, skip: &[&str]) -> String {
    p.iter()
        .filter(|(k, v)| !v.is_empty() && !skip.contains(&k.as_str()))
        .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// GET `/agent`.
pub async fn queue(
    State(s): State<AppState>,
    v: Viewer,
    Query(mut p): Query<BTreeMap<String, String>>,
) -> Result<Response> {
    let a = require!(v, "/agent", Need::Staff);
    let flash = p.remove("flash");
    p.retain(|_, val| !val.is_empty());
    let stats = query::stats(&s.ctx.db.read, &a).await?;
    // A hand-edited or stale filter URL shows the queue form with what is wrong, not an error page.
    let (views, next, problem) = match super::refusal(query::list_views(&s.ctx, &a, &p).await)? {
        Ok((views, next)) => (views, next, None),
        Err(m) => (Vec::new(), None, Some(m)),
    };
    let rows = views
        .into_iter()
        .map(|t| Row {
            id: t.id,
            number: t.number,
            subject: t.subject,
            requester: t.requester.map(|r| r.name).unwrap_or_default(),
            priority: t.priority,
            status_label: t.status.replace('_', " "),
            status: t.status,
            assignee: t.assignee.map(|x| x.name).unwrap_or_else(|| "—".into()),
            sla: t.sla.resolution.state.to_string(),
            created_at: human_time(&t.created_at),
        })
        .collect();
    let shown = [
        "open",
        "assigned",
        "in_progress",
        "waiting",
        "on_hold",
        "resolved",
    ];
    let mut l = Layout::new(&v, "Queue", "agent-queue");
    let status = if problem.is_some() { 400 } else { 200 };
    l.flash = problem.or(flash);
    let get = |k: &str| p.get(k).cloned().unwrap_or_default();
    let page_view = QueuePage {
        l,
        stats: shown
            .iter()
            .map(|st| {
                (
                    st.to_string(),
                    st.replace('_', " "),
                    *stats.by_status.get(*st).unwrap_or(&0),
                )
            })
            .collect(),
        f: Filters {
            q: get("q"),
            status: get("status"),
            priority: get("priority"),
            category: get("category"),
            assignee: get("assignee"),
            sort: get("sort"),
        },
        statuses: Status::ALL
            .iter()
            .map(|s| (s.as_str(), s.as_str().replace('_', " ")))
            .collect(),
        priorities: priorities(),
        categories: service::active_categories(&s.ctx.db.read)
            .await?
            .into_iter()
            .map(|c| (c.clone(), c.replace('_', " ")))
            .collect(),
        sorts: vec![
            ("", "Priority, then oldest"),
            ("-created_at", "Newest first"),
            ("created_at", "Oldest first"),
            ("-updated_at", "Recently updated"),
        ],
        rows,
        next,
        first_page: !p.contains_key("cursor"),
        query: encode_query(&p, &[]),
        query_no_cursor: encode_query(&p, &["cursor"]),
        is_admin: a.is_admin(),
        views: crate::users::views::list(&s.ctx, &a)
            .await?
            .into_iter()
            .map(|v| (v.id, v.name, v.query))
            .collect(),
    };
    Ok(page(&v, status, &page_view))
}

/// Bulk form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct BulkForm {
    ids: Vec<String>,
    action: String,
    value: String,
    back: String,
}

fn flash_to(path: &str, back: &str, msg: &str) -> Response {
    let sep = if back.is_empty() { "" } else { "&" };
    see_other(&format!("{path}?{back}{sep}flash={}", urlencode(msg)))
}

/// POST `/agent/bulk`.
pub async fn bulk_action(
    State(s): State<AppState>,
    v: Viewer,
    WebForm { body: f, .. }: WebForm<BulkForm>,
) -> Result<Response> {
    let a = require!(v, "/agent", Need::Staff);
    let ids: Vec<i64> = f.ids.iter().filter_map(|i| i.parse().ok()).collect();
    if ids.is_empty() {
        return Ok(flash_to("/agent", &f.back, "Select at least one ticket."));
    }
    let value = match f.action.as_str() {
        "assign" => match f.value.trim() {
            "auto" => serde_json::json!("auto"),
            "" | "none" => serde_json::Value::Null,
            n => n
                .parse::<i64>()
                .map(serde_json::Value::from)
                .unwrap_or(serde_json::json!(n)),
        },
        _ => serde_json::json!(f.value.trim()),
    };
    let r = bulk::run(&s.ctx, &a, ids, &f.action, &value).await;
    let msg = match r {
        Ok(r) if r.failed.is_empty() => format!("Updated {} tickets.", r.updated.len()),
        Ok(r) => format!(
            "Updated {} tickets; {} not changed: {}",
            r.updated.len(),
            r.failed.len(),
            r.failed
                .iter()
                .map(|x| format!("#{} {}", x.id, x.message))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        Err(e) => e.to_string(),
    };
    Ok(flash_to("/agent", &f.back, &msg))
}

/// `/agent/tickets/{number}`.
#[derive(askama::Template)]
#[template(path = "agent_ticket.html")]
pub struct TicketPage {
    l: Layout,
    t: TicketSummary,
    messages: Vec<MessageItem>,
    next_statuses: Vec<(&'static str, String)>,
    priorities: Vec<&'static str>,
    agents: Vec<(i64, String, bool)>,
    history: Vec<(String, String)>,
    is_admin: bool,
    live_url: String,
    templates: Vec<(i64, String, bool)>,
    template_q: String,
    draft: String,
    linked: Vec<crate::kb::links::LinkedArticle>,
    article_choices: Vec<(i64, String)>,
}

/// GET `/agent/tickets/{number}`.
pub async fn ticket(
    State(s): State<AppState>,
    v: Viewer,
    Path(number): Path<String>,
    Query(p): Query<BTreeMap<String, String>>,
) -> Result<Response> {
    let here = format!("/agent/tickets/{number}");
    let a = require!(v, &here, Need::Staff);
    let url = |id: i64| format!("/files/{number}/{id}");
    let (t, messages) = thread::load(&s.ctx, &a, &number, &url).await?;
    let from = Status::parse(&t.status).unwrap_or(Status::Open);
    let mut agents = Vec::new();
    if a.is_admin() {
        for role in [Role::Agent, Role::Admin] {
            let (list, _) = crate::users::service::list(&s.ctx, Some(role), None, 100, 0).await?;
            agents.extend(
                list.into_iter()
                    .filter(|u| u.active)
                    .map(|u| (u.id, u.name, t.assignee_id == Some(u.id))),
            );
        }
    }
    let events = history::list(&s.ctx.db.read, &a, t.id).await?;
    let history = events
        .into_iter()
        .rev()
        .map(|e| {
            let who = e.actor.map(|x| x.name).unwrap_or_else(|| "system".into());
            let what = match (e.old_value, e.new_value) {
                (Some(o), Some(n)) => format!("{who}: {} {o} → {n}", e.field),
                (None, Some(n)) => format!("{who}: {} {n}", e.field),
                (Some(o), None) => format!("{who}: {} {o} removed", e.field),
                (None, None) => format!("{who}: {}", e.field),
            };
            (human_time(&e.created_at), what)
        })
        .collect();
    let mut l = Layout::new(&v, t.subject.clone(), "agent-ticket");
    l.flash = p.get("flash").cloned();
    let template_q = p.get("tq").cloned().unwrap_or_default();
    let chosen = p.get("template").and_then(|id| id.parse::<i64>().ok());
    let templates = crate::canned::list(&s.ctx, Some(&t.category), Some(&template_q))
        .await?
        .into_iter()
        .map(|x| {
            let label = match &x.category {
                Some(c) => format!("{} ({c})", x.name),
                None => x.name,
            };
            (x.id, label, Some(x.id) == chosen)
        })
        .collect();
    let draft = match chosen {
        Some(id) => match super::refusal(crate::canned::render_for(&s.ctx, &a, id, &number).await)?
        {
            Ok(text) => text,
            Err(m) => {
                l.flash = Some(m);
                String::new()
            }
        },
        None => String::new(),
    };
    let linked = crate::kb::links::for_ticket(&s.ctx.db.read, t.id).await?;
    let view = TicketPage {
        l,
        next_statuses: workflow::allowed_next(from)
            .iter()
            .map(|s| (s.as_str(), s.as_str().replace('_', " ")))
            .collect(),
        priorities: priorities(),
        agents,
        history,
        is_admin: a.is_admin(),
        live_url: format!("/live/{number}"),
        t,
        messages,
        templates,
        template_q,
        draft,
        linked,
        article_choices: crate::kb::list(&s.ctx, false, None, None, 100)
            .await?
            .into_iter()
            .map(|x| (x.id, x.title))
            .collect(),
    };
    Ok(page(&v, 200, &view))
}

/// GET `/agent/tickets/{number}/template/{id}`: a reply template filled in for the ticket,
/// as plain text (the composer's script inserts it without reloading the page).
pub async fn template_text(
    State(s): State<AppState>,
    v: Viewer,
    Path((number, id)): Path<(String, i64)>,
) -> Result<Response> {
    let here = format!("/agent/tickets/{number}");
    let a = require!(v, &here, Need::Staff);
    let text = crate::canned::render_for(&s.ctx, &a, id, &number).await?;
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

/// Composer form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ReplyForm {
    body: String,
    internal: bool,
}

/// POST `/agent/tickets/{number}/reply`.
pub async fn reply(
    State(s): State<AppState>,
    v: Viewer,
    Path(number): Path<String>,
    WebForm { body: f, files }: WebForm<ReplyForm>,
) -> Result<Response> {
    let here = format!("/agent/tickets/{number}");
    let a = require!(v, &here, Need::Staff);
    let added = conversations::add_with_files(
        &s.ctx,
        &a,
        &number,
        &f.body,
        f.internal,
        Channel::Web,
        files,
    )
    .await;
    Ok(match super::refusal(added)? {
        Ok(c) => see_other(&format!("{here}#m{}", c.id)),
        Err(m) => flash_to(&here, "", &m),
    })
}

/// One-field action forms of the sidebar.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ActionForm {
    status: String,
    resolution: String,
    priority: String,
    agent: String,
    tag: String,
    into: String,
    article: String,
}

/// POST `/agent/tickets/{number}/{action}`: status, priority, assign, tags.
pub async fn action(
    State(s): State<AppState>,
    v: Viewer,
    Path((number, what)): Path<(String, String)>,
    WebForm { body: f, .. }: WebForm<ActionForm>,
) -> Result<Response> {
    let here = format!("/agent/tickets/{number}");
    let a = require!(v, &here, Need::Staff);
    let ctx = &s.ctx;
    let done = match what.as_str() {
        "status" => {
            let res = (!f.resolution.trim().is_empty()).then(|| f.resolution.trim().to_string());
            changes::set_status(ctx, &a, &number, &f.status, res)
                .await
                .map(|_| "Status changed.")
        }
        "priority" => changes::set_priority(ctx, &a, &number, &f.priority)
            .await
            .map(|_| "Priority set."),
        "assign" => {
            let target = match f.agent.as_str() {
                "auto" => AssignTarget::Auto,
                "none" | "" => AssignTarget::Nobody,
                id => AssignTarget::Agent(
                    id.parse()
                        .map_err(|_| Error::field("agent", "unknown agent"))?,
                ),
            };
            changes::assign(ctx, &a, &number, target)
                .await
                .map(|_| "Assignment changed.")
        }
        "tags" => {
            let patch = service::TicketPatch {
                add_tags: vec![f.tag.trim().to_string()],
                ..Default::default()
            };
            service::update(ctx, &a, &number, patch)
                .await
                .map(|_| "Tag added.")
        }
        "article" => crate::kb::links::link(ctx, &a, &number, &f.article)
            .await
            .map(|_| "Article linked."),
        "merge" => {
            return Ok(
                match super::refusal(crate::tickets::merge::merge(ctx, &a, &number, &f.into).await)?
                {
                    Ok(target) => flash_to(
                        &format!("/agent/tickets/{}", target.number),
                        "",
                        &format!("Merged {number} into this ticket."),
                    ),
                    Err(m) => flash_to(&here, "", &m),
                },
            );
        }
        _ => return Err(Error::NotFound("page")),
    };
    let msg = super::said(done, |m| m.to_string())?;
    Ok(flash_to(&here, "", &msg))
}

/// POST `/agent/preview`: Markdown rendered exactly as the thread will show it.
pub async fn preview(
    v: Viewer,
    WebForm { body: f, .. }: WebForm<ReplyForm>,
) -> Result<Html<String>> {
    if v.actor.is_none() {
        return Err(Error::Unauthorized("sign in first".into()));
    }
    Ok(Html(super::markdown::render(&f.body)))
}

/// Priorities in display order.
pub fn priorities() -> Vec<&'static str> {
    [
        Priority::Urgent,
        Priority::High,
        Priority::Medium,
        Priority::Low,
    ]
    .iter()
    .map(|p| p.as_str())
    .collect()
}

/// A refusal as one line for a flash message.
pub fn describe(e: &Error) -> String {
    match e {
        Error::Validation { errors, .. } if !errors.is_empty() => errors
            .iter()
            .map(|(k, v)| format!("{k}: {}", v.join("; ")))
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

/// Save-view form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ViewForm {
    name: String,
    query: String,
}

/// POST `/agent/views`: saves the current filter under a name.
pub async fn save_view(
    State(s): State<AppState>,
    v: Viewer,
    WebForm { body: f, .. }: WebForm<ViewForm>,
) -> Result<Response> {
    let a = require!(v, "/agent", Need::Staff);
    let saved = crate::users::views::save(&s.ctx, &a, &f.name, &f.query).await;
    Ok(match super::refusal(saved)? {
        Ok(view) => flash_to("/agent", &f.query, &format!("Saved view {}.", view.name)),
        Err(m) => flash_to("/agent", "", &m),
    })
}

/// POST `/agent/views/{id}/delete`.
pub async fn delete_view(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    WebForm { .. }: WebForm<serde_json::Value>,
) -> Result<Response> {
    let a = require!(v, "/agent", Need::Staff);
    crate::users::views::delete(&s.ctx, &a, id).await?;
    Ok(flash_to("/agent", "", "View deleted."))
}
