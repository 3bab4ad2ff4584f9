//! Tracking links: a signed token that lets a ticket's requester follow it without an account.

use crate::auth::Actor;
use crate::auth::tokens::Keys;
use crate::context::Ctx;
use crate::db::entities::{ticket, user};
use crate::error::{Error, Result};
use crate::tickets::model::Role;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

fn message(number: &str, requester_id: i64) -> String {
    format!("track:{number}:{requester_id}")
}

/// The token for a ticket's tracking link.
pub fn token(keys: &Keys, number: &str, requester_id: i64) -> String {
    keys.sign(&message(number, requester_id))
}

/// The full tracking URL for a ticket.
pub fn url(ctx: &Ctx, t: &ticket::Model) -> String {
    format!(
        "{}/track/{}?token={}",
        ctx.config.public_base_url(),
        t.number,
        token(&ctx.keys, &t.number, t.requester_id)
    )
}

/// Checks a tracking token and returns the requester as a customer-level actor
/// (so everything downstream applies the customer's visibility rules).
pub async fn actor_for(ctx: &Ctx, number: &str, token_raw: &str) -> Result<Actor> {
    let number = number.trim().to_uppercase();
    let t = ticket::Entity::find()
        .filter(ticket::Column::Number.eq(number.clone()))
        .one(&ctx.db.read)
        .await?
        .ok_or(Error::NotFound("ticket"))?;
    if !ctx
        .keys
        .verify_signature(&message(&number, t.requester_id), token_raw)
    {
        // Same answer as a missing ticket: a bad token reveals nothing.
        return Err(Error::NotFound("ticket"));
    }
    let u = user::Entity::find_by_id(t.requester_id)
        .one(&ctx.db.read)
        .await?
        .filter(|u| u.active)
        .ok_or(Error::NotFound("ticket"))?;
    Ok(Actor {
        id: u.id,
        name: u.name,
        email: u.email,
        role: Role::Customer,
    })
}
