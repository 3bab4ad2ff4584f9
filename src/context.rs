//! What every service function needs: storage, configuration, keys and the clock.

use crate::auth::tokens::Keys;
use crate::clock::Clock;
use crate::config::Config;
use crate::db::Db;
use std::sync::Arc;

/// Shared, immutable-after-start context handed to capabilities.
#[derive(Clone)]
pub struct Ctx {
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
}
