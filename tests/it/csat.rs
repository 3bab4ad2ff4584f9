//! Satisfaction ratings: once, by the requester, after resolution; from the API, the portal
//! and the link in the resolution e-mail.

use crate::harness::{Backend, TestApp, pg_url};
use crate::on_both;
use crate::sinks::SmtpSink;
use crate::web::Visitor;
use serde_json::json;
use triage::tickets::model::Role;

on_both!(customers_rate_resolved_tickets_once, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let (_, admin) = app.user(Role::Admin, "Lead").await;
    let (agent_id, agent) = app.user(Role::Agent, "Sam").await;
    let (_, customer) = app.user(Role::Customer, "Ada").await;
    let (_, other) = app.user(Role::Customer, "Eve").await;
    let t = app.ticket(&customer, "Invoice missing", "medium").await;
    let id = t["id"].as_i64().unwrap();
    let rating = format!("/api/v1/tickets/{id}/rating");
    app.post(&rating, &customer, json!({"score": 5}))
        .await
        .err(409, "CONFLICT");
    resolve(&app, id, &admin, agent_id, &agent).await;
    let bad = app
        .post(
            &rating,
            &customer,
            json!({"score": 6, "comment": "x".repeat(2001)}),
        )
        .await;
    let e = &bad.err(400, "VALIDATION_ERROR")["errors"];
    assert!(e["score"].is_array() && e["comment"].is_array());
    app.post(&rating, &customer, json!({}))
        .await
        .err(400, "VALIDATION_ERROR");
    app.post(&rating, &agent, json!({"score": 5}))
        .await
        .err(403, "FORBIDDEN");
    app.post(&rating, &other, json!({"score": 1}))
        .await
        .err(404, "NOT_FOUND");
    let r = app
        .post(&rating, &customer, json!({"score": 4, "comment": WORDS}))
        .await;
    assert_eq!(r.ok(201)["score"], 4);
    app.post(&rating, &customer, json!({"score": 1}))
        .await
        .err(409, "CONFLICT");
    let v = app.get(&format!("/api/v1/tickets/{id}"), &agent).await;
    assert_eq!(v.ok(200)["rating"]["score"], 4);
    assert_eq!(v.body["rating"]["comment"], WORDS);
    assert_eq!(app.rated_drift().await, 0);
    let h = app
        .get(&format!("/api/v1/tickets/{id}/history"), &customer)
        .await;
    assert!(
        h.ok(200)
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["field"] == "rating" && e["new_value"] == "4/5")
    );
    // Reopening does not allow a second rating.
    app.put(
        &format!("/api/v1/tickets/{id}/status"),
        &customer,
        json!({"status": "reopened"}),
    )
    .await
    .ok(200);
    app.post(&rating, &customer, json!({"score": 1}))
        .await
        .err(409, "CONFLICT");
    // The rating stays with the reopened ticket, in its view and in list pages.
    let v = app.get(&format!("/api/v1/tickets/{id}"), &agent).await;
    assert_eq!(v.ok(200)["rating"]["comment"], WORDS);
    let page = app.get("/api/v1/tickets?status=reopened", &agent).await;
    let listed = page.ok(200)["data"].as_array().unwrap().clone();
    let row = listed.iter().find(|t| t["id"] == id).expect("listed");
    assert_eq!(row["rating"]["score"], 4);
    assert_eq!(row["rating"]["created_at"], v.body["rating"]["created_at"]);
    // Deleting the ticket takes its rating; no flag is left behind.
    app.delete(&format!("/api/v1/tickets/{id}"), &admin)
        .await
        .ok(204);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM ratings").await, 0);
    assert_eq!(app.rated_drift().await, 0);
});

/// Assigns ticket `id` to the agent, who works on it and resolves it.
async fn resolve(app: &TestApp, id: i64, admin: &str, agent_id: i64, agent: &str) {
    app.post(
        &format!("/api/v1/tickets/{id}/assign"),
        admin,
        json!({"agent_id": agent_id}),
    )
    .await
    .ok(200);
    for s in ["in_progress", "resolved"] {
        app.put(
            &format!("/api/v1/tickets/{id}/status"),
            agent,
            json!({"status": s}),
        )
        .await
        .ok(200);
    }
}

