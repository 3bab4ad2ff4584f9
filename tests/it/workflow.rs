use crate::both_backends;
use crate::harness::*;
use serde_json::{Value, json};
use triage::tickets::model::{Role, Status};
use triage::tickets::workflow::allowed_next;

/// Drives a fresh ticket into `target` through allowed moves; returns its path.
async fn ticket_in(
    app: &TestApp,
    admin: &str,
    agent_id: i64,
    customer: &str,
    target: Status,
) -> String {
    let t = app.ticket(customer, "Workflow ticket", "medium").await;
    let path = format!("/api/v1/tickets/{}", t["id"]);
    let steps: &[&str] = match target {
        Status::Open => &[],
        Status::Assigned => &["@assign"],
        Status::InProgress => &["@assign", "in_progress"],
        Status::Waiting => &["@assign", "in_progress", "waiting"],
        Status::OnHold => &["@assign", "in_progress", "on_hold"],
        Status::Resolved => &["@assign", "in_progress", "resolved"],
        Status::Closed => &["closed"],
        Status::Reopened => &["@assign", "in_progress", "resolved", "reopened"],
    };
    for s in steps {
        if *s == "@assign" {
            app.post(
                &format!("{path}/assign"),
                admin,
                json!({"agent_id": agent_id}),
            )
            .await
            .ok(200);
        } else {
            app.put(&format!("{path}/status"), admin, json!({"status": s}))
                .await
                .ok(200);
        }
    }
    let now = app.get(&path, admin).await;
    assert_eq!(now.ok(200)["status"], target.as_str());
    path
}

both_backends!(
    every_transition_allowed_or_refused_exactly,
    |app: TestApp| async move {
        let (_, admin) = app.user(Role::Admin, "Flow Admin").await;
        let (agent_id, _) = app.user(Role::Agent, "Flow Agent").await;
        let (_, c) = app.user(Role::Customer, "Flow Customer").await;
        for &from in Status::ALL {
            for &to in Status::ALL {
                let path = ticket_in(&app, &admin, agent_id, &c, from).await;
                let r = app
                    .put(
                        &format!("{path}/status"),
                        &admin,
                        json!({"status": to.as_str()}),
                    )
                    .await;
                if allowed_next(from).contains(&to) {
                    assert_eq!(r.ok(200)["status"], to.as_str(), "{from} -> {to}");
                } else {
                    let e = r.err(409, "INVALID_TRANSITION");
                    let allowed: Vec<&str> =
                        allowed_next(from).iter().map(|s| s.as_str()).collect();
                    assert_eq!(e["allowed"], json!(allowed), "{from} -> {to}");
                    for a in &allowed {
                        assert!(
                            e["message"].as_str().unwrap().contains(a),
                            "message names {a}: {}",
                            e["message"]
                        );
                    }
                }
            }
        }
        let path = ticket_in(&app, &admin, agent_id, &c, Status::Open).await;
        app.put(&format!("{path}/status"), &admin, json!({"status": "done"}))
            .await
            .err(400, "VALIDATION_ERROR");
    }
);

