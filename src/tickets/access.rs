//! Who may see which ticket; the rule every read and write goes through.

use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QuerySelect, QueryTrait, Select};

use crate::auth::Actor;
use crate::db::Db;
use crate::db::entities::ticket;
use crate::db::tx::{self, Tx};
use crate::error::{Error, Result};
use crate::tickets::model::Role;

/// Tickets the actor may see: admins all; agents their own, assigned to them, or unassigned;
/// customers only those they requested.
pub fn visible(actor: &Actor) -> Condition {
    match actor.role {
        Role::Admin => Condition::all(),
        Role::Agent => Condition::any()
            .add(ticket::Column::RequesterId.eq(actor.id))
            .add(ticket::Column::AssigneeId.eq(actor.id))
            .add(ticket::Column::AssigneeId.is_null()),
        Role::Customer => Condition::all().add(ticket::Column::RequesterId.eq(actor.id)),
    }
}

/// The select of ticket `key` (id or number) restricted to what `actor` may see.
pub(crate) fn find(actor: &Actor, key: &str) -> Select<ticket::Entity> {
    let by_key = match key.parse::<i64>() {
        Ok(id) => ticket::Column::Id.eq(id),
        Err(_) => ticket::Column::Number.eq(key.to_uppercase()),
    };
    ticket::Entity::find().filter(by_key).filter(visible(actor))
}

/// Loads a ticket by id or number if the actor may see it; otherwise "not found", never "forbidden".
pub async fn load(db: &Db, actor: &Actor, key: &str) -> Result<ticket::Model> {
    db.read_one(find(actor, key).build(db.backend))
        .await?
        .ok_or(Error::NotFound("ticket"))
}

/// `load` inside a write transaction, locking the row on PostgreSQL (SQLite's single writer
/// already serialises), so workflow checks see the state the write will replace.
pub async fn load_for_update(txn: &impl Tx, actor: &Actor, key: &str) -> Result<ticket::Model> {
    let query = find(actor, key).lock_exclusive().limit(1).into_query();
    tx::first(txn, &query)
        .await?
        .ok_or(Error::NotFound("ticket"))
}

/// Refuses customers with 403 (used after `load`, so only a ticket's own requester gets here).
pub fn require_staff(actor: &Actor) -> Result<()> {
    if actor.is_staff() {
        Ok(())
    } else {
        Err(Error::Forbidden(
            "only agents and admins may do this".into(),
        ))
    }
}

/// Refuses anyone but admins with 403.
pub fn require_admin(actor: &Actor) -> Result<()> {
    if actor.is_admin() {
        Ok(())
    } else {
        Err(Error::Forbidden("only admins may do this".into()))
    }
}
