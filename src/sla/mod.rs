//! The SLA clock (pure): budgets per priority counted in business time, paused while the
//! ticket waits on someone else, with warning and breach alerts the sweep sends once each.

pub mod admin;
pub mod calendar;
pub mod store;
pub mod sweep;

use crate::tickets::model::{Priority, Status};
use calendar::Calendar;
use serde::Serialize;

const MINUTE: i64 = 60_000_000;

/// Alert bits kept in `tickets.sla_alerts`.
pub mod bits {
    /// First-response warning sent.
    pub const FIRST_RESPONSE_WARNING: i32 = 1;
    /// First-response breach recorded.
    pub const FIRST_RESPONSE_BREACH: i32 = 2;
    /// Resolution warning sent.
    pub const RESOLUTION_WARNING: i32 = 4;
    /// Resolution breach recorded.
    pub const RESOLUTION_BREACH: i32 = 8;
}

/// The budgets for one priority and the calendar they are counted in (`None`: around the clock).
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    /// Time allowed until the first public agent reply, microseconds of business time.
    pub first_response: i64,
    /// Time allowed until resolution, microseconds of business time.
    pub resolution: i64,
    /// Share of a budget after which a warning goes out.
    pub warn_percent: i64,
    /// Business hours; `None` counts every hour.
    pub calendar: Option<Calendar>,
}

/// The due and warning instants of one ticket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// First response due.
    pub first_response_due: i64,
    /// First-response warning point.
    pub first_response_warn: i64,
    /// Resolution due.
    pub resolution_due: i64,
    /// Resolution warning point.
    pub resolution_warn: i64,
}

/// One alert the sweep raises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alert {
    /// The first-response budget is mostly used.
    FirstResponseWarning,
    /// The first response is overdue.
    FirstResponseBreach,
    /// The resolution budget is mostly used.
    ResolutionWarning,
    /// The resolution is overdue.
    ResolutionBreach,
}

impl Alert {
    /// Its bit in `sla_alerts`.
    pub fn bit(self) -> i32 {
        match self {
            Alert::FirstResponseWarning => bits::FIRST_RESPONSE_WARNING,
            Alert::FirstResponseBreach => bits::FIRST_RESPONSE_BREACH,
            Alert::ResolutionWarning => bits::RESOLUTION_WARNING,
            Alert::ResolutionBreach => bits::RESOLUTION_BREACH,
        }
    }

    /// Which clock it concerns: `first_response` or `resolution`.
    pub fn clock(self) -> &'static str {
        match self {
            Alert::FirstResponseWarning | Alert::FirstResponseBreach => "first_response",
            Alert::ResolutionWarning | Alert::ResolutionBreach => "resolution",
        }
    }

    /// True for breaches, false for warnings.
    pub fn is_breach(self) -> bool {
        matches!(self, Alert::FirstResponseBreach | Alert::ResolutionBreach)
    }

    /// The event name webhooks and notifications use.
    pub fn event(self) -> &'static str {
        if self.is_breach() {
            "sla.breached"
        } else {
            "sla.warning"
        }
    }
}

impl Policy {
    /// The spec's default policy for a priority, around the clock.
    pub fn default_for(p: Priority) -> Policy {
        let (fr, res) = match p {
            Priority::Urgent => (120, 1440),
            Priority::High => (240, 2880),
            Priority::Medium => (480, 7200),
            Priority::Low => (1440, 14400),
        };
        Policy {
            first_response: fr * MINUTE,
            resolution: res * MINUTE,
            warn_percent: 80,
            calendar: None,
        }
    }

    /// `start` plus `budget` of business time.
    pub fn add(&self, start: i64, budget: i64) -> i64 {
        match &self.calendar {
            Some(c) => c.add(start, budget),
            None => start + budget.max(0),
        }
    }

    /// Business time between two instants.
    pub fn between(&self, from: i64, to: i64) -> i64 {
        match &self.calendar {
            Some(c) => c.between(from, to),
            None => (to - from).max(0),
        }
    }

    /// Due and warning times for a ticket created at `created_at` whose clock has been
    /// paused for `paused` microseconds of business time.
    pub fn schedule(&self, created_at: i64, paused: i64) -> Schedule {
        let warn = |budget: i64| budget / 100 * self.warn_percent.clamp(1, 100);
        Schedule {
            first_response_due: self.add(created_at, self.first_response + paused),
            first_response_warn: self.add(created_at, warn(self.first_response) + paused),
            resolution_due: self.add(created_at, self.resolution + paused),
            resolution_warn: self.add(created_at, warn(self.resolution) + paused),
        }
    }
}

/// The clock fields of a ticket, before or after a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    /// When the clock was paused, if it is.
    pub paused_at: Option<i64>,
    /// Business time spent paused before `paused_at`.
    pub paused_micros: i64,
    /// Alert bits already sent.
    pub alerts: i32,
}

/// What a ticket's SLA fields become.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The updated clock.
    pub clock: Clock,
    /// Due and warning times.
    pub schedule: Schedule,
    /// When the sweep must look next (`None`: nothing pending).
    pub next_at: Option<i64>,
}

/// Statuses in which the customer or a third party holds the ball, or the work is done: the
/// clock does not run.
pub fn is_paused(status: Status) -> bool {
    matches!(
        status,
        Status::Waiting | Status::OnHold | Status::Resolved | Status::Closed
    )
}

