use crate::both_backends;
use crate::harness::*;
use serde_json::json;
use triage::tickets::model::Role;

both_backends!(users_crud_and_last_admin_guard, |app: TestApp| async move {
    let (admin_id, admin) = app.user(Role::Admin, "Only Admin").await;
    let r = app.post("/api/v1/users", &admin, json!({"email": "new.agent@example.com", "name": "New Agent", "role": "agent", "password": "password123"})).await;
    let u = r.ok(201).clone();
    assert_eq!(u["role"], "agent");
    assert_eq!(u["active"], true);
    assert!(u.get("password_hash").is_none() && !r.text.contains("argon2"));
    app.post("/api/v1/users", &admin, json!({"email": "new.agent@example.com", "name": "Dup", "role": "agent", "password": "password123"}))
        .await
        .err(409, "CONFLICT");
    let bad = app
        .post(
            "/api/v1/users",
            &admin,
            json!({"email": "x", "name": "", "role": "boss", "password": "1"}),
        )
        .await;
    bad.err(400, "VALIDATION_ERROR");
    let id = u["id"].as_i64().unwrap();
    let p = app
        .patch(
            &format!("/api/v1/users/{id}"),
            &admin,
            json!({"role": "admin", "name": "Promoted"}),
        )
        .await;
    assert_eq!(p.ok(200)["role"], "admin");
    let list = app.get("/api/v1/users?role=admin", &admin).await;
    assert_eq!(list.ok(200)["total"], 2);
    let q = app.get("/api/v1/users?q=promo", &admin).await;
    assert_eq!(q.ok(200)["data"][0]["name"], "Promoted");
    assert_eq!(
        app.get(&format!("/api/v1/users/{id}"), &admin)
            .await
            .ok(200)["email"],
        "new.agent@example.com"
    );
    // New password works.
    app.patch(
        &format!("/api/v1/users/{id}"),
        &admin,
        json!({"password": "another-pass"}),
    )
    .await
    .ok(200);
    app.anon_post(
        "/api/v1/auth/login",
        json!({"email": "new.agent@example.com", "password": "another-pass"}),
    )
    .await
    .ok(200);
    // The last active admin cannot be demoted or deactivated.
    app.delete(&format!("/api/v1/users/{id}"), &admin)
        .await
        .ok(204);
    app.patch(
        &format!("/api/v1/users/{admin_id}"),
        &admin,
        json!({"role": "agent"}),
    )
    .await
    .err(409, "CONFLICT");
    app.delete(&format!("/api/v1/users/{admin_id}"), &admin)
        .await
        .err(409, "CONFLICT");
    app.get("/api/v1/users/424242", &admin)
        .await
        .err(404, "NOT_FOUND");
});

both_backends!(categories_crud, |app: TestApp| async move {
    let (_, admin) = app.user(Role::Admin, "Cat Admin").await;
    let (_, c) = app.user(Role::Customer, "Cat Customer").await;
    let public = app
        .call(reqwest::Method::GET, "/api/v1/categories", None, None)
        .await;
    let slugs: Vec<String> = public
        .ok(200)
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["slug"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        slugs,
        vec![
            "general",
            "account",
            "billing",
            "technical",
            "bug",
            "feature_request",
            "question"
        ]
    );
    let r = app
        .post(
            "/api/v1/categories",
            &admin,
            json!({"slug": "security", "name": "Security"}),
        )
        .await;
    let id = r.ok(201)["id"].as_i64().unwrap();
    app.post(
        "/api/v1/categories",
        &admin,
        json!({"slug": "security", "name": "Again"}),
    )
    .await
    .err(409, "CONFLICT");
    app.post(
        "/api/v1/categories",
        &admin,
        json!({"slug": "Bad Slug!", "name": ""}),
    )
    .await
    .err(400, "VALIDATION_ERROR");
    app.post("/api/v1/categories", &c, json!({"slug": "x1", "name": "X"}))
        .await
        .err(403, "FORBIDDEN");
    // New category is usable; deleting it while used is refused; deactivating hides it from forms.
    app.post("/api/v1/tickets", &c, json!({"subject": "Phishing", "description": "Got a phishing mail.", "category": "security"})).await.ok(201);
    app.delete(&format!("/api/v1/categories/{id}"), &admin)
        .await
        .err(409, "CONFLICT");
    app.patch(
        &format!("/api/v1/categories/{id}"),
        &admin,
        json!({"active": false}),
    )
    .await
    .ok(200);
    app.post("/api/v1/tickets", &c, json!({"subject": "Phishing", "description": "Got a phishing mail.", "category": "security"}))
        .await
        .err(400, "VALIDATION_ERROR");
    let all = app.get("/api/v1/categories?all=true", &admin).await;
    assert_eq!(all.ok(200).as_array().unwrap().len(), 8);
    let unused = app
        .post(
            "/api/v1/categories",
            &admin,
            json!({"slug": "temp", "name": "Temp"}),
        )
        .await;
    let tid = unused.ok(201)["id"].as_i64().unwrap();
    app.delete(&format!("/api/v1/categories/{tid}"), &admin)
        .await
        .ok(204);
    app.patch(
        &format!("/api/v1/categories/{tid}"),
        &admin,
        json!({"name": "Gone"}),
    )
    .await
    .err(404, "NOT_FOUND");
});

