//! Browser sessions: a random cookie token (stored hashed), 14 days, sliding; signing out or
//! a password reset ends it.

use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};

use super::Actor;
use super::tokens::{hash_token, random_token};
use crate::context::Ctx;
use crate::db::mail_entities::web_session;
use crate::error::Result;

const LIFETIME_US: i64 = 14 * 86_400_000_000;

/// Starts a session for a user; returns the cookie value.
pub async fn start(ctx: &Ctx, user_id: i64) -> Result<String> {
    let now = ctx.clock.now_micros();
    let token = random_token();
    web_session::ActiveModel {
        token_hash: Set(hash_token(&token)),
        user_id: Set(user_id),
        created_at: Set(now),
        last_seen_at: Set(now),
        expires_at: Set(now + LIFETIME_US),
        ..Default::default()
    }
    .insert(&ctx.db.write)
    .await?;
    Ok(token)
}

/// The signed-in actor for a cookie value, if the session is live and the account active.
pub async fn resolve(ctx: &Ctx, token: &str) -> Result<Option<Actor>> {
    let now = ctx.clock.now_micros();
    let Some(row) = web_session::Entity::find()
        .filter(web_session::Column::TokenHash.eq(hash_token(token)))
        .one(&ctx.db.read)
        .await?
    else {
        return Ok(None);
    };
    if row.expires_at <= now {
        return Ok(None);
    }
    // Sliding expiry, written at most once a minute to spare the writer.
    if now - row.last_seen_at > 60_000_000 {
        web_session::Entity::update_many()
            .col_expr(web_session::Column::LastSeenAt, Expr::value(now))
            .col_expr(
                web_session::Column::ExpiresAt,
                Expr::value(now + LIFETIME_US),
            )
            .filter(web_session::Column::Id.eq(row.id))
            .exec(&ctx.db.write)
            .await?;
    }
    match super::service::live_actor(ctx, row.user_id).await {
        Ok(a) => Ok(Some(a)),
        Err(crate::error::Error::Unauthorized(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Ends a session.
pub async fn end(ctx: &Ctx, token: &str) -> Result<()> {
    web_session::Entity::delete_many()
        .filter(web_session::Column::TokenHash.eq(hash_token(token)))
        .exec(&ctx.db.write)
        .await?;
    Ok(())
}

/// Ends every session of a user (password reset, deactivation).
pub async fn end_all(ctx: &Ctx, user_id: i64) -> Result<()> {
    web_session::Entity::delete_many()
        .filter(web_session::Column::UserId.eq(user_id))
        .exec(&ctx.db.write)
        .await?;
    Ok(())
}
