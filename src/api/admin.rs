//! Users, categories and agents.

use super::json::Json;
use axum::extract::State;
use axum::http::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

use super::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use super::tickets::{TicketPage, list_for};
use crate::app::AppState;
use crate::db::entities::user;
use crate::error::{Error, Result};
use crate::tickets::access::{require_admin, require_staff};
use crate::tickets::categories::{self, CategoryInput, CategoryView};
use crate::tickets::model::Role;
use crate::users::UserView;
use crate::users::service::{self as users, NewUser, UserPatch};

fn parse_role(raw: &str) -> Result<Role> {
    Role::parse(raw.trim())
        .ok_or_else(|| Error::field("role", format!("must be one of: {}", Role::choices())))
}

/// A page of users.
#[derive(Serialize, ToSchema)]
pub struct UserPage {
    /// Users.
    pub data: Vec<UserView>,
    /// Matching users in all.
    pub total: u64,
}

/// List users (admin); filters `role`, `q`; paging `limit` (≤100) and `offset`.
#[utoipa::path(get, path = "/users", tag = "users",
    params(("role" = Option<String>, Query), ("q" = Option<String>, Query), ("limit" = Option<u64>, Query), ("offset" = Option<u64>, Query)),
    responses((status = 200, body = UserPage), (status = 403)), security(("bearer" = [])))]
pub async fn list_users(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiQuery(p): ApiQuery<BTreeMap<String, String>>,
) -> Result<Json<UserPage>> {
    require_admin(&a)?;
    let role = p
        .get("role")
        .filter(|r| !r.is_empty())
        .map(|r| parse_role(r))
        .transpose()?;
    let limit = super::tickets::parse_limit(&p)?;
    let offset = match p.get("offset") {
        None => 0,
        Some(o) => o
            .trim()
            .parse::<u64>()
            .map_err(|_| Error::field("offset", "must be a non-negative integer"))?,
    };
    let (rows, total) =
        users::list(&s.ctx, role, p.get("q").map(String::as_str), limit, offset).await?;
    Ok(Json(UserPage {
        data: rows.iter().map(UserView::from).collect(),
        total,
    }))
}

/// `POST /users` body.
#[derive(Deserialize, ToSchema, Default)]
#[serde(default, deny_unknown_fields)]
pub struct NewUserBody {
    /// Email.
    pub email: String,
    /// Name.
    pub name: String,
    /// `customer`, `agent` or `admin`.
    pub role: String,
    /// Initial password.
    pub password: String,
}

/// Create a user (admin).
#[utoipa::path(post, path = "/users", tag = "users", request_body = NewUserBody,
    responses((status = 201, body = UserView), (status = 400), (status = 403), (status = 409)), security(("bearer" = [])))]
pub async fn create_user(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(b): ApiJson<NewUserBody>,
) -> Result<(StatusCode, Json<UserView>)> {
    require_admin(&a)?;
    let role = parse_role(&b.role)?;
    let u = users::create(
        &s.ctx,
        NewUser {
            email: b.email,
            name: b.name,
            role,
            password: Some(b.password),
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(UserView::from(&u))))
}

/// One user (admin).
#[utoipa::path(get, path = "/users/{id}", tag = "users", params(("id" = i64, Path)),
    responses((status = 200, body = UserView), (status = 404)), security(("bearer" = [])))]
pub async fn get_user(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<UserView>> {
    require_admin(&a)?;
    Ok(Json(UserView::from(&users::get(&s.ctx, id).await?)))
}

/// `PATCH /users/{id}` body.
#[derive(Deserialize, ToSchema, Default)]
#[serde(default, deny_unknown_fields)]
pub struct PatchUserBody {
    /// Name.
    pub name: Option<String>,
    /// Role.
    pub role: Option<String>,
    /// Active flag.
    pub active: Option<bool>,
    /// Away flag (skipped by auto-assignment).
    pub away: Option<bool>,
    /// Most open tickets auto-assignment gives this agent; `null` for no limit.
    #[serde(deserialize_with = "crate::patch::nullable")]
    #[schema(value_type = Option<i32>)]
    pub capacity: Option<Option<i32>>,
    /// New password.
    pub password: Option<String>,
}

/// Update a user: name, role, active, away, password (admin).
#[utoipa::path(patch, path = "/users/{id}", tag = "users", params(("id" = i64, Path)), request_body = PatchUserBody,
    responses((status = 200, body = UserView), (status = 400), (status = 404), (status = 409)), security(("bearer" = [])))]
pub async fn patch_user(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<PatchUserBody>,
) -> Result<Json<UserView>> {
    require_admin(&a)?;
    let role = b.role.as_deref().map(parse_role).transpose()?;
    let patch = UserPatch {
        name: b.name,
        role,
        active: b.active,
        away: b.away,
        capacity: b.capacity,
        password: b.password,
    };
    Ok(Json(UserView::from(
        &users::update(&s.ctx, id, patch).await?,
    )))
}

/// Deactivate a user (admin). Users are never hard-deleted: their tickets and replies stay.
#[utoipa::path(delete, path = "/users/{id}", tag = "users", params(("id" = i64, Path)),
    responses((status = 204), (status = 404), (status = 409)), security(("bearer" = [])))]
