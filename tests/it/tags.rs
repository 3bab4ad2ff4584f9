//! A ticket's tags as views show them follow every write of its tags: creation, edits, bulk
//! tagging, merges and deletion. On PostgreSQL views read the copy triggers keep on the
//! ticket's row (migration 14), so these also hold the copy to the `ticket_tags` rows.

use crate::both_backends;
use crate::harness::{Backend, TestApp, pg_url};
use serde_json::{Value, json};
use triage::tickets::model::Role;

/// A ticket an agent opens for a contact in the technical category with `tags`: the
/// response's body.
async fn create(app: &TestApp, agent: &str, subject: &str, tags: Value) -> Value {
    let r = app
        .post(
            "/api/v1/tickets",
            agent,
            json!({"subject": subject, "description": "Tags follow the ticket.",
                   "category": "technical", "tags": tags,
                   "requester": {"name": "Ada", "email": "ada@example.com"}}),
        )
        .await;
    r.ok(201).clone()
}

/// Tags of ticket `id` in its own view and in a list page filtered by its first tag.
async fn tags_seen(app: &TestApp, token: &str, id: i64) -> Vec<String> {
    let view = app.get(&format!("/api/v1/tickets/{id}"), token).await;
    let tags: Vec<String> = view.ok(200)["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .map(|t| t.as_str().expect("a tag").to_string())
        .collect();
    if let Some(first) = tags.first() {
        let page = app
            .get(&format!("/api/v1/tickets?tag={first}&limit=100"), token)
            .await;
        let listed: Vec<Value> = page.ok(200)["data"].as_array().expect("data").clone();
        let row = listed
            .iter()
            .find(|t| t["id"] == id)
            .expect("the ticket is listed under its tag");
        assert_eq!(row["tags"], json!(tags), "list and view agree");
    }
    tags
}

both_backends!(
    tags_in_views_follow_creates_edits_bulk_merges_and_deletes,
    |app: TestApp| async move {
        let (_, agent) = app.user(Role::Agent, "Tagger").await;
        let (_, admin) = app.user(Role::Admin, "Boss").await;
        let id = |t: Value| t["id"].as_i64().expect("id");
        let a = id(create(&app, &agent, "Printer jams", json!(["Printer", "floor-2"])).await);
        let b = id(create(&app, &agent, "Printer again", json!(["urgent"])).await);
        let plain = id(create(&app, &agent, "No labels", json!([])).await);
        assert_eq!(tags_seen(&app, &agent, a).await, ["floor-2", "printer"]);
        assert_eq!(tags_seen(&app, &agent, plain).await, Vec::<String>::new());
        assert_eq!(app.tag_list_drift().await, 0);

        // Edits replace the set; an empty set leaves none.
        app.patch(
            &format!("/api/v1/tickets/{plain}"),
            &agent,
            json!({"tags": ["zeta", "alpha"]}),
        )
        .await
        .ok(200);
        assert_eq!(tags_seen(&app, &agent, plain).await, ["alpha", "zeta"]);
        app.patch(
            &format!("/api/v1/tickets/{plain}"),
            &agent,
            json!({"tags": []}),
        )
        .await
        .ok(200);
        assert_eq!(tags_seen(&app, &agent, plain).await, Vec::<String>::new());

        // Bulk tagging adds to what is there.
        app.post(
            "/api/v1/tickets/bulk",
            &admin,
            json!({"ids": [a, plain], "action": "tag", "value": "audit"}),
        )
        .await
        .ok(200);
        assert_eq!(
            tags_seen(&app, &agent, a).await,
            ["audit", "floor-2", "printer"]
        );
        assert_eq!(tags_seen(&app, &agent, plain).await, ["audit"]);
        assert_eq!(app.tag_list_drift().await, 0);

        // A merge brings the source's tags to the target.
        app.post(
            &format!("/api/v1/tickets/{b}/merge"),
            &agent,
            json!({"into": a}),
        )
        .await
        .ok(200);
        assert_eq!(
            tags_seen(&app, &agent, a).await,
            ["audit", "floor-2", "printer", "urgent"]
        );
        assert_eq!(app.tag_list_drift().await, 0);

        // Deleting a ticket takes its tag rows along and leaves nothing stale.
        app.delete(&format!("/api/v1/tickets/{a}"), &admin)
            .await
            .ok(204);
        assert_eq!(
            app.scalar(&format!(
                "SELECT COUNT(*) FROM ticket_tags WHERE ticket_id = {a}"
            ))
            .await,
            0
        );
        assert_eq!(app.tag_list_drift().await, 0);
    }
);

both_backends!(
    concurrent_tag_edits_of_one_ticket_leave_the_last_committed_set,
    |app: TestApp| async move {
        let (_, agent) = app.user(Role::Agent, "Racer").await;
        let t = create(&app, &agent, "Contended", json!(["start"])).await;
        let id = t["id"].as_i64().expect("id");
        let app = std::sync::Arc::new(app);
        let mut tasks = Vec::new();
        for i in 0..12 {
            let (app, agent) = (app.clone(), agent.clone());
            tasks.push(tokio::spawn(async move {
                let tags = json!([format!("set-{i}"), format!("x-{}", i % 3)]);
                app.patch(
                    &format!("/api/v1/tickets/{id}"),
                    &agent,
                    json!({ "tags": tags }),
                )
                .await
                .status
                .as_u16()
            }));
        }
        for task in tasks {
            assert_eq!(task.await.expect("task"), 200);
        }
        // Whichever edit committed last, the view shows exactly the rows stored.
        let stored = app
            .scalar(&format!(
                "SELECT COUNT(*) FROM ticket_tags WHERE ticket_id = {id}"
            ))
            .await;
        let seen = tags_seen(&app, &agent, id).await;
        assert_eq!(seen.len() as i64, stored);
        assert_eq!(seen.len(), 2, "one edit's set, not a mix: {seen:?}");
        assert_eq!(app.tag_list_drift().await, 0);
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_14_lists_the_tags_of_tickets_written_before_it() {
    if pg_url().is_none() {
        eprintln!("TRIAGE_TEST_DATABASE_URL not set: PostgreSQL-only test not run");
        return;
    }
    use sea_orm::ConnectionTrait;
    let app = TestApp::spawn(Backend::Postgres).await;
    let (_, agent) = app.user(Role::Agent, "Before").await;
    let mut ids = Vec::new();
    for (subject, tags) in [
        ("Two tags", json!(["zeta", "Alpha"])),
        ("One tag", json!(["billing"])),
        ("No tags", json!([])),
    ] {
        let t = create(&app, &agent, subject, tags).await;
        ids.push(t["id"].as_i64().expect("id"));
    }
    // The database as it was before migration 14: no column, no trigger, not recorded.
    let db = &app.ctx.db.write;
    for sql in [
        "DROP TRIGGER ticket_tags_list ON ticket_tags",
        "DROP FUNCTION ticket_tags_keep()",
        "ALTER TABLE tickets DROP COLUMN tag_list",
        "DELETE FROM triage_migrations WHERE version = 14",
    ] {
        db.execute_unprepared(sql).await.expect(sql);
    }
    // A bulk tag written while the copy did not exist.
    db.execute_unprepared(&format!(
        "INSERT INTO ticket_tags (ticket_id, tag) VALUES ({}, 'late')",
        ids[2]
    ))
    .await
    .expect("tag");
    let applied = triage::db::migrations::migrate(&app.ctx.db)
        .await
        .expect("migrate");
    assert_eq!(applied, 1, "only migration 14 was pending");
    assert_eq!(app.tag_list_drift().await, 0);
    let lists: Vec<Vec<String>> = {
        let mut out = Vec::new();
        for id in &ids {
            out.push(tags_seen(&app, &agent, *id).await);
        }
        out
    };
    assert_eq!(
        lists,
        [vec!["alpha", "zeta"], vec!["billing"], vec!["late"]]
    );
    // The trigger is back: an edit after the migration keeps the copy.
    app.patch(
        &format!("/api/v1/tickets/{}", ids[1]),
        &agent,
        json!({"tags": ["billing", "vip"]}),
    )
    .await
    .ok(200);
    assert_eq!(tags_seen(&app, &agent, ids[1]).await, ["billing", "vip"]);
    assert_eq!(app.tag_list_drift().await, 0);
}

both_backends!(
    a_ticket_created_in_a_transaction_carries_its_tags,
    |app: TestApp| async move {
        // A category that assigns on creation sends new tickets through a transaction
        // rather than one statement: the other path that writes a new ticket's tag list.
        let (_, admin) = app.user(Role::Admin, "Lead").await;
        let (_, agent) = app.user(Role::Agent, "Ann").await;
        let tech = app.category_id("technical").await;
        app.patch(
            &format!("/api/v1/categories/{tech}"),
            &admin,
            json!({"auto_assign": true}),
        )
        .await
        .ok(200);
        let t = create(
            &app,
            &agent,
            "Assigned at once",
            json!(["vpn", "Urgent", "vpn"]),
        )
        .await;
        assert_eq!(t["assignee"]["name"], "Ann", "assigned on creation");
        assert_eq!(t["tags"], json!(["urgent", "vpn"]));
        let id = t["id"].as_i64().expect("id");
        assert_eq!(tags_seen(&app, &agent, id).await, ["urgent", "vpn"]);
        assert_eq!(app.tag_list_drift().await, 0);
    }
);
