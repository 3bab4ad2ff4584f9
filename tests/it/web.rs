//! The pages over plain HTTP: security headers, CSRF, sessions, redirects, escaping.

use crate::harness::*;
use reqwest::redirect::Policy;
use triage::tickets::model::Role;

/// A browser-like HTTP client: cookies kept, redirects not followed.
pub struct Visitor {
    http: reqwest::Client,
    base: String,
}

impl Visitor {
    pub fn new(app: &TestApp) -> Visitor {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(Policy::none())
            .build()
            .unwrap();
        Visitor {
            http,
            base: app.base.clone(),
        }
    }
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }
    /// Reads the CSRF token out of a page's form.
    pub async fn csrf(&self, path: &str) -> String {
        let html = self.get(path).await.text().await.unwrap();
        let at = html
            .find("name=\"_csrf\" value=\"")
            .expect("form with a CSRF token")
            + 20;
        html[at..].split('"').next().unwrap().to_string()
    }
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .form(form)
            .send()
            .await
            .unwrap()
    }
    /// Signs in through the login form (password `password123`, as the harness creates users).
    pub async fn login(&self, email: &str) {
        let t = self.csrf("/login").await;
        let r = self
            .post(
                "/login",
                &[("_csrf", &t), ("email", email), ("password", "password123")],
            )
            .await;
        assert_eq!(r.status().as_u16(), 303, "login as {email}");
    }
    /// Follows a redirect's `Location` and returns the page text.
    pub async fn follow(&self, r: reqwest::Response) -> String {
        let to = r
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .expect("a redirect")
            .to_string();
        self.get(&to).await.text().await.unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_carry_security_headers_and_a_csrf_cookie() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let v = Visitor::new(&app);
    let r = v.get("/").await;
    assert_eq!(r.status(), 200);
    let h = r.headers();
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"));
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "same-origin");
    let cookie = h["set-cookie"].to_str().unwrap();
    assert!(
        cookie.starts_with("triage_csrf=")
            && cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let css = v.get("/assets/app.css").await;
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    assert_eq!(v.get("/assets/nope.js").await.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_without_the_right_token_or_origin_are_refused() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let v = Visitor::new(&app);
    let token = v.csrf("/").await;
    let fields = |t: &'static str| {
        vec![
            ("_csrf", t),
            ("name", "Ada"),
            ("email", "ada@example.com"),
            ("category", "bug"),
            ("subject", "Broken export"),
            ("message", "The export button does nothing."),
        ]
    };
    let r = v.post("/", &fields("")).await;
    assert_eq!(r.status(), 403);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "a page, not JSON"
    );
    assert!(r.text().await.unwrap().contains("the form expired"));
    assert_eq!(
        v.post("/", &fields("forged-token-forged-token-forged-token"))
            .await
            .status(),
        403
    );
    // The right token from another site's page is still refused.
    let leaked: &'static str = Box::leak(token.clone().into_boxed_str());
    let cross = v
        .http
        .post(format!("{}/", v.base))
        .header("origin", "https://evil.example")
        .form(&fields(leaked))
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 403);
    // A fresh client has no cookie: the token alone is not enough.
    let stranger = Visitor::new(&app);
    assert_eq!(stranger.post("/", &fields(leaked)).await.status(), 403);
    let ok = v.post("/", &fields(leaked)).await;
    assert_eq!(ok.status(), 303);
    assert!(
        ok.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/submitted/TKT-")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_sign_in_route_by_role_and_end() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (cust_id, _) = app.user(Role::Customer, "Cleo").await;
    app.user(Role::Agent, "Sam").await;
    let (_, admin) = app.user(Role::Admin, "Boss").await;
    let v = Visitor::new(&app);
    let r = v.get("/agent").await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login?next=/agent");
    let t = v.csrf("/login").await;
    let bad = v
        .post(
            "/login",
            &[
                ("_csrf", &t),
                ("email", "cleo@example.test"),
                ("password", "nope-nope"),
            ],
        )
        .await;
    assert_eq!(bad.status(), 401);
    let ok = v
        .post(
            "/login",
            &[
                ("_csrf", &t),
                ("email", "cleo@example.test"),
                ("password", "password123"),
                ("next", "//evil.example"),
            ],
        )
        .await;
    assert_eq!(ok.status(), 303);
    assert_eq!(ok.headers()["location"], "/portal", "no open redirect");
    let set = ok.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        set.contains("triage_session=") && set.contains("HttpOnly") && set.contains("SameSite=Lax"),
        "{set}"
    );
    assert_eq!(v.get("/portal").await.status(), 200);
    let r = v.get("/agent").await;
    assert_eq!(
        r.headers()["location"],
        "/portal",
        "customers never see the console"
    );
    assert_eq!(v.get("/admin").await.headers()["location"], "/portal");
    // Deactivating the account ends the session at once.
    app.patch(
        &format!("/api/v1/users/{cust_id}"),
        &admin,
        serde_json::json!({"active": false}),
    )
    .await
    .ok(200);
    assert_eq!(v.get("/portal").await.status(), 303);

    let s = Visitor::new(&app);
    let t = s.csrf("/login").await;
    s.post(
        "/login",
        &[
            ("_csrf", &t),
            ("email", "sam@example.test"),
            ("password", "password123"),
        ],
    )
    .await;
    assert_eq!(s.get("/agent").await.status(), 200);
    assert_eq!(
        s.get("/admin").await.headers()["location"],
        "/agent",
        "agents are not admins"
    );
    let t = s.csrf("/agent").await;
    let out = s.post("/logout", &[("_csrf", &t)]).await;
    assert_eq!(out.status(), 303);
    assert_eq!(s.get("/agent").await.status(), 303, "signed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_text_is_escaped_and_markdown_sanitised() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, cust) = app.user(Role::Customer, "Mallory").await;
    let t = app
        .post(
            "/api/v1/tickets",
            &cust,
            serde_json::json!({
        "subject": "<script>alert(1)</script> subject", "category": "general",
        "description": "Hello <img src=x onerror=alert(2)> [link](javascript:alert(3)) **bold**"}),
        )
        .await;
    let n = t.ok(201)["number"].as_str().unwrap().to_string();
    let v = Visitor::new(&app);
    let tk = v.csrf("/login").await;
    v.post(
        "/login",
        &[
            ("_csrf", &tk),
            ("email", "mallory@example.test"),
            ("password", "password123"),
        ],
    )
    .await;
    let html = v
        .get(&format!("/portal/tickets/{n}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("&#60;script&#62;alert(1)&#60;/script&#62; subject"),
        "{html}"
    );
    assert!(!html.contains("<script>alert"));
    assert!(!html.contains("onerror") && !html.contains("javascript:alert"));
    assert!(html.contains("<strong>bold</strong>"));
    // Someone else's ticket is a 404 page; so is a tracking link with a bad token.
    let (_, other) = app.user(Role::Customer, "Other").await;
    let theirs = app.ticket(&other, "Not yours", "low").await;
    let r = v
        .get(&format!(
            "/portal/tickets/{}",
            theirs["number"].as_str().unwrap()
        ))
        .await;
    assert_eq!(r.status(), 404);
    assert_eq!(v.get(&format!("/track/{n}?token=bad")).await.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_notification_log_page_retries_and_cancels() {
    use crate::sinks::{Refuse, SmtpSink};
    let sink = SmtpSink::start().await;
    let app = TestApp::with_mail(Backend::Sqlite, &sink).await;
    app.user(Role::Admin, "Boss").await;
    sink.refuse_next(Refuse::Permanent);
    sink.refuse_next(Refuse::Permanent);
    app.anon_post(
        "/api/v1/tickets/submit",
        serde_json::json!({"name": "Bo", "email": "bo@example.com",
        "category": "general", "subject": "Hello there", "message": "Need some help please."}),
    )
    .await
    .ok(201);
    app.settle().await;
    let v = Visitor::new(&app);
    let t = v.csrf("/login").await;
    v.post(
        "/login",
        &[
            ("_csrf", &t),
            ("email", "boss@example.test"),
            ("password", "password123"),
        ],
    )
    .await;
    let html = v
        .get("/admin/notifications?status=dead")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        html.matches("/retry\"").count(),
        2,
        "two dead deliveries with a retry button"
    );
    assert!(html.contains("no such user"), "the reason is shown");
    const PAT: &str = "action=\"/admin/notifications/";
    let at = html.find(PAT).unwrap() + PAT.len();
    let id: i64 = html[at..].split('/').next().unwrap().parse().unwrap();
    let t = v.csrf("/admin/notifications").await;
    let r = v
        .post(
            &format!("/admin/notifications/{id}/retry"),
            &[("_csrf", &t)],
        )
        .await;
    assert_eq!(r.status(), 303);
    sink.wait_for(1).await;
    let others: Vec<i64> = {
        let html = v
            .get("/admin/notifications?status=dead")
            .await
            .text()
            .await
            .unwrap();
        html.match_indices(PAT)
            .filter_map(|(i, _)| {
                html[i + PAT.len()..]
                    .split('/')
                    .next()
                    .and_then(|x| x.parse().ok())
            })
            .collect()
    };
    assert_eq!(others.len(), 2, "one left (cancel and retry forms)");
    let r = v
        .post(
            &format!("/admin/notifications/{}/cancel", others[0]),
            &[("_csrf", &t)],
        )
        .await;
    assert_eq!(r.status(), 303);
    let html = v
        .get("/admin/notifications?status=cancelled")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("cancelled"));
    assert!(
        !v.get("/admin/notifications?status=dead")
            .await
            .text()
            .await
            .unwrap()
            .contains("/retry\"")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_pages_and_not_found_pages() {
    use crate::sinks::SmtpSink;
    let sink = SmtpSink::start().await;
    let app = TestApp::with_mail(Backend::Sqlite, &sink).await;
    app.user(Role::Customer, "Cleo").await;
    let v = Visitor::new(&app);
    let t = v.csrf("/forgot-password").await;
    let r = v
        .post(
            "/forgot-password",
            &[("_csrf", &t), ("email", "cleo@example.test")],
        )
        .await;
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("a link to choose a new password is on its way")
    );
    let mail = sink.wait_for(1).await;
    let text = mail[0].parsed().body_text(0).unwrap().to_string();
    let link = text
        .split_whitespace()
        .find(|w| w.contains("/reset-password?token="))
        .unwrap()
        .to_string();
    let path = &link[link.find("/reset-password").unwrap()..];
    let token = path.split("token=").nth(1).unwrap().to_string();
    let page = v.get(path).await.text().await.unwrap();
    assert!(
        page.contains(&format!("value=\"{token}\"")),
        "the form carries the token"
    );
    let t = v.csrf(path).await;
    let short = v
        .post(
            "/reset-password",
            &[("_csrf", &t), ("token", &token), ("password", "short")],
        )
        .await;
    assert_eq!(short.status(), 400);
    let ok = v
        .post(
            "/reset-password",
            &[
                ("_csrf", &t),
                ("token", &token),
                ("password", "a-new-password"),
            ],
        )
        .await;
    assert!(
        ok.text()
            .await
            .unwrap()
            .contains("Your password is changed")
    );
    let t = v.csrf("/login").await;
    let r = v
        .post(
            "/login",
            &[
                ("_csrf", &t),
                ("email", "cleo@example.test"),
                ("password", "a-new-password"),
            ],
        )
        .await;
    assert_eq!(r.headers()["location"], "/portal");
    // Unknown pages: HTML for browsers, the JSON error for API clients.
    let html = v
        .http
        .get(format!("{}/no-such-page", app.base))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(html.status(), 404);
    assert!(html.text().await.unwrap().contains("<h1>Not found</h1>"));
    let json = app
        .call(reqwest::Method::GET, "/no-such-page", None, None)
        .await;
    json.err(404, "NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_save_and_delete_queue_views() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.user(Role::Agent, "Sam").await;
    let v = Visitor::new(&app);
    let t = v.csrf("/login").await;
    v.post(
        "/login",
        &[
            ("_csrf", &t),
            ("email", "sam@example.test"),
            ("password", "password123"),
        ],
    )
    .await;
    let t = v.csrf("/agent").await;
    let r = v
        .post(
            "/agent/views",
            &[
                ("_csrf", &t),
                ("name", "Urgent bugs"),
                ("query", "category=bug&priority=urgent"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let html = v.get("/agent").await.text().await.unwrap();
    assert!(
        html.contains("href=\"/agent?category=bug&#38;priority=urgent\">Urgent bugs</a>")
            || html.contains("href=\"/agent?category=bug&amp;priority=urgent\">Urgent bugs</a>"),
        "{html}"
    );
    let bad = v
        .post(
            "/agent/views",
            &[("_csrf", &t), ("name", "Broken"), ("query", "status=bogus")],
        )
        .await;
    let flash = v
        .get(bad.headers()["location"].to_str().unwrap())
        .await
        .text()
        .await
        .unwrap();
    assert!(
        flash.contains("unknown status"),
        "invalid filters are not saved: {}",
        &flash[flash.find("<main").unwrap_or(0)..]
    );
    // A bad filter URL keeps the queue page (its filter form, the message), with status 400.
    let r = v.get("/agent?status=bogus&priority=high").await;
    assert_eq!(r.status(), 400);
    let page = r.text().await.unwrap();
    assert!(page.contains("unknown status"), "{page}");
    assert!(
        page.contains("name=\"q\"") && page.contains("Urgent bugs"),
        "the queue's filter form and saved views are still there"
    );
    let at = html.find("action=\"/agent/views/").unwrap() + "action=\"/agent/views/".len();
    let id = html[at..].split('/').next().unwrap().to_string();
    let r = v
        .post(&format!("/agent/views/{id}/delete"), &[("_csrf", &t)])
        .await;
    assert_eq!(r.status(), 303);
    assert!(
        !v.get("/agent")
            .await
            .text()
            .await
            .unwrap()
            .contains(">Urgent bugs</a>")
    );
}
