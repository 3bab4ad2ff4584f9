//! Admin pages: dashboard (counts, recent activity, charts drawn as SVG), users, categories,
//! the notification delivery log (retry, cancel) and CSV export of the queue's filter.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;
use std::collections::BTreeMap;

use super::agent::urlencode;
use super::form::WebForm;
use super::session::Viewer;
use super::thread::human_time;
use super::{Layout, Need, charts, page, require, see_other};
use crate::app::AppState;
use crate::error::{Error, Result};
use crate::jobs::{log, queue};
use crate::tickets::categories::{self, CategoryInput, CategoryView};
use crate::tickets::model::Role;
use crate::tickets::{history, query};
use crate::users::service::{self as users, NewUser, UserPatch};

fn with_flash(mut l: Layout, p: &BTreeMap<String, String>) -> Layout {
    l.flash = p.get("flash").cloned();
    l
}

/// `/admin`.
#[derive(askama::Template)]
#[template(path = "admin.html")]
pub struct Dashboard {
    l: Layout,
    cards: Vec<(String, String)>,
    per_day: String,
    by_status: String,
    by_priority: String,
    activity: Vec<(String, String, String)>,
}

/// GET `/admin`.
pub async fn dashboard(
    State(s): State<AppState>,
    v: Viewer,
    Query(p): Query<BTreeMap<String, String>>,
) -> Result<Response> {
    let a = require!(v, "/admin", Need::Admin);
    let db = &s.ctx.db.read;
    let dash = crate::reports::dashboard(&s.ctx, &a).await?;
    let stats = query::Stats {
        total: dash.total,
        by_status: dash.by_status.clone(),
        by_priority: dash.by_priority.clone(),
        by_category: dash.by_category.clone(),
    };
    let now = s.ctx.clock.now_micros();
    let day = 86_400_000_000;
    let since = (now / day - 29) * day;
    let counts = query::daily_counts(db, since).await?;
    let per_day: Vec<(String, i64)> = (0..30)
        .map(|i| {
            let d = since + i * day;
            let label = crate::clock::from_micros(d).format("%m-%d").to_string();
            (
                label,
                counts.iter().find(|c| c.0 == d).map(|c| c.1).unwrap_or(0),
            )
        })
        .collect();
    let activity = history::recent(db, 15)
        .await?
        .into_iter()
        .map(|(number, e)| {
            let who = e.actor.map(|x| x.name).unwrap_or_else(|| "system".into());
            let what = match e.new_value {
                Some(nv) => format!("{who}: {} {nv}", e.field),
                None => format!("{who}: {}", e.field),
            };
            (human_time(&e.created_at), number, what)
        })
        .collect();
    let view = Dashboard {
        l: with_flash(Layout::new(&v, "Admin", "admin"), &p),
        cards: vec![
            ("open".into(), dash.open.to_string()),
            ("unassigned".into(), dash.unassigned.to_string()),
            (
                "avg first response (30 d)".into(),
                dash.avg_first_response_secs
                    .map(human_duration)
                    .unwrap_or_else(|| "–".into()),
            ),
            (
                "resolution rate (30 d)".into(),
                dash.resolution_rate_30d
                    .map(|r| format!("{r} %"))
                    .unwrap_or_else(|| "–".into()),
            ),
            ("SLA breaches".into(), dash.sla_breaches.to_string()),
            ("tickets".into(), dash.total.to_string()),
        ],
        per_day: charts::bars("New tickets per day (30 days)", &per_day, 5),
        by_status: charts::bars(
            "Tickets by status",
            &stats
                .by_status
                .iter()
                .map(|(k, v)| (k.replace('_', " "), *v))
                .collect::<Vec<_>>(),
            1,
        ),
        by_priority: charts::bars(
            "Tickets by priority",
            &["urgent", "high", "medium", "low"]
                .iter()
                .map(|k| (k.to_string(), *stats.by_priority.get(*k).unwrap_or(&0)))
                .collect::<Vec<_>>(),
            1,
        ),
        activity,
    };
    Ok(page(&v, 200, &view))
}

/// Seconds as "42 min" or "3.5 h".
fn human_duration(secs: i64) -> String {
    if secs < 3600 {
        format!("{} min", (secs + 30) / 60)
    } else {
        format!("{:.1} h", secs as f64 / 3600.0)
    }
}

