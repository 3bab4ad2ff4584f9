//! The status workflow (pure): which transitions exist and when a closed ticket may reopen.

use super::model::Status;

/// Statuses reachable from `from` by an explicit change.
pub fn allowed_next(from: Status) -> &'static [Status] {
    use Status::*;
    match from {
        Open => &[Assigned, Closed],
        Assigned => &[InProgress, Closed],
        InProgress => &[Waiting, OnHold, Resolved, Closed],
        Waiting => &[InProgress],
        OnHold => &[InProgress],
        Resolved => &[Closed, Reopened],
        Closed => &[Reopened],
        Reopened => &[InProgress],
    }
}

/// Why a transition was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Not an edge of the workflow.
    NotAllowed,
    /// `closed → reopened` after the reopen window.
    WindowExpired,
}

/// Checks `from → to`; `closed_at`/`now` (microseconds) decide the reopen window.
pub fn check(
    from: Status,
    to: Status,
    closed_at: Option<i64>,
    now: i64,
    reopen_window_days: i64,
) -> Result<(), Refusal> {
    if !allowed_next(from).contains(&to) {
        return Err(Refusal::NotAllowed);
    }
    if from == Status::Closed && to == Status::Reopened {
        let window = reopen_window_days.saturating_mul(86_400_000_000);
        match closed_at {
            Some(at) if now.saturating_sub(at) <= window => {}
            _ => return Err(Refusal::WindowExpired),
        }
    }
    Ok(())
}

/// Where a customer's reply moves a ticket, if anywhere.
pub fn after_customer_reply(current: Status) -> Option<Status> {
    match current {
        Status::Waiting => Some(Status::InProgress),
        Status::Resolved | Status::Closed => Some(Status::Reopened),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Status::*;

    const DAY: i64 = 86_400_000_000;

    #[test]
    fn exactly_the_spec_edges_are_allowed() {
        let allowed = [
            (Open, Assigned),
            (Open, Closed),
            (Assigned, InProgress),
            (Assigned, Closed),
            (InProgress, Waiting),
            (InProgress, OnHold),
            (InProgress, Resolved),
            (InProgress, Closed),
            (Waiting, InProgress),
            (OnHold, InProgress),
            (Resolved, Closed),
            (Resolved, Reopened),
            (Closed, Reopened),
            (Reopened, InProgress),
        ];
        for &from in Status::ALL {
            for &to in Status::ALL {
                let expected = allowed.contains(&(from, to));
                let got = check(from, to, Some(0), 0, 7).is_ok();
                assert_eq!(got, expected, "{from} -> {to}");
            }
        }
    }

    #[test]
    fn reopen_window_is_enforced() {
        assert_eq!(check(Closed, Reopened, Some(0), 7 * DAY, 7), Ok(()));
        assert_eq!(
            check(Closed, Reopened, Some(0), 7 * DAY + 1, 7),
            Err(Refusal::WindowExpired)
        );
        assert_eq!(
            check(Closed, Reopened, None, 0, 7),
            Err(Refusal::WindowExpired)
        );
    }

    #[test]
    fn customer_replies_move_waiting_and_resolved() {
        assert_eq!(after_customer_reply(Waiting), Some(InProgress));
        assert_eq!(after_customer_reply(Resolved), Some(Reopened));
        assert_eq!(after_customer_reply(InProgress), None);
        assert_eq!(after_customer_reply(Open), None);
    }
}
