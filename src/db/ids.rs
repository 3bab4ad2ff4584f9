//! Ticket ids drawn from PostgreSQL's sequence a block at a time, so that a new ticket's
//! rows can be written by one statement that already knows its id (`tickets::insert`).
//! Ids stay unique (they come from the sequence); like any sequence value they may leave
//! gaps, and tickets created at about the same time by two processes need not be numbered
//! in the order they were created, which nothing relies on (lists sort by time, then id).

use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
use std::sync::Mutex;

use crate::error::{Error, Result};

/// Ids taken from the sequence at once.
const BLOCK: i64 = 32;

/// Ids drawn and not yet handed out, lowest first.
#[derive(Default)]
pub struct IdBlocks {
    free: Mutex<std::collections::VecDeque<i64>>,
}

impl IdBlocks {
    /// The next ticket id: from the block in hand, else from a new block.
    pub async fn next_ticket_id(&self, conn: &impl ConnectionTrait) -> Result<i64> {
        if let Some(id) = self.take() {
            return Ok(id);
        }
        let rows = conn
            .query_all_raw(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                "SELECT nextval(pg_get_serial_sequence('tickets', 'id')) AS id \
                 FROM generate_series(1, $1) ORDER BY 1",
                [BLOCK.into()],
            ))
            .await?;
        let mut ids = rows
            .iter()
            .map(|r| r.try_get::<i64>("", "id"))
            .collect::<std::result::Result<Vec<_>, _>>()?
            .into_iter();
        let first = ids
            .next()
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("the ticket sequence gave no id")))?;
        if let Ok(mut free) = self.free.lock() {
            free.extend(ids);
        }
        Ok(first)
    }

    /// Drops the ids in hand. Called after any clash: when it was an id, a bulk load moved
    /// the sequence under us and the rest of the block is likely taken too.
    pub fn forget(&self) {
        if let Ok(mut free) = self.free.lock() {
            free.clear();
        }
    }

    fn take(&self) -> Option<i64> {
        self.free.lock().ok()?.pop_front()
    }
}
