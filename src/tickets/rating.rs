//! Customer satisfaction: the requester rates a resolved ticket once, 1–5 with a comment.

use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde::Serialize;

use super::access;
use super::history::{self, Change};
use crate::auth::Actor;
use crate::clock::rfc3339;
use crate::context::Ctx;
use crate::db::desk_entities::rating;
use crate::error::{Error, FieldErrors, Result, push};

/// Longest rating comment, in characters.
const MAX_COMMENT: usize = 2000;

/// A rating as the API shows it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct RatingView {
    /// 1 (very unhappy) to 5 (very happy).
    pub score: i32,
    /// The customer's words, possibly empty.
    pub comment: String,
    /// When it was given, RFC 3339.
    pub created_at: String,
}

impl From<rating::Model> for RatingView {
    fn from(r: rating::Model) -> Self {
        RatingView {
            score: r.score,
            comment: r.comment,
            created_at: rfc3339(r.created_at),
        }
    }
}

/// Records the requester's rating of a resolved (or closed) ticket; a second one is a 409.
pub async fn rate(
    ctx: &Ctx,
    actor: &Actor,
    key: &str,
    score: i64,
    comment: &str,
) -> Result<RatingView> {
    let comment = comment.trim();
    let mut errors = FieldErrors::new();
    if !(1..=5).contains(&score) {
        push(&mut errors, "score", "must be a whole number from 1 to 5");
    }
    if comment.chars().count() > MAX_COMMENT {
        push(
            &mut errors,
            "comment",
            format!("must be at most {MAX_COMMENT} characters"),
        );
    }
    Error::check(errors)?;
    let txn = ctx.db.begin().await?;
    let t = access::load_for_update(&txn, actor, key).await?;
    if actor.id != t.requester_id {
        return Err(Error::Forbidden(
            "only the person who asked can rate a ticket".into(),
        ));
    }
    if t.merged_into.is_some() {
        return Err(Error::Conflict(
            "this ticket was merged into another; rate that one".into(),
        ));
    }
    if !matches!(t.status.as_str(), "resolved" | "closed") || t.resolved_at.is_none() {
        return Err(Error::Conflict(
            "a ticket can be rated once it is resolved".into(),
        ));
    }
    let taken = rating::Entity::find()
        .filter(rating::Column::TicketId.eq(t.id))
        .one(&txn)
        .await?;
    if taken.is_some() {
        return Err(Error::Conflict("this ticket has already been rated".into()));
    }
    let now = ctx.clock.now_micros();
    let row = rating::ActiveModel {
        ticket_id: Set(t.id),
        user_id: Set(actor.id),
        agent_id: Set(t.assignee_id),
        score: Set(score as i32),
        comment: Set(comment.to_string()),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .map_err(|e| match e.sql_err() {
        // Two rating requests at once on PostgreSQL: the unique index decides.
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => {
            Error::Conflict("this ticket has already been rated".into())
        }
        _ => Error::Db(e),
    })?;
    history::record(
        &txn,
        t.id,
        Some(actor.id),
        vec![Change::public("rating", None, Some(format!("{score}/5")))],
        now,
    )
    .await?;
    crate::jobs::enqueue_event(
        &txn,
        "ticket.rated",
        t.id,
        Some(actor.id),
        serde_json::json!({"score": score, "comment": comment}),
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(row.into())
}
