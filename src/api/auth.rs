//! `/auth/*`: register, login, refresh, logout, me, personal API tokens.

use super::json::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use super::extract::{ApiJson, ApiPath, Auth};
use crate::app::AppState;
use crate::auth::service::{self, ApiTokenView, TokenPair};
use crate::error::Result;
use crate::users::UserView;

/// `POST /auth/register` body.
#[derive(Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
#[derive(Default)]
pub struct RegisterBody {
    /// Email.
    pub email: String,
    /// Display name.
    pub name: String,
    /// 8–256 characters.
    pub password: String,
}

/// `POST /auth/login` body.
#[derive(Deserialize, ToSchema, Default)]
#[serde(default, deny_unknown_fields)]
pub struct LoginBody {
    /// Email.
    pub email: String,
    /// Password.
    pub password: String,
}

/// A refresh token in a body.
#[derive(Deserialize, ToSchema, Default)]
#[serde(default, deny_unknown_fields)]
pub struct RefreshBody {
    /// The refresh token from login or the last refresh.
    pub refresh_token: String,
}

/// `POST /auth/tokens` body.
#[derive(Deserialize, ToSchema, Default)]
#[serde(default, deny_unknown_fields)]
pub struct NewTokenBody {
    /// Label, e.g. the integration's name.
    pub name: String,
}

/// Create a customer account.
#[utoipa::path(post, path = "/auth/register", tag = "auth", request_body = RegisterBody,
    responses((status = 201, body = TokenPair), (status = 400), (status = 409)))]
pub async fn register(
    State(s): State<AppState>,
    ApiJson(b): ApiJson<RegisterBody>,
) -> Result<(StatusCode, Json<TokenPair>)> {
    let pair = service::register(&s.ctx, &b.email, &b.name, &b.password).await?;
    Ok((StatusCode::CREATED, Json(pair)))
}

/// Log in with email and password.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginBody,
    responses((status = 200, body = TokenPair), (status = 401)))]
pub async fn login(
    State(s): State<AppState>,
    ApiJson(b): ApiJson<LoginBody>,
) -> Result<Json<TokenPair>> {
    Ok(Json(service::login(&s.ctx, &b.email, &b.password).await?))
}

/// Exchange a refresh token for a new pair (the old one stops working).
#[utoipa::path(post, path = "/auth/refresh", tag = "auth", request_body = RefreshBody,
    responses((status = 200, body = TokenPair), (status = 401)))]
pub async fn refresh(
    State(s): State<AppState>,
    ApiJson(b): ApiJson<RefreshBody>,
) -> Result<Json<TokenPair>> {
    Ok(Json(service::refresh(&s.ctx, &b.refresh_token).await?))
}

/// Revoke a refresh token (and the session it belongs to).
#[utoipa::path(post, path = "/auth/logout", tag = "auth", request_body = RefreshBody,
    responses((status = 204), (status = 401)), security(("bearer" = [])))]
pub async fn logout(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(b): ApiJson<RefreshBody>,
) -> Result<StatusCode> {
    service::logout(&s.ctx, &a, &b.refresh_token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The current user.
#[utoipa::path(get, path = "/auth/me", tag = "auth", responses((status = 200, body = UserView), (status = 401)),
    security(("bearer" = [])))]
pub async fn me(State(s): State<AppState>, Auth(a): Auth) -> Result<Json<UserView>> {
    let u = crate::users::service::get(&s.ctx, a.id).await?;
    Ok(Json(UserView::from(&u)))
}

/// List your personal API tokens.
#[utoipa::path(get, path = "/auth/tokens", tag = "auth", responses((status = 200, body = Vec<ApiTokenView>)),
    security(("bearer" = [])))]
pub async fn list_tokens(
    State(s): State<AppState>,
    Auth(a): Auth,
) -> Result<Json<Vec<ApiTokenView>>> {
    Ok(Json(service::list_api_tokens(&s.ctx, &a).await?))
}

/// Create a personal API token; the `token` is shown only in this response.
#[utoipa::path(post, path = "/auth/tokens", tag = "auth", request_body = NewTokenBody,
    responses((status = 201, body = ApiTokenView)), security(("bearer" = [])))]
pub async fn create_token(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(b): ApiJson<NewTokenBody>,
) -> Result<(StatusCode, Json<ApiTokenView>)> {
    Ok((
        StatusCode::CREATED,
        Json(service::create_api_token(&s.ctx, &a, &b.name).await?),
    ))
}

/// Revoke one of your API tokens.
#[utoipa::path(delete, path = "/auth/tokens/{id}", tag = "auth", params(("id" = i64, Path)),
    responses((status = 204), (status = 404)), security(("bearer" = [])))]
pub async fn revoke_token(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode> {
    service::revoke_api_token(&s.ctx, &a, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /auth/password/forgot` body.
#[derive(Deserialize, ToSchema, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ForgotBody {
    /// The account's email.
    pub email: String,
}

/// `POST /auth/password/reset` body.
#[derive(Deserialize, ToSchema, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ResetBody {
    /// Token from the reset e-mail.
    pub token: String,
    /// New password (8–256 characters).
    pub password: String,
}

/// Ask for a password-reset e-mail. Always 202, whether or not the address has an account.
#[utoipa::path(post, path = "/auth/password/forgot", tag = "auth", request_body = ForgotBody,
    responses((status = 202), (status = 400), (status = 429)))]
pub async fn forgot_password(
    State(s): State<AppState>,
    ApiJson(b): ApiJson<ForgotBody>,
) -> Result<(StatusCode, Json<serde_json::Value>)> {
    crate::auth::reset::request(&s.ctx, &b.email).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(
            serde_json::json!({"message": "If the address has an account, a reset link is on its way."}),
        ),
    ))
}

/// Set a new password with the token from the reset e-mail; signs out every session.
#[utoipa::path(post, path = "/auth/password/reset", tag = "auth", request_body = ResetBody,
    responses((status = 204), (status = 400)))]
pub async fn reset_password(
    State(s): State<AppState>,
    ApiJson(b): ApiJson<ResetBody>,
) -> Result<StatusCode> {
    crate::auth::reset::complete(&s.ctx, &b.token, &b.password).await?;
    Ok(StatusCode::NO_CONTENT)
}
