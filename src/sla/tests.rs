use super::*;
use std::collections::BTreeMap;

const H: i64 = 3_600_000_000;

fn at(s: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(s)
        .unwrap()
        .timestamp_micros()
}

fn office_policy(p: Priority) -> Policy {
    let mut hours = BTreeMap::new();
    for d in ["mon", "tue", "wed", "thu", "fri"] {
        hours.insert(d.to_string(), vec!["09:00-17:00".to_string()]);
    }
    Policy {
        calendar: Some(Calendar::parse("UTC", &hours, &[]).unwrap()),
        ..Policy::default_for(p)
    }
}

const FRESH: Clock = Clock {
    paused_at: None,
    paused_micros: 0,
    alerts: 0,
};

#[test]
fn default_table_matches_spec() {
    let s = Policy::default_for(Priority::Urgent).schedule(0, 0);
    assert_eq!((s.first_response_due, s.resolution_due), (2 * H, 24 * H));
    let s = Policy::default_for(Priority::High).schedule(0, 0);
    assert_eq!((s.first_response_due, s.resolution_due), (4 * H, 48 * H));
    let s = Policy::default_for(Priority::Medium).schedule(10, 0);
    assert_eq!(
        (s.first_response_due, s.resolution_due),
        (10 + 8 * H, 10 + 120 * H)
    );
    let s = Policy::default_for(Priority::Low).schedule(0, 0);
    assert_eq!((s.first_response_due, s.resolution_due), (24 * H, 240 * H));
    // Warnings at 80 % of each budget.
    assert_eq!(s.first_response_warn, 24 * H * 8 / 10);
}

#[test]
fn urgent_ticket_on_friday_evening_breaches_on_monday() {
    let p = office_policy(Priority::Urgent);
    let created = at("2026-11-20T16:00:00Z");
    let plan = plan(&p, created, Status::Open, false, FRESH, created);
    // 2 h first response: 1 h Friday, 1 h Monday.
    assert_eq!(plan.schedule.first_response_due, at("2026-11-23T10:00:00Z"));
    // 24 h of business time = three 8-hour days: Fri 1 h + Mon 8 + Tue 8 + Wed 7.
    assert_eq!(plan.schedule.resolution_due, at("2026-11-25T16:00:00Z"));
    // 80 % of 2 h = 96 min: 60 Friday + 36 Monday.
    assert_eq!(plan.next_at, Some(at("2026-11-23T09:36:00Z")));
    // Saturday: nothing due yet.
    let (alerts, _) = due_alerts(&plan.schedule, 0, false, at("2026-11-21T12:00:00Z"));
    assert!(alerts.is_empty());
    // Monday noon: the breach makes the warning moot, but both bits are set.
    let (alerts, bits) = due_alerts(&plan.schedule, 0, false, at("2026-11-23T12:00:00Z"));
    assert_eq!(alerts, vec![Alert::FirstResponseBreach]);
    assert_eq!(
        bits,
        bits::FIRST_RESPONSE_WARNING | bits::FIRST_RESPONSE_BREACH
    );
    assert_eq!(
        next_after(&plan.schedule, bits, false),
        Some(plan.schedule.resolution_warn)
    );
}

#[test]
fn waiting_pauses_and_resume_credits_business_time_only() {
    let p = office_policy(Priority::High);
    let created = at("2026-11-16T09:00:00Z"); // Monday
    let start = plan(&p, created, Status::InProgress, true, FRESH, created);
    assert_eq!(start.schedule.resolution_due, at("2026-11-23T17:00:00Z")); // 48 h = 6 days
    // Waiting from Monday 16:00 …
    let paused = plan(
        &p,
        created,
        Status::Waiting,
        true,
        start.clock,
        at("2026-11-16T16:00:00Z"),
    );
    assert_eq!(paused.clock.paused_at, Some(at("2026-11-16T16:00:00Z")));
    assert_eq!(paused.next_at, None, "no alerts while paused");
    // … until the customer answers on Wednesday 10:00: 1 + 8 + 1 = 10 business hours paused.
    let resumed = plan(
        &p,
        created,
        Status::InProgress,
        true,
        paused.clock,
        at("2026-11-18T10:00:00Z"),
    );
    assert_eq!(resumed.clock.paused_at, None);
    assert_eq!(resumed.clock.paused_micros, 10 * H);
    // Due moves 10 business hours: Monday 17:00 → Wednesday 11:00 of the week after.
    assert_eq!(resumed.schedule.resolution_due, at("2026-11-25T11:00:00Z"));
    // Pausing again while paused changes nothing.
    let again = plan(
        &p,
        created,
        Status::OnHold,
        true,
        paused.clock,
        at("2026-11-17T10:00:00Z"),
    );
    assert_eq!(again.clock, paused.clock);
}

#[test]
fn priority_change_recomputes_and_may_re_arm_alerts() {
    let p_urgent = Policy::default_for(Priority::Urgent);
    let created = 0;
    let now = 3 * H;
    let first = plan(&p_urgent, created, Status::Open, false, FRESH, now);
    let (_, bits) = due_alerts(&first.schedule, 0, false, now);
    assert_eq!(
        bits,
        bits::FIRST_RESPONSE_WARNING | bits::FIRST_RESPONSE_BREACH
    );
    // Lowered to low: first response now due at 24 h, so the breach is no longer true.
    let low = Policy::default_for(Priority::Low);
    let after = plan(
        &low,
        created,
        Status::Open,
        false,
        Clock {
            alerts: bits,
            ..first.clock
        },
        now,
    );
    assert_eq!(after.clock.alerts, 0);
    assert_eq!(after.schedule.first_response_due, 24 * H);
    assert_eq!(after.next_at, Some(low.schedule(0, 0).first_response_warn));
}

#[test]
fn responded_tickets_skip_first_response_alerts() {
    let p = Policy::default_for(Priority::Medium);
    let plan = plan(&p, 0, Status::InProgress, true, FRESH, H);
    assert_eq!(plan.next_at, Some(p.schedule(0, 0).resolution_warn));
    let (alerts, _) = due_alerts(&plan.schedule, 0, true, 200 * H);
    assert_eq!(alerts, vec![Alert::ResolutionBreach]);
}

#[test]
fn states_shown_on_tickets() {
    let f = Facts {
        status: Status::InProgress,
        first_response_due: Some(10),
        resolution_due: Some(100),
        first_response_at: Some(5),
        resolved_at: None,
        alerts: 0,
    };
    let s = state(&f, 50);
    assert_eq!(
        (s.first_response.state, s.resolution.state, s.paused),
        ("met", "running", false)
    );
    let warned = Facts {
        alerts: bits::RESOLUTION_WARNING,
        ..f
    };
    assert_eq!(state(&warned, 90).resolution.state, "warning");
    assert_eq!(state(&f, 100).resolution.state, "breached");
    let late = Facts {
        first_response_at: Some(11),
        ..f
    };
    assert_eq!(state(&late, 50).first_response.state, "missed");
    let waiting = Facts {
        status: Status::Waiting,
        ..f
    };
    assert_eq!(state(&waiting, 50).resolution.state, "paused");
    let done = Facts {
        status: Status::Resolved,
        resolved_at: Some(120),
        ..f
    };
    assert_eq!(state(&done, 500).resolution.state, "missed");
    assert_eq!(
        state(&done, 500).resolution.due_at.as_deref(),
        Some("1970-01-01T00:00:00Z")
    );
}
