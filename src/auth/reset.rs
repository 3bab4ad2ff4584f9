//! Password reset by e-mail: a single-use token valid for one hour, stored as a hash; the
//! e-mail job is written in the same transaction. Requests never reveal whether an address
//! has an account.

use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::json;

use super::tokens::{hash_token, random_token};
use crate::context::Ctx;
use crate::db::entities::{refresh_token, user};
use crate::db::mail_entities::password_reset;
use crate::error::{Error, FieldErrors, Result};
use crate::jobs;
use crate::mail::outbound::OutgoingEmail;
use crate::mail::{ids, templates};
use crate::users::service as users;

const TTL_US: i64 = 3_600_000_000;

/// Starts a reset for `email` if it belongs to an active account; always succeeds outwardly.
pub async fn request(ctx: &Ctx, email: &str) -> Result<()> {
    let Some(email) = crate::users::normalize_email(email) else {
        return Err(Error::field("email", "must be a valid email address"));
    };
    let Some(u) = users::find_by_email(&ctx.db.read, &email).await? else {
        return Ok(());
    };
    if !u.active {
        return Ok(());
    }
    if ctx.config.smtp_url.trim().is_empty() {
        tracing::warn!("password reset requested but e-mail is off (TRIAGE_SMTP_URL unset)");
        return Ok(());
    }
    let now = ctx.clock.now_micros();
    let token = random_token();
    let url = format!(
        "{}/reset-password?token={token}",
        ctx.config.public_base_url()
    );
    let tpl = templates::load(&ctx.db.read, "password_reset").await?;
    let r = templates::render(&tpl, &json!({"user": {"name": u.name}, "reset_url": url}))?;
    let mid = ids::message_id(
        &ctx.keys,
        &crate::mail::domain(ctx),
        0,
        &hash_token(&token)[..20],
    );
    let email_job = OutgoingEmail::notice("password_reset", &u.email, &u.name, r, mid);
    let txn = ctx.db.begin().await?;
    password_reset::ActiveModel {
        user_id: Set(u.id),
        token_hash: Set(hash_token(&token)),
        expires_at: Set(now + TTL_US),
        used_at: Set(None),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let job = email_job.into_job(None, ctx.config.job_max_attempts, now);
    jobs::enqueue_all(&txn, vec![job], now).await?;
    txn.commit().await?;
    Ok(())
}

/// Sets a new password with a reset token; every session of the account is signed out.
pub async fn complete(ctx: &Ctx, token: &str, new_password: &str) -> Result<()> {
    let mut errors = FieldErrors::new();
    users::check_password(&mut errors, new_password);
    Error::check(errors)?;
    let hash = users::hash_blocking(new_password.to_string()).await?;
    let now = ctx.clock.now_micros();
    let txn = ctx.db.begin().await?;
    let row = password_reset::Entity::find()
        .filter(password_reset::Column::TokenHash.eq(hash_token(token.trim())))
        .one(&txn)
        .await?;
    let row = match row {
        Some(r) if r.used_at.is_none() && r.expires_at > now => r,
        _ => {
            return Err(Error::field(
                "token",
                "is invalid or has expired; ask for a new link",
            ));
        }
    };
    let used = password_reset::Entity::update_many()
        .col_expr(password_reset::Column::UsedAt, Expr::value(now))
        .filter(password_reset::Column::Id.eq(row.id))
        .filter(password_reset::Column::UsedAt.is_null())
        .exec(&txn)
        .await?;
    if used.rows_affected != 1 {
        return Err(Error::field(
            "token",
            "is invalid or has expired; ask for a new link",
        ));
    }
    user::Entity::update_many()
        .col_expr(user::Column::PasswordHash, Expr::value(hash))
        .col_expr(user::Column::UpdatedAt, Expr::value(now))
        .filter(user::Column::Id.eq(row.user_id))
        .exec(&txn)
        .await?;
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(now))
        .filter(refresh_token::Column::UserId.eq(row.user_id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    crate::db::mail_entities::web_session::Entity::delete_many()
        .filter(crate::db::mail_entities::web_session::Column::UserId.eq(row.user_id))
        .exec(&txn)
        .await?;
    crate::db::mail_entities::web_session::Entity::delete_many()
        .filter(crate::db::mail_entities::web_session::Column::UserId.eq(row.user_id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(())
}