/// A comment with what JSON must escape: the view reads the rating as a JSON array.
const WORDS: &str = "Quick and kind. \"Thanks\"\n\u{1f389} \\o/ </b>";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_resolution_email_links_to_a_rating_form() {
    let sink = SmtpSink::start().await;
    let app = TestApp::with_mail(Backend::Sqlite, &sink).await;
    let (_, admin) = app.user(Role::Admin, "Lead").await;
    let (agent_id, agent) = app.user(Role::Agent, "Sam").await;
    let sub = app
        .anon_post(
            "/api/v1/tickets/submit",
            json!({"name": "Bo", "email": "bo@example.com", "category": "general",
                   "subject": "Lost my receipt", "message": "Please send the receipt again."}),
        )
        .await;
    let number = sub.ok(201)["ticket_id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/tickets/{number}");
    app.post(
        &format!("{path}/assign"),
        &admin,
        json!({"agent_id": agent_id}),
    )
    .await
    .ok(200);
    app.post(
        &format!("{path}/comments"),
        &agent,
        json!({"body": "Sent it again."}),
    )
    .await
    .ok(201);
    for s in ["in_progress", "resolved"] {
        app.put(&format!("{path}/status"), &agent, json!({"status": s}))
            .await
            .ok(200);
    }
    app.settle().await;
    let mails = sink.received();
    let resolved = mails
        .iter()
        .find(|m| m.header("Subject").is_some_and(|s| s.contains("Resolved")))
        .expect("a resolution e-mail");
    let text = resolved.parsed().body_text(0).unwrap().to_string();
    let link = text
        .lines()
        .find(|l| l.starts_with("4: "))
        .expect("a link for score 4")
        .trim_start_matches("4: ")
        .to_string();
    assert!(link.contains("&score=4#rate"), "{link}");
    let html = resolved.parsed().body_html(0).unwrap().to_string();
    assert!(html.contains("score=5#rate"));

    let v = Visitor::new(&app);
    let local = link
        .split_once("/track/")
        .map(|(_, rest)| format!("/track/{rest}"))
        .unwrap();
    let page = v.get(&local).await.text().await.unwrap();
    assert!(page.contains("How did we do?"));
    assert!(
        page.contains("value=\"4\" required checked"),
        "score preselected"
    );
    let token = local
        .split("token=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_string();
    let csrf = v.csrf(&local).await;
    let r = v
        .post(
            &format!("/track/{number}/rate?token={token}"),
            &[
                ("_csrf", &csrf),
                ("score", "4"),
                ("comment", "Fast <b>help</b>"),
            ],
        )
        .await;
    let after = v.follow(r).await;
    assert!(after.contains("Rated 4/5"), "{after}");
    assert!(
        after.contains("Fast &#60;b&#62;help") && !after.contains("<b>help"),
        "{after}"
    );
    assert!(!after.contains("How did we do?"));
    // A second try through the form is refused with a clear message.
    let r = v
        .post(
            &format!("/track/{number}/rate?token={token}"),
            &[("_csrf", &csrf), ("score", "1")],
        )
        .await;
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().await.unwrap().contains("already been rated"));
    let t = app.get(&path, &agent).await;
    assert_eq!(t.ok(200)["rating"]["score"], 4);
}

on_both!(
    migration_15_flags_tickets_rated_before_it,
    |backend| async move {
        use sea_orm::ConnectionTrait;
        let app = TestApp::spawn(backend).await;
        let (_, admin) = app.user(Role::Admin, "Lead").await;
        let (agent_id, agent) = app.user(Role::Agent, "Sam").await;
        let (_, customer) = app.user(Role::Customer, "Ada").await;
        let mut ids = Vec::new();
        for subject in ["Rated before", "Never rated"] {
            let t = app.ticket(&customer, subject, "medium").await;
            let id = t["id"].as_i64().unwrap();
            resolve(&app, id, &admin, agent_id, &agent).await;
            ids.push(id);
        }
        app.post(
            &format!("/api/v1/tickets/{}/rating", ids[0]),
            &customer,
            json!({"score": 2, "comment": "Slow."}),
        )
        .await
        .ok(201);
        // The database as it was before migration 15: no flag, no triggers, not recorded.
        let drops: &[&str] = match backend {
            Backend::Postgres => &[
                "DROP TRIGGER ratings_rated_insdel ON ratings",
                "DROP TRIGGER ratings_rated_upd ON ratings",
                "DROP FUNCTION ratings_rated_keep()",
            ],
            Backend::Sqlite => &[
                "DROP TRIGGER ratings_rated_ai",
                "DROP TRIGGER ratings_rated_ad",
                "DROP TRIGGER ratings_rated_au",
            ],
        };
        let db = &app.ctx.db.write;
        for sql in drops.iter().chain(&[
            "ALTER TABLE tickets DROP COLUMN rated",
            "DELETE FROM triage_migrations WHERE version = 15",
        ]) {
            db.execute_unprepared(sql).await.expect(sql);
        }
        let applied = triage::db::migrations::migrate(&app.ctx.db)
            .await
            .expect("migrate");
        assert_eq!(applied, 1, "only migration 15 was pending");
        assert_eq!(app.rated_drift().await, 0);
        let rated = app
            .get(&format!("/api/v1/tickets/{}", ids[0]), &agent)
            .await;
        assert_eq!(rated.ok(200)["rating"]["comment"], "Slow.");
        let plain = app
            .get(&format!("/api/v1/tickets/{}", ids[1]), &agent)
            .await;
        assert_eq!(plain.ok(200)["rating"], serde_json::Value::Null);
        // The triggers are back: a rating given after the migration shows.
        app.post(
            &format!("/api/v1/tickets/{}/rating", ids[1]),
            &customer,
            json!({"score": 5}),
        )
        .await
        .ok(201);
        let plain = app
            .get(&format!("/api/v1/tickets/{}", ids[1]), &agent)
            .await;
        assert_eq!(plain.ok(200)["rating"]["score"], 5);
        assert_eq!(app.rated_drift().await, 0);
    }
);
