//! PostgreSQL pool settings shared by the app's pools.
//!
//! sqlx tests a pooled connection before handing it out (`test_before_acquire`, on by
//! default) with a Sync message and its ReadyForQuery answer: one more round trip to a backend
//! process for every statement. Under load a connection comes back to the pool and goes out
//! again within milliseconds, so the test only says what the last statement just said; it
//! cost the get scenario a tenth of its throughput. A connection that sat idle for a while is
//! still tested (a server restart or a dropped link is found before a request meets it).

use sqlx::Connection;
use sqlx::pool::PoolConnectionMetadata;
use sqlx::postgres::{PgConnection, PgPoolOptions};
use std::time::Duration;

/// A pooled connection idle at least this long is tested before it is handed out.
pub const TEST_AFTER_IDLE: Duration = Duration::from_secs(1);

/// How long a caller waits for a pooled connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// Pool options with at most `max` connections, tested only after `TEST_AFTER_IDLE` idle.
pub fn options(max: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .test_before_acquire(false)
        .before_acquire(|conn: &mut PgConnection, meta: PoolConnectionMetadata| {
            Box::pin(async move {
                if needs_test(meta.idle_for) {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
}

/// True when a connection idle for `idle_for` must be tested before use.
fn needs_test(idle_for: Duration) -> bool {
    idle_for >= TEST_AFTER_IDLE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_connection_idle_for_a_while_is_tested() {
        assert!(!needs_test(Duration::ZERO));
        assert!(!needs_test(Duration::from_millis(999)));
        assert!(needs_test(TEST_AFTER_IDLE));
        assert!(needs_test(Duration::from_secs(3600)));
    }
}