pub async fn delete_user(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode> {
    require_admin(&a)?;
    users::update(
        &s.ctx,
        id,
        UserPatch {
            active: Some(false),
            ..Default::default()
        },
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Active categories (admins add `?all=true` for inactive ones too). Public: the form needs them.
#[utoipa::path(get, path = "/categories", tag = "categories", params(("all" = Option<bool>, Query)),
    responses((status = 200, body = Vec<CategoryView>)))]
pub async fn list_categories(
    State(s): State<AppState>,
    auth: Option<Auth>,
    ApiQuery(p): ApiQuery<BTreeMap<String, String>>,
) -> Result<Json<Vec<CategoryView>>> {
    let all = p.get("all").is_some_and(|v| v == "true") && auth.is_some_and(|Auth(a)| a.is_admin());
    Ok(Json(categories::list(&s.ctx, all).await?))
}

/// Category create/update body.
#[derive(Deserialize, ToSchema, Default)]
#[serde(default, deny_unknown_fields)]
pub struct CategoryBody {
    /// Stable id (create only): a-z, 0-9, _.
    pub slug: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Help text.
    pub description: Option<String>,
    /// Offered on forms.
    pub active: Option<bool>,
    /// Display order.
    pub position: Option<i32>,
    /// Assign new tickets in this category automatically (least loaded agent, round-robin).
    pub auto_assign: Option<bool>,
}

impl From<CategoryBody> for CategoryInput {
    fn from(b: CategoryBody) -> Self {
        CategoryInput {
            slug: b.slug,
            name: b.name,
            description: b.description,
            active: b.active,
            position: b.position,
            auto_assign: b.auto_assign,
        }
    }
}

/// Create a category (admin).
#[utoipa::path(post, path = "/categories", tag = "categories", request_body = CategoryBody,
    responses((status = 201, body = CategoryView), (status = 400), (status = 409)), security(("bearer" = [])))]
pub async fn create_category(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(b): ApiJson<CategoryBody>,
) -> Result<(StatusCode, Json<CategoryView>)> {
    require_admin(&a)?;
    Ok((
        StatusCode::CREATED,
        Json(categories::create(&s.ctx, b.into()).await?),
    ))
}

/// Update a category (admin).
#[utoipa::path(patch, path = "/categories/{id}", tag = "categories", params(("id" = i64, Path)), request_body = CategoryBody,
    responses((status = 200, body = CategoryView), (status = 400), (status = 404)), security(("bearer" = [])))]
pub async fn patch_category(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<CategoryBody>,
) -> Result<Json<CategoryView>> {
    require_admin(&a)?;
    Ok(Json(categories::update(&s.ctx, id, b.into()).await?))
}

/// Delete an unused category (admin); one in use answers 409.
#[utoipa::path(delete, path = "/categories/{id}", tag = "categories", params(("id" = i64, Path)),
    responses((status = 204), (status = 404), (status = 409)), security(("bearer" = [])))]
pub async fn delete_category(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode> {
    require_admin(&a)?;
    categories::delete(&s.ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An agent with their workload.
#[derive(Serialize, ToSchema)]
pub struct AgentView {
    /// User id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Email.
    pub email: String,
    /// `agent` or `admin`.
    pub role: String,
    /// Away from auto-assignment.
    pub away: bool,
    /// Assigned tickets not yet resolved or closed.
    pub open_tickets: i64,
}

/// Active agents and admins with their open ticket counts.
#[utoipa::path(get, path = "/agents", tag = "agents", responses((status = 200, body = Vec<AgentView>), (status = 403)), security(("bearer" = [])))]
pub async fn list_agents(State(s): State<AppState>, Auth(a): Auth) -> Result<Json<Vec<AgentView>>> {
    require_staff(&a)?;
    let staff = user::Entity::find()
        .filter(user::Column::Role.is_in(["agent", "admin"]))
        .filter(user::Column::Active.eq(true))
        .order_by_asc(user::Column::Name)
        .all(&s.ctx.db.read)
        .await?;
    let loads =
        crate::tickets::changes::open_loads(&s.ctx.db.read, staff.iter().map(|u| u.id).collect())
            .await?;
    Ok(Json(
        staff
            .into_iter()
            .map(|u| AgentView {
                open_tickets: loads.get(&u.id).copied().unwrap_or(0),
                id: u.id,
                name: u.name,
                email: u.email,
                role: u.role,
                away: u.away,
            })
            .collect(),
    ))
}

/// Tickets assigned to an agent (agents may only ask for their own), with the list's filters.
#[utoipa::path(get, path = "/agents/{id}/tickets", tag = "agents", params(("id" = i64, Path)),
    responses((status = 200, body = TicketPage), (status = 403)), security(("bearer" = [])))]
pub async fn agent_tickets(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(mut p): ApiQuery<BTreeMap<String, String>>,
) -> Result<Json<TicketPage>> {
    require_staff(&a)?;
    if !a.is_admin() && id != a.id {
        return Err(Error::Forbidden(
            "agents may only list their own tickets".into(),
        ));
    }
    p.insert("assignee".into(), id.to_string());
    Ok(Json(list_for(&s, &a, &p).await?))
}