/// `/admin/users`.
#[derive(askama::Template)]
#[template(path = "admin_users.html")]
pub struct UsersPage {
    l: Layout,
    users: Vec<crate::db::entities::user::Model>,
}

/// GET `/admin/users`.
pub async fn users_page(
    State(s): State<AppState>,
    v: Viewer,
    Query(p): Query<BTreeMap<String, String>>,
) -> Result<Response> {
    require!(v, "/admin/users", Need::Admin);
    let mut list = Vec::new();
    for role in [Role::Admin, Role::Agent] {
        list.extend(users::list(&s.ctx, Some(role), None, 100, 0).await?.0);
    }
    let view = UsersPage {
        l: with_flash(Layout::new(&v, "Users", "admin-users"), &p),
        users: list,
    };
    Ok(page(&v, 200, &view))
}

/// New-user form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct UserForm {
    name: String,
    email: String,
    role: String,
    password: String,
    active: String,
    away: String,
    capacity: String,
}

/// POST `/admin/users`.
pub async fn create_user(
    State(s): State<AppState>,
    v: Viewer,
    WebForm { body: f, .. }: WebForm<UserForm>,
) -> Result<Response> {
    require!(v, "/admin/users", Need::Admin);
    let role = Role::parse(&f.role).unwrap_or(Role::Agent);
    let created = users::create(
        &s.ctx,
        NewUser {
            email: f.email,
            name: f.name,
            role,
            password: Some(f.password),
        },
    )
    .await;
    let msg = super::said(created, |u| format!("Created {} ({}).", u.name, u.role))?;
    Ok(see_other(&format!(
        "/admin/users?flash={}",
        urlencode(&msg)
    )))
}

/// POST `/admin/users/{id}`: role and active flag.
pub async fn update_user(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    WebForm { body: f, .. }: WebForm<UserForm>,
) -> Result<Response> {
    require!(v, "/admin/users", Need::Admin);
    let patch = UserPatch {
        role: Role::parse(&f.role),
        active: match f.active.as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        away: match f.away.as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        capacity: match f.capacity.trim() {
            "" => Some(None),
            n => Some(Some(n.parse().map_err(|_| {
                Error::field("capacity", "must be a whole number, or empty for no limit")
            })?)),
        },
        ..Default::default()
    };
    let msg = match super::refusal(users::update(&s.ctx, id, patch).await)? {
        Ok(u) => {
            if !u.active {
                crate::auth::web_session::end_all(&s.ctx, u.id).await?;
            }
            format!("Saved {}.", u.name)
        }
        Err(m) => m,
    };
    Ok(see_other(&format!(
        "/admin/users?flash={}",
        urlencode(&msg)
    )))
}

/// `/admin/categories`.
#[derive(askama::Template)]
#[template(path = "admin_categories.html")]
pub struct CategoriesPage {
    l: Layout,
    categories: Vec<CategoryView>,
}

/// GET `/admin/categories`.
pub async fn categories_page(
    State(s): State<AppState>,
    v: Viewer,
    Query(p): Query<BTreeMap<String, String>>,
) -> Result<Response> {
    require!(v, "/admin/categories", Need::Admin);
    let view = CategoriesPage {
        l: with_flash(Layout::new(&v, "Categories", "admin-categories"), &p),
        categories: categories::list(&s.ctx, true).await?,
    };
    Ok(page(&v, 200, &view))
}

/// Category form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CategoryForm {
    slug: String,
    name: String,
    active: String,
    auto_assign: String,
}

/// POST `/admin/categories`.
pub async fn create_category(
    State(s): State<AppState>,
    v: Viewer,
    WebForm { body: f, .. }: WebForm<CategoryForm>,
) -> Result<Response> {
    require!(v, "/admin/categories", Need::Admin);
    let input = CategoryInput {
        slug: Some(f.slug),
        name: Some(f.name),
        ..Default::default()
    };
    let msg = super::said(categories::create(&s.ctx, input).await, |c| {
        format!("Added {}.", c.name)
    })?;
    Ok(see_other(&format!(
        "/admin/categories?flash={}",
        urlencode(&msg)
    )))
}

