//! Admin pages for the helpdesk settings: SLA policies and calendars, reply templates.

use crate::harness::*;
use crate::web::Visitor;
use triage::tickets::model::Role;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sla_page_edits_policies_and_calendars() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, admin) = app.user(Role::Admin, "Boss").await;
    app.user(Role::Agent, "Sam").await;
    let agent = Visitor::new(&app);
    agent.login("sam@example.test").await;
    assert_ne!(agent.get("/admin/sla").await.status().as_u16(), 200);

    let v = Visitor::new(&app);
    v.login("boss@example.test").await;
    let html = v.get("/admin/sla").await.text().await.unwrap();
    assert!(html.contains("id=\"fr-urgent\"") && html.contains("value=\"120\""));
    let t = v.csrf("/admin/sla").await;
    let r = v
        .post(
            "/admin/sla/urgent",
            &[
                ("_csrf", &t),
                ("first_response_minutes", "30"),
                ("resolution_minutes", "600"),
                ("warn_percent", "75"),
                ("calendar_id", ""),
            ],
        )
        .await;
    assert!(v.follow(r).await.contains("Saved the urgent policy."));
    let p = app.get("/api/v1/sla-policies/urgent", &admin).await;
    assert_eq!(p.ok(200)["first_response_minutes"], 30);
    assert_eq!(p.body["warn_percent"], 75);

    let r = v
        .post(
            "/admin/sla/urgent",
            &[
                ("_csrf", &t),
                ("first_response_minutes", "soon"),
                ("resolution_minutes", "600"),
                ("warn_percent", "75"),
            ],
        )
        .await;
    assert!(v.follow(r).await.contains("whole number"));

    let calendar = |tz: &'static str| {
        vec![
            ("_csrf", t.clone()),
            ("name", "Berlin office".to_string()),
            ("timezone", tz.to_string()),
            ("mon", "08:00-12:00, 13:00-17:00".to_string()),
            ("fri", "08:00-14:00".to_string()),
            ("holidays", "2026-12-24, 2026-12-25".to_string()),
        ]
    };
    let form = |f: &Vec<(&'static str, String)>| {
        f.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>()
    };
    let bad = form(&calendar("Berlin"));
    let refs: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = v.post("/admin/sla/calendars", &refs).await;
    assert!(v.follow(r).await.contains("IANA time zone"));
    let good = form(&calendar("Europe/Berlin"));
    let refs: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = v.post("/admin/sla/calendars", &refs).await;
    let html = v.follow(r).await;
    assert!(html.contains("Saved calendar Berlin office."), "{html}");
    let cals = app.get("/api/v1/business-calendars", &admin).await;
    let cal = &cals.ok(200)[0];
    assert_eq!(cal["hours"]["mon"][1], "13:00-17:00");
    assert_eq!(cal["holidays"][1], "2026-12-25");
    assert!(cal["hours"]["tue"].is_null());
    assert!(html.contains("value=\"08:00-12:00, 13:00-17:00\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templates_page_and_console_insert() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.user(Role::Admin, "Boss").await;
    app.user(Role::Agent, "Sam").await;
    let (_, customer) = app.user(Role::Customer, "Ada Lovelace").await;
    let t = app.ticket(&customer, "Cannot print", "medium").await;
    let number = t["number"].as_str().unwrap();

    let admin = Visitor::new(&app);
    admin.login("boss@example.test").await;
    let csrf = admin.csrf("/admin/templates").await;
    let r = admin
        .post(
            "/admin/templates",
            &[
                ("_csrf", &csrf),
                ("name", "Greeting"),
                ("category", "technical"),
                (
                    "body",
                    "Hello {{ customer.first_name }}, about {{ ticket.number }}.",
                ),
            ],
        )
        .await;
    assert!(admin.follow(r).await.contains("Saved template Greeting."));
    let r = admin
        .post(
            "/admin/templates",
            &[
                ("_csrf", &csrf),
                ("name", "Typo"),
                ("body", "Hi {{ customr.name }}"),
            ],
        )
        .await;
    assert!(admin.follow(r).await.contains("does not render"));

    let agent = Visitor::new(&app);
    agent.login("sam@example.test").await;
    let page = agent
        .get(&format!("/agent/tickets/{number}"))
        .await
        .text()
        .await
        .unwrap();
    let at = page.find("<option value=\"").expect("a template option") + 15;
    let id: String = page[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    assert!(page.contains("Greeting (technical)"));
    // Without JavaScript: the page reloads with the composer filled in.
    let filled = agent
        .get(&format!("/agent/tickets/{number}?template={id}"))
        .await
        .text()
        .await
        .unwrap();
    let expected = format!("Hello Ada, about {number}.");
    assert!(
        filled.contains(&format!(">{expected}</textarea>")),
        "{filled}"
    );
    // With JavaScript: the text alone, inserted at the cursor.
    let text = agent
        .get(&format!("/agent/tickets/{number}/template/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(text, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_merges_from_the_sidebar() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.user(Role::Agent, "Sam").await;
    let (_, customer) = app.user(Role::Customer, "Ada").await;
    let a = app.ticket(&customer, "Duplicate one", "low").await;
    let b = app.ticket(&customer, "Original one", "low").await;
    let (na, nb) = (a["number"].as_str().unwrap(), b["number"].as_str().unwrap());
    let v = Visitor::new(&app);
    v.login("sam@example.test").await;
    let here = format!("/agent/tickets/{na}");
    let csrf = v.csrf(&here).await;
    let r = v
        .post(
            &format!("{here}/merge"),
            &[("_csrf", &csrf), ("into", "TKT-00000000-NOPE")],
        )
        .await;
    assert!(v.follow(r).await.contains("no such ticket"));
    let r = v
        .post(&format!("{here}/merge"), &[("_csrf", &csrf), ("into", nb)])
        .await;
    let to = r.headers()["location"].to_str().unwrap().to_string();
    assert!(to.starts_with(&format!("/agent/tickets/{nb}?")), "{to}");
    let page = v.follow(r).await;
    assert!(page.contains(&format!("Merged {na} into this ticket.")));
    assert!(page.contains(&format!("Merged from {na}: Duplicate one")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_page_charts_and_csv_downloads() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.user(Role::Admin, "Boss").await;
    let (_, customer) = app.user(Role::Customer, "Ada").await;
    app.ticket(&customer, "Counted today", "high").await;
    let v = Visitor::new(&app);
    v.login("boss@example.test").await;
    let html = v.get("/admin/reports").await.text().await.unwrap();
    assert_eq!(html.matches("<svg class=\"chart\"").count(), 3);
    assert!(html.contains("1 created, 0 resolved"));
    let bad = v
        .get("/admin/reports?from=2026-02-30")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        bad.contains("must be a date"),
        "a bad date is explained, not a 500"
    );
    let today = app.ctx.clock.now().format("%Y-%m-%d").to_string();
    let csv = v
        .get(&format!(
            "/admin/reports/tickets.csv?from={today}&to={today}"
        ))
        .await;
    assert_eq!(
        csv.headers()["content-type"].to_str().unwrap(),
        "text/csv; charset=utf-8"
    );
    assert_eq!(
        csv.text().await.unwrap(),
        format!("day,created,resolved\n{today},1,0\n")
    );
    let sla = v.get("/admin/reports/sla.csv").await.text().await.unwrap();
    assert!(sla.starts_with("priority,tickets,"));
    assert!(sla.contains("\nhigh,1,"));
    assert_eq!(
        v.get("/admin/reports/nope.csv").await.status().as_u16(),
        404
    );
    let dash = v.get("/admin").await.text().await.unwrap();
    assert!(dash.contains("SLA breaches") && dash.contains("resolution rate (30 d)"));
}
