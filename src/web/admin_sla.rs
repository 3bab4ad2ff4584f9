//! `/admin/sla`: SLA policies per priority and business-hours calendars.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;
use std::collections::BTreeMap;

use super::agent::urlencode;
use super::form::WebForm;
use super::session::Viewer;
use super::{Layout, Need, page, require, said, see_other};
use crate::app::AppState;
use crate::error::{Error, Result};
use crate::sla::admin::{self, CalendarInput, CalendarView, PolicyInput, PolicyView};

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// A calendar as the page edits it: one text field per weekday.
pub struct CalendarRow {
    id: i64,
    name: String,
    timezone: String,
    days: Vec<(&'static str, String)>,
    holidays: String,
}

impl From<CalendarView> for CalendarRow {
    fn from(c: CalendarView) -> Self {
        CalendarRow {
            id: c.id,
            days: DAYS
                .iter()
                .map(|d| {
                    (
                        *d,
                        c.hours.get(*d).map(|r| r.join(", ")).unwrap_or_default(),
                    )
                })
                .collect(),
            name: c.name,
            timezone: c.timezone,
            holidays: c.holidays.join(", "),
        }
    }
}

/// `/admin/sla`.
#[derive(askama::Template)]
#[template(path = "admin_sla.html")]
pub struct SlaPage {
    l: Layout,
    policies: Vec<PolicyView>,
    calendars: Vec<CalendarRow>,
    blank: CalendarRow,
}

fn flash_to(msg: &str) -> Response {
    see_other(&format!("/admin/sla?flash={}", urlencode(msg)))
}

/// GET `/admin/sla`.
pub async fn page_sla(
    State(s): State<AppState>,
    v: Viewer,
    Query(p): Query<BTreeMap<String, String>>,
) -> Result<Response> {
    require!(v, "/admin/sla", Need::Admin);
    let mut l = Layout::new(&v, "SLA policies", "admin-sla");
    l.flash = p.get("flash").cloned();
    let view = SlaPage {
        l,
        policies: admin::policies(&s.ctx).await?,
        calendars: admin::calendars(&s.ctx)
            .await?
            .into_iter()
            .map(CalendarRow::from)
            .collect(),
        blank: CalendarRow {
            id: 0,
            name: String::new(),
            timezone: "UTC".into(),
            days: DAYS
                .iter()
                .map(|d| {
                    let weekday = !matches!(*d, "sat" | "sun");
                    (
                        *d,
                        if weekday {
                            "09:00-17:00".into()
                        } else {
                            String::new()
                        },
                    )
                })
                .collect(),
            holidays: String::new(),
        },
    };
    Ok(page(&v, 200, &view))
}

/// Policy form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PolicyForm {
    first_response_minutes: String,
    resolution_minutes: String,
    warn_percent: String,
    calendar_id: String,
}

fn number<T: std::str::FromStr>(field: &str, raw: &str) -> Result<T> {
    raw.trim()
        .parse()
        .map_err(|_| Error::field(field, "must be a whole number"))
}

/// POST `/admin/sla/{priority}`.
pub async fn save_policy(
    State(s): State<AppState>,
    v: Viewer,
    Path(priority): Path<String>,
    WebForm { body: f, .. }: WebForm<PolicyForm>,
) -> Result<Response> {
    require!(v, "/admin/sla", Need::Admin);
    let parsed = (|| -> Result<PolicyInput> {
        Ok(PolicyInput {
            first_response_minutes: Some(number(
                "first_response_minutes",
                &f.first_response_minutes,
            )?),
            resolution_minutes: Some(number("resolution_minutes", &f.resolution_minutes)?),
            warn_percent: Some(number("warn_percent", &f.warn_percent)?),
            calendar_id: Some(match f.calendar_id.trim() {
                "" => None,
                id => Some(number("calendar_id", id)?),
            }),
        })
    })();
    let result = match parsed {
        Ok(input) => admin::update_policy(&s.ctx, &priority, input).await,
        Err(e) => Err(e),
    };
    Ok(flash_to(&said(result, |p| {
        format!("Saved the {} policy.", p.priority)
    })?))
}

/// Calendar form: one field per weekday with comma-separated ranges.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CalendarForm {
    name: String,
    timezone: String,
    mon: String,
    tue: String,
    wed: String,
    thu: String,
    fri: String,
    sat: String,
    sun: String,
    holidays: String,
}

fn split(raw: &str) -> Vec<String> {
    raw.split([',', '\n', ';'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

impl From<CalendarForm> for CalendarInput {
    fn from(f: CalendarForm) -> Self {
        let mut hours = BTreeMap::new();
        for (d, raw) in [
            ("mon", &f.mon),
            ("tue", &f.tue),
            ("wed", &f.wed),
            ("thu", &f.thu),
            ("fri", &f.fri),
            ("sat", &f.sat),
            ("sun", &f.sun),
        ] {
            let ranges = split(raw);
            if !ranges.is_empty() {
                hours.insert(d.to_string(), ranges);
            }
        }
        CalendarInput {
            name: f.name,
            timezone: f.timezone,
            hours,
            holidays: split(&f.holidays),
        }
    }
}

/// POST `/admin/sla/calendars` (create) and `/admin/sla/calendars/{id}` (replace).
pub async fn save_calendar(
    State(s): State<AppState>,
    v: Viewer,
    id: Option<Path<i64>>,
    WebForm { body: f, .. }: WebForm<CalendarForm>,
) -> Result<Response> {
    require!(v, "/admin/sla", Need::Admin);
    let result = match id {
        Some(Path(id)) => admin::replace_calendar(&s.ctx, id, f.into()).await,
        None => admin::create_calendar(&s.ctx, f.into()).await,
    };
    Ok(flash_to(&said(result, |c| {
        format!("Saved calendar {}.", c.name)
    })?))
}

/// POST `/admin/sla/calendars/{id}/delete`.
pub async fn delete_calendar(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    WebForm { .. }: WebForm<BTreeMap<String, String>>,
) -> Result<Response> {
    require!(v, "/admin/sla", Need::Admin);
    Ok(flash_to(&said(
        admin::delete_calendar(&s.ctx, id).await,
        |_| "Calendar deleted.".to_string(),
    )?))
}
