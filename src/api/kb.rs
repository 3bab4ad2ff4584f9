//! Knowledge base: public article search (the support form's suggestions), admin CRUD, and
//! articles linked to tickets.

use super::json::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

use super::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use crate::app::AppState;
use crate::error::Result;
use crate::kb::links::{self, LinkedArticle};
use crate::kb::{self, ArticleInput, ArticleView};
use crate::tickets::access;

/// Published articles; `q` ranks by relevance (any word), `category` filters, `limit` ≤ 100
/// (default 20). Admins add `all=true` for drafts. No login needed.
#[utoipa::path(get, path = "/articles", tag = "knowledge base",
    params(("q" = Option<String>, Query), ("category" = Option<String>, Query), ("limit" = Option<u64>, Query), ("all" = Option<bool>, Query)),
    responses((status = 200, body = Vec<ArticleView>), (status = 400)))]
pub async fn list(
    State(s): State<AppState>,
    auth: Option<Auth>,
    ApiQuery(p): ApiQuery<BTreeMap<String, String>>,
) -> Result<Json<Vec<ArticleView>>> {
    let drafts =
        p.get("all").is_some_and(|v| v == "true") && auth.is_some_and(|Auth(a)| a.is_admin());
    let limit = match p.get("limit") {
        Some(l) => l
            .parse()
            .map_err(|_| crate::error::Error::field("limit", "must be 1 to 100"))?,
        None => 20,
    };
    Ok(Json(
        kb::list(
            &s.ctx,
            drafts,
            p.get("category").map(String::as_str),
            p.get("q").map(String::as_str),
            limit,
        )
        .await?,
    ))
}

/// Create an article (admin).
#[utoipa::path(post, path = "/articles", tag = "knowledge base", request_body = ArticleInput,
    responses((status = 201, body = ArticleView), (status = 400)), security(("bearer" = [])))]
pub async fn create(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(b): ApiJson<ArticleInput>,
) -> Result<(StatusCode, Json<ArticleView>)> {
    Ok((StatusCode::CREATED, Json(kb::create(&s.ctx, &a, b).await?)))
}

/// One article by id or slug (drafts for admins only).
#[utoipa::path(get, path = "/articles/{key}", tag = "knowledge base", params(("key" = String, Path)),
    responses((status = 200, body = ArticleView), (status = 404)))]
pub async fn get(
    State(s): State<AppState>,
    auth: Option<Auth>,
    ApiPath(key): ApiPath<String>,
) -> Result<Json<ArticleView>> {
    let admin = auth.is_some_and(|Auth(a)| a.is_admin());
    Ok(Json(kb::get(&s.ctx, &key, admin).await?))
}

/// Change an article (admin).
#[utoipa::path(patch, path = "/articles/{key}", tag = "knowledge base", params(("key" = String, Path)),
    request_body = ArticleInput,
    responses((status = 200, body = ArticleView), (status = 400), (status = 404)), security(("bearer" = [])))]
pub async fn patch(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(key): ApiPath<String>,
    ApiJson(b): ApiJson<ArticleInput>,
) -> Result<Json<ArticleView>> {
    Ok(Json(kb::update(&s.ctx, &a, &key, b).await?))
}

/// Delete an article (admin).
#[utoipa::path(delete, path = "/articles/{key}", tag = "knowledge base", params(("key" = String, Path)),
    responses((status = 204), (status = 404)), security(("bearer" = [])))]
pub async fn delete(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(key): ApiPath<String>,
) -> Result<StatusCode> {
    kb::delete(&s.ctx, &a, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Articles linked to a ticket (anyone who can see the ticket).
#[utoipa::path(get, path = "/tickets/{id}/articles", tag = "knowledge base", params(("id" = String, Path)),
    responses((status = 200, body = Vec<LinkedArticle>), (status = 404)), security(("bearer" = [])))]
pub async fn ticket_articles(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(key): ApiPath<String>,
) -> Result<Json<Vec<LinkedArticle>>> {
    let t = access::load(&s.ctx.db, &a, &key).await?;
    Ok(Json(links::for_ticket(&s.ctx.db.read, t.id).await?))
}

/// `POST /tickets/{id}/articles` body.
#[derive(Deserialize, ToSchema, Default)]
#[serde(default, deny_unknown_fields)]
pub struct LinkBody {
    /// Article id or slug.
    #[schema(value_type = String)]
    pub article_id: serde_json::Value,
}

/// Link a published article to a ticket (agents, admins); returns the ticket's links.
#[utoipa::path(post, path = "/tickets/{id}/articles", tag = "knowledge base", params(("id" = String, Path)),
    request_body = LinkBody,
    responses((status = 200, body = Vec<LinkedArticle>), (status = 400), (status = 403), (status = 404)), security(("bearer" = [])))]
pub async fn link(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(key): ApiPath<String>,
    ApiJson(b): ApiJson<LinkBody>,
) -> Result<Json<Vec<LinkedArticle>>> {
    let article = match b.article_id {
        serde_json::Value::String(v) => v,
        serde_json::Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    Ok(Json(links::link(&s.ctx, &a, &key, &article).await?))
}

/// Remove an article link (agents, admins).
#[utoipa::path(delete, path = "/tickets/{id}/articles/{article_id}", tag = "knowledge base",
    params(("id" = String, Path), ("article_id" = i64, Path)),
    responses((status = 204), (status = 404)), security(("bearer" = [])))]
pub async fn unlink(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath((key, article_id)): ApiPath<(String, i64)>,
) -> Result<StatusCode> {
    links::unlink(&s.ctx, &a, &key, article_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
