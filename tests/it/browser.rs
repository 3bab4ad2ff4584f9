//! Browser tests: Debian's headless Chromium driven over WebDriver (chromedriver) against the
//! real app. Screenshots of the main pages at 1280 and 375 px go to target/screenshots/.

use crate::harness::*;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use triage::tickets::model::Role;

/// A chromedriver process and a browser session on it.
pub struct Browser {
    pub c: Client,
    /// axe-core's source, injected into pages to audit them (JavaScript on only).
    axe: Option<String>,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // chromedriver leads its own process group; killing only it left every Chromium it
        // started running (hundreds after a CI run), so the whole group goes.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Browser {
    pub async fn start(javascript: bool) -> Browser {
        let driver_bin = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .expect("chromedriver is not installed: .ci/run installs Debian's chromium-driver");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new(driver_bin)
            .process_group(0)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let profile = tempfile::tempdir().unwrap();
        let mut args = vec![
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-background-networking".into(),
            "--no-first-run".into(),
            "--window-size=1280,900".into(),
            // The form's screenshot button: the capture prompt is accepted and the "screen" is
            // Chromium's synthetic video source (headless has no screen to share).
            "--use-fake-ui-for-media-stream".into(),
            "--use-fake-device-for-media-stream".into(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        if !javascript {
            args.push("--blink-settings=scriptEnabled=false".into());
        }
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": args,
                "prefs": {"profile.managed_default_content_settings.javascript": if javascript { 1 } else { 2 }}}
        });
        let caps = caps.as_object().unwrap().clone();
        let mut last = None;
        for _ in 0..50 {
            match ClientBuilder::rustls()
                .expect("tls")
                .capabilities(caps.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(c) => {
                    return Browser {
                        c,
                        axe: javascript.then(axe_source),
                        driver,
                        _profile: profile,
                    };
                }
                Err(e) => last = Some(e.to_string()),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("could not start a browser session: {last:?}");
    }

    pub async fn open(&self, app: &TestApp, path: &str) {
        self.c
            .goto(&format!("{}{}", app.base, path))
            .await
            .expect("goto");
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let e = self
            .c
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|_| panic!("no {css}"));
        e.clear().await.ok();
        e.send_keys(text).await.expect("type");
    }

