//! Articles linked to tickets: agents point a ticket at the help article that answers it.

use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde::Serialize;

use crate::auth::Actor;
use crate::context::Ctx;
use crate::db::desk_entities::{article, ticket_article};
use crate::error::{Error, Result};
use crate::tickets::access;
use crate::tickets::history::{self, Change};

/// A linked article as shown on a ticket.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct LinkedArticle {
    /// Article id.
    pub id: i64,
    /// URL name: `/help/{slug}`.
    pub slug: String,
    /// Title.
    pub title: String,
}

/// Published articles linked to a ticket, by title.
pub async fn for_ticket(conn: &impl ConnectionTrait, ticket_id: i64) -> Result<Vec<LinkedArticle>> {
    let ids: Vec<i64> = ticket_article::Entity::find()
        .filter(ticket_article::Column::TicketId.eq(ticket_id))
        .all(conn)
        .await?
        .into_iter()
        .map(|l| l.article_id)
        .collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(article::Entity::find()
        .filter(article::Column::Id.is_in(ids))
        .filter(article::Column::Published.eq(true))
        .order_by_asc(article::Column::Title)
        .all(conn)
        .await?
        .into_iter()
        .map(|a| LinkedArticle {
            id: a.id,
            slug: a.slug,
            title: a.title,
        })
        .collect())
}

/// Links a published article to a ticket (agents, admins); linking twice is harmless.
pub async fn link(
    ctx: &Ctx,
    actor: &Actor,
    ticket_key: &str,
    article_key: &str,
) -> Result<Vec<LinkedArticle>> {
    let t = access::load(&ctx.db, actor, ticket_key).await?;
    access::require_staff(actor)?;
    let a = super::get(ctx, article_key, false)
        .await
        .map_err(|_| Error::field("article_id", "no such published article"))?;
    let now = ctx.clock.now_micros();
    let txn = ctx.db.begin().await?;
    let res = ticket_article::Entity::insert(ticket_article::ActiveModel {
        ticket_id: Set(t.id),
        article_id: Set(a.id),
        linked_by: Set(Some(actor.id)),
        created_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([
            ticket_article::Column::TicketId,
            ticket_article::Column::ArticleId,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    if res > 0 {
        history::record(
            &txn,
            t.id,
            Some(actor.id),
            vec![Change::public("article", None, Some(a.title))],
            now,
        )
        .await?;
    }
    txn.commit().await?;
    for_ticket(&ctx.db.read, t.id).await
}

/// Removes a link (agents, admins).
pub async fn unlink(ctx: &Ctx, actor: &Actor, ticket_key: &str, article_id: i64) -> Result<()> {
    let t = access::load(&ctx.db, actor, ticket_key).await?;
    access::require_staff(actor)?;
    let res = ticket_article::Entity::delete_many()
        .filter(ticket_article::Column::TicketId.eq(t.id))
        .filter(ticket_article::Column::ArticleId.eq(article_id))
        .exec(&ctx.db.write)
        .await?;
    if res.rows_affected == 0 {
        return Err(Error::NotFound("article link"));
    }
    Ok(())
}
