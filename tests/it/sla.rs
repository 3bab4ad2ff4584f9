//! SLA: business-hours calendars, pauses, priority changes, the sweep's warnings and breaches.

use crate::harness::{Backend, TestApp, pg_url};
use crate::on_both;
use crate::sinks::SmtpSink;
use chrono::{Datelike, Duration, TimeZone, Utc, Weekday};
use serde_json::{Value, json};
use triage::tickets::model::Role;

/// Moves the app's clock to the next `weekday` at `hour`:`minute` UTC (at least a day ahead).
fn travel_to(app: &TestApp, weekday: Weekday, hour: u32, minute: u32) -> chrono::DateTime<Utc> {
    let now = app.ctx.clock.now();
    let mut day = now.date_naive() + chrono::Days::new(1);
    while day.weekday() != weekday {
        day = day + chrono::Days::new(1);
    }
    let target = Utc.from_utc_datetime(&day.and_hms_opt(hour, minute, 0).expect("time"));
    app.advance(target - now);
    target
}

fn at(v: &Value) -> chrono::DateTime<Utc> {
    chrono::DateTime::parse_from_rfc3339(v.as_str().expect("a timestamp"))
        .expect("RFC 3339")
        .with_timezone(&Utc)
}

async fn sweep(app: &TestApp) {
    triage::sla::sweep::schedule(&app.ctx)
        .await
        .expect("schedule");
    app.settle().await;
}

fn sla_mails(sink: &SmtpSink) -> Vec<(String, String)> {
    sink.received()
        .into_iter()
        .filter_map(|m| {
            let subject = m.header("Subject")?;
            subject
                .contains("SLA ")
                .then(|| (m.to.join(","), subject.clone()))
        })
        .collect()
}

on_both!(
    urgent_ticket_breaches_over_a_weekend_in_business_hours,
    |backend| async move {
        let sink = SmtpSink::start().await;
        let app = TestApp::with_mail(backend, &sink).await;
        let (_, admin) = app.user(Role::Admin, "Lead").await;
        let (agent_id, _) = app.user(Role::Agent, "Sam").await;
        let (_, customer) = app.user(Role::Customer, "Ada").await;
        let cal = app
            .post(
                "/api/v1/business-calendars",
                &admin,
                json!({"name": "Office", "timezone": "UTC",
                       "hours": {"mon": ["09:00-17:00"], "tue": ["09:00-17:00"], "wed": ["09:00-17:00"],
                                 "thu": ["09:00-17:00"], "fri": ["09:00-17:00"]},
                       "holidays": []}),
            )
            .await;
        let cal_id = cal.ok(201)["id"].as_i64().unwrap();
        app.put(
            "/api/v1/sla-policies/urgent",
            &admin,
            json!({"calendar_id": cal_id}),
        )
        .await
        .ok(200);

        let friday = travel_to(&app, Weekday::Fri, 16, 0);
        let t = app.ticket(&customer, "Checkout is down", "urgent").await;
        let id = t["id"].as_i64().unwrap();
        // 2 business hours: Friday 16–17 and Monday 09–10. 24 h: Fri 1 + Mon 8 + Tue 8 + Wed 7.
        let monday = friday + Duration::days(3);
        assert_eq!(
            at(&t["first_response_due_at"]),
            monday + Duration::hours(-6)
        );
        assert_eq!(at(&t["resolution_due_at"]), monday + Duration::days(2));
        assert_eq!(t["sla"]["first_response"]["state"], "running");
        app.post(
            &format!("/api/v1/tickets/{id}/assign"),
            &admin,
            json!({"agent_id": agent_id}),
        )
        .await
        .ok(200);

        // Saturday noon: 19 wall-clock hours later, nothing is due in business time.
        app.advance(Duration::hours(20));
        sweep(&app).await;
        assert!(sla_mails(&sink).is_empty(), "{:?}", sla_mails(&sink));

        // Monday 09:40: 100 of 120 minutes used, past the 80 % warning.
        app.advance(monday + Duration::minutes(-380) - app.ctx.clock.now());
        sweep(&app).await;
        let mails = sla_mails(&sink);
        assert_eq!(mails.len(), 1, "{mails:?}");
        assert_eq!(mails[0].0, "sam@example.test");
        assert!(
            mails[0].1.contains("SLA warning: Checkout is down"),
            "{mails:?}"
        );
        let v = app.get(&format!("/api/v1/tickets/{id}"), &admin).await;
        assert_eq!(v.ok(200)["sla"]["first_response"]["state"], "warning");

        // Monday 10:30: breached; the assignee and the admin hear of it, once.
        app.advance(Duration::minutes(50));
        sweep(&app).await;
        app.advance(Duration::minutes(2));
        sweep(&app).await;
        let breaches: Vec<_> = sla_mails(&sink)
            .into_iter()
            .filter(|m| m.1.contains("SLA breached"))
            .collect();
        let mut to: Vec<_> = breaches.iter().map(|m| m.0.as_str()).collect();
        to.sort();
        assert_eq!(to, vec!["lead@example.test", "sam@example.test"]);
        let v = app.get(&format!("/api/v1/tickets/{id}"), &admin).await;
        assert_eq!(v.ok(200)["sla"]["first_response"]["state"], "breached");
        assert_eq!(v.body["sla"]["resolution"]["state"], "running");
        let h = app
            .get(&format!("/api/v1/tickets/{id}/history"), &admin)
            .await;
        let sla_events: Vec<String> = h
            .ok(200)
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["field"] == "sla")
            .map(|e| e["new_value"].as_str().unwrap_or("").to_string())
            .collect();
        assert_eq!(sla_events.len(), 2, "{sla_events:?}");
        assert!(sla_events[0].starts_with("first response warning"));
        assert!(sla_events[1].starts_with("first response breached"));
        // Customers never see SLA events.
        let h = app
            .get(&format!("/api/v1/tickets/{id}/history"), &customer)
            .await;
        assert!(!h.text.contains("\"sla\""), "{}", h.text);
    }
);

