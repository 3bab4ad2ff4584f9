//! Outbound e-mail through a real SMTP sink: who gets what, both bodies, threading headers,
//! internal notes never sent, retries and dead letters, password reset, template overrides.

use crate::harness::*;
use crate::on_both;
use crate::sinks::{Refuse, SmtpSink};
use serde_json::json;
use triage::auth::tokens::Keys;
use triage::mail::ids;
use triage::tickets::model::Role;

fn ids_of(h: &Option<String>) -> Vec<String> {
    h.as_deref()
        .unwrap_or("")
        .split_whitespace()
        .map(|s| s.trim_matches(['<', '>']).to_string())
        .collect()
}

on_both!(
    notifications_follow_the_ticket_and_keep_one_thread,
    |backend| async move {
        let sink = SmtpSink::start().await;
        let app = TestApp::with_mail(backend, &sink).await;
        let keys = Keys::new("test-secret");
        let (_, admin) = app.user(Role::Admin, "Boss").await;
        let (agent_id, agent) = app.user(Role::Agent, "Sam Agent").await;

        let sub = app
        .anon_post(
            "/api/v1/tickets/submit",
            json!({"name": "Ada Lovelace", "email": "ada@example.com", "category": "technical",
                   "priority": "high", "subject": "VPN drops every hour", "message": "The VPN disconnects every hour on the hour."}),
        )
        .await;
        let number = sub.ok(201)["ticket_id"].as_str().unwrap().to_string();
        let got = sink.wait_for(2).await;
        let ack = got
            .iter()
            .find(|m| m.to == vec!["ada@example.com"])
            .expect("ack to requester");
        assert_eq!(ack.from, "support@acme.test", "envelope sender");
        let team = got
            .iter()
            .find(|m| m.to == vec!["support@acme.test"])
            .expect("team notice");
        let subject = ack.header("Subject").unwrap();
        assert!(subject.contains(&format!("[{number}]")), "{subject}");
        assert_eq!(
            ack.header("Auto-Submitted").as_deref(),
            Some("auto-replied")
        );
        assert!(ack.header("X-Triage-Loop").is_some());
        let ack_id = ids_of(&ack.header("Message-ID")).remove(0);
        let ticket_id = ids::verify(&keys, &ack_id).expect("our signed Message-ID");
        let reply_to = ack.header("Reply-To").unwrap();
        assert!(
            reply_to.starts_with(&format!("support+{}.", number.to_lowercase())),
            "{reply_to}"
        );
        let parsed = ack.parsed();
        assert!(parsed.body_text(0).unwrap().contains(&number));
        assert!(parsed.body_html(0).unwrap().contains("<strong>"));
        assert!(
            parsed.body_text(0).unwrap().contains("/track/"),
            "customer gets the tracking link"
        );
        assert!(
            team.parsed()
                .body_text(0)
                .unwrap()
                .contains("The VPN disconnects")
        );
        assert!(team.header("Message-ID") != ack.header("Message-ID"));

        // Assigning tells the agent; the agent's public reply reaches the requester in-thread.
        app.post(
            &format!("/api/v1/tickets/{number}/assign"),
            &admin,
            json!({"agent_id": agent_id}),
        )
        .await
        .ok(200);
        let got = sink.wait_for(3).await;
        assert_eq!(got[2].to, vec!["sam.agent@example.test"]);
        assert!(
            got[2]
                .header("Subject")
                .unwrap()
                .contains("Assigned to you")
        );
        app.post(
            &format!("/api/v1/tickets/{number}/comments"),
            &agent,
            json!({"body": "Internal: check the firewall logs", "internal": true}),
        )
        .await
        .ok(201);
        app.post(
            &format!("/api/v1/tickets/{number}/comments"),
            &agent,
            json!({"body": "Please update the client to 5.2 and tell me if it helps."}),
        )
        .await
        .ok(201);
        let got = sink.wait_for(4).await;
        app.settle().await;
        let all = sink.received();
        assert_eq!(all.len(), 4, "the internal note is never sent");
        assert!(all.iter().all(|m| !m.raw.contains("firewall logs")));
        let reply = &all[3];
        assert_eq!(reply.to, vec!["ada@example.com"]);
        assert!(
            reply.header("Auto-Submitted").is_none(),
            "a person wrote it"
        );
        assert!(
            reply
                .parsed()
                .body_text(0)
                .unwrap()
                .contains("update the client to 5.2")
        );
        assert!(reply.header("Subject").unwrap().contains(&number));
        let refs = ids_of(&reply.header("References"));
        assert!(
            refs.contains(&ack_id),
            "References carry the thread anchor: {refs:?}"
        );
        assert_eq!(ids_of(&reply.header("In-Reply-To")).len(), 1);
        let reply_id = ids_of(&reply.header("Message-ID")).remove(0);
        assert_eq!(ids::verify(&keys, &reply_id), Some(ticket_id));
        drop(got);

        // The customer answers the e-mail from their client: it threads onto the ticket, the
        // assignee is told, and our next mail answers the customer's message.
        let raw = format!(
            "From: Ada Lovelace <ada@example.com>\r\nTo: {reply_to}\r\nSubject: Re: {subj}\r\nMessage-ID: <CAF123ada@mail.gmail.com>\r\nIn-Reply-To: <{reply_id}>\r\nReferences: <{ack_id}> <{reply_id}>\r\nDate: Sat, 21 Nov 2026 10:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nStill dropping after the update.\r\n\r\nOn Sat, Nov 21, 2026 at 9:00 AM Acme Support <support@acme.test> wrote:\r\n> Please update the client to 5.2\r\n",
            subj = reply.header("Subject").unwrap()
        );
        let r = app.inbound(&admin, raw.clone()).await;
        assert_eq!(r.ok(200)["outcome"], "threaded", "{}", r.text);
        let got = sink.wait_for(5).await;
        assert_eq!(got[4].to, vec!["sam.agent@example.test"]);
        assert!(
            got[4]
                .parsed()
                .body_text(0)
                .unwrap()
                .contains("Still dropping")
        );
        let thread = app
            .get(&format!("/api/v1/tickets/{number}/comments"), &agent)
            .await;
        let last = thread.ok(200).as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["body"], "Still dropping after the update.");
        assert!(last["quoted"].as_str().unwrap().contains("> Please update"));
        assert_eq!(last["channel"], "email");
        app.post(
            &format!("/api/v1/tickets/{number}/comments"),
            &agent,
            json!({"body": "Thanks, escalating."}),
        )
        .await
        .ok(201);
        let got = sink.wait_for(6).await;
        assert_eq!(
            ids_of(&got[5].header("In-Reply-To")),
            vec!["CAF123ada@mail.gmail.com".to_string()]
        );
        assert!(
            ids_of(&got[5].header("References")).contains(&"CAF123ada@mail.gmail.com".to_string())
        );

        // Resolution mail.
        app.put(
            &format!("/api/v1/tickets/{number}/status"),
            &agent,
            json!({"status": "in_progress"}),
        )
        .await
        .ok(200);
        app.put(
            &format!("/api/v1/tickets/{number}/status"),
            &agent,
            json!({"status": "resolved", "resolution": "Fixed in 5.3"}),
        )
        .await
        .ok(200);
        app.settle().await;
        let all = sink.received();
        let resolved = all
            .iter()
            .find(|m| m.header("Subject").unwrap().contains("Resolved:"))
            .expect("resolution mail");
        assert!(
            resolved
                .parsed()
                .body_text(0)
                .unwrap()
                .contains("Fixed in 5.3")
        );
    }
);

