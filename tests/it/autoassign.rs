//! Auto-assignment per category: least loaded, round-robin on ties, away agents skipped,
//! capacity respected, waiting tickets handed out when an agent frees up.

use crate::both_backends;
use crate::harness::{Backend, TestApp, pg_url};
use serde_json::{Value, json};
use triage::tickets::model::Role;

async fn open(app: &TestApp, token: &str, subject: &str, category: &str) -> Value {
    app.post(
        "/api/v1/tickets",
        token,
        json!({"subject": subject, "description": "Please have a look at this.", "category": category}),
    )
    .await
    .ok(201)
    .clone()
}

fn assignee(t: &Value) -> Option<String> {
    t["assignee"]["name"].as_str().map(str::to_string)
}

both_backends!(
    round_robin_capacity_away_and_backlog,
    |app: TestApp| async move {
        let (_, admin) = app.user(Role::Admin, "Lead").await;
        let (ann, ann_token) = app.user(Role::Agent, "Ann").await;
        let (bob, bob_token) = app.user(Role::Agent, "Bob").await;
        let (cy, _) = app.user(Role::Agent, "Cy").await;
        let (_, customer) = app.user(Role::Customer, "Ada").await;
        let tech = app.category_id("technical").await;
        // Off by default: nothing is assigned.
        let manual = open(&app, &customer, "Before switching on", "technical").await;
        assert!(manual["assignee"].is_null());
        app.patch(
            &format!("/api/v1/users/{cy}"),
            &admin,
            json!({"away": true}),
        )
        .await
        .ok(200);
        let on = app
            .patch(
                &format!("/api/v1/categories/{tech}"),
                &admin,
                json!({"auto_assign": true}),
            )
            .await;
        assert_eq!(on.ok(200)["auto_assign"], true);
        // Switching on hands out the ticket already waiting: to Ann (tie, lowest id).
        let waiting = app
            .get(&format!("/api/v1/tickets/{}", manual["id"]), &admin)
            .await;
        assert_eq!(assignee(waiting.ok(200)).as_deref(), Some("Ann"));

        // Ann has 1, Bob 0: Bob, then a tie at 1 goes to Bob's longest-waiting colleague Ann, …
        let mut seq = Vec::new();
        for i in 0..4 {
            let t = open(&app, &customer, &format!("Round {i}"), "technical").await;
            assert_eq!(t["status"], "assigned");
            seq.push(assignee(&t).unwrap());
        }
        assert_eq!(seq, vec!["Bob", "Ann", "Bob", "Ann"], "Cy is away");
        // Other categories stay manual.
        let billing = open(&app, &customer, "Invoice question", "billing").await;
        assert!(billing["assignee"].is_null());

        // The history says who did it and why.
        let h = app
            .get(&format!("/api/v1/tickets/{}/history", manual["id"]), &admin)
            .await;
        let auto: Vec<&Value> = h
            .ok(200)
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["field"] == "assignee" || e["field"] == "auto_assign")
            .collect();
        assert_eq!(auto.len(), 2, "{auto:?}");
        assert!(auto.iter().all(|e| e["actor"].is_null()));
        assert!(
            auto[1]["new_value"]
                .as_str()
                .unwrap()
                .starts_with("least loaded")
        );

        // Capacity: Ann 3 open of 3, Bob 2 of 2 — the next ticket waits.
        for (id, cap) in [(ann, 3), (bob, 2)] {
            let u = app
                .patch(
                    &format!("/api/v1/users/{id}"),
                    &admin,
                    json!({"capacity": cap}),
                )
                .await;
            assert_eq!(u.ok(200)["capacity"], cap);
        }
        let queued = open(&app, &customer, "Everyone is busy", "technical").await;
        assert!(queued["assignee"].is_null(), "{queued}");
        app.post(
            &format!("/api/v1/tickets/{}/assign", queued["id"]),
            &admin,
            json!({"auto": true}),
        )
        .await
        .err(409, "CONFLICT");

        // Cy comes back: the waiting ticket is his.
        app.patch(
            &format!("/api/v1/users/{cy}"),
            &admin,
            json!({"away": false, "capacity": 1}),
        )
        .await
        .ok(200);
        let t = app
            .get(&format!("/api/v1/tickets/{}", queued["id"]), &admin)
            .await;
        assert_eq!(assignee(t.ok(200)).as_deref(), Some("Cy"));

        // All full again; Bob resolving one frees a place that the next waiting ticket takes.
        let next = open(&app, &customer, "Waits for a free agent", "technical").await;
        assert!(next["assignee"].is_null());
        let bobs = app
            .get(&format!("/api/v1/tickets?assignee={bob}"), &admin)
            .await;
        let one = bobs.ok(200)["data"][0]["id"].as_i64().unwrap();
        for s in ["in_progress", "resolved"] {
            app.put(
                &format!("/api/v1/tickets/{one}/status"),
                &bob_token,
                json!({"status": s}),
            )
            .await
            .ok(200);
        }
        let t = app
            .get(&format!("/api/v1/tickets/{}", next["id"]), &admin)
            .await;
        assert_eq!(assignee(t.ok(200)).as_deref(), Some("Bob"));
        // No limit again for Ann: `null` clears the capacity.
        let u = app
            .patch(
                &format!("/api/v1/users/{ann}"),
                &admin,
                json!({"capacity": null}),
            )
            .await;
        assert!(u.ok(200)["capacity"].is_null());
        app.patch(
            &format!("/api/v1/users/{ann}"),
            &admin,
            json!({"capacity": -1}),
        )
        .await
        .err(400, "VALIDATION_ERROR");
        let _ = ann_token;
    }
);