on_both!(
    waiting_pauses_the_clock_and_priority_recomputes,
    |backend| async move {
        let app = TestApp::spawn(backend).await;
        let (_, admin) = app.user(Role::Admin, "Lead").await;
        let (agent_id, agent) = app.user(Role::Agent, "Sam").await;
        let (_, customer) = app.user(Role::Customer, "Ada").await;
        let t = app.ticket(&customer, "Export fails", "high").await;
        let id = t["id"].as_i64().unwrap();
        let created = at(&t["created_at"]);
        // Around the clock by default: 4 h and 48 h.
        assert_eq!(at(&t["resolution_due_at"]) - created, Duration::hours(48));
        let path = format!("/api/v1/tickets/{id}");
        app.post(
            &format!("{path}/assign"),
            &admin,
            json!({"agent_id": agent_id}),
        )
        .await
        .ok(200);
        app.put(
            &format!("{path}/status"),
            &agent,
            json!({"status": "in_progress"}),
        )
        .await
        .ok(200);
        app.post(
            &format!("{path}/comments"),
            &agent,
            json!({"body": "Could you send the file?"}),
        )
        .await
        .ok(201);
        app.put(
            &format!("{path}/status"),
            &agent,
            json!({"status": "waiting"}),
        )
        .await
        .ok(200);
        app.advance(Duration::minutes(30));
        let waiting = app.get(&path, &admin).await;
        assert_eq!(waiting.ok(200)["status"], "waiting");
        assert_eq!(waiting.body["sla"]["paused"], true);
        assert_eq!(waiting.body["sla"]["resolution"]["state"], "paused");
        // Ten hours later the customer answers: the ticket resumes and the clock is credited.
        app.advance(Duration::hours(10));
        app.post(
            &format!("{path}/comments"),
            &customer,
            json!({"body": "Here is the file you asked for."}),
        )
        .await
        .ok(201);
        let resumed = app.get(&path, &admin).await;
        assert_eq!(resumed.ok(200)["status"], "in_progress");
        let paused_for = at(&resumed.body["resolution_due_at"]) - created - Duration::hours(48);
        assert!(
            (paused_for - Duration::minutes(630)).num_seconds().abs() <= 5,
            "credited {paused_for}"
        );
        // Raised to urgent: 24 h budget from creation, plus the same pause.
        let urgent = app
            .put(
                &format!("{path}/priority"),
                &admin,
                json!({"priority": "urgent"}),
            )
            .await;
        let due = at(&urgent.ok(200)["resolution_due_at"]);
        let expected = created + Duration::hours(24) + paused_for;
        assert!(
            (due - expected).num_seconds().abs() <= 1,
            "{due} vs {expected}"
        );
        assert_eq!(urgent.body["sla"]["first_response"]["state"], "met");
    }
);

