//! Login, registration, refresh-token rotation with reuse detection, logout, API tokens.

use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, Set};
use serde::Serialize;

use super::Actor;
use super::password;
use super::tokens::{API_TOKEN_PREFIX, hash_token, random_token};
use crate::context::Ctx;
use crate::db::direct::{Cells, FromCells};
use crate::db::entities::{api_token, refresh_token, user};
use crate::error::{Error, FieldErrors, Result};
use crate::tickets::model::Role;
use crate::users::UserView;
use crate::users::service::{self as users, NewUser};

/// What login, registration and refresh return.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenPair {
    /// Short-lived JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Single-use token to get the next pair.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The account.
    pub user: UserView,
}

async fn issue(ctx: &Ctx, u: &user::Model, family: Option<String>) -> Result<TokenPair> {
    let now = ctx.clock.now_micros();
    let ttl = ctx.config.access_token_ttl_secs;
    let access = ctx
        .keys
        .access_token(u.id, &u.role, now / 1_000_000, ttl)
        .map_err(Error::Internal)?;
    let refresh = random_token();
    refresh_token::ActiveModel {
        user_id: Set(u.id),
        family: Set(family.unwrap_or_else(|| uuid::Uuid::new_v4().to_string())),
        token_hash: Set(hash_token(&refresh)),
        expires_at: Set(now + ctx.config.refresh_token_ttl_days * 86_400_000_000),
        used_at: Set(None),
        revoked_at: Set(None),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&ctx.db.write)
    .await?;
    Ok(TokenPair {
        access_token: access,
        refresh_token: refresh,
        token_type: "Bearer",
        expires_in: ttl,
        user: UserView::from(u),
    })
}

/// Creates a customer account and logs it in; an existing password-less contact is claimed.
pub async fn register(ctx: &Ctx, email: &str, name: &str, pw: &str) -> Result<TokenPair> {
    let mut errors = FieldErrors::new();
    let email = users::check_email(&mut errors, email);
    let name_ok = users::check_name(&mut errors, name);
    users::check_password(&mut errors, pw);
    Error::check(errors)?;
    let u = match users::find_by_email(&ctx.db.read, &email).await? {
        // A contact made by the public form or email becomes a full account; its tickets follow.
        Some(contact) if contact.password_hash.is_none() && contact.role == "customer" => {
            let hash = users::hash_blocking(pw.to_string()).await?;
            let mut am: user::ActiveModel = contact.into();
            am.password_hash = Set(Some(hash));
            am.name = Set(name_ok);
            am.updated_at = Set(ctx.clock.now_micros());
            am.update(&ctx.db.write).await?
        }
        Some(_) => {
            return Err(Error::Conflict(
                "an account with this email already exists".into(),
            ));
        }
        None => {
            users::create(
                ctx,
                NewUser {
                    email,
                    name: name_ok,
                    role: Role::Customer,
                    password: Some(pw.to_string()),
                },
            )
            .await?
        }
    };
    issue(ctx, &u, None).await
}

/// Checks credentials and issues a token pair.
pub async fn login(ctx: &Ctx, email: &str, pw: &str) -> Result<TokenPair> {
    let u = check_credentials(ctx, email, pw).await?;
    issue(ctx, &u, None).await
}

/// The active account with this email and password (same answer and timing for every failure).
pub async fn check_credentials(ctx: &Ctx, email: &str, pw: &str) -> Result<user::Model> {
    let bad = || Error::Unauthorized("invalid email or password".into());
    let email = crate::users::normalize_email(email).ok_or_else(bad)?;
    let found = users::find_by_email(&ctx.db.read, &email).await?;
    let pw_owned = pw.to_string();
    let Some(u) = found.filter(|u| u.active && u.password_hash.is_some()) else {
        let _ = tokio::task::spawn_blocking(move || password::dummy_verify(&pw_owned)).await;
        return Err(bad());
    };
    let phc = u.password_hash.clone().unwrap_or_default();
    let ok = tokio::task::spawn_blocking(move || password::verify(&pw_owned, &phc))
        .await
        .unwrap_or(false);
    if !ok {
        return Err(bad());
    }
    Ok(u)
}

/// Rotates a refresh token. Presenting a token that was already used revokes its whole family.
pub async fn refresh(ctx: &Ctx, token: &str) -> Result<TokenPair> {
    let bad = || Error::Unauthorized("invalid or expired refresh token".into());
    let now = ctx.clock.now_micros();
    let txn = ctx.db.begin().await?;
    let Some(row) = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(hash_token(token)))
        .one(&txn)
        .await?
    else {
        return Err(bad());
    };
    if row.used_at.is_some() || row.revoked_at.is_some() {
        // Reuse: someone holds a copy. Kill every token descended from the same login.
        refresh_token::Entity::update_many()
            .col_expr(refresh_token::Column::RevokedAt, Expr::value(now))
            .filter(refresh_token::Column::Family.eq(row.family.clone()))
            .filter(refresh_token::Column::RevokedAt.is_null())
            .exec(&txn)
            .await?;
        txn.commit().await?;
        tracing::warn!(
            user_id = row.user_id,
            "refresh token reuse detected; family revoked"
        );
        return Err(bad());
    }
    if row.expires_at <= now {
        return Err(bad());
    }
    let family = row.family.clone();
    let user_id = row.user_id;
    let mut am: refresh_token::ActiveModel = row.into();
    am.used_at = Set(Some(now));
    am.update(&txn).await?;
    txn.commit().await?;
    let u = users::get(ctx, user_id).await?;
    if !u.active {
        return Err(bad());
    }
    issue(ctx, &u, Some(family)).await
}

