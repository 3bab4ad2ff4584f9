use crate::both_backends;
use crate::harness::*;
use serde_json::json;

both_backends!(register_login_me, |app: TestApp| async move {
    let r = app
        .anon_post(
            "/api/v1/auth/register",
            json!({"email": "Ada@Example.com", "name": "Ada", "password": "s3cret-pass"}),
        )
        .await;
    let body = r.ok(201);
    assert_eq!(body["user"]["email"], "ada@example.com");
    assert_eq!(body["user"]["role"], "customer");
    let token = body["access_token"].as_str().unwrap().to_string();
    let me = app.get("/api/v1/auth/me", &token).await;
    assert_eq!(me.ok(200)["name"], "Ada");

    // Duplicate registration and bad input.
    app.anon_post(
        "/api/v1/auth/register",
        json!({"email": "ada@example.com", "name": "Ada", "password": "s3cret-pass"}),
    )
    .await
    .err(409, "CONFLICT");
    let bad = app
        .anon_post(
            "/api/v1/auth/register",
            json!({"email": "nope", "name": "", "password": "short"}),
        )
        .await;
    let errs = &bad.err(400, "VALIDATION_ERROR")["errors"];
    assert!(
        errs["email"].is_array() && errs["name"].is_array() && errs["password"].is_array(),
        "{errs}"
    );

    let login = app
        .anon_post(
            "/api/v1/auth/login",
            json!({"email": "ada@example.com", "password": "s3cret-pass"}),
        )
        .await;
    let l = login.ok(200);
    assert_eq!(l["token_type"], "Bearer");
    assert_eq!(l["expires_in"], 900);
    app.anon_post(
        "/api/v1/auth/login",
        json!({"email": "ada@example.com", "password": "wrong-pass"}),
    )
    .await
    .err(401, "UNAUTHORIZED");
    app.anon_post(
        "/api/v1/auth/login",
        json!({"email": "ghost@example.com", "password": "wrong-pass"}),
    )
    .await
    .err(401, "UNAUTHORIZED");
});

both_backends!(
    refresh_rotation_and_reuse_revokes_family,
    |app: TestApp| async move {
        app.anon_post(
            "/api/v1/auth/register",
            json!({"email": "r@example.com", "name": "R", "password": "s3cret-pass"}),
        )
        .await
        .ok(201);
        let first = app
            .anon_post(
                "/api/v1/auth/login",
                json!({"email": "r@example.com", "password": "s3cret-pass"}),
            )
            .await;
        let rt1 = first.body["refresh_token"].as_str().unwrap().to_string();
        let second = app
            .anon_post("/api/v1/auth/refresh", json!({"refresh_token": rt1}))
            .await;
        let rt2 = second.ok(200)["refresh_token"]
            .as_str()
            .unwrap()
            .to_string();
        assert_ne!(rt1, rt2);
        // Reusing the old token fails and revokes the whole family, including rt2.
        app.anon_post("/api/v1/auth/refresh", json!({"refresh_token": rt1}))
            .await
            .err(401, "UNAUTHORIZED");
        app.anon_post("/api/v1/auth/refresh", json!({"refresh_token": rt2}))
            .await
            .err(401, "UNAUTHORIZED");
        // A separate login is a separate family and still works.
        let other = app
            .anon_post(
                "/api/v1/auth/login",
                json!({"email": "r@example.com", "password": "s3cret-pass"}),
            )
            .await;
        let rt3 = other.body["refresh_token"].as_str().unwrap().to_string();
        let access = other.body["access_token"].as_str().unwrap().to_string();
        app.anon_post("/api/v1/auth/refresh", json!({"refresh_token": "garbage"}))
            .await
            .err(401, "UNAUTHORIZED");
        // Logout revokes it.
        app.post(
            "/api/v1/auth/logout",
            &access,
            json!({"refresh_token": rt3}),
        )
        .await
        .ok(204);
        app.anon_post("/api/v1/auth/refresh", json!({"refresh_token": rt3}))
            .await
            .err(401, "UNAUTHORIZED");
    }
);