on_both!(
    sla_policies_and_calendars_are_validated,
    |backend| async move {
        let app = TestApp::spawn(backend).await;
        let (_, admin) = app.user(Role::Admin, "Lead").await;
        let (_, agent) = app.user(Role::Agent, "Sam").await;
        let list = app.get("/api/v1/sla-policies", &admin).await;
        let priorities: Vec<&str> = list
            .ok(200)
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["priority"].as_str().unwrap())
            .collect();
        assert_eq!(priorities, vec!["urgent", "high", "medium", "low"]);
        assert_eq!(list.body[0]["first_response_minutes"], 120);
        assert_eq!(list.body[3]["resolution_minutes"], 14400);
        app.get("/api/v1/sla-policies", &agent)
            .await
            .err(403, "FORBIDDEN");
        app.get("/api/v1/sla-policies/extreme", &admin)
            .await
            .err(404, "NOT_FOUND");
        let bad = app
        .put(
            "/api/v1/sla-policies/high",
            &admin,
            json!({"first_response_minutes": 0, "resolution_minutes": -5, "warn_percent": 100, "calendar_id": 999}),
        )
        .await;
        let e = &bad.err(400, "VALIDATION_ERROR")["errors"];
        for f in [
            "first_response_minutes",
            "resolution_minutes",
            "warn_percent",
            "calendar_id",
        ] {
            assert!(e[f].is_array(), "{f} missing in {e}");
        }
        let shorter = app
            .put(
                "/api/v1/sla-policies/high",
                &admin,
                json!({"first_response_minutes": 600, "resolution_minutes": 300}),
            )
            .await;
        assert!(shorter.err(400, "VALIDATION_ERROR")["errors"]["resolution_minutes"].is_array());
        let ok = app
            .put(
                "/api/v1/sla-policies/high",
                &admin,
                json!({"first_response_minutes": 60, "warn_percent": 50}),
            )
            .await;
        assert_eq!(ok.ok(200)["first_response_minutes"], 60);
        assert_eq!(ok.body["resolution_minutes"], 2880);
        // New tickets follow the edited policy.
        let t = app.ticket(&admin, "After the change", "high").await;
        assert_eq!(
            at(&t["first_response_due_at"]) - at(&t["created_at"]),
            Duration::minutes(60)
        );

        let bad_cal = app
        .post(
            "/api/v1/business-calendars",
            &admin,
            json!({"name": "", "timezone": "Mars/Base", "hours": {"mon": ["17:00-09:00"], "someday": ["09:00-10:00"]}, "holidays": ["tomorrow"]}),
        )
        .await;
        let e = &bad_cal.err(400, "VALIDATION_ERROR")["errors"];
        for f in ["name", "timezone", "hours", "holidays"] {
            assert!(e[f].is_array(), "{f} missing in {e}");
        }
        assert_eq!(e["hours"].as_array().unwrap().len(), 2);
        let body = json!({"name": "Tokyo", "timezone": "Asia/Tokyo", "hours": {"mon": ["09:00-12:00", "13:00-18:00"]}, "holidays": ["2026-12-31"]});
        let cal = app
            .post("/api/v1/business-calendars", &admin, body.clone())
            .await;
        let cal_id = cal.ok(201)["id"].as_i64().unwrap();
        assert_eq!(cal.body["hours"]["mon"][1], "13:00-18:00");
        app.post("/api/v1/business-calendars", &admin, body)
            .await
            .err(409, "CONFLICT");
        app.put(
            "/api/v1/sla-policies/low",
            &admin,
            json!({"calendar_id": cal_id}),
        )
        .await
        .ok(200);
        app.delete(&format!("/api/v1/business-calendars/{cal_id}"), &admin)
            .await
            .err(409, "CONFLICT");
        let off = app
            .put(
                "/api/v1/sla-policies/low",
                &admin,
                json!({"calendar_id": null}),
            )
            .await;
        assert!(off.ok(200)["calendar_id"].is_null());
        app.delete(&format!("/api/v1/business-calendars/{cal_id}"), &admin)
            .await
            .ok(204);
        let left = app.get("/api/v1/business-calendars", &admin).await;
        assert_eq!(left.ok(200).as_array().unwrap().len(), 0);
    }
);

on_both!(
    a_changed_policy_or_calendar_applies_to_the_next_ticket_at_once,
    |backend| async move {
        // New tickets take their policy from a per-process copy; every change through the
        // API must empty it, or the next ticket would get the old budget for a few seconds.
        let app = TestApp::spawn(backend).await;
        let (_, admin) = app.user(Role::Admin, "Lead").await;
        let first = app.ticket(&admin, "Before the change", "high").await;
        let created = at(&first["created_at"]);
        let due =
            |t: &Value| (at(&t["first_response_due_at"]) - at(&t["created_at"])).num_minutes();
        assert_eq!(due(&first), 240, "the default high budget");
        app.put(
            "/api/v1/sla-policies/high",
            &admin,
            json!({"first_response_minutes": 15, "resolution_minutes": 600}),
        )
        .await
        .ok(200);
        let second = app.ticket(&admin, "After the change", "high").await;
        assert_eq!(due(&second), 15);
        // A reply recomputes the clock with the policy too (read inside its transaction).
        let cal = app
            .post(
                "/api/v1/business-calendars",
                &admin,
                json!({"name": "Never", "timezone": "UTC", "hours": {"sun": ["00:00-00:30"]}, "holidays": []}),
            )
            .await;
        let cal_id = cal.ok(201)["id"].as_i64().unwrap();
        app.put(
            "/api/v1/sla-policies/high",
            &admin,
            json!({"calendar_id": cal_id}),
        )
        .await
        .ok(200);
        let third = app.ticket(&admin, "Business hours now", "high").await;
        assert!(
            due(&third) > 24 * 60,
            "15 minutes of a 30-minute Sunday window lie days ahead: {}",
            due(&third)
        );
        // Replacing the calendar (now around the clock every day) is seen at once as well.
        let all_day: serde_json::Map<String, Value> =
            ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
                .iter()
                .map(|d| (d.to_string(), json!(["00:00-24:00"])))
                .collect();
        app.put(
            &format!("/api/v1/business-calendars/{cal_id}"),
            &admin,
            json!({"name": "Never", "timezone": "UTC", "hours": all_day, "holidays": []}),
        )
        .await
        .ok(200);
        let fourth = app.ticket(&admin, "Every hour counts", "high").await;
        assert_eq!(due(&fourth), 15);
        assert!(at(&fourth["created_at"]) >= created);
    }
);
