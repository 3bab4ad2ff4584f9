//! Knowledge base: admin CRUD, drafts hidden, ranked search that tolerates natural questions,
//! ticket links, and the help pages.

use crate::both_backends;
use crate::harness::{Backend, TestApp, pg_url};
use serde_json::{Value, json};
use triage::tickets::model::Role;

fn titles(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|a| a["title"].as_str().unwrap().to_string())
        .collect()
}

both_backends!(
    articles_search_suggest_and_link,
    |app: TestApp| async move {
        let (_, admin) = app.user(Role::Admin, "Lead").await;
        let (_, agent) = app.user(Role::Agent, "Sam").await;
        let (_, customer) = app.user(Role::Customer, "Ada").await;
        let post = |body: Value| {
            let (app, admin) = (&app, admin.clone());
            async move { app.post("/api/v1/articles", &admin, body).await }
        };
        let bad =
            post(json!({"title": "x", "body": "short", "slug": "Bad Slug", "category": "nope"}))
                .await;
        let e = &bad.err(400, "VALIDATION_ERROR")["errors"];
        for f in ["title", "body", "slug", "category"] {
            assert!(e[f].is_array(), "{f} in {e}");
        }
        app.post(
            "/api/v1/articles",
            &agent,
            json!({"title": "Nope", "body": "Not allowed here."}),
        )
        .await
        .err(403, "FORBIDDEN");
        let reset = post(json!({"title": "Reset your password", "category": "account", "published": true,
        "body": "Open the sign-in page, choose **Forgot password** and follow the e-mail we send you."})).await;
        assert_eq!(reset.ok(201)["slug"], "reset-your-password");
        post(json!({"title": "VPN keeps dropping", "category": "technical", "published": true,
        "body": "If the VPN drops every few minutes, update the client to 3.3 and switch the protocol to WireGuard."})).await.ok(201);
        post(json!({"title": "Invoices and receipts", "category": "billing", "published": true,
        "body": "Every invoice is in Settings → Billing. Receipts are e-mailed after each payment."})).await.ok(201);
        let draft = post(
            json!({"title": "Upcoming password policy", "published": false,
        "body": "From next month passwords need 12 characters."}),
        )
        .await;
        let draft_slug = draft.ok(201)["slug"].as_str().unwrap().to_string();
        post(json!({"title": "Reset your password", "body": "A second one with the same title."}))
            .await
            .err(400, "VALIDATION_ERROR");

        // Anyone may search; natural questions still find the right article first.
        let q = |query: &str| {
            let app = &app;
            let path = format!("/api/v1/articles?q={}", query.replace(' ', "%20"));
            async move { app.call(reqwest::Method::GET, &path, None, None).await }
        };
        let found = q("my vpn connection dropped again this morning").await;
        assert_eq!(titles(found.ok(200))[0], "VPN keeps dropping");
        let found = q("how do I reset my password").await;
        let t = titles(found.ok(200));
        assert_eq!(
            t,
            vec!["Reset your password"],
            "drafts never show to the public"
        );
        let found = q("receipt").await;
        assert_eq!(titles(found.ok(200)), vec!["Invoices and receipts"]);
        assert!(titles(q("the and").await.ok(200)).is_empty());
        let all = app
            .call(reqwest::Method::GET, "/api/v1/articles", None, None)
            .await;
        assert_eq!(all.ok(200).as_array().unwrap().len(), 3);
        let with_drafts = app.get("/api/v1/articles?all=true", &admin).await;
        assert_eq!(with_drafts.ok(200).as_array().unwrap().len(), 4);
        let billing = app
            .call(
                reqwest::Method::GET,
                "/api/v1/articles?category=billing",
                None,
                None,
            )
            .await;
        assert_eq!(titles(billing.ok(200)), vec!["Invoices and receipts"]);
        app.call(
            reqwest::Method::GET,
            &format!("/api/v1/articles/{draft_slug}"),
            None,
            None,
        )
        .await
        .err(404, "NOT_FOUND");
        app.get(&format!("/api/v1/articles/{draft_slug}"), &admin)
            .await
            .ok(200);

        // Publishing makes it searchable; edits re-index.
        app.patch(
        &format!("/api/v1/articles/{draft_slug}"),
        &admin,
        json!({"published": true, "body": "Passwords need twelve characters and a passphrase is fine."}),
    )
    .await
    .ok(200);
        assert_eq!(
            titles(q("passphrase").await.ok(200)),
            vec!["Upcoming password policy"]
        );
        assert!(
            titles(q("month").await.ok(200)).is_empty(),
            "the old text is gone from the index"
        );

        // Links from tickets.
        let t = app.ticket(&customer, "Cannot sign in", "medium").await;
        let id = t["id"].as_i64().unwrap();
        let path = format!("/api/v1/tickets/{id}/articles");
        app.post(
            &path,
            &customer,
            json!({"article_id": "reset-your-password"}),
        )
        .await
        .err(403, "FORBIDDEN");
        let linked = app
            .post(&path, &agent, json!({"article_id": "reset-your-password"}))
            .await;
        assert_eq!(titles(linked.ok(200)), vec!["Reset your password"]);
        app.post(&path, &agent, json!({"article_id": "reset-your-password"}))
            .await
            .ok(200);
        app.post(&path, &agent, json!({"article_id": "no-such-article"}))
            .await
            .err(400, "VALIDATION_ERROR");
        let seen = app.get(&path, &customer).await;
        assert_eq!(titles(seen.ok(200)), vec!["Reset your password"]);
        let art = reset.body["id"].as_i64().unwrap();
        app.delete(&format!("{path}/{art}"), &agent).await.ok(204);
        app.delete(&format!("{path}/{art}"), &agent)
            .await
            .err(404, "NOT_FOUND");
        app.delete(&format!("/api/v1/articles/{art}"), &admin)
            .await
            .ok(204);
        assert!(
            titles(q("reset password").await.ok(200))
                .iter()
                .all(|t| t != "Reset your password")
        );
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_pages_render_sanitised_markdown() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, admin) = app.user(Role::Admin, "Lead").await;
    app.post(
        "/api/v1/articles",
        &admin,
        json!({"title": "Printing guide", "published": true,
               "body": "## Steps\n\n1. Open the **printer** menu\n\n<script>alert(1)</script>"}),
    )
    .await
    .ok(201);
    let get = |p: &str| {
        let url = format!("{}{p}", app.base);
        async move { reqwest::get(url).await.unwrap() }
    };
    let index = get("/help?q=printer").await.text().await.unwrap();
    assert!(index.contains("href=\"/help/printing-guide\""));
    let page = get("/help/printing-guide").await;
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("<strong>printer</strong>"));
    assert!(!html.contains("<script>alert"));
    assert_eq!(get("/help/nothing-here").await.status().as_u16(), 404);
    let form = get("/").await.text().await.unwrap();
    assert!(form.contains("id=\"suggestions\""));
}
