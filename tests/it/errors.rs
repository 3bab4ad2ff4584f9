use crate::both_backends;
use crate::harness::*;
use triage::tickets::model::Role;

both_backends!(
    framing_errors_use_the_json_shape,
    |app: TestApp| async move {
        let (_, admin) = app.user(Role::Admin, "Err Admin").await;
        app.get("/api/v1/does-not-exist", &admin)
            .await
            .err(404, "NOT_FOUND");
        app.get("/nope", &admin).await.err(404, "NOT_FOUND");
        app.call(reqwest::Method::DELETE, "/api/v1/auth/login", None, None)
            .await
            .err(405, "METHOD_NOT_ALLOWED");
        app.call(reqwest::Method::PUT, "/api/v1/tickets", Some(&admin), None)
            .await
            .err(405, "METHOD_NOT_ALLOWED");
        app.get("/api/v1/tickets/999999", &admin)
            .await
            .err(404, "NOT_FOUND");
        app.get("/api/v1/users/abc", &admin)
            .await
            .err(404, "NOT_FOUND");

        let url = format!("{}/api/v1/tickets", app.base);
        let send = |body: &'static str, ctype: &'static str| {
            let client = app.client.clone();
            let url = url.clone();
            let admin = admin.clone();
            async move {
                let r = client
                    .post(url)
                    .bearer_auth(admin)
                    .header("content-type", ctype)
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                let status = r.status().as_u16();
                let v: serde_json::Value = r.json().await.unwrap();
                (status, v)
            }
        };
        let (s, v) = send("{\"subject\": ", "application/json").await;
        assert_eq!((s, v["code"].as_str()), (400, Some("VALIDATION_ERROR")));
        assert!(v["message"].as_str().unwrap().contains("malformed JSON"));
        let (s, v) = send("{\"subject\": 5}", "application/json").await;
        assert_eq!((s, v["code"].as_str()), (400, Some("VALIDATION_ERROR")));
        let (s, v) = send("subject=x", "application/x-www-form-urlencoded").await;
        assert_eq!(
            (s, v["code"].as_str()),
            (415, Some("UNSUPPORTED_MEDIA_TYPE"))
        );
        // Over the body limit (64 KiB in tests).
        let big = format!("{{\"subject\": \"{}\"}}", "x".repeat(100 * 1024));
        let r = app
            .client
            .post(&url)
            .bearer_auth(&admin)
            .header("content-type", "application/json")
            .body(big)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 413);
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["code"], "PAYLOAD_TOO_LARGE");
    }
);

both_backends!(operational_endpoints, |app: TestApp| async move {
    let h = app.call(reqwest::Method::GET, "/health", None, None).await;
    assert_eq!(h.ok(200)["status"], "ok");
    assert!(h.headers.get("x-request-id").is_some());
    assert_eq!(h.headers.get("x-content-type-options").unwrap(), "nosniff");
    let r = app.call(reqwest::Method::GET, "/ready", None, None).await;
    assert_eq!(r.ok(200)["database"], "ok");
    let info = app.call(reqwest::Method::GET, "/api/v1", None, None).await;
    assert_eq!(info.ok(200)["version"], "v1");
    let missing = app
        .call(reqwest::Method::GET, "/no-such-page", None, None)
        .await;
    assert_eq!(missing.status.as_u16(), 404);
    assert_eq!(
        missing.headers.get("x-content-type-options").unwrap(),
        "nosniff"
    );
    assert!(missing.headers.get("x-request-id").is_some());
    let wrong_method = app
        .call(reqwest::Method::DELETE, "/health", None, None)
        .await;
    assert_eq!(wrong_method.status.as_u16(), 405);
    let spec = app
        .call(reqwest::Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    let spec = spec.ok(200);
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"));
    for p in [
        "/tickets",
        "/tickets/{id}",
        "/tickets/{id}/status",
        "/tickets/submit",
        "/auth/login",
        "/users",
        "/categories",
        "/stats",
        "/tickets/bulk",
        "/tickets/export.csv",
        "/webhooks",
        "/webhooks/{id}",
        "/notifications/log",
        "/notifications/log/{id}/retry",
        "/mail-templates/{name}",
        "/mail/inbound",
        "/auth/password/forgot",
    ] {
        assert!(spec["paths"][p].is_object(), "openapi lacks {p}");
    }
    let docs = app
        .client
        .get(format!("{}/docs/", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(docs.status().as_u16(), 200);
    let html = docs.text().await.unwrap();
    assert!(html.contains("swagger") || html.contains("Swagger"));
    assert!(
        !html.contains("https://"),
        "docs page must not load anything from the network"
    );
    let m = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // Counted by the route matched (the layers wrap the router, not each route), and a
    // request no route matched as such.
    for series in [
        r#"triage_http_requests_total{method="GET",path="/health",status="200"} "#,
        r#"triage_http_requests_total{method="GET",path="/api/v1",status="200"} "#,
        r#"triage_http_requests_total{method="GET",path="unmatched",status="404"} "#,
        r#"triage_http_requests_total{method="DELETE",path="/health",status="405"} "#,
    ] {
        assert!(
            m.lines().any(|l| l.starts_with(series)),
            "{series} missing: {m}"
        );
    }
});

both_backends!(sqlite_runs_wal_with_full_sync, |app: TestApp| async move {
    use sea_orm::{ConnectionTrait, Statement};
    if app.ctx.db.is_postgres() {
        return;
    }
    let q = |sql: &'static str| Statement::from_string(app.ctx.db.backend, sql);
    let mode = app
        .ctx
        .db
        .write
        .query_one_raw(q("PRAGMA journal_mode"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(mode.try_get_by_index::<String>(0).unwrap(), "wal");
    let sync = app
        .ctx
        .db
        .write
        .query_one_raw(q("PRAGMA synchronous"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        sync.try_get_by_index::<i64>(0).unwrap(),
        2,
        "synchronous=FULL"
    );
    let fk = app
        .ctx
        .db
        .write
        .query_one_raw(q("PRAGMA foreign_keys"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(fk.try_get_by_index::<i64>(0).unwrap(), 1);
});

both_backends!(
    sqlite_wal_is_checkpointed_beside_the_writer,
    |app: TestApp| async move {
        use sea_orm::{ConnectionTrait, Statement};
        if app.ctx.db.is_postgres() {
            return;
        }
        let app = app;
        let q = |sql: &'static str| Statement::from_string(app.ctx.db.backend, sql);
        let auto = app
            .ctx
            .db
            .write
            .query_one_raw(q("PRAGMA wal_autocheckpoint"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            auto.try_get_by_index::<i64>(0).unwrap(),
            0,
            "the writer never stops to checkpoint"
        );
        let file = app.ctx.config.data_dir.join("triage.db");
        let size = || std::fs::metadata(&file).unwrap().len();
        let before = size();
        // ~2 MB of new pages: they land in the WAL, and only a checkpoint moves them into the
        // database file (the writer would not, and no connection closes here).
        let (agent, _) = app.user(triage::tickets::model::Role::Agent, "Sam").await;
        triage::demo::seed_bulk(&app.ctx, &[agent], 1500, &|_, _| {})
            .await
            .expect("seed");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while size() < before + 1_000_000 {
            assert!(
                std::time::Instant::now() < deadline,
                "no checkpoint: database file {} bytes, was {before}",
                size()
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
);
