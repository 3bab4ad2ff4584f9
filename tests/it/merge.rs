//! Merge: one thread in time order, the source closed with a pointer, history on both, the
//! requester told once, and mail replies to the source's thread landing on the target.

use crate::harness::{Backend, TestApp, pg_url};
use crate::on_both;
use crate::sinks::SmtpSink;
use serde_json::json;
use triage::tickets::model::Role;

fn mail(id: &str, subject: &str, body: &str, extra: &str) -> String {
    format!(
        "From: Ada <ada@example.com>\r\nTo: support@acme.test\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\n{extra}MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n{body}\r\n--b\r\nContent-Type: text/plain; name=\"log.txt\"\r\nContent-Disposition: attachment; filename=\"log-{id}.txt\"\r\n\r\nerror 42\r\n--b--\r\n"
    )
}

on_both!(
    merging_combines_threads_and_redirects_mail,
    |backend| async move {
        let sink = SmtpSink::start().await;
        let app = TestApp::with_mail(backend, &sink).await;
        let (_, admin) = app.user(Role::Admin, "Lead").await;
        let (agent_id, agent) = app.user(Role::Agent, "Sam").await;
        let first = app
            .inbound(
                &admin,
                mail(
                    "m1@example.com",
                    "VPN drops",
                    "The VPN drops every hour.",
                    "",
                ),
            )
            .await;
        let a = first.ok(200)["ticket_id"].as_i64().unwrap();
        app.advance(chrono::Duration::minutes(5));
        let second = app
            .inbound(
                &admin,
                mail(
                    "m2@example.com",
                    "Still no VPN",
                    "Since this morning the VPN keeps failing.",
                    "",
                ),
            )
            .await;
        let b = second.ok(200)["ticket_id"].as_i64().unwrap();
        assert_ne!(a, b);
        for t in [a, b] {
            app.post(
                &format!("/api/v1/tickets/{t}/assign"),
                &admin,
                json!({"agent_id": agent_id}),
            )
            .await
            .ok(200);
        }
        app.advance(chrono::Duration::minutes(5));
        app.post(
            &format!("/api/v1/tickets/{a}/comments"),
            &agent,
            json!({"body": "Which VPN client version do you use?"}),
        )
        .await
        .ok(201);
        app.post(
            &format!("/api/v1/tickets/{a}/comments"),
            &agent,
            json!({"body": "Internal: looks like the 3.2 bug", "internal": true}),
        )
        .await
        .ok(201);
        app.settle().await;
        let question = sink
            .received()
            .into_iter()
            .find(|m| {
                m.parsed()
                    .body_text(0)
                    .is_some_and(|t| t.contains("Which VPN client"))
            })
            .expect("the agent's reply went out");
        let question_id = question.header("Message-ID").unwrap();

        // Refusals first.
        let (_, customer) = app.user(Role::Customer, "Eve").await;
        let other = app
            .ticket(&customer, "Something else entirely", "low")
            .await;
        app.post(
            &format!("/api/v1/tickets/{a}/merge"),
            &agent,
            json!({"into": a}),
        )
        .await
        .err(400, "VALIDATION_ERROR");
        app.post(
            &format!("/api/v1/tickets/{a}/merge"),
            &agent,
            json!({"into": "TKT-NOPE"}),
        )
        .await
        .err(400, "VALIDATION_ERROR");
        app.post(
            &format!("/api/v1/tickets/{a}/merge"),
            &admin,
            json!({"into": other["number"]}),
        )
        .await
        .err(409, "CONFLICT");
        app.post(
            &format!("/api/v1/tickets/{}/merge", other["id"]),
            &customer,
            json!({"into": other["id"]}),
        )
        .await
        .err(403, "FORBIDDEN");

        let sent_before = sink.received().len();
        let merged = app
            .post(
                &format!("/api/v1/tickets/{a}/merge"),
                &agent,
                json!({"into": b}),
            )
            .await;
        assert_eq!(merged.ok(200)["id"], b);
        let source = app.get(&format!("/api/v1/tickets/{a}"), &agent).await;
        assert_eq!(source.ok(200)["status"], "closed");
        assert_eq!(source.body["merged_into"], b);
        app.post(
            &format!("/api/v1/tickets/{a}/merge"),
            &agent,
            json!({"into": b}),
        )
        .await
        .err(409, "CONFLICT");

        let thread = app
            .get(&format!("/api/v1/tickets/{b}/comments"), &agent)
            .await;
        let bodies: Vec<String> = thread
            .ok(200)
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["body"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(bodies.len(), 3, "{bodies:?}");
        assert!(
            bodies[0].starts_with("**Merged from TKT-")
                && bodies[0].contains("The VPN drops every hour.")
        );
        assert!(bodies[1].contains("Which VPN client"));
        assert!(bodies[2].contains("looks like the 3.2 bug"));
        let files: Vec<&str> = thread.body[0]["attachments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["filename"].as_str().unwrap())
            .collect();
        assert_eq!(files, vec!["log-m1@example.com.txt"]);
        let target = app.get(&format!("/api/v1/tickets/{b}"), &agent).await;
        assert_eq!(
            target.ok(200)["attachments"][0]["filename"],
            "log-m2@example.com.txt"
        );
        assert!(
            target.body["first_response_at"].is_string(),
            "the answer on the source counts"
        );
        let hist = |id: i64| {
            let app = &app;
            let admin = admin.clone();
            async move {
                app.get(&format!("/api/v1/tickets/{id}/history"), &admin)
                    .await
                    .body
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["field"].as_str().unwrap().to_string())
                    .collect::<Vec<_>>()
            }
        };
        assert!(hist(a).await.contains(&"merged_into".to_string()));
        assert!(hist(b).await.contains(&"merged".to_string()));

        // The requester hears about it exactly once.
        app.settle().await;
        let notices: Vec<_> = sink.received()[sent_before..]
            .iter()
            .filter(|m| {
                m.header("Subject")
                    .is_some_and(|s| s.contains("Merged into"))
            })
            .map(|m| m.to.clone())
            .collect();
        assert_eq!(notices, vec![vec!["ada@example.com".to_string()]]);

        // Answering the question asked on the source lands on the target.
        let reply = format!(
            "From: Ada <ada@example.com>\r\nTo: support@acme.test\r\nSubject: Re: VPN drops\r\nMessage-ID: <m3@example.com>\r\nIn-Reply-To: {question_id}\r\nReferences: {question_id}\r\n\r\nVersion 3.2.1.\r\n"
        );
        let r = app.inbound(&admin, reply).await;
        assert_eq!(r.ok(200)["outcome"], "threaded", "{}", r.text);
        assert_eq!(r.body["ticket_id"], b);
        let thread = app
            .get(&format!("/api/v1/tickets/{b}/comments"), &agent)
            .await;
        assert!(
            thread.ok(200).as_array().unwrap().last().unwrap()["body"]
                .as_str()
                .unwrap()
                .contains("Version 3.2.1")
        );
    }
);
