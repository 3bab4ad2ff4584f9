//! The e-mail corpus: every fixture in tests/fixtures/mail, shaped like real clients' output,
//! goes through intake against a fresh ticket thread; tests/fixtures/mail/manifest.json says
//! what must happen to it.

use crate::harness::*;
use crate::on_both;
use crate::sinks::SmtpSink;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use triage::db::entities::ticket;
use triage::db::mail_entities::attachment;
use triage::tickets::model::Role;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/mail");

/// A fresh thread for one fixture: a customer's e-mail, assigned, answered by the agent.
struct Thread {
    ticket_id: i64,
    number: String,
    customer: String,
    customer_msgid: String,
    agent_msgid: String,
    plus: String,
}

async fn thread(
    app: &TestApp,
    sink: &SmtpSink,
    admin: &str,
    agent: &str,
    agent_id: i64,
    uniq: &str,
) -> Thread {
    let customer = format!("ada.{uniq}@example.com");
    let customer_msgid = format!("base-{uniq}@example.com");
    let raw = format!(
        "From: Ada Lovelace <{customer}>\r\nTo: support@acme.test\r\nSubject: Cannot export reports\r\nMessage-ID: <{customer_msgid}>\r\nDate: Sat, 21 Nov 2026 09:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe export button does nothing since the update.\r\n"
    );
    let r = app.inbound(admin, raw.clone()).await;
    assert_eq!(r.ok(200)["outcome"], "created", "{}", r.text);
    let ticket_id = r.body["ticket_id"].as_i64().unwrap();
    let t = app
        .get(&format!("/api/v1/tickets/{ticket_id}"), admin)
        .await;
    let number = t.ok(200)["number"].as_str().unwrap().to_string();
    app.post(
        &format!("/api/v1/tickets/{number}/assign"),
        admin,
        json!({"agent_id": agent_id}),
    )
    .await
    .ok(200);
    app.post(
        &format!("/api/v1/tickets/{number}/comments"),
        agent,
        json!({"body": "Please clear the cache and try again."}),
    )
    .await
    .ok(201);
    let mut mail = None;
    for _ in 0..1500 {
        mail = sink
            .received()
            .into_iter()
            .find(|m| m.to == vec![customer.clone()] && m.raw.contains("clear the cache"));
        if mail.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let mail = mail.expect("agent reply e-mailed");
    let agent_msgid = mail
        .header("Message-ID")
        .unwrap()
        .trim_matches(['<', '>'])
        .to_string();
    let plus = mail
        .header("Reply-To")
        .unwrap()
        .trim_matches(['<', '>'])
        .to_string();
    Thread {
        ticket_id,
        number,
        customer,
        customer_msgid,
        agent_msgid,
        plus,
    }
}

fn fill(raw: &[u8], t: &Thread, uniq: &str, anchor: &str) -> Vec<u8> {
    // Placeholders are ASCII; the rest of the bytes (Latin-1, Shift_JIS) pass through untouched.
    let mut out = raw.to_vec();
    let forged = format!(
        "triage.{}.abcdef0123.0000000000000000@acme.test",
        t.ticket_id
    );
    for (k, v) in [
        ("{{NUMBER}}", t.number.as_str()),
        ("{{CUSTOMER}}", t.customer.as_str()),
        ("{{CUSTOMER_MSGID}}", t.customer_msgid.as_str()),
        ("{{AGENT_MSGID}}", t.agent_msgid.as_str()),
        ("{{PLUS}}", t.plus.as_str()),
        ("{{UNIQ}}", uniq),
        ("{{ANCHOR}}", anchor),
        ("{{FORGED_MSGID}}", forged.as_str()),
    ] {
        let (k, v) = (k.as_bytes(), v.as_bytes());
        let mut i = 0;
        while i + k.len() <= out.len() {
            if &out[i..i + k.len()] == k {
                out.splice(i..i + k.len(), v.iter().copied());
                i += v.len();
            } else {
                i += 1;
            }
        }
    }
    out
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

on_both!(
    every_fixture_has_its_expected_outcome,
    |backend| async move {
        let sink = SmtpSink::start().await;
        let app = TestApp::with_mail(backend, &sink).await;
        let (_, admin) = app.user(Role::Admin, "Boss").await;
        let (agent_id, agent) = app.user(Role::Agent, "Sam Agent").await;
        let manifest: Vec<Value> =
            serde_json::from_str(&std::fs::read_to_string(format!("{DIR}/manifest.json")).unwrap())
                .unwrap();
        let files = std::fs::read_dir(DIR)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "eml")
            })
            .count();
        assert_eq!(files, manifest.len(), "every fixture has an expectation");
        assert!(files >= 40);
        let keys = triage::auth::tokens::Keys::new("test-secret");
        let mut summary = Vec::new();
        for case in &manifest {
            let file = case["file"].as_str().unwrap();
            let uniq = uuid::Uuid::new_v4().simple().to_string()[..10].to_string();
            let t = thread(&app, &sink, &admin, &agent, agent_id, &uniq).await;
            match case["setup"].as_str() {
                Some("waiting") => {
                    app.put(
                        &format!("/api/v1/tickets/{}/status", t.number),
                        &agent,
                        json!({"status": "in_progress"}),
                    )
                    .await
                    .ok(200);
                    app.put(
                        &format!("/api/v1/tickets/{}/status", t.number),
                        &agent,
                        json!({"status": "waiting"}),
                    )
                    .await
                    .ok(200);
                }
                Some("resolve") | Some("close_expired") => {
                    app.put(
                        &format!("/api/v1/tickets/{}/status", t.number),
                        &agent,
                        json!({"status": "in_progress"}),
                    )
                    .await
                    .ok(200);
                    app.put(
                        &format!("/api/v1/tickets/{}/status", t.number),
                        &agent,
                        json!({"status": "resolved"}),
                    )
                    .await
                    .ok(200);
                    if case["setup"] == "close_expired" {
                        app.put(
                            &format!("/api/v1/tickets/{}/status", t.number),
                            &agent,
                            json!({"status": "closed"}),
                        )
                        .await
                        .ok(200);
                        app.advance(chrono::Duration::days(8));
                    }
                }
                _ => {}
            }
            app.settle().await;
            let anchor = triage::mail::ids::anchor(&keys, "acme.test", t.ticket_id);
            let raw = fill(
                &std::fs::read(format!("{DIR}/{file}")).unwrap(),
                &t,
                &uniq,
                &anchor,
            );
            let before_comments = app
                .get(&format!("/api/v1/tickets/{}/comments", t.number), &admin)
                .await
                .ok(200)
                .as_array()
                .unwrap()
                .len();
            let r = app.inbound(&admin, raw).await;
            let expected = case["outcome"].as_str().unwrap();
            if expected == "rejected" {
                r.err(400, "VALIDATION_ERROR");
                summary.push(format!("{file}: rejected"));
                continue;
            }
            assert_eq!(r.ok(200)["outcome"], expected, "{file}: {}", r.text);
            let detail = r.body["detail"].as_str().unwrap_or("").to_string();
            summary.push(format!(
                "{file}: {expected} {}",
                if expected == "threaded" {
                    detail
                        .split("by: ")
                        .nth(1)
                        .unwrap_or("")
                        .trim_end_matches(" }")
                } else {
                    ""
                }
            ));
            let got_id = r.body["ticket_id"].as_i64();
            match expected {
                "created" | "follow_up" => {
                    let id = got_id.unwrap();
                    assert_ne!(id, t.ticket_id, "{file}: must not thread");
                    let v = app
                        .get(&format!("/api/v1/tickets/{id}"), &admin)
                        .await
                        .ok(200)
                        .clone();
                    assert_eq!(v["channel"], "email");
                    if let Some(s) = case["subject"].as_str() {
                        assert_eq!(v["subject"], s, "{file}");
                    }
                    if let Some(e) = case["requester"].as_str() {
                        assert_eq!(v["requester"]["email"], e, "{file}");
                    }
                    if let Some(n) = case["requester_name"].as_str() {
                        assert_eq!(v["requester"]["name"], n, "{file}");
                    }
                    let desc = v["description"].as_str().unwrap();
                    for c in strs(&case["body_contains"]) {
                        assert!(desc.contains(&c), "{file}: description lacks {c:?}: {desc}");
                    }
                    for c in strs(&case["body_not_contains"]) {
                        assert!(!desc.contains(&c), "{file}: description has {c:?}: {desc}");
                    }
                    if case["attachments"].is_array() {
                        let files = attachment::Entity::find()
                            .filter(attachment::Column::TicketId.eq(id))
                            .all(&app.ctx.db.read)
                            .await
                            .unwrap();
                        let names: Vec<String> = files
                            .iter()
                            .map(|a| format!("{}:{}", a.filename, a.content_type))
                            .collect();
                        assert_eq!(names, strs(&case["attachments"]), "{file}");
                    }
                    if expected == "follow_up" {
                        let row = ticket::Entity::find_by_id(id)
                            .one(&app.ctx.db.read)
                            .await
                            .unwrap()
                            .unwrap();
                        assert_eq!(row.follow_up_of, Some(t.ticket_id));
                    }
                    if let Some(ack) = case["ack"].as_bool() {
                        app.settle().await;
                        let to = v["requester"]["email"].as_str().unwrap().to_string();
                        let acked = sink.received().iter().any(|m| {
                            m.to == vec![to.clone()]
                                && m.header("Subject")
                                    .unwrap_or_default()
                                    .contains("We received your request")
                        });
                        assert_eq!(acked, ack, "{file}: acknowledgement");
                    }
                }
                "threaded" => {
                    assert_eq!(got_id, Some(t.ticket_id), "{file}");
                    if let Some(by) = case["by"].as_str() {
                        assert!(detail.contains(&format!("by: {by}")), "{file}: {detail}");
                    }
                    let thread = app
                        .get(&format!("/api/v1/tickets/{}/comments", t.number), &admin)
                        .await
                        .ok(200)
                        .clone();
                    let list = thread.as_array().unwrap();
                    assert_eq!(list.len(), before_comments + 1, "{file}");
                    let last = list.last().unwrap();
                    assert_eq!(last["channel"], "email");
                    if let Some(b) = case["body"].as_str() {
                        assert_eq!(last["body"], b, "{file}");
                    }
                    for c in strs(&case["body_contains"]) {
                        assert!(
                            last["body"].as_str().unwrap().contains(&c),
                            "{file}: {}",
                            last["body"]
                        );
                    }
                    if let Some(q) = case["quoted_contains"].as_str() {
                        assert!(
                            last["quoted"].as_str().is_some_and(|s| s.contains(q)),
                            "{file}: quoted {:?}",
                            last["quoted"]
                        );
                    }
                    if let Some(role) = case["author_role"].as_str() {
                        assert_eq!(last["author"]["role"], role, "{file}");
                    }
                    if let Some(email) = case["author"].as_str() {
                        let u = triage::users::service::find_by_email(&app.ctx.db.read, email)
                            .await
                            .unwrap()
                            .unwrap();
                        assert_eq!(last["author"]["id"], u.id, "{file}");
                    }
                    if case["attachments"].is_array() {
                        let names: Vec<String> = last["attachments"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|a| {
                                format!(
                                    "{}:{}",
                                    a["filename"].as_str().unwrap(),
                                    a["content_type"].as_str().unwrap()
                                )
                            })
                            .collect();
                        assert_eq!(names, strs(&case["attachments"]), "{file}");
                    }
                    if let Some(st) = case["status"].as_str() {
                        let v = app
                            .get(&format!("/api/v1/tickets/{}", t.number), &admin)
                            .await;
                        assert_eq!(v.ok(200)["status"], st, "{file}");
                    }
                }
                "duplicate" => assert_eq!(got_id, Some(t.ticket_id), "{file}"),
                "ignored" => {
                    assert!(got_id.is_none());
                    let reason = case["reason"].as_str().unwrap();
                    assert!(
                        detail.to_lowercase().contains(&reason.to_lowercase()),
                        "{file}: {detail}"
                    );
                    let after = app
                        .get(&format!("/api/v1/tickets/{}/comments", t.number), &admin)
                        .await
                        .ok(200)
                        .as_array()
                        .unwrap()
                        .len();
                    assert_eq!(after, before_comments, "{file}: ignored mail never lands");
                }
                "bounce" => {
                    assert!(detail.contains("marked: 1"), "{file}: {detail}");
                    let log = app
                        .get(
                            &format!(
                                "/api/v1/notifications/log?status=bounced&ticket_id={}",
                                t.ticket_id
                            ),
                            &admin,
                        )
                        .await;
                    let rows = log.ok(200)["data"].as_array().unwrap().clone();
                    assert_eq!(rows.len(), 1, "{file}");
                    assert_eq!(rows[0]["idempotency_key"], t.agent_msgid.as_str());
                    let want = case["bounced_detail"].as_str().unwrap();
                    assert!(
                        rows[0]["last_error"].as_str().unwrap().contains(want),
                        "{file}: {}",
                        rows[0]["last_error"]
                    );
                }
                other => panic!("unknown outcome {other}"),
            }
        }
        eprintln!(
            "corpus results ({} fixtures):\n{}",
            summary.len(),
            summary.join("\n")
        );
        // Ignored mail never triggered an acknowledgement to anyone it came from.
        app.settle().await;
        for m in sink.received() {
            for who in [
                "helpdesk@partner.example",
                "news@marketing.example",
                "bob@lists.example",
                "nagios@monitor.example",
                "pedro@example.pt",
                "mailer-daemon@googlemail.com",
            ] {
                assert!(
                    !m.to.contains(&who.to_string()),
                    "auto-response sent to {who}"
                );
            }
        }
    }
);