both_backends!(automatic_moves_and_timestamps, |app: TestApp| async move {
    let (_, admin) = app.user(Role::Admin, "Auto Admin").await;
    let (agent_id, agent) = app.user(Role::Agent, "Auto Agent").await;
    let (_, c) = app.user(Role::Customer, "Auto Customer").await;
    let t = app.ticket(&c, "Automatic moves", "high").await;
    let path = format!("/api/v1/tickets/{}", t["id"]);
    // Assigning an open ticket moves it to assigned.
    let a = app
        .post(
            &format!("{path}/assign"),
            &admin,
            json!({"agent_id": agent_id}),
        )
        .await;
    assert_eq!(a.ok(200)["status"], "assigned");
    assert_eq!(a.body["assignee"]["name"], "Auto Agent");
    app.put(
        &format!("{path}/status"),
        &agent,
        json!({"status": "in_progress"}),
    )
    .await
    .ok(200);
    // First public agent reply sets first_response_at; internal notes do not.
    app.post(
        &format!("{path}/comments"),
        &agent,
        json!({"body": "Looking", "internal": true}),
    )
    .await
    .ok(201);
    assert_eq!(
        app.get(&path, &agent).await.body["first_response_at"],
        Value::Null
    );
    app.advance(chrono::Duration::minutes(30));
    app.post(
        &format!("{path}/comments"),
        &agent,
        json!({"body": "On it"}),
    )
    .await
    .ok(201);
    let now = app.get(&path, &agent).await;
    assert!(now.body["first_response_at"].is_string());
    assert_eq!(now.body["sla"]["first_response"]["state"], "met");
    // Customer reply on waiting → in_progress.
    app.put(
        &format!("{path}/status"),
        &agent,
        json!({"status": "waiting"}),
    )
    .await
    .ok(200);
    app.post(
        &format!("{path}/comments"),
        &c,
        json!({"body": "Here is the info"}),
    )
    .await
    .ok(201);
    assert_eq!(app.get(&path, &agent).await.body["status"], "in_progress");
    // Resolve sets resolved_at; customer reply reopens and clears it.
    let r = app
        .put(
            &format!("{path}/status"),
            &agent,
            json!({"status": "resolved", "resolution": "Restarted the service"}),
        )
        .await;
    assert!(r.ok(200)["resolved_at"].is_string());
    assert_eq!(r.body["resolution"], "Restarted the service");
    app.post(
        &format!("{path}/comments"),
        &c,
        json!({"body": "Broken again"}),
    )
    .await
    .ok(201);
    let re = app.get(&path, &agent).await;
    assert_eq!(re.body["status"], "reopened");
    assert_eq!(re.body["resolved_at"], Value::Null);
    // Closed: customer may reopen within 7 days, not after.
    app.put(
        &format!("{path}/status"),
        &agent,
        json!({"status": "in_progress"}),
    )
    .await
    .ok(200);
    app.put(
        &format!("{path}/status"),
        &agent,
        json!({"status": "closed"}),
    )
    .await
    .ok(200);
    app.advance(chrono::Duration::days(6));
    app.put(&format!("{path}/status"), &c, json!({"status": "reopened"}))
        .await
        .ok(200);
    app.put(
        &format!("{path}/status"),
        &agent,
        json!({"status": "in_progress"}),
    )
    .await
    .ok(200);
    app.put(
        &format!("{path}/status"),
        &agent,
        json!({"status": "closed"}),
    )
    .await
    .ok(200);
    app.advance(chrono::Duration::days(7) + chrono::Duration::minutes(1));
    app.put(&format!("{path}/status"), &c, json!({"status": "reopened"}))
        .await
        .err(409, "INVALID_TRANSITION");
    app.post(&format!("{path}/comments"), &c, json!({"body": "Hello?"}))
        .await
        .err(409, "CONFLICT");
    // Customers may not make other moves.
    let t2 = app.ticket(&c, "Second", "low").await;
    app.put(
        &format!("/api/v1/tickets/{}/status", t2["id"]),
        &c,
        json!({"status": "closed"}),
    )
    .await
    .err(403, "FORBIDDEN");
});