both_backends!(bulk_actions_and_csv_export, |app: TestApp| async move {
    let (_, admin) = app.user(Role::Admin, "Bulk Admin").await;
    let (agent_id, agent) = app.user(Role::Agent, "Bulk Agent").await;
    let (_, c) = app.user(Role::Customer, "Bulk Customer").await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(
            app.ticket(&c, &format!("=cmd|' /C calc'!A{i}"), "low")
                .await["id"]
                .as_i64()
                .unwrap(),
        );
    }
    let r = app
        .post(
            "/api/v1/tickets/bulk",
            &agent,
            json!({"ids": ids, "action": "priority", "value": "high"}),
        )
        .await;
    assert_eq!(r.ok(200)["updated"].as_array().unwrap().len(), 3);
    app.post(
        "/api/v1/tickets/bulk",
        &agent,
        json!({"ids": ids, "action": "assign", "value": agent_id}),
    )
    .await
    .err(403, "FORBIDDEN");
    let r = app
        .post(
            "/api/v1/tickets/bulk",
            &admin,
            json!({"ids": [ids[0], ids[1], 999999], "action": "assign", "value": agent_id}),
        )
        .await;
    let b = r.ok(200);
    assert_eq!(b["updated"], json!([ids[0], ids[1]]));
    assert_eq!(b["failed"][0]["id"], 999999);
    assert_eq!(b["failed"][0]["code"], "NOT_FOUND");
    // Bulk close: the two assigned ones can close; the open one can too (open→closed).
    let r = app
        .post(
            "/api/v1/tickets/bulk",
            &admin,
            json!({"ids": ids, "action": "status", "value": "closed"}),
        )
        .await;
    assert_eq!(r.ok(200)["updated"].as_array().unwrap().len(), 3);
    let r = app
        .post(
            "/api/v1/tickets/bulk",
            &admin,
            json!({"ids": ids, "action": "status", "value": "in_progress"}),
        )
        .await;
    let b = r.ok(200);
    assert_eq!(b["failed"].as_array().unwrap().len(), 3);
    assert_eq!(b["failed"][0]["code"], "INVALID_TRANSITION");
    app.post(
        "/api/v1/tickets/bulk",
        &admin,
        json!({"ids": ids, "action": "tag", "value": "batch"}),
    )
    .await
    .ok(200);
    assert_eq!(
        app.get("/api/v1/tickets?tag=batch", &admin).await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    app.post(
        "/api/v1/tickets/bulk",
        &admin,
        json!({"ids": [], "action": "status", "value": "closed"}),
    )
    .await
    .err(400, "VALIDATION_ERROR");
    app.post(
        "/api/v1/tickets/bulk",
        &admin,
        json!({"ids": ids, "action": "explode", "value": 1}),
    )
    .await
    .err(400, "VALIDATION_ERROR");

    // CSV export: header, one row per ticket, formulas neutralised, filters honoured.
    let csv = app
        .client
        .get(format!(
            "{}/api/v1/tickets/export.csv?status=closed",
            app.base
        ))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status().as_u16(), 200);
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = csv.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(&headers[0], "number");
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 3);
    assert!(
        rows.iter().all(|r| r[1].starts_with("'=")),
        "formula cells are escaped"
    );
    assert!(
        rows.iter()
            .all(|r| &r[2] == "closed" && r[9].contains("batch"))
    );
    let empty = app
        .client
        .get(format!(
            "{}/api/v1/tickets/export.csv?status=open",
            app.base
        ))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(empty.text().await.unwrap().lines().count(), 1);
    let bad = app
        .get("/api/v1/tickets/export.csv?status=bogus", &admin)
        .await;
    bad.err(400, "VALIDATION_ERROR");
});

