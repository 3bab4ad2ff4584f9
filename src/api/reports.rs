//! `/admin/dashboard` and `/admin/reports/*` (admin): JSON, or CSV with `?format=csv`.

use super::json::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;

use super::extract::{ApiQuery, Auth};
use crate::app::AppState;
use crate::error::{Error, Result};
use crate::reports::{self, AgentReport, Dashboard, Interval, Range, SlaReport, VolumeReport};
use crate::tickets::access::require_admin;

fn wants_csv(p: &BTreeMap<String, String>) -> Result<bool> {
    match p.get("format").map(String::as_str) {
        None | Some("json") => Ok(false),
        Some("csv") => Ok(true),
        Some(_) => Err(Error::field("format", "must be json or csv")),
    }
}

/// The report as JSON, or as a CSV download with `?format=csv`.
fn respond<T: serde::Serialize>(
    p: &BTreeMap<String, String>,
    name: &str,
    report: T,
    to_csv: fn(&T) -> Result<String>,
) -> Result<Response> {
    Ok(if wants_csv(p)? {
        csv_file(name, to_csv(&report)?)
    } else {
        Json(report).into_response()
    })
}

fn csv_file(name: &str, body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.csv\""),
            ),
        ],
        body,
    )
        .into_response()
}

/// The admin dashboard's figures.
#[utoipa::path(get, path = "/admin/dashboard", tag = "reports",
    responses((status = 200, body = Dashboard), (status = 403)), security(("bearer" = [])))]
pub async fn dashboard(State(s): State<AppState>, Auth(a): Auth) -> Result<Json<Dashboard>> {
    require_admin(&a)?;
    Ok(Json(reports::dashboard(&s.ctx, &a).await?))
}

/// Tickets created and resolved per day or week: `from`, `to` (`YYYY-MM-DD`, inclusive, last
/// 30 days by default, at most 366), `interval=day|week`, `format=json|csv`.
#[utoipa::path(get, path = "/admin/reports/tickets", tag = "reports",
    params(("from" = Option<String>, Query), ("to" = Option<String>, Query), ("interval" = Option<String>, Query), ("format" = Option<String>, Query)),
    responses((status = 200, body = VolumeReport), (status = 400), (status = 403)), security(("bearer" = [])))]
pub async fn tickets(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiQuery(p): ApiQuery<BTreeMap<String, String>>,
) -> Result<Response> {
    require_admin(&a)?;
    let r = Range::from_params(&p, s.ctx.clock.now_micros())?;
    let interval = Interval::parse(p.get("interval").map(String::as_str))?;
    let report = reports::volume(&s.ctx, &r, interval).await?;
    respond(&p, "tickets", report, reports::csv::volume)
}

/// Per agent: open now, assigned, resolved, median first-response and resolution times, CSAT.
#[utoipa::path(get, path = "/admin/reports/agents", tag = "reports",
    params(("from" = Option<String>, Query), ("to" = Option<String>, Query), ("format" = Option<String>, Query)),
    responses((status = 200, body = AgentReport), (status = 400), (status = 403)), security(("bearer" = [])))]
pub async fn agents(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiQuery(p): ApiQuery<BTreeMap<String, String>>,
) -> Result<Response> {
    require_admin(&a)?;
    let r = Range::from_params(&p, s.ctx.clock.now_micros())?;
    let report = reports::agents(&s.ctx, &r).await?;
    respond(&p, "agents", report, reports::csv::agents)
}

/// SLA compliance per priority for tickets created in the range.
#[utoipa::path(get, path = "/admin/reports/sla", tag = "reports",
    params(("from" = Option<String>, Query), ("to" = Option<String>, Query), ("format" = Option<String>, Query)),
    responses((status = 200, body = SlaReport), (status = 400), (status = 403)), security(("bearer" = [])))]
pub async fn sla(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiQuery(p): ApiQuery<BTreeMap<String, String>>,
) -> Result<Response> {
    require_admin(&a)?;
    let r = Range::from_params(&p, s.ctx.clock.now_micros())?;
    let report = reports::sla(&s.ctx, &r).await?;
    respond(&p, "sla", report, reports::csv::sla)
}