both_backends!(
    auto_assign_least_loaded_round_robin,
    |app: TestApp| async move {
        let (_, admin) = app.user(Role::Admin, "RR Admin").await;
        let (a1, _) = app.user(Role::Agent, "Agent One").await;
        let (a2, _) = app.user(Role::Agent, "Agent Two").await;
        let (a3, _) = app.user(Role::Agent, "Agent Three").await;
        let (_, c) = app.user(Role::Customer, "RR Customer").await;
        // Agent Three is away: never picked.
        app.patch(
            &format!("/api/v1/users/{a3}"),
            &admin,
            json!({"away": true}),
        )
        .await
        .ok(200);
        let mut picks = Vec::new();
        for i in 0..4 {
            let t = app.ticket(&c, &format!("Round robin {i}"), "medium").await;
            let r = app
                .post(
                    &format!("/api/v1/tickets/{}/assign", t["id"]),
                    &admin,
                    json!({"auto": true}),
                )
                .await;
            picks.push(r.ok(200)["assignee"]["id"].as_i64().unwrap());
            app.advance(chrono::Duration::seconds(1));
        }
        assert!(!picks.contains(&a3));
        assert_eq!(picks.iter().filter(|&&p| p == a1).count(), 2);
        assert_eq!(picks.iter().filter(|&&p| p == a2).count(), 2);
        assert_ne!(picks[0], picks[1], "ties alternate");
        // Least loaded wins over round-robin: resolve one of a1's tickets... by giving a2 an extra one.
        let t = app.ticket(&c, "Extra", "medium").await;
        app.post(
            &format!("/api/v1/tickets/{}/assign", t["id"]),
            &admin,
            json!({"agent_id": a2}),
        )
        .await
        .ok(200);
        let t = app.ticket(&c, "Next", "medium").await;
        let r = app
            .post(
                &format!("/api/v1/tickets/{}/assign", t["id"]),
                &admin,
                json!({"auto": true}),
            )
            .await;
        assert_eq!(r.ok(200)["assignee"]["id"].as_i64().unwrap(), a1);
        // With nobody available: 409.
        for a in [a1, a2] {
            app.patch(&format!("/api/v1/users/{a}"), &admin, json!({"away": true}))
                .await
                .ok(200);
        }
        let t = app.ticket(&c, "Nobody", "medium").await;
        app.post(
            &format!("/api/v1/tickets/{}/assign", t["id"]),
            &admin,
            json!({"auto": true}),
        )
        .await
        .err(409, "CONFLICT");
        app.post(
            &format!("/api/v1/tickets/{}/assign", t["id"]),
            &admin,
            json!({"agent_id": 999999}),
        )
        .await
        .err(400, "VALIDATION_ERROR");
    }
);

both_backends!(
    concurrent_status_changes_apply_once,
    |app: TestApp| async move {
        let (_, admin) = app.user(Role::Admin, "Race Admin").await;
        let (agent_id, _) = app.user(Role::Agent, "Race Agent").await;
        let (_, c) = app.user(Role::Customer, "Race Customer").await;
        let path = ticket_in(&app, &admin, agent_id, &c, Status::InProgress).await;
        // Ten clients resolve the same ticket at once: the workflow allows only the first.
        let app = std::sync::Arc::new(app);
        let mut tasks = Vec::new();
        for _ in 0..10 {
            let (app, admin, path) = (app.clone(), admin.clone(), path.clone());
            tasks.push(tokio::spawn(async move {
                app.put(
                    &format!("{path}/status"),
                    &admin,
                    json!({"status": "resolved"}),
                )
                .await
                .status
                .as_u16()
            }));
        }
        let codes = joined(tasks).await;
        assert_eq!(codes.iter().filter(|&&c| c == 200).count(), 1, "{codes:?}");
        assert_eq!(codes.iter().filter(|&&c| c == 409).count(), 9, "{codes:?}");
        let hist = app.get(&format!("{path}/history"), &admin).await;
        let resolved_events = hist
            .ok(200)
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["field"] == "status" && e["new_value"] == "resolved")
            .count();
        assert_eq!(resolved_events, 1);
    }
);