on_both!(smtp_failures_retry_and_die_visibly, |backend| async move {
    let sink = SmtpSink::start().await;
    let app = TestApp::with_mail(backend, &sink).await;
    let (_, admin) = app.user(Role::Admin, "Boss").await;
    sink.refuse_next(Refuse::Temporary);
    sink.refuse_next(Refuse::Permanent);
    app.anon_post("/api/v1/tickets/submit", json!({"name": "Bo", "email": "bo@example.com", "category": "general", "subject": "Hello there", "message": "Need some help please."})).await.ok(201);
    app.settle().await;
    // One of the two mails hit the 451 and waits for its retry; the other hit the 550 and is dead.
    let log = app
        .get("/api/v1/notifications/log?channel=email", &admin)
        .await;
    let rows = log.ok(200)["data"].as_array().unwrap().clone();
    assert_eq!(rows.len(), 2);
    let dead: Vec<_> = rows.iter().filter(|r| r["status"] == "dead").collect();
    let queued: Vec<_> = rows.iter().filter(|r| r["status"] == "queued").collect();
    assert_eq!((dead.len(), queued.len()), (1, 1), "{rows:?}");
    assert!(dead[0]["last_error"].as_str().unwrap().contains("550"));
    assert!(queued[0]["last_error"].as_str().unwrap().contains("451"));
    assert!(queued[0]["next_attempt_at"].is_string());
    app.advance(chrono::Duration::seconds(5));
    sink.wait_for(1).await;
    app.settle().await;
    let r = app
        .post(
            &format!("/api/v1/notifications/log/{}/retry", dead[0]["id"]),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 204, "{}", r.text);
    sink.wait_for(2).await;
    app.settle().await;
    let log = app
        .get(
            "/api/v1/notifications/log?channel=email&status=done",
            &admin,
        )
        .await;
    let rows = log.ok(200)["data"].as_array().unwrap().clone();
    assert_eq!(rows.len(), 2);
    let retried = rows.iter().find(|r| r["id"] == queued[0]["id"]).unwrap();
    assert_eq!(retried["attempts_log"].as_array().unwrap().len(), 2);
    assert_eq!(retried["attempts_log"][0]["ok"], false);
    assert_eq!(retried["attempts_log"][1]["ok"], true);
    // Retrying a delivered message is refused; bad filters are validation errors.
    app.post(
        &format!("/api/v1/notifications/log/{}/retry", retried["id"]),
        &admin,
        json!({}),
    )
    .await
    .err(409, "CONFLICT");
    app.get("/api/v1/notifications/log?status=nope", &admin)
        .await
        .err(400, "VALIDATION_ERROR");
    let (_, agent) = app.user(Role::Agent, "Nosy").await;
    app.get("/api/v1/notifications/log", &agent)
        .await
        .err(403, "FORBIDDEN");
});

