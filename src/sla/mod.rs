//! SLA due times (pure): the default policy table; business hours arrive with the SLA issue.

use crate::tickets::model::Priority;

const HOUR: i64 = 3_600_000_000;

/// First-response and resolution budgets for one priority, in microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Time allowed until the first public agent reply.
    pub first_response: i64,
    /// Time allowed until resolution.
    pub resolution: i64,
}

/// The spec's default policy for a priority.
pub fn default_policy(p: Priority) -> Policy {
    let (fr, res) = match p {
        Priority::Urgent => (2, 24),
        Priority::High => (4, 48),
        Priority::Medium => (8, 5 * 24),
        Priority::Low => (24, 10 * 24),
    };
    Policy {
        first_response: fr * HOUR,
        resolution: res * HOUR,
    }
}

/// Due times `(first_response_due_at, resolution_due_at)` for a ticket created at `created_at`.
pub fn due_times(created_at: i64, p: Priority) -> (i64, i64) {
    let policy = default_policy(p);
    (
        created_at + policy.first_response,
        created_at + policy.resolution,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_table_matches_spec() {
        assert_eq!(due_times(0, Priority::Urgent), (2 * HOUR, 24 * HOUR));
        assert_eq!(due_times(0, Priority::High), (4 * HOUR, 48 * HOUR));
        assert_eq!(due_times(0, Priority::Medium), (8 * HOUR, 120 * HOUR));
        assert_eq!(
            due_times(10, Priority::Low),
            (10 + 24 * HOUR, 10 + 240 * HOUR)
        );
    }
}
