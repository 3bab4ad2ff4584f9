//! Reply templates: admin CRUD, variables filled in per ticket, use from a comment.

use crate::both_backends;
use crate::harness::{Backend, TestApp, pg_url};
use serde_json::json;
use triage::tickets::model::Role;

both_backends!(
    templates_render_per_ticket_and_feed_comments,
    |app: TestApp| async move {
        let (_, admin) = app.user(Role::Admin, "Lead").await;
        let (_, agent) = app.user(Role::Agent, "Sam Spade").await;
        let (_, customer) = app.user(Role::Customer, "Ada Lovelace").await;
        let body = "Hi {{ customer.first_name }},\n\nabout {{ ticket.number }} ({{ ticket.subject }}): we are on it.\n\n{{ agent.name }}";
        app.post(
            "/api/v1/templates",
            &agent,
            json!({"name": "x", "body": "y"}),
        )
        .await
        .err(403, "FORBIDDEN");
        let bad = app
            .post(
                "/api/v1/templates",
                &admin,
                json!({"name": "", "category": "nope", "body": "Hello {{ custmer.name }}"}),
            )
            .await;
        let e = &bad.err(400, "VALIDATION_ERROR")["errors"];
        assert!(e["name"].is_array() && e["category"].is_array());
        assert!(
            e["body"][0].as_str().unwrap().contains("customer.name"),
            "{e}"
        );
        let tech = app
            .post(
                "/api/v1/templates",
                &admin,
                json!({"name": "On it", "category": "technical", "body": body}),
            )
            .await;
        let tech_id = tech.ok(201)["id"].as_i64().unwrap();
        let any_id = app
            .post(
                "/api/v1/templates",
                &admin,
                json!({"name": "Closing", "body": "Glad we could help, {{ customer.name }}."}),
            )
            .await
            .ok(201)["id"]
            .as_i64()
            .unwrap();
        app.post(
            "/api/v1/templates",
            &admin,
            json!({"name": "Refund", "category": "billing", "body": "Your refund is on its way."}),
        )
        .await
        .ok(201);

        let names = |v: &serde_json::Value| -> Vec<String> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|t| t["name"].as_str().unwrap().to_string())
                .collect()
        };
        let for_tech = app
            .get("/api/v1/templates?category=technical", &agent)
            .await;
        assert_eq!(names(for_tech.ok(200)), vec!["Closing", "On it"]);
        let found = app.get("/api/v1/templates?q=refund", &agent).await;
        assert_eq!(names(found.ok(200)), vec!["Refund"]);
        app.get("/api/v1/templates", &customer)
            .await
            .err(403, "FORBIDDEN");

        let t = app.ticket(&customer, "Printer on fire", "high").await;
        let number = t["number"].as_str().unwrap();
        let r = app
            .get(
                &format!("/api/v1/templates/{tech_id}/render?ticket={number}"),
                &agent,
            )
            .await;
        let text = r.ok(200)["body"].as_str().unwrap().to_string();
        assert_eq!(
            text,
            format!("Hi Ada,\n\nabout {number} (Printer on fire): we are on it.\n\nSam Spade")
        );
        app.get(&format!("/api/v1/templates/{tech_id}/render"), &agent)
            .await
            .err(400, "VALIDATION_ERROR");

        // Used from a comment: empty body takes the filled-in template; a body is the edited text.
        let path = format!("/api/v1/tickets/{number}/comments");
        let c = app
            .post(&path, &agent, json!({"body": "", "template_id": any_id}))
            .await;
        assert_eq!(c.ok(201)["body"], "Glad we could help, Ada Lovelace.");
        let c = app
            .post(
                &path,
                &agent,
                json!({"body": "Edited: we are on it.", "template_id": tech_id}),
            )
            .await;
        assert_eq!(c.ok(201)["body"], "Edited: we are on it.");
        app.post(&path, &customer, json!({"body": "", "template_id": any_id}))
            .await
            .err(403, "FORBIDDEN");
        app.post(&path, &agent, json!({"body": "", "template_id": 99999}))
            .await
            .err(400, "VALIDATION_ERROR");

        let changed = app
            .patch(
                &format!("/api/v1/templates/{any_id}"),
                &admin,
                json!({"category": "technical", "body": "Bye {{ customer.first_name }}"}),
            )
            .await;
        assert_eq!(changed.ok(200)["category"], "technical");
        assert_eq!(changed.body["name"], "Closing");
        let cleared = app
            .patch(
                &format!("/api/v1/templates/{any_id}"),
                &admin,
                json!({"category": ""}),
            )
            .await;
        assert!(cleared.ok(200)["category"].is_null());
        app.delete(&format!("/api/v1/templates/{any_id}"), &admin)
            .await
            .ok(204);
        app.get(&format!("/api/v1/templates/{any_id}"), &agent)
            .await
            .err(404, "NOT_FOUND");
        let vars = app.get("/api/v1/templates/variables", &agent).await;
        assert!(
            vars.ok(200)
                .as_array()
                .unwrap()
                .contains(&json!("ticket.url"))
        );
    }
);
