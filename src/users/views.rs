//! Saved views: an agent's named queue filters (the query string of the queue page).

use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
};

use crate::auth::Actor;
use crate::context::Ctx;
use crate::db::mail_entities::saved_view;
use crate::error::{Error, FieldErrors, Result, push};

/// Views one person may keep.
const MAX_VIEWS: u64 = 30;

/// The actor's views, oldest first.
pub async fn list(ctx: &Ctx, actor: &Actor) -> Result<Vec<saved_view::Model>> {
    Ok(saved_view::Entity::find()
        .filter(saved_view::Column::UserId.eq(actor.id))
        .order_by_asc(saved_view::Column::Id)
        .all(&ctx.db.read)
        .await?)
}

/// Saves a view; the query is checked by the same parser the queue uses.
pub async fn save(ctx: &Ctx, actor: &Actor, name: &str, query: &str) -> Result<saved_view::Model> {
    let mut e = FieldErrors::new();
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 60 {
        push(&mut e, "name", "must be 1 to 60 characters");
    }
    if query.len() > 1000 {
        push(&mut e, "query", "is too long");
    }
    Error::check(e)?;
    let params: std::collections::BTreeMap<String, String> = serde_urlencoded::from_str(query)
        .map_err(|_| Error::field("query", "is not a query string"))?;
    crate::tickets::query::parse_filters(&params, actor.id)?;
    let count = saved_view::Entity::find()
        .filter(saved_view::Column::UserId.eq(actor.id))
        .count(&ctx.db.read)
        .await?;
    if count >= MAX_VIEWS {
        return Err(Error::Conflict(format!(
            "at most {MAX_VIEWS} saved views; delete one first"
        )));
    }
    Ok(saved_view::ActiveModel {
        user_id: Set(actor.id),
        name: Set(name.to_string()),
        query: Set(query.to_string()),
        created_at: Set(ctx.clock.now_micros()),
        ..Default::default()
    }
    .insert(&ctx.db.write)
    .await?)
}

/// Deletes one of the actor's views.
pub async fn delete(ctx: &Ctx, actor: &Actor, id: i64) -> Result<()> {
    let r = saved_view::Entity::delete_many()
        .filter(saved_view::Column::Id.eq(id))
        .filter(saved_view::Column::UserId.eq(actor.id))
        .exec(&ctx.db.write)
        .await?;
    if r.rows_affected == 0 {
        return Err(Error::NotFound("saved view"));
    }
    Ok(())
}
