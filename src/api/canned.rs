//! Canned replies (`/templates`): admins manage them, agents list, render and use them.

use super::json::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

use super::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use crate::app::AppState;
use crate::canned::{self, TemplateInput, TemplateView};
use crate::error::{Error, Result};
use crate::tickets::access::require_staff;

/// Templates (agents, admins): `?category=` (those for every category included), `?q=` text.
#[utoipa::path(get, path = "/templates", tag = "templates",
    params(("category" = Option<String>, Query), ("q" = Option<String>, Query)),
    responses((status = 200, body = Vec<TemplateView>)), security(("bearer" = [])))]
pub async fn list(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiQuery(p): ApiQuery<BTreeMap<String, String>>,
) -> Result<Json<Vec<TemplateView>>> {
    require_staff(&a)?;
    let (c, q) = (p.get("category"), p.get("q"));
    Ok(Json(
        canned::list(&s.ctx, c.map(String::as_str), q.map(String::as_str)).await?,
    ))
}

/// Create a template (admin). The body may use the variables listed in `GET /templates/variables`.
#[utoipa::path(post, path = "/templates", tag = "templates", request_body = TemplateInput,
    responses((status = 201, body = TemplateView), (status = 400)), security(("bearer" = [])))]
pub async fn create(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(b): ApiJson<TemplateInput>,
) -> Result<(StatusCode, Json<TemplateView>)> {
    Ok((
        StatusCode::CREATED,
        Json(canned::create(&s.ctx, &a, b).await?),
    ))
}

/// The variables a template body may use.
#[utoipa::path(get, path = "/templates/variables", tag = "templates",
    responses((status = 200, body = Vec<String>)), security(("bearer" = [])))]
pub async fn variables(Auth(a): Auth) -> Result<Json<Vec<&'static str>>> {
    require_staff(&a)?;
    Ok(Json(canned::VARIABLES.to_vec()))
}

/// One template (agents, admins).
#[utoipa::path(get, path = "/templates/{id}", tag = "templates", params(("id" = i64, Path)),
    responses((status = 200, body = TemplateView), (status = 404)), security(("bearer" = [])))]
pub async fn get(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<TemplateView>> {
    require_staff(&a)?;
    Ok(Json(canned::get(&s.ctx, id).await?))
}

/// Change a template (admin).
#[utoipa::path(patch, path = "/templates/{id}", tag = "templates", params(("id" = i64, Path)),
    request_body = TemplateInput,
    responses((status = 200, body = TemplateView), (status = 400), (status = 404)), security(("bearer" = [])))]
pub async fn patch(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<TemplateInput>,
) -> Result<Json<TemplateView>> {
    Ok(Json(canned::update(&s.ctx, &a, id, b).await?))
}

/// Delete a template (admin).
#[utoipa::path(delete, path = "/templates/{id}", tag = "templates", params(("id" = i64, Path)),
    responses((status = 204), (status = 404)), security(("bearer" = [])))]
pub async fn delete(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode> {
    canned::delete(&s.ctx, &a, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A template filled in for one ticket.
#[derive(Serialize, ToSchema)]
pub struct Rendered {
    /// Markdown ready to edit and send.
    pub body: String,
}

/// Render a template for a ticket (`?ticket=` id or number) so the agent can edit it.
#[utoipa::path(get, path = "/templates/{id}/render", tag = "templates",
    params(("id" = i64, Path), ("ticket" = String, Query)),
    responses((status = 200, body = Rendered), (status = 400), (status = 404)), security(("bearer" = [])))]
pub async fn render(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(p): ApiQuery<BTreeMap<String, String>>,
) -> Result<Json<Rendered>> {
    let key = p
        .get("ticket")
        .filter(|k| !k.trim().is_empty())
        .ok_or_else(|| Error::field("ticket", "is required"))?;
    let body = canned::render_for(&s.ctx, &a, id, key).await?;
    Ok(Json(Rendered { body }))
}