both_backends!(
    access_tokens_expire_and_bad_tokens_401,
    |app: TestApp| async move {
        let (_, token) = app
            .user_jwt(triage::tickets::model::Role::Agent, "Expiring Agent")
            .await;
        app.get("/api/v1/auth/me", &token).await.ok(200);
        app.get("/api/v1/auth/me", "not-a-jwt")
            .await
            .err(401, "UNAUTHORIZED");
        app.call(reqwest::Method::GET, "/api/v1/auth/me", None, None)
            .await
            .err(401, "UNAUTHORIZED");
        app.advance(chrono::Duration::minutes(16));
        app.get("/api/v1/auth/me", &token)
            .await
            .err(401, "UNAUTHORIZED");
    }
);

both_backends!(api_tokens_create_list_revoke, |app: TestApp| async move {
    let (_, token) = app
        .user_jwt(triage::tickets::model::Role::Admin, "Token Admin")
        .await;
    let created = app
        .post("/api/v1/auth/tokens", &token, json!({"name": "CI"}))
        .await;
    let c = created.ok(201).clone();
    let secret = c["token"].as_str().unwrap().to_string();
    assert!(secret.starts_with("trg_"));
    // The API token authenticates, and survives the access token's expiry.
    app.advance(chrono::Duration::hours(2));
    assert_eq!(
        app.get("/api/v1/auth/me", &secret).await.ok(200)["name"],
        "Token Admin"
    );
    let list = app.get("/api/v1/auth/tokens", &secret).await;
    let l = list.ok(200).as_array().unwrap().clone();
    assert_eq!(l.len(), 1);
    assert!(l[0].get("token").is_none(), "secret must not be listed");
    // Stored hashed: the secret is nowhere in the table.
    use sea_orm::EntityTrait;
    let rows = triage::db::entities::api_token::Entity::find()
        .all(&app.ctx.db.read)
        .await
        .unwrap();
    assert!(
        rows.iter()
            .all(|r| r.token_hash != secret && r.token_hash.len() == 64)
    );
    let id = c["id"].as_i64().unwrap();
    app.delete(&format!("/api/v1/auth/tokens/{id}"), &secret)
        .await
        .ok(204);
    app.get("/api/v1/auth/me", &secret)
        .await
        .err(401, "UNAUTHORIZED");
});

both_backends!(deactivated_users_lose_access, |app: TestApp| async move {
    let (_, admin) = app.user(triage::tickets::model::Role::Admin, "Boss").await;
    let (uid, token) = app
        .user_jwt(triage::tickets::model::Role::Agent, "Leaver")
        .await;
    app.delete(&format!("/api/v1/users/{uid}"), &admin)
        .await
        .ok(204);
    app.get("/api/v1/auth/me", &token)
        .await
        .err(401, "UNAUTHORIZED");
    app.anon_post(
        "/api/v1/auth/login",
        json!({"email": "leaver@example.test", "password": "password123"}),
    )
    .await
    .err(401, "UNAUTHORIZED");
});

both_backends!(
    login_and_public_form_are_rate_limited_per_ip,
    |app: TestApp| async move {
        // The test config allows 20 a minute per IP and group; this login uses one of them.
        let (_, token) = app
            .user(triage::tickets::model::Role::Agent, "Unlimited")
            .await;
        let mut limited = None;
        for i in 0..25 {
            let r = app
                .anon_post(
                    "/api/v1/auth/login",
                    json!({"email": "guess@example.com", "password": format!("guess-{i}")}),
                )
                .await;
            if r.status.as_u16() == 429 {
                limited = Some((i, r));
                break;
            }
            r.err(401, "UNAUTHORIZED");
        }
        let (attempt, r) = limited.expect("login is never rate limited");
        assert_eq!(attempt, 19, "the 21st attempt in a minute is refused");
        r.err(429, "RATE_LIMITED");
        let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry), "Retry-After {retry}");
        // The login page shares the bucket and answers a browser with a page, not JSON.
        let page = app
            .client
            .post(format!("{}/login", app.base))
            .form(&[("email", "guess@example.com"), ("password", "again")])
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 429);
        assert!(page.headers().contains_key("retry-after"));
        assert!(
            page.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let html = page.text().await.unwrap();
        assert!(
            html.contains("Slow down") && html.contains("<html"),
            "{html}"
        );
        // Authenticated endpoints and the form's own bucket are unaffected.
        app.get("/api/v1/auth/me", &token).await.ok(200);
        app.anon_post(
        "/api/v1/tickets/submit",
        json!({"name": "Spam", "email": "s@example.com", "category": "general", "subject": "Hello there", "message": "A legitimate message."}),
    )
    .await
    .ok(201);
    }
);
