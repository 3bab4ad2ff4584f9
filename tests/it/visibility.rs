use crate::both_backends;
use crate::harness::*;
use serde_json::json;
use triage::tickets::model::Role;

both_backends!(
    customers_see_only_their_own_and_never_internal,
    |app: TestApp| async move {
        let (_, admin) = app.user(Role::Admin, "Vis Admin").await;
        let (_, agent) = app.user(Role::Agent, "Vis Agent").await;
        let (_, alice) = app.user(Role::Customer, "Alice").await;
        let (_, bob) = app.user(Role::Customer, "Bob").await;
        let a = app.ticket(&alice, "Alice's problem", "medium").await;
        let b = app.ticket(&bob, "Bob's problem", "medium").await;
        let pa = format!("/api/v1/tickets/{}", a["id"]);
        let numbered = format!("/api/v1/tickets/{}", a["number"].as_str().unwrap());

        // Bob gets 404 (not 403) for everything about Alice's ticket.
        app.get(&pa, &bob).await.err(404, "NOT_FOUND");
        app.get(&numbered, &bob).await.err(404, "NOT_FOUND");
        app.get(&format!("{pa}/comments"), &bob)
            .await
            .err(404, "NOT_FOUND");
        app.get(&format!("{pa}/history"), &bob)
            .await
            .err(404, "NOT_FOUND");
        app.post(&format!("{pa}/comments"), &bob, json!({"body": "hi"}))
            .await
            .err(404, "NOT_FOUND");
        app.patch(&pa, &bob, json!({"subject": "hijack"}))
            .await
            .err(404, "NOT_FOUND");
        app.put(&format!("{pa}/status"), &bob, json!({"status": "closed"}))
            .await
            .err(404, "NOT_FOUND");
        app.delete(&pa, &bob).await.err(404, "NOT_FOUND");
        let listed = app.get("/api/v1/tickets", &bob).await;
        let ids: Vec<_> = listed.ok(200)["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].clone())
            .collect();
        assert_eq!(ids, vec![b["id"].clone()]);
        let searched = app.get("/api/v1/tickets?q=alice", &bob).await;
        assert!(searched.ok(200)["data"].as_array().unwrap().is_empty());

        // Internal notes and internal history never reach the customer.
        app.post(
            &format!("{pa}/comments"),
            &agent,
            json!({"body": "SECRET note about Alice", "internal": true}),
        )
        .await
        .ok(201);
        app.post(
            &format!("{pa}/comments"),
            &agent,
            json!({"body": "Public answer"}),
        )
        .await
        .ok(201);
        app.patch(&pa, &admin, json!({"tags": ["secret-tag"]}))
            .await
            .ok(200);
        let thread = app.get(&format!("{pa}/comments"), &alice).await;
        assert!(!thread.text.contains("SECRET"), "{}", thread.text);
        assert_eq!(thread.body.as_array().unwrap().len(), 1);
        let staff_thread = app.get(&format!("{pa}/comments"), &agent).await;
        assert_eq!(staff_thread.body.as_array().unwrap().len(), 2);
        assert_eq!(staff_thread.body[0]["internal"], true);
        let hist = app.get(&format!("{pa}/history"), &alice).await;
        assert!(
            hist.ok(200)
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["internal"] == false)
        );
        assert!(
            !hist.text.contains("internal note") && !hist.text.contains("secret-tag"),
            "{}",
            hist.text
        );
        let staff_hist = app.get(&format!("{pa}/history"), &admin).await;
        assert!(staff_hist.text.contains("internal note"));
        // Customers cannot post internal notes, nor use staff endpoints.
        app.post(
            &format!("{pa}/comments"),
            &alice,
            json!({"body": "x", "internal": true}),
        )
        .await
        .err(403, "FORBIDDEN");
        app.put(
            &format!("{pa}/priority"),
            &alice,
            json!({"priority": "urgent"}),
        )
        .await
        .err(403, "FORBIDDEN");
        app.get("/api/v1/stats", &alice).await.err(403, "FORBIDDEN");
        app.get("/api/v1/agents", &alice)
            .await
            .err(403, "FORBIDDEN");
        app.get("/api/v1/users", &alice).await.err(403, "FORBIDDEN");
        app.get("/api/v1/tickets/export.csv", &alice)
            .await
            .err(403, "FORBIDDEN");
        app.post(
            "/api/v1/tickets/bulk",
            &alice,
            json!({"ids": [1], "action": "status", "value": "closed"}),
        )
        .await
        .err(403, "FORBIDDEN");
    }
);

both_backends!(
    agents_see_unassigned_and_their_own,
    |app: TestApp| async move {
        let (_, admin) = app.user(Role::Admin, "Queue Admin").await;
        let (a1, agent1) = app.user(Role::Agent, "Queue One").await;
        let (a2, agent2) = app.user(Role::Agent, "Queue Two").await;
        let (_, c) = app.user(Role::Customer, "Queue Customer").await;
        let unassigned = app.ticket(&c, "Nobody's yet", "low").await;
        let mine = app.ticket(&c, "For agent one", "low").await;
        let theirs = app.ticket(&c, "For agent two", "low").await;
        app.assign(&admin, &mine, a1).await;
        app.assign(&admin, &theirs, a2).await;
        let list = app.get("/api/v1/tickets", &agent1).await;
        let mut ids: Vec<i64> = list.ok(200)["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_i64().unwrap())
            .collect();
        ids.sort();
        let mut expected = vec![
            unassigned["id"].as_i64().unwrap(),
            mine["id"].as_i64().unwrap(),
        ];
        expected.sort();
        assert_eq!(ids, expected);
        app.get(&format!("/api/v1/tickets/{}", theirs["id"]), &agent1)
            .await
            .err(404, "NOT_FOUND");
        // Stats count only what the agent sees; admin sees all.
        assert_eq!(app.get("/api/v1/stats", &agent1).await.ok(200)["total"], 2);
        let s = app.get("/api/v1/stats", &admin).await;
        assert_eq!(s.ok(200)["total"], 3);
        assert_eq!(s.body["by_status"]["assigned"], 2);
        assert_eq!(s.body["by_status"]["open"], 1);
        assert_eq!(s.body["by_status"]["closed"], 0);
        assert_eq!(s.body["by_priority"]["low"], 3);
        assert_eq!(s.body["by_category"]["technical"], 3);
        // Agents cannot assign, delete, or read another agent's list.
        app.post(
            &format!("/api/v1/tickets/{}/assign", unassigned["id"]),
            &agent1,
            json!({"agent_id": a1}),
        )
        .await
        .err(403, "FORBIDDEN");
        app.delete(&format!("/api/v1/tickets/{}", unassigned["id"]), &agent1)
            .await
            .err(403, "FORBIDDEN");
        app.get(&format!("/api/v1/agents/{a2}/tickets"), &agent1)
            .await
            .err(403, "FORBIDDEN");
        let own = app
            .get(&format!("/api/v1/agents/{a1}/tickets"), &agent1)
            .await;
        assert_eq!(own.ok(200)["data"].as_array().unwrap().len(), 1);
        let agents = app.get("/api/v1/agents", &agent2).await;
        let two = agents
            .ok(200)
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == a2)
            .unwrap()
            .clone();
        assert_eq!(two["open_tickets"], 1);
    }
);
