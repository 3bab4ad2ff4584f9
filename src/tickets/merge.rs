//! Merging a duplicate ticket into another: one thread in time order, the source closed with
//! a pointer, its e-mail thread re-pointed so replies land on the target.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set, Statement,
};

use super::access;
use super::changes::apply_status;
use super::history::{self, Change};
use super::model::Status;
use crate::auth::Actor;
use crate::context::Ctx;
use crate::db::entities::{message, ticket};
use crate::db::mail_entities::{attachment, mail_id};
use crate::error::{Error, Result};

/// Merges ticket `source_key` into `into_key` (agents and admins; both must be visible to the
/// actor). Returns the target as it is afterwards.
pub async fn merge(
    ctx: &Ctx,
    actor: &Actor,
    source_key: &str,
    into_key: &str,
) -> Result<ticket::Model> {
    if into_key.trim().is_empty() {
        return Err(Error::field("into", "is required: a ticket id or number"));
    }
    let txn = ctx.db.begin().await?;
    let source = access::load_for_update(&txn, actor, source_key).await?;
    access::require_staff(actor)?;
    let target = access::load_for_update(&txn, actor, into_key.trim())
        .await
        .map_err(|_| Error::field("into", "no such ticket"))?;
    if source.id == target.id {
        return Err(Error::field(
            "into",
            "a ticket cannot be merged into itself",
        ));
    }
    if let Some(to) = source.merged_into {
        return Err(Error::Conflict(format!(
            "{} was already merged (into ticket {to})",
            source.number
        )));
    }
    if target.merged_into.is_some() {
        return Err(Error::Conflict(format!(
            "{} was itself merged into another ticket; merge into that one",
            target.number
        )));
    }
    if target.status == Status::Closed.as_str() {
        return Err(Error::Conflict(format!(
            "{} is closed; reopen it or merge the other way round",
            target.number
        )));
    }
    if source.requester_id != target.requester_id {
        // Customers only see their own tickets: the source's requester would lose the thread.
        return Err(Error::Conflict(
            "tickets from different requesters cannot be merged".into(),
        ));
    }
    let now = ctx.clock.now_micros();
    // The source's opening post becomes a message on the target, at its original time, with
    // the files that came with it.
    let opening = message::ActiveModel {
        ticket_id: Set(target.id),
        author_id: Set(Some(source.requester_id)),
        body: Set(format!(
            "**Merged from {}: {}**\n\n{}",
            source.number, source.subject, source.description
        )),
        internal: Set(false),
        channel: Set(source.channel.clone()),
        created_at: Set(source.created_at),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    attachment::Entity::update_many()
        .col_expr(attachment::Column::MessageRow, Expr::value(opening.id))
        .filter(attachment::Column::TicketId.eq(source.id))
        .filter(attachment::Column::MessageRow.is_null())
        .exec(&txn)
        .await?;
    attachment::Entity::update_many()
        .col_expr(attachment::Column::TicketId, Expr::value(target.id))
        .filter(attachment::Column::TicketId.eq(source.id))
        .exec(&txn)
        .await?;
    message::Entity::update_many()
        .col_expr(message::Column::TicketId, Expr::value(target.id))
        .filter(message::Column::TicketId.eq(source.id))
        .exec(&txn)
        .await?;
    mail_id::Entity::update_many()
        .col_expr(mail_id::Column::TicketId, Expr::value(target.id))
        .filter(mail_id::Column::TicketId.eq(source.id))
        .exec(&txn)
        .await?;
    txn.execute_raw(Statement::from_sql_and_values(
        txn.get_database_backend(),
        "INSERT INTO ticket_tags (ticket_id, tag) SELECT $1, tag FROM ticket_tags WHERE ticket_id = $2 ON CONFLICT DO NOTHING",
        [target.id.into(), source.id.into()],
    ))
    .await?;

    let from = Status::parse(&source.status).unwrap_or(Status::Open);
    let mut am: ticket::ActiveModel = source.clone().into();
    if from != Status::Closed {
        apply_status(&mut am, Status::Closed, now);
    }
    am.merged_into = Set(Some(target.id));
    am.updated_at = Set(now);
    ctx.catalog.refresh_sla(&txn, &mut am, now).await?;
    am.update(&txn).await?;
    let mut source_changes = vec![Change::public(
        "merged_into",
        None,
        Some(target.number.clone()),
    )];
    if from != Status::Closed {
        source_changes.push(Change::public(
            "status",
            Some(from.to_string()),
            Some(Status::Closed.to_string()),
        ));
    }
    history::record(&txn, source.id, Some(actor.id), source_changes, now).await?;
    // The target's first response counts from whichever of the two was answered first.
    let mut tm: ticket::ActiveModel = target.clone().into();
    if let Some(at) = source.first_response_at
        && target.first_response_at.is_none_or(|t| at < t)
    {
        tm.first_response_at = Set(Some(at));
    }
    tm.updated_at = Set(now);
    ctx.catalog.refresh_sla(&txn, &mut tm, now).await?;
    let updated = tm.update(&txn).await?;
    history::record(
        &txn,
        target.id,
        Some(actor.id),
        vec![Change::public("merged", None, Some(source.number.clone()))],
        now,
    )
    .await?;
    crate::jobs::enqueue_event(
        &txn,
        "ticket.merged",
        source.id,
        Some(actor.id),
        serde_json::json!({"into_id": target.id, "into_number": target.number}),
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(updated)
}
