//! The active categories, the SLA policies and the active webhooks, kept per process: every
//! new ticket reads the first two (two to three statements), every event's fan-out the
//! webhooks, and an admin changes them a few times a year. A change made through this process
//! is seen at once (`changed` empties the copy); one made by another process (a CLI command,
//! a second server on PostgreSQL) within `TTL`. A delivery queued for a webhook deleted
//! meanwhile is skipped when it runs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryTrait};

use super::model::Priority;
use crate::db::entities::{category, ticket};
use crate::db::mail_entities::webhook;
use crate::db::tx::Tx;
use crate::error::Result;
use crate::sla::Policy;

/// How long a copy is trusted without a change seen in this process.
const TTL: Duration = Duration::from_secs(5);

#[derive(Default)]
struct Copies {
    /// Bumped by every change, so a read that raced one is not kept.
    generation: u64,
    categories: Option<(Arc<Vec<category::Model>>, Instant)>,
    policies: HashMap<&'static str, (Policy, Instant)>,
    webhooks: Option<(Arc<Vec<webhook::Model>>, Instant)>,
}

/// Per-process copies of the categories, SLA policies and active webhooks.
#[derive(Clone, Default)]
pub struct Catalog(Arc<Mutex<Copies>>);

impl Catalog {
    /// The active categories in display order, read from `conn` when the copy is stale.
    pub async fn categories(
        &self,
        conn: &impl ConnectionTrait,
    ) -> Result<Arc<Vec<category::Model>>> {
        self.through(
            |c| c.categories.as_ref(),
            |c, kept| c.categories = Some(kept),
            async { Ok(Arc::new(super::service::active_category_rows(conn).await?)) },
        )
        .await
    }

    /// The active webhooks, read from `db` when the copy is stale.
    pub async fn webhooks(&self, db: &crate::db::Db) -> Result<Arc<Vec<webhook::Model>>> {
        self.through(
            |c| c.webhooks.as_ref(),
            |c, kept| c.webhooks = Some(kept),
            async {
                let active = webhook::Entity::find().filter(webhook::Column::Active.eq(true));
                Ok(Arc::new(
                    db.read_all::<webhook::Model>(active.build(db.backend))
                        .await?,
                ))
            },
        )
        .await
    }

    /// The SLA policy of priority `p`, read from `conn` when the copy is stale.
    pub async fn policy(&self, conn: &impl Tx, p: Priority) -> Result<Policy> {
        self.through(
            |c| c.policies.get(p.as_str()),
            |c, kept| {
                c.policies.insert(p.as_str(), kept);
            },
            crate::sla::store::policy(conn, p),
        )
        .await
    }

    /// `sla::store::refresh` with the policy taken from here: read through `conn` (the
    /// write's own transaction, never a second pooled connection) only when stale.
    pub async fn refresh_sla(
        &self,
        conn: &impl Tx,
        am: &mut ticket::ActiveModel,
        now: i64,
    ) -> Result<()> {
        let policy = self
            .policy(conn, crate::sla::store::priority_of(am)?)
            .await?;
        crate::sla::store::apply(am, &policy, now)
    }

    /// The copy `get` finds while it is fresh; else `load`, kept by `put` unless a change
    /// came in while it was being read.
    async fn through<T: Clone>(
        &self,
        get: impl Fn(&Copies) -> Option<&(T, Instant)>,
        put: impl FnOnce(&mut Copies, (T, Instant)),
        load: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        let generation = {
            let copies = self.lock();
            if let Some((value, at)) = get(&copies)
                && at.elapsed() < TTL
            {
                return Ok(value.clone());
            }
            copies.generation
        };
        let value = load.await?;
        let mut copies = self.lock();
        if copies.generation == generation {
            put(&mut copies, (value.clone(), Instant::now()));
        }
        Ok(value)
    }

    /// Forgets every copy; call after committing a change to categories, SLA policies,
    /// business calendars or webhooks.
    pub fn changed(&self) {
        let mut copies = self.lock();
        copies.generation += 1;
        copies.categories = None;
        copies.policies.clear();
        copies.webhooks = None;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Copies> {
        // The copies are only ever replaced whole, so a panic elsewhere cannot leave them torn.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