on_both!(password_reset_by_mail, |backend| async move {
    let sink = SmtpSink::start().await;
    let app = TestApp::with_mail(backend, &sink).await;
    app.user_jwt(Role::Customer, "Cleo").await;
    let r = app
        .anon_post(
            "/api/v1/auth/password/forgot",
            json!({"email": "cleo@example.test"}),
        )
        .await;
    r.ok(202);
    let unknown = app
        .anon_post(
            "/api/v1/auth/password/forgot",
            json!({"email": "nobody@example.test"}),
        )
        .await;
    assert_eq!(unknown.status.as_u16(), 202, "no account enumeration");
    let got = sink.wait_for(1).await;
    app.settle().await;
    assert_eq!(sink.received().len(), 1);
    let text = got[0].parsed().body_text(0).unwrap().to_string();
    let token = text
        .split("token=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    app.anon_post(
        "/api/v1/auth/password/reset",
        json!({"token": token, "password": "short"}),
    )
    .await
    .err(400, "VALIDATION_ERROR");
    app.anon_post(
        "/api/v1/auth/password/reset",
        json!({"token": token, "password": "brand-new-pass"}),
    )
    .await;
    app.anon_post(
        "/api/v1/auth/login",
        json!({"email": "cleo@example.test", "password": "brand-new-pass"}),
    )
    .await
    .ok(200);
    app.anon_post(
        "/api/v1/auth/login",
        json!({"email": "cleo@example.test", "password": "password123"}),
    )
    .await
    .err(401, "UNAUTHORIZED");
    app.anon_post(
        "/api/v1/auth/password/reset",
        json!({"token": token, "password": "another-pass-1"}),
    )
    .await
    .err(400, "VALIDATION_ERROR");
});