/// POST `/admin/categories/{id}`: activate or deactivate.
pub async fn update_category(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    WebForm { body: f, .. }: WebForm<CategoryForm>,
) -> Result<Response> {
    require!(v, "/admin/categories", Need::Admin);
    let flag = |v: &str| match v {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    };
    let input = CategoryInput {
        active: flag(&f.active),
        auto_assign: flag(&f.auto_assign),
        ..Default::default()
    };
    let msg = super::said(categories::update(&s.ctx, id, input).await, |c| {
        format!("Saved {}.", c.name)
    })?;
    Ok(see_other(&format!(
        "/admin/categories?flash={}",
        urlencode(&msg)
    )))
}

/// A delivery row.
pub struct DeliveryRow {
    id: i64,
    created_at: String,
    channel: String,
    kind: String,
    target: String,
    status: String,
    attempts: i32,
    max_attempts: i32,
    last_error: String,
    next: String,
    can_retry: bool,
    can_cancel: bool,
}

/// `/admin/notifications`.
#[derive(askama::Template)]
#[template(path = "admin_notifications.html")]
pub struct NotificationsPage {
    l: Layout,
    rows: Vec<DeliveryRow>,
    channel: String,
    status: String,
    statuses: Vec<&'static str>,
    next: Option<i64>,
}

/// GET `/admin/notifications`: the delivery log.
pub async fn notifications(
    State(s): State<AppState>,
    v: Viewer,
    Query(p): Query<BTreeMap<String, String>>,
) -> Result<Response> {
    require!(v, "/admin/notifications", Need::Admin);
    let get = |k: &str| p.get(k).cloned().filter(|x| !x.is_empty());
    let f = log::LogFilter {
        channel: get("channel"),
        status: get("status"),
        ticket_id: None,
        before_id: get("cursor").and_then(|c| c.parse().ok()),
    };
    let (list, next) = log::list(&s.ctx.db.read, &f, 50).await?;
    let rows = list
        .into_iter()
        .map(|d| DeliveryRow {
            can_retry: ["dead", "bounced", "cancelled", "skipped", "queued"]
                .contains(&d.status.as_str()),
            can_cancel: ["queued", "dead"].contains(&d.status.as_str()),
            id: d.id,
            created_at: human_time(&d.created_at),
            channel: d.channel,
            kind: d.kind,
            target: d.target.unwrap_or_default(),
            status: d.status,
            attempts: d.attempts,
            max_attempts: d.max_attempts,
            last_error: d.last_error.unwrap_or_default(),
            next: d
                .next_attempt_at
                .as_deref()
                .map(human_time)
                .unwrap_or_default(),
        })
        .collect();
    let view = NotificationsPage {
        l: with_flash(Layout::new(&v, "Notifications", "admin-notifications"), &p),
        rows,
        channel: get("channel").unwrap_or_default(),
        status: get("status").unwrap_or_default(),
        statuses: vec![
            "queued",
            "running",
            "done",
            "dead",
            "cancelled",
            "bounced",
            "skipped",
        ],
        next,
    };
    Ok(page(&v, 200, &view))
}

/// POST `/admin/notifications/{id}/{retry|cancel}`.
pub async fn delivery_action(
    State(s): State<AppState>,
    v: Viewer,
    Path((id, what)): Path<(i64, String)>,
    WebForm { .. }: WebForm<serde_json::Value>,
) -> Result<Response> {
    require!(v, "/admin/notifications", Need::Admin);
    let now = s.ctx.clock.now_micros();
    let ok = match what.as_str() {
        "retry" => queue::retry(&s.ctx.db.write, id, now).await?,
        "cancel" => queue::cancel(&s.ctx.db.write, id, now).await?,
        _ => return Err(Error::NotFound("page")),
    };
    let msg = if ok {
        format!("Delivery {id}: {what} done.")
    } else {
        format!("Delivery {id} cannot be {what}ed now.")
    };
    Ok(see_other(&format!(
        "/admin/notifications?flash={}",
        urlencode(&msg)
    )))
}

/// GET `/admin/export.csv`: the CSV of a queue filter, for a signed-in admin.
pub async fn export(
    State(s): State<AppState>,
    v: Viewer,
    Query(p): Query<BTreeMap<String, String>>,
) -> Result<Response> {
    let a = require!(v, "/admin/export.csv", Need::Admin);
    crate::api::tickets::export_csv(
        State(s),
        crate::api::extract::Auth(a),
        crate::api::extract::ApiQuery(p),
    )
    .await
}
