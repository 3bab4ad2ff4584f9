//! SLA policies and business-hours calendars (admin).

use super::json::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::extract::{ApiJson, ApiPath, Auth};
use crate::app::AppState;
use crate::error::Result;
use crate::sla::admin::{self, CalendarInput, CalendarView, PolicyInput, PolicyView};
use crate::tickets::access::require_admin;

/// The SLA policy of each priority (admin).
#[utoipa::path(get, path = "/sla-policies", tag = "sla",
    responses((status = 200, body = Vec<PolicyView>)), security(("bearer" = [])))]
pub async fn list_policies(
    State(s): State<AppState>,
    Auth(a): Auth,
) -> Result<Json<Vec<PolicyView>>> {
    require_admin(&a)?;
    Ok(Json(admin::policies(&s.ctx).await?))
}

/// One priority's SLA policy (admin).
#[utoipa::path(get, path = "/sla-policies/{priority}", tag = "sla", params(("priority" = String, Path)),
    responses((status = 200, body = PolicyView), (status = 404)), security(("bearer" = [])))]
pub async fn get_policy(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(priority): ApiPath<String>,
) -> Result<Json<PolicyView>> {
    require_admin(&a)?;
    Ok(Json(admin::policy(&s.ctx, &priority).await?))
}

/// Change a priority's budgets, warning threshold or calendar (admin). New tickets and tickets
/// changed from now on follow it.
#[utoipa::path(put, path = "/sla-policies/{priority}", tag = "sla", params(("priority" = String, Path)),
    request_body = PolicyInput,
    responses((status = 200, body = PolicyView), (status = 400), (status = 404)), security(("bearer" = [])))]
pub async fn put_policy(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(priority): ApiPath<String>,
    ApiJson(b): ApiJson<PolicyInput>,
) -> Result<Json<PolicyView>> {
    require_admin(&a)?;
    Ok(Json(admin::update_policy(&s.ctx, &priority, b).await?))
}

/// Business-hours calendars (admin).
#[utoipa::path(get, path = "/business-calendars", tag = "sla",
    responses((status = 200, body = Vec<CalendarView>)), security(("bearer" = [])))]
pub async fn list_calendars(
    State(s): State<AppState>,
    Auth(a): Auth,
) -> Result<Json<Vec<CalendarView>>> {
    require_admin(&a)?;
    Ok(Json(admin::calendars(&s.ctx).await?))
}

/// Create a calendar: time zone, weekly hours, holidays (admin).
#[utoipa::path(post, path = "/business-calendars", tag = "sla", request_body = CalendarInput,
    responses((status = 201, body = CalendarView), (status = 400), (status = 409)), security(("bearer" = [])))]
pub async fn create_calendar(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(b): ApiJson<CalendarInput>,
) -> Result<(StatusCode, Json<CalendarView>)> {
    require_admin(&a)?;
    Ok((
        StatusCode::CREATED,
        Json(admin::create_calendar(&s.ctx, b).await?),
    ))
}

/// Replace a calendar (admin).
#[utoipa::path(put, path = "/business-calendars/{id}", tag = "sla", params(("id" = i64, Path)),
    request_body = CalendarInput,
    responses((status = 200, body = CalendarView), (status = 400), (status = 404)), security(("bearer" = [])))]
pub async fn put_calendar(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<CalendarInput>,
) -> Result<Json<CalendarView>> {
    require_admin(&a)?;
    Ok(Json(admin::replace_calendar(&s.ctx, id, b).await?))
}

/// Delete a calendar no policy uses (admin).
#[utoipa::path(delete, path = "/business-calendars/{id}", tag = "sla", params(("id" = i64, Path)),
    responses((status = 204), (status = 404), (status = 409)), security(("bearer" = [])))]
pub async fn delete_calendar(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode> {
    require_admin(&a)?;
    admin::delete_calendar(&s.ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