    pub async fn click(&self, css: &str) {
        self.c
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|_| panic!("no {css}"))
            .click()
            .await
            .expect("click");
    }

    pub async fn text(&self, css: &str) -> String {
        self.c
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|_| panic!("no {css}"))
            .text()
            .await
            .unwrap_or_default()
    }

    /// Waits (15 s at most: CI machines are slow under a parallel test run) for an element.
    pub async fn wait_for(&self, css: &str) -> fantoccini::elements::Element {
        self.c
            .wait()
            .at_most(Duration::from_secs(15))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|_| panic!("{css} never appeared"))
    }

    /// Waits (15 s at most) until the address holds `part`: a form submitted by a click has
    /// navigated, so what is found next is on the new page, not the old one.
    pub async fn wait_for_url(&self, part: &str) {
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            let url = self
                .c
                .current_url()
                .await
                .map(|u| u.to_string())
                .unwrap_or_default();
            if url.contains(part) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "never navigated to {part}: {url}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Saves the page at 1280 and 375 px wide, after an accessibility audit of it.
    pub async fn shots(&self, name: &str) {
        self.audit(name).await;
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        for (w, h) in [(1280u32, 900u32), (375, 812)] {
            self.c.set_window_size(w, h).await.expect("resize");
            tokio::time::sleep(Duration::from_millis(150)).await;
            let png = self.c.screenshot().await.expect("screenshot");
            std::fs::write(dir.join(format!("{name}-{w}.png")), png).unwrap();
        }
        self.c.set_window_size(1280, 900).await.ok();
    }

    /// Runs axe-core's WCAG 2 A/AA rules on the page; any violation fails the test.
    pub async fn audit(&self, name: &str) {
        let Some(axe) = &self.axe else {
            return;
        };
        self.c
            .execute(&format!("{axe}\nreturn true;"), vec![])
            .await
            .expect("inject axe-core");
        let found = self
            .c
            .execute_async(
                r#"const done = arguments[arguments.length - 1];
                axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})
                  .then((r) => done(r.violations.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.slice(0, 4).map((n) => n.target.join(" ")).join(" | ")}`)))
                  .catch((e) => done([`axe failed: ${e}`]));"#,
                vec![],
            )
            .await
            .expect("run axe-core");
        let found: Vec<String> = serde_json::from_value(found).unwrap_or_default();
        assert!(
            found.is_empty(),
            "accessibility violations on {name}:\n{}",
            found.join("\n")
        );
    }

    pub async fn sign_in(&self, app: &TestApp, email: &str) {
        self.open(app, "/login").await;
        self.fill("#email", email).await;
        self.fill("#password", "password123").await;
        self.click("form.card button[type=submit]").await;
        // Opening the next page before the sign-in's answer arrives would cancel it (no
        // session cookie): wait until the browser has left the form.
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            let url = self.c.current_url().await.map(|u| u.to_string());
            if url.as_deref().is_ok_and(|u| !u.contains("/login")) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{email} never got past the sign-in form: {url:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_form_tracking_link_and_reply_in_a_browser() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let b = Browser::start(true).await;
    b.open(&app, "/").await;
    b.wait_for("html.js").await;
    b.shots("support-form").await;
    // Invalid: the same rules as the API, shown next to the fields, nothing sent.
    b.click("#submit").await;
    assert_eq!(
        b.text(r#".err[data-for="subject"]"#).await,
        "must be 3 to 200 characters"
    );
    assert_eq!(
        b.text(r#".err[data-for="category"]"#).await,
        "please choose a category"
    );
    b.shots("support-form-errors").await;
    // Valid: sent without reload, confirmation with number and tracking link.
    b.fill("#name", "Ada Lovelace").await;
    b.fill("#email", "ada@example.com").await;
    b.click(r#"input[name="category"][value="bug"]"#).await;
    assert_eq!(
        b.text(r#".err[data-for="category"]"#).await,
        "",
        "choosing a category clears its error"
    );
    b.click(r#"input[name="priority"][value="high"]"#).await;
    b.fill("#subject", "Export button does nothing").await;
    b.fill(
        "#message",
        "Clicking export on the reports page does nothing at all.",
    )
    .await;
    // The screenshot button captures the page with the browser's own screen capture.
    b.click("#screenshot").await;
    let mut listed = String::new();
    for _ in 0..150 {
        listed = b.text("#file-list").await;
        if listed.contains("screenshot.png") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        listed.contains("screenshot.png"),
        "screenshot not attached: list {listed:?}, error {:?}",
        b.text("#form-error").await
    );
    b.shots("support-form-with-screenshot").await;
    b.click("#submit").await;
    let number = b.wait_for("#ticket-number").await.text().await.unwrap();
    assert!(number.starts_with("TKT-"), "{number}");
    b.shots("support-form-confirmation").await;
    let (_, admin) = app.user(Role::Admin, "Boss").await;
    let t = app.get(&format!("/api/v1/tickets/{number}"), &admin).await;
    assert_eq!(t.ok(200)["priority"], "high");
    assert!(
        t.body["browser_info"].as_str().unwrap().contains("Chrome"),
        "browser info captured"
    );
    assert!(
        t.body["page_url"].as_str().is_some_and(|u| !u.is_empty()),
        "page URL captured"
    );
    let shot = &t.body["attachments"][0];
    assert_eq!(
        (shot["filename"].as_str(), shot["content_type"].as_str()),
        (Some("screenshot.png"), Some("image/png"))
    );
    assert!(
        shot["size"].as_i64().unwrap() > 1000,
        "a real image: {shot}"
    );
    // The tracking link opens the ticket without an account and takes a reply.
    b.click("#tracking-link").await;
    b.wait_for("#thread").await;
    assert!(b.text("h1").await.contains("Export button does nothing"));
    b.fill("#body", "It also fails in Firefox.").await;
    b.click("form.composer button[type=submit]").await;
    b.wait_for("li.msg:not(.first)").await;
    assert!(
        b.text("#thread")
            .await
            .contains("It also fails in Firefox.")
    );
    b.shots("tracking-page").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_form_works_with_javascript_off() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let b = Browser::start(false).await;
    b.open(&app, "/").await;
    let html = b.c.source().await.unwrap();
    assert!(!html.contains("class=\"js\""));
    b.click("#submit").await;
    b.wait_for(".invalid").await;
    assert_eq!(
        b.text(r#".err[data-for="message"]"#).await,
        "must be 10 to 5000 characters"
    );
    b.fill("#name", "Grace Hopper").await;
    b.fill("#email", "grace@example.com").await;
    b.click(r#"input[name="category"][value="question"]"#).await;
    b.fill("#subject", "How do I export?").await;
    b.fill("#message", "Where is the export button in the new version?")
        .await;
    b.click("#submit").await;
    // The element found may belong to a page the browser is still replacing (stale): read
    // the card again until it holds the ticket number.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let card = b.wait_for(".card.success").await;
        let text = card.text().await.unwrap_or_default();
        if text.contains("TKT-") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no ticket number in {text:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    b.shots("submitted-no-js").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_agents_and_admins_in_a_browser() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, ada) = app.user(Role::Customer, "Ada").await;
    let (_, eve) = app.user(Role::Customer, "Eve").await;
    let (_, sam) = app.user(Role::Agent, "Sam").await;
    app.user(Role::Admin, "Boss").await;
    let mine = app
        .ticket(&ada, "Invoice shows the wrong VAT", "medium")
        .await;
    app.ticket(&ada, "Cannot change my avatar", "low").await;
    app.ticket(&eve, "Eve's private problem", "high").await;
    let n = mine["number"].as_str().unwrap().to_string();

    // Customer: sees only their own tickets, replies with an attachment.
    let b = Browser::start(true).await;
    b.sign_in(&app, "ada@example.test").await;
    b.wait_for(".ticket-card").await;
    let portal = b.text("main").await;
    assert!(
        portal.contains("Invoice shows the wrong VAT")
            && portal.contains("Cannot change my avatar")
    );
    assert!(!portal.contains("Eve's private problem"));
    b.shots("portal").await;
    b.open(&app, &format!("/portal/tickets/{n}")).await;
    b.fill("#body", "Here is the invoice.").await;
    let file = std::env::temp_dir().join(format!("invoice-{}.pdf", std::process::id()));
    std::fs::write(&file, b"%PDF-1.4\n%%EOF\n").unwrap();
    b.c.find(Locator::Css("#reply-files"))
        .await
        .unwrap()
        .send_keys(&file.display().to_string())
        .await
        .unwrap();
    b.click("form.composer button[type=submit]").await;
    b.wait_for("li.msg:not(.first) .files a").await;
    assert!(b.text("#thread").await.contains("invoice-"));
    // Live update: an agent answers; the open page shows it without a reload.
    app.post(
        &format!("/api/v1/tickets/{n}/comments"),
        &sam,
        json!({"body": "Thanks, we are fixing the VAT table."}),
    )
    .await
    .ok(201);
    b.c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::XPath(
            "//li[contains(@class,'staff')]//p[contains(., 'fixing the VAT table')]",
        ))
        .await
        .expect("the agent's reply appears live");
    b.shots("portal-ticket").await;
    drop(b);

    // Agent: filters the queue, bulk-closes, writes an internal note.
    let b = Browser::start(true).await;
    b.sign_in(&app, "sam@example.test").await;
    b.wait_for("table.list").await;
    b.shots("agent-queue").await;
    b.c.find(Locator::Css("#priority"))
        .await
        .unwrap()
        .select_by_value("low")
        .await
        .unwrap();
    b.click(".filters button[type=submit]").await;
    b.wait_for_url("priority=low").await;
    b.wait_for("tbody tr[data-href]").await;
    let rows =
        b.c.find_all(Locator::Css("tbody tr[data-href]"))
            .await
            .unwrap();
    assert_eq!(rows.len(), 1, "only the low-priority ticket");
    b.click("#select-all").await;
    b.fill("#bulk-value", "closed").await;
    b.click(".bulk button[type=submit]").await;
    b.wait_for(".flash").await;
    assert!(
        b.text(".flash").await.contains("Updated 1 tickets"),
        "{}",
        b.text(".flash").await
    );
    b.open(&app, &format!("/agent/tickets/{n}")).await;
    b.fill(
        "#reply-body",
        "Customer is on the old VAT table; **check** the rate.",
    )
    .await;
    b.click("#preview-btn").await;
    b.wait_for("#preview strong").await;
    b.click("#internal").await;
    b.click("form.composer button[type=submit]").await;
    b.wait_for("li.msg.note").await;
    b.shots("agent-ticket").await;
    drop(b);
    let thread = app
        .get(&format!("/api/v1/tickets/{n}/comments"), &ada)
        .await;
    assert!(
        !thread.text.contains("old VAT table"),
        "the customer never sees the note"
    );

    // Admin: dashboard with charts, notifications page, CSV export of the filter.
    let b = Browser::start(true).await;
    b.sign_in(&app, "boss@example.test").await;
    b.open(&app, "/admin").await;
    b.wait_for("svg.chart").await;
    assert_eq!(
        b.c.find_all(Locator::Css("svg.chart")).await.unwrap().len(),
        3
    );
    b.shots("admin-dashboard").await;
    b.open(&app, "/admin/notifications").await;
    b.wait_for("table.list").await;
    b.shots("admin-notifications").await;
    b.open(&app, "/admin/users").await;
    b.shots("admin-users").await;
    let cookies = b.c.get_all_cookies().await.unwrap();
    let session = cookies
        .iter()
        .find(|c| c.name() == "triage_session")
        .unwrap()
        .value()
        .to_string();
    let csv = app
        .client
        .get(format!("{}/admin/export.csv?priority=high", app.base))
        .header("cookie", format!("triage_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    let body = csv.text().await.unwrap();
    assert!(
        body.contains("Eve's private problem") && !body.contains("Cannot change my avatar"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_suggestions_while_typing_and_the_new_admin_pages() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, admin) = app.user(Role::Admin, "Boss").await;
    let (_, customer) = app.user(Role::Customer, "Ada").await;
    app.post(
        "/api/v1/articles",
        &admin,
        serde_json::json!({"title": "VPN keeps dropping", "published": true, "category": "technical",
            "body": "Update the VPN client to 3.3 and switch the protocol to **WireGuard**."}),
    )
    .await
    .ok(201);
    app.post(
        "/api/v1/templates",
        &admin,
        serde_json::json!({"name": "Asking for logs", "body": "Hi {{ customer.first_name }}, could you send the VPN log?"}),
    )
    .await
    .ok(201);
    let t = app
        .ticket(&customer, "VPN drops all the time", "urgent")
        .await;
    let b = Browser::start(true).await;
    b.open(&app, "/").await;
    b.wait_for("html.js").await;
    b.fill("#subject", "My VPN dropped").await;
    let hint = b.wait_for("#suggestions:not([hidden]) li a").await;
    assert_eq!(hint.text().await.unwrap(), "VPN keeps dropping");
    assert_eq!(
        hint.attr("href").await.unwrap().as_deref(),
        Some("/help/vpn-keeps-dropping")
    );
    b.shots("support-form-suggestions").await;
    b.open(&app, "/help").await;
    b.wait_for("ul.articles").await;
    b.shots("help").await;
    b.open(&app, "/help/vpn-keeps-dropping").await;
    b.wait_for(".md strong").await;
    b.shots("help-article").await;

    b.sign_in(&app, "boss@example.test").await;
    for (path, name) in [
        ("/admin/sla", "admin-sla"),
        ("/admin/templates", "admin-templates"),
        ("/admin/articles", "admin-articles"),
        ("/admin/reports", "admin-reports"),
    ] {
        b.open(&app, path).await;
        b.wait_for("nav.tabs").await;
        b.shots(name).await;
    }
    let number = t["number"].as_str().unwrap();
    b.open(&app, &format!("/agent/tickets/{number}")).await;
    b.wait_for("#template-picker").await;
    b.fill("#reply-body", "Thanks. ").await;
    b.click("#template-picker button[type=submit]").await;
    // The template lands after what was typed, without a reload.
    let mut text = String::new();
    for _ in 0..50 {
        text =
            b.c.execute("return document.querySelector('#reply-body').value", vec![])
                .await
                .unwrap()
                .as_str()
                .unwrap_or("")
                .to_string();
        if text.contains("VPN log") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(text, "Thanks. Hi Ada, could you send the VPN log?");
    // The SLA timers count down in the browser (urgent: first response due in about 2 h).
    let left = b.text("time.due + .sla + .countdown").await;
    assert!(
        left.starts_with("(in ") && (left.contains("min") || left.contains(" h")),
        "{left}"
    );
    b.shots("agent-ticket-sla-templates").await;
}

/// axe-core's browser bundle: `TRIAGE_TEST_AXE`, or where `.ci/run` puts it (npm's axe-core).
fn axe_source() -> String {
    let path = std::env::var("TRIAGE_TEST_AXE").unwrap_or_else(|_| {
        let home = std::env::var("HOME").unwrap_or_default();
        format!("{home}/.cache/triage-ci/axe/node_modules/axe-core/axe.min.js")
    });
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("axe-core not found at {path} ({e}): .ci/run installs it from npm")
    })
}
