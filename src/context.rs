//! What every service function needs: storage, configuration, keys and the clock.

use crate::auth::tokens::Keys;
use crate::clock::Clock;
use crate::config::Config;
use crate::db::Db;
use std::sync::Arc;

/// Shared, immutable-after-start context handed to capabilities. Cloning it is one reference
/// count: requests and tasks clone it freely, and a clone of the parts (a dozen reference
/// counts, the keys' bytes copied) cost ~10 % of the server's CPU in the get scenario.
#[derive(Clone)]
pub struct Ctx(Arc<Parts>);

/// What a [`Ctx`] holds.
#[derive(Clone)]
pub struct Parts {
    /// Database connections.
    pub db: Db,
    /// Loaded configuration.
    pub config: Arc<Config>,
    /// Keys derived from the instance secret.
    pub keys: Keys,
    /// Source of "now".
    pub clock: Clock,
    /// Where attachment bytes are stored.
    pub blobs: Arc<crate::attachments::Blobs>,
    /// Per-process copies of the categories and SLA policies.
    pub catalog: crate::tickets::catalog::Catalog,
    /// Which account each API token resolved to last (a hint for folded reads, never trusted).
    pub hints: Arc<crate::auth::caller::Hints>,
}

impl Ctx {
    /// A context of `parts`.
    pub fn new(parts: Parts) -> Ctx {
        Ctx(Arc::new(parts))
    }
}

impl std::ops::Deref for Ctx {
    type Target = Parts;
    fn deref(&self) -> &Parts {
        &self.0
    }
}