on_both!(admins_override_mail_templates, |backend| async move {
    let sink = SmtpSink::start().await;
    let app = TestApp::with_mail(backend, &sink).await;
    let (_, admin) = app.user(Role::Admin, "Boss").await;
    app.put(
        "/api/v1/mail-templates/ticket_created",
        &admin,
        json!({"subject": "Got it", "text_body": "{% if", "html_body": "<p>x</p>"}),
    )
    .await
    .err(400, "VALIDATION_ERROR");
    app.put(
        "/api/v1/mail-templates/nope",
        &admin,
        json!({"subject": "a", "text_body": "b", "html_body": "c"}),
    )
    .await
    .err(404, "NOT_FOUND");
    let t = app.put("/api/v1/mail-templates/ticket_created", &admin,
        json!({"subject": "Thanks {{ customer.name }}", "text_body": "Ticket {{ ticket.number }} is in.", "html_body": "<p>{{ ticket.subject }}</p>"})).await;
    assert_eq!(t.ok(200)["overridden"], true);
    app.anon_post("/api/v1/tickets/submit", json!({"name": "Dee <b>", "email": "dee@example.com", "category": "general", "subject": "<script>x</script>", "message": "Need some help please."})).await.ok(201);
    app.settle().await;
    let got = sink.wait_for(2).await;
    let ack = got
        .iter()
        .find(|m| m.to == vec!["dee@example.com"])
        .unwrap();
    assert!(ack.header("Subject").unwrap().ends_with("Thanks Dee <b>"));
    let p = ack.parsed();
    assert!(p.body_text(0).unwrap().starts_with("Ticket TKT-"));
    assert!(
        p.body_html(0).unwrap().contains("&lt;script&gt;"),
        "HTML is escaped"
    );
    let list = app.get("/api/v1/mail-templates", &admin).await;
    assert!(list.ok(200).as_array().unwrap().len() >= 9);
    let r = app
        .delete("/api/v1/mail-templates/ticket_created", &admin)
        .await;
    assert_eq!(r.status.as_u16(), 204);
});

on_both!(
    smtp_starttls_with_auth_and_a_private_ca,
    |backend| async move {
        use crate::sinks::{Secure, TestPki};
        let dir = tempfile::tempdir().unwrap();
        let pki = TestPki::create(dir.path());
        let secure = Secure {
            acceptor: pki.acceptor(),
            user: "relay".into(),
            password: "p@ss w0rd".into(),
        };
        let sink = SmtpSink::start_with(Some(secure)).await;
        let (port, ca) = (sink.port, pki.ca_file.display().to_string());
        let app = TestApp::spawn_with(backend, move |c| {
            c.smtp_url = format!("smtp://relay:p%40ss%20w0rd@localhost:{port}?tls=required");
            c.tls_ca_file = ca;
            c.mail_from = "support@acme.test".into();
        })
        .await;
        app.anon_post("/api/v1/tickets/submit", json!({"name": "Eve", "email": "eve@example.com", "category": "general", "subject": "Over TLS please", "message": "This should travel encrypted."})).await.ok(201);
        let got = sink.wait_for(1).await;
        assert!(got[0].tls, "upgraded with STARTTLS before MAIL");
        assert_eq!(got[0].authed_as.as_deref(), Some("relay"));

        // Wrong password: the server's 535 is permanent, so the delivery is dead with the reason.
        let (port, ca) = (sink.port, pki.ca_file.display().to_string());
        let bad = TestApp::spawn_with(backend, move |c| {
            c.smtp_url = format!("smtp://relay:wrong@localhost:{port}?tls=required");
            c.tls_ca_file = ca;
            c.mail_from = "support@acme.test".into();
        })
        .await;
        let (_, admin) = bad.user(Role::Admin, "Boss").await;
        bad.anon_post("/api/v1/tickets/submit", json!({"name": "Eve", "email": "eve@example.com", "category": "general", "subject": "Wrong password", "message": "This should not be sent."})).await.ok(201);
        bad.settle().await;
        let log = bad
            .get("/api/v1/notifications/log?status=dead", &admin)
            .await;
        let rows = log.ok(200)["data"].as_array().unwrap().clone();
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert!(
            rows[0]["last_error"].as_str().unwrap().contains("535"),
            "{}",
            rows[0]["last_error"]
        );
        assert_eq!(sink.received().len(), 1);
    }
);
