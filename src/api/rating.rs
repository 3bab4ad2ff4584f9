//! Satisfaction ratings: the requester rates a resolved ticket once.

use super::json::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

use super::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use crate::app::AppState;
use crate::error::Result;
use crate::tickets::rating::{self, RatingView};
use crate::tickets::tracking;

/// `POST /tickets/{id}/rating` body.
#[derive(Deserialize, ToSchema, Default)]
#[serde(default, deny_unknown_fields)]
pub struct RatingBody {
    /// 1 (very unhappy) to 5 (very happy).
    pub score: Option<i64>,
    /// Optional words, up to 2000 characters.
    pub comment: Option<String>,
}

/// Rate a resolved ticket (its requester, once).
#[utoipa::path(post, path = "/tickets/{id}/rating", tag = "tickets", params(("id" = String, Path)),
    request_body = RatingBody,
    responses((status = 201, body = RatingView), (status = 400), (status = 403), (status = 404), (status = 409)),
    security(("bearer" = [])))]
pub async fn rate(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(key): ApiPath<String>,
    ApiJson(b): ApiJson<RatingBody>,
) -> Result<(StatusCode, Json<RatingView>)> {
    let r = rating::rate(
        &s.ctx,
        &a,
        &key,
        b.score.unwrap_or(0),
        b.comment.as_deref().unwrap_or(""),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(r)))
}

/// Rate a resolved ticket through its tracking link (the link in the resolution e-mail).
#[utoipa::path(post, path = "/track/{number}/rating", tag = "tickets",
    params(("number" = String, Path), ("token" = String, Query)), request_body = RatingBody,
    responses((status = 201, body = RatingView), (status = 400), (status = 404), (status = 409)))]
pub async fn rate_tracked(
    State(s): State<AppState>,
    ApiPath(number): ApiPath<String>,
    ApiQuery(q): ApiQuery<BTreeMap<String, String>>,
    ApiJson(b): ApiJson<RatingBody>,
) -> Result<(StatusCode, Json<RatingView>)> {
    let token = q.get("token").map(String::as_str).unwrap_or("");
    let actor = tracking::actor_for(&s.ctx, &number, token).await?;
    let r = rating::rate(
        &s.ctx,
        &actor,
        &number,
        b.score.unwrap_or(0),
        b.comment.as_deref().unwrap_or(""),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(r)))
}