both_backends!(
    concurrent_creates_and_replies_commit_independently,
    |app: TestApp| async move {
        // Many creations and replies at once (on SQLite they share group commits): every 201
        // is in the database, and a write that fails inside the batch (unknown requester, or
        // a reply to a ticket the author cannot see) takes nothing else down with it.
        let (_, admin) = app.user(Role::Admin, "Batch Admin").await;
        let (_, stranger) = app.user(Role::Customer, "Batch Stranger").await;
        let target = app.ticket(&admin, "Shared ticket", "low").await["id"]
            .as_i64()
            .unwrap();
        let before = app.get("/api/v1/stats", &admin).await.ok(200)["total"]
            .as_i64()
            .unwrap();
        let app = std::sync::Arc::new(app);
        let mut tasks = Vec::new();
        for i in 0..60 {
            let (app, admin, stranger) = (app.clone(), admin.clone(), stranger.clone());
            tasks.push(tokio::spawn(async move {
                let r = match i % 4 {
                    0 => app.post("/api/v1/tickets", &admin, json!({"subject": format!("Batch {i}"), "description": "Created in a burst of sixty.", "category": "technical", "requester_id": 999_999})).await,
                    1 => app.post(&format!("/api/v1/tickets/{target}/comments"), &stranger, json!({"body": format!("Not mine {i}")})).await,
                    2 => app.post(&format!("/api/v1/tickets/{target}/comments"), &admin, json!({"body": format!("Reply {i}"), "internal": true})).await,
                    _ => app.post("/api/v1/tickets", &admin, json!({"subject": format!("Batch {i}"), "description": "Created in a burst of sixty.", "category": "technical"})).await,
                };
                (i % 4, r.status.as_u16())
            }));
        }
        let codes = joined(tasks).await;
        for (kind, code) in &codes {
            let want = match kind {
                0 => 400,
                1 => 404,
                _ => 201,
            };
            assert_eq!(*code, want, "kind {kind}: {codes:?}");
        }
        let after = app.get("/api/v1/stats", &admin).await.ok(200)["total"]
            .as_i64()
            .unwrap();
        assert_eq!(after - before, 15, "fifteen good creations kept");
        let thread = app
            .get(&format!("/api/v1/tickets/{target}/comments"), &admin)
            .await;
        let replies = thread.ok(200).as_array().unwrap().len();
        assert_eq!(replies, 15, "fifteen notes kept, none from the stranger");
        let listed = app.get("/api/v1/tickets?q=burst&limit=100", &admin).await;
        assert_eq!(listed.ok(200)["data"].as_array().unwrap().len(), 15);
    }
);

both_backends!(
    replies_right_after_an_sla_change_do_not_starve_the_pool,
    |app: TestApp| async move {
        // A change empties the per-process catalog, so every reply of the burst reads its SLA
        // policy again. That read must use the reply's own transaction: on PostgreSQL the read
        // pool is the write pool (4 connections here), and sixteen transactions each waiting
        // for a second connection would hold all of them until the acquire timeout (500s).
        let (_, admin) = app.user(Role::Admin, "Pool Admin").await;
        let id = app.ticket(&admin, "Busy ticket", "high").await["id"]
            .as_i64()
            .unwrap();
        app.put(
            "/api/v1/sla-policies/high",
            &admin,
            json!({"first_response_minutes": 30, "resolution_minutes": 600}),
        )
        .await
        .ok(200);
        let app = std::sync::Arc::new(app);
        let started = std::time::Instant::now();
        let mut tasks = Vec::new();
        for i in 0..16 {
            let (app, admin) = (app.clone(), admin.clone());
            tasks.push(tokio::spawn(async move {
                app.post(
                    &format!("/api/v1/tickets/{id}/comments"),
                    &admin,
                    json!({"body": format!("Burst reply {i}")}),
                )
                .await
                .status
                .as_u16()
            }));
        }
        let codes = joined(tasks).await;
        assert!(codes.iter().all(|c| *c == 201), "{codes:?}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(8),
            "replies waited for connections: {:?}",
            started.elapsed()
        );
        let thread = app
            .get(&format!("/api/v1/tickets/{id}/comments"), &admin)
            .await;
        assert_eq!(thread.ok(200).as_array().unwrap().len(), 16);
    }
);