/// Recomputes a ticket's clock after a change of status, priority or first response.
pub fn plan(
    policy: &Policy,
    created_at: i64,
    status: Status,
    responded: bool,
    clock: Clock,
    now: i64,
) -> Plan {
    let (paused_at, paused_micros) = match (is_paused(status), clock.paused_at) {
        (true, None) => (Some(now), clock.paused_micros),
        (false, Some(since)) => (None, clock.paused_micros + policy.between(since, now)),
        (_, keep) => (keep, clock.paused_micros),
    };
    let schedule = policy.schedule(created_at, paused_micros);
    // A point that moved into the future (priority lowered, pause credited) may alert again.
    let mut alerts = clock.alerts;
    for (alert, at) in points(&schedule) {
        if at > now {
            alerts &= !alert.bit();
        }
    }
    let clock = Clock {
        paused_at,
        paused_micros,
        alerts,
    };
    let next_at = if paused_at.is_some() {
        None
    } else {
        pending(&schedule, alerts, responded)
            .map(|(_, at)| at)
            .min()
    };
    Plan {
        clock,
        schedule,
        next_at,
    }
}

/// The alerts due at `now` (a breach makes its warning moot) and the alert bits afterwards.
pub fn due_alerts(
    schedule: &Schedule,
    alerts: i32,
    responded: bool,
    now: i64,
) -> (Vec<Alert>, i32) {
    let due: Vec<Alert> = pending(schedule, alerts, responded)
        .filter(|(_, at)| *at <= now)
        .map(|(a, _)| a)
        .collect();
    let bits = due.iter().fold(alerts, |b, a| b | a.bit());
    let shown = due
        .iter()
        .copied()
        .filter(|a| match a {
            Alert::FirstResponseWarning => !due.contains(&Alert::FirstResponseBreach),
            Alert::ResolutionWarning => !due.contains(&Alert::ResolutionBreach),
            _ => true,
        })
        .collect();
    (shown, bits)
}

/// When the sweep must look next, given the bits after an alert round.
pub fn next_after(schedule: &Schedule, alerts: i32, responded: bool) -> Option<i64> {
    pending(schedule, alerts, responded).map(|(_, at)| at).min()
}

fn points(s: &Schedule) -> [(Alert, i64); 4] {
    [
        (Alert::FirstResponseWarning, s.first_response_warn),
        (Alert::FirstResponseBreach, s.first_response_due),
        (Alert::ResolutionWarning, s.resolution_warn),
        (Alert::ResolutionBreach, s.resolution_due),
    ]
}

fn pending(
    schedule: &Schedule,
    alerts: i32,
    responded: bool,
) -> impl Iterator<Item = (Alert, i64)> {
    points(schedule).into_iter().filter(move |(a, _)| {
        alerts & a.bit() == 0 && !(responded && a.clock() == "first_response")
    })
}

/// The SLA state of one clock as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ClockState {
    /// Due time, RFC 3339.
    pub due_at: Option<String>,
    /// `running`, `warning`, `breached`, `paused`, `met` or `missed`.
    pub state: &'static str,
}

/// The state of both clocks of a ticket at `now`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct State {
    /// First-response clock.
    pub first_response: ClockState,
    /// Resolution clock.
    pub resolution: ClockState,
    /// True while the clock is stopped (waiting, on hold, resolved, closed).
    pub paused: bool,
}

/// Facts about a ticket that decide its SLA state.
#[derive(Clone, Copy, Debug)]
pub struct Facts {
    /// Current status.
    pub status: Status,
    /// First response due.
    pub first_response_due: Option<i64>,
    /// Resolution due.
    pub resolution_due: Option<i64>,
    /// When the first agent reply went out.
    pub first_response_at: Option<i64>,
    /// When the ticket was resolved.
    pub resolved_at: Option<i64>,
    /// Alert bits sent so far.
    pub alerts: i32,
}

/// The SLA state shown on a ticket.
pub fn state(f: &Facts, now: i64) -> State {
    let paused = is_paused(f.status);
    let running = |due: Option<i64>, warned: bool| match due {
        Some(d) if now >= d => "breached",
        _ if paused => "paused",
        _ if warned => "warning",
        _ => "running",
    };
    let finished = |at: i64, due: Option<i64>| match due {
        Some(d) if at > d => "missed",
        _ => "met",
    };
    let first_response = match f.first_response_at {
        Some(at) => finished(at, f.first_response_due),
        None => running(
            f.first_response_due,
            f.alerts & bits::FIRST_RESPONSE_WARNING != 0,
        ),
    };
    let done = matches!(f.status, Status::Resolved | Status::Closed);
    let resolution = match (done, f.resolved_at) {
        (true, Some(at)) => finished(at, f.resolution_due),
        (true, None) => "met",
        _ => running(f.resolution_due, f.alerts & bits::RESOLUTION_WARNING != 0),
    };
    let rfc = |v: Option<i64>| v.map(crate::clock::rfc3339);
    State {
        first_response: ClockState {
            due_at: rfc(f.first_response_due),
            state: first_response,
        },
        resolution: ClockState {
            due_at: rfc(f.resolution_due),
            state: resolution,
        },
        paused,
    }
}

#[cfg(test)]
mod tests;