/// Revokes the refresh token's family (this login session); unknown tokens are ignored.
pub async fn logout(ctx: &Ctx, actor: &Actor, token: &str) -> Result<()> {
    let now = ctx.clock.now_micros();
    if let Some(row) = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(hash_token(token)))
        .filter(refresh_token::Column::UserId.eq(actor.id))
        .one(&ctx.db.read)
        .await?
    {
        refresh_token::Entity::update_many()
            .col_expr(refresh_token::Column::RevokedAt, Expr::value(now))
            .filter(refresh_token::Column::Family.eq(row.family))
            .filter(refresh_token::Column::RevokedAt.is_null())
            .exec(&ctx.db.write)
            .await?;
    }
    Ok(())
}

/// An account as authentication reads it, with the API token it was found by (if any).
pub(super) struct AccountRow {
    id: i64,
    name: String,
    role: String,
    active: bool,
    email: String,
    token_id: Option<i64>,
    token_used_at: Option<i64>,
}

impl FromCells for AccountRow {
    fn from_cells(row: &impl Cells) -> std::result::Result<Self, DbErr> {
        Ok(AccountRow {
            id: row.at(0)?,
            name: row.at(1)?,
            role: row.at(2)?,
            active: row.at(3)?,
            email: row.at(4)?,
            token_id: row.at(5)?,
            token_used_at: row.at(6)?,
        })
    }
}

/// The account read for a request as its actor: refused when deactivated (every way of
/// authenticating ends here), and an API token's last use noted.
pub(super) async fn authenticate_account(ctx: &Ctx, row: AccountRow) -> Result<Actor> {
    // Last-used is informative; refresh it at most once a minute to spare the writer.
    let now = ctx.clock.now_micros();
    if let Some(token_id) = row.token_id
        && row.token_used_at.is_none_or(|t| now - t > 60_000_000)
    {
        api_token::Entity::update_many()
            .col_expr(api_token::Column::LastUsedAt, Expr::value(now))
            .filter(api_token::Column::Id.eq(token_id))
            .exec(&ctx.db.write)
            .await?;
    }
    active_actor(row)
}

fn active_actor(a: AccountRow) -> Result<Actor> {
    if !a.active {
        return Err(Error::Unauthorized(
            "account not found or deactivated".into(),
        ));
    }
    Ok(Actor {
        id: a.id,
        name: a.name,
        email: a.email,
        role: Role::parse(&a.role).unwrap_or(Role::Customer),
    })
}

/// The account as an actor, re-read now so deactivation and demotion apply at once.
pub async fn live_actor(ctx: &Ctx, user_id: i64) -> Result<Actor> {
    let caller = super::caller::Caller {
        credential: super::caller::Credential::Jwt(user_id),
        hint: None,
    };
    super::caller::actor(ctx, &caller).await
}

/// A personal API token as listed (never the secret itself).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApiTokenView {
    /// Id.
    pub id: i64,
    /// Label given at creation.
    pub name: String,
    /// First characters, to recognise it.
    pub prefix: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339, when last used.
    pub last_used_at: Option<String>,
    /// The token itself: present only in the creation response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

fn token_view(m: &api_token::Model, token: Option<String>) -> ApiTokenView {
    ApiTokenView {
        id: m.id,
        name: m.name.clone(),
        prefix: m.prefix.clone(),
        created_at: crate::clock::rfc3339(m.created_at),
        last_used_at: m.last_used_at.map(crate::clock::rfc3339),
        token,
    }
}

/// Creates a personal API token; the secret is returned once.
pub async fn create_api_token(ctx: &Ctx, actor: &Actor, name: &str) -> Result<ApiTokenView> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::field("name", "must be 1 to 100 characters"));
    }
    let token = format!("{API_TOKEN_PREFIX}{}", random_token());
    let m = api_token::ActiveModel {
        user_id: Set(actor.id),
        name: Set(name.to_string()),
        prefix: Set(token.chars().take(10).collect()),
        token_hash: Set(hash_token(&token)),
        created_at: Set(ctx.clock.now_micros()),
        last_used_at: Set(None),
        revoked_at: Set(None),
        ..Default::default()
    }
    .insert(&ctx.db.write)
    .await?;
    Ok(token_view(&m, Some(token)))
}

/// The caller's live API tokens.
pub async fn list_api_tokens(ctx: &Ctx, actor: &Actor) -> Result<Vec<ApiTokenView>> {
    let rows = api_token::Entity::find()
        .filter(api_token::Column::UserId.eq(actor.id))
        .filter(api_token::Column::RevokedAt.is_null())
        .order_by_asc(api_token::Column::Id)
        .all(&ctx.db.read)
        .await?;
    Ok(rows.iter().map(|m| token_view(m, None)).collect())
}

/// Revokes one of the caller's API tokens.
pub async fn revoke_api_token(ctx: &Ctx, actor: &Actor, id: i64) -> Result<()> {
    let res = api_token::Entity::update_many()
        .col_expr(
            api_token::Column::RevokedAt,
            Expr::value(ctx.clock.now_micros()),
        )
        .filter(api_token::Column::Id.eq(id))
        .filter(api_token::Column::UserId.eq(actor.id))
        .filter(api_token::Column::RevokedAt.is_null())
        .exec(&ctx.db.write)
        .await?;
    if res.rows_affected == 0 {
        return Err(Error::NotFound("API token"));
    }
    Ok(())
}