both_backends!(csv_export_streams_many_pages, |app: TestApp| async move {
    let (_, admin) = app.user(Role::Admin, "Export Admin").await;
    for i in 0..1203 {
        let ctx = &app.ctx;
        triage::tickets::service::create(
            ctx,
            triage::tickets::service::NewTicket {
                subject: format!("Bulk ticket {i}"),
                description: "Generated for the export test.".into(),
                description_field: "description",
                category: "general".into(),
                priority: None,
                tags: vec![],
                channel: triage::tickets::model::Channel::Api,
                requester: triage::tickets::service::RequesterInput::Contact {
                    name: "Export".into(),
                    email: "export@example.com".into(),
                },
                page_url: None,
                browser_info: None,
                ip: None,
                conversation_id: None,
                follow_up_of: None,
                suppress_ack: false,
                attachments: Vec::new(),
            },
        )
        .await
        .unwrap();
    }
    let text = app
        .client
        .get(format!("{}/api/v1/tickets/export.csv", app.base))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let numbers: std::collections::HashSet<String> = reader
        .records()
        .map(|r| r.unwrap()[0].to_string())
        .collect();
    assert_eq!(numbers.len(), 1203);
});

both_backends!(backup_is_a_consistent_copy, |app: TestApp| async move {
    if app.ctx.db.is_postgres()
        && std::process::Command::new("pg_dump")
            .arg("--version")
            .output()
            .is_err()
    {
        eprintln!("pg_dump not installed: PostgreSQL backup not exercised");
        return;
    }
    let (_, c) = app.user(Role::Customer, "Backup Customer").await;
    let t = app.ticket(&c, "Keep me safe", "high").await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("snap").join("backup.out");
    triage::db::backup::backup(&app.ctx.db, &app.ctx.config, &out)
        .await
        .unwrap();
    let bytes = std::fs::read(&out).unwrap();
    if app.ctx.db.is_postgres() {
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            text.contains("CREATE TABLE public.tickets"),
            "dump has the schema"
        );
        assert!(
            text.contains(t["number"].as_str().unwrap()),
            "dump has the ticket"
        );
    } else {
        assert!(bytes.starts_with(b"SQLite format 3\0"));
        let url = format!("sqlite://{}", out.display());
        let copy = sqlx::SqlitePool::connect(&url).await.unwrap();
        let (n,): (String,) = sqlx::query_as("SELECT number FROM tickets")
            .fetch_one(&copy)
            .await
            .unwrap();
        assert_eq!(n, t["number"].as_str().unwrap());
    }
    // Never overwrites.
    assert!(
        triage::db::backup::backup(&app.ctx.db, &app.ctx.config, &out)
            .await
            .is_err()
    );
});

both_backends!(
    concurrent_tag_adds_keep_each_other,
    |app: TestApp| async move {
        let (_, admin) = app.user(Role::Admin, "Tag Admin").await;
        let (_, c) = app.user(Role::Customer, "Tag Customer").await;
        let t = app.ticket(&c, "Many labels", "low").await;
        let id = t["id"].as_i64().unwrap();
        let app = std::sync::Arc::new(app);
        let mut tasks = Vec::new();
        for i in 0..8 {
            let (app, admin) = (app.clone(), admin.clone());
            tasks.push(tokio::spawn(async move {
                app.post(
                    "/api/v1/tickets/bulk",
                    &admin,
                    json!({"ids": [id], "action": "tag", "value": format!("label-{i}")}),
                )
                .await
                .status
                .as_u16()
            }));
        }
        for task in tasks {
            assert_eq!(task.await.unwrap(), 200);
        }
        let got = app.get(&format!("/api/v1/tickets/{id}"), &admin).await;
        let tags = got.ok(200)["tags"].as_array().unwrap().clone();
        assert_eq!(tags.len(), 8, "every concurrent add survives: {tags:?}");
    }
);
