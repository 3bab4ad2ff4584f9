//! Attachments over HTTP: multipart uploads on the form, tickets and replies; limits, sniffing,
//! refusals; downloads that follow the ticket's visibility and carry safe headers.

use crate::both_backends;
use crate::harness::*;
use crate::on_both;
use reqwest::multipart::{Form, Part};
use triage::tickets::model::Role;

pub const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0x0D, 0x49, 0x48, 0x44, 0x52, 0, 0, 0,
    1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1F, 0x15, 0xC4, 0x89,
];
const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n";

pub fn file(name: &str, bytes: &[u8], mime: &str) -> Part {
    Part::bytes(bytes.to_vec())
        .file_name(name.to_string())
        .mime_str(mime)
        .unwrap()
}

pub async fn send(app: &TestApp, path: &str, token: Option<&str>, form: Form) -> Res {
    let mut req = app
        .client
        .post(format!("{}{}", app.base, path))
        .multipart(form);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    Res::read(req.send().await.unwrap()).await
}

pub async fn fetch(app: &TestApp, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut req = app.client.get(format!("{}{}", app.base, path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

fn submit_form() -> Form {
    Form::new()
        .text("name", "Ada Lovelace")
        .text("email", "ada@example.com")
        .text("category", "bug")
        .text("priority", "high")
        .text("subject", "Screenshot of the crash")
        .text(
            "message",
            "The app crashes when I press save; screenshot and log attached.",
        )
}

both_backends!(
    uploads_are_sniffed_stored_and_served_safely,
    |app: TestApp| async move {
        let (_, admin) = app.user(Role::Admin, "Boss").await;
        let big = vec![b'x'; 200 * 1024];
        let form = submit_form()
            .part("attachments", file("crash.png", PNG, "image/png"))
            .part("attachments", file("log.txt", &big, "text/plain"));
        let r = send(&app, "/api/v1/tickets/submit", None, form).await;
        let number = r.ok(201)["ticket_id"].as_str().unwrap().to_string();
        let tracking = r.body["tracking_url"].as_str().unwrap().to_string();
        let t = app.get(&format!("/api/v1/tickets/{number}"), &admin).await;
        let files = t.ok(200)["attachments"].as_array().unwrap().clone();
        assert_eq!(files.len(), 2);
        assert_eq!(
            (
                files[0]["filename"].as_str(),
                files[0]["content_type"].as_str()
            ),
            (Some("crash.png"), Some("image/png"))
        );
        assert_eq!(
            files[1]["size"],
            200 * 1024,
            "a body bigger than the JSON limit streams through"
        );
        let png = fetch(
            &app,
            &format!("/api/v1/tickets/{number}/attachments/{}", files[0]["id"]),
            Some(&admin),
        )
        .await;
        assert_eq!(png.status(), 200);
        assert_eq!(png.headers()["content-type"], "image/png");
        assert!(
            png.headers()["content-disposition"]
                .to_str()
                .unwrap()
                .starts_with("inline")
        );
        assert_eq!(png.headers()["x-content-type-options"], "nosniff");
        assert!(
            png.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("sandbox")
        );
        assert_eq!(png.bytes().await.unwrap().as_ref(), PNG);
        let txt = fetch(
            &app,
            &format!("/api/v1/tickets/{number}/attachments/{}", files[1]["id"]),
            Some(&admin),
        )
        .await;
        assert!(
            txt.headers()["content-disposition"]
                .to_str()
                .unwrap()
                .starts_with("attachment; filename=\"log.txt\"")
        );
        assert_eq!(txt.headers()["content-type"], "text/plain; charset=utf-8");
        // The requester's tracking link reaches public files too; a wrong token does not.
        let token = tracking.split("token=").nth(1).unwrap();
        let via_link = fetch(
            &app,
            &format!(
                "/api/v1/track/{number}/attachments/{}?token={token}",
                files[0]["id"]
            ),
            None,
        )
        .await;
        assert_eq!(via_link.status(), 200);
        let forged = fetch(
            &app,
            &format!(
                "/api/v1/track/{number}/attachments/{}?token=nope",
                files[0]["id"]
            ),
            None,
        )
        .await;
        assert_eq!(forged.status(), 404);
    }
);

on_both!(refusals_are_clear_and_limits_hold, |backend| async move {
    let app = TestApp::spawn_with(backend, |c| {
        c.max_attachment_bytes = 4096;
        c.max_attachments = 2;
    })
    .await;
    let exe = [b"MZ".as_slice(), &[0u8; 64]].concat();
    let r = send(
        &app,
        "/api/v1/tickets/submit",
        None,
        submit_form().part("attachments", file("invoice.pdf", &exe, "application/pdf")),
    )
    .await;
    let e = r.err(400, "VALIDATION_ERROR");
    assert!(
        e["errors"]["attachments"][0]
            .as_str()
            .unwrap()
            .contains("executable"),
        "{e}"
    );
    let r = send(
        &app,
        "/api/v1/tickets/submit",
        None,
        submit_form().part("attachments", file("photo.png", PDF, "image/png")),
    )
    .await;
    let e = r.err(400, "VALIDATION_ERROR");
    assert_eq!(
        e["errors"]["attachments"][0],
        "photo.png: the content is application/pdf, not image/png"
    );
    let r = send(
        &app,
        "/api/v1/tickets/submit",
        None,
        submit_form().part("attachments", file("big.txt", &[b'a'; 5000], "text/plain")),
    )
    .await;
    let e = r.err(413, "PAYLOAD_TOO_LARGE");
    assert!(e["message"].as_str().unwrap().contains("big.txt"));
    let three = submit_form()
        .part("attachments", file("a.txt", b"a", "text/plain"))
        .part("attachments", file("b.txt", b"b", "text/plain"))
        .part("attachments", file("c.txt", b"c", "text/plain"));
    send(&app, "/api/v1/tickets/submit", None, three)
        .await
        .err(400, "VALIDATION_ERROR");
    // Field errors and file errors come back together; nothing was created by any of these.
    let bad = Form::new()
        .text("name", "")
        .text("email", "x")
        .part("attachments", file("x.png", b"text", "image/png"));
    let e = send(&app, "/api/v1/tickets/submit", None, bad)
        .await
        .err(400, "VALIDATION_ERROR")
        .clone();
    assert!(e["errors"]["attachments"].is_array(), "{e}");
    let (_, admin) = app.user(Role::Admin, "Boss").await;
    assert_eq!(
        app.get("/api/v1/tickets", &admin).await.ok(200)["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    // An empty file input of a plain HTML form is not an error.
    let empty = submit_form().part("attachments", Part::bytes(Vec::new()).file_name(""));
    send(&app, "/api/v1/tickets/submit", None, empty)
        .await
        .ok(201);
});

both_backends!(
    reply_files_follow_the_thread_visibility,
    |app: TestApp| async move {
        let (_, agent) = app.user(Role::Agent, "Sam").await;
        let (_, ada) = app.user(Role::Customer, "Ada").await;
        let (_, eve) = app.user(Role::Customer, "Eve").await;
        let t = app.ticket(&ada, "Need help with invoices", "low").await;
        let n = t["number"].as_str().unwrap();
        let reply = Form::new()
            .text("body", "Here is the invoice.")
            .part("attachments", file("invoice.pdf", PDF, "application/pdf"));
        let c = send(
            &app,
            &format!("/api/v1/tickets/{n}/comments"),
            Some(&ada),
            reply,
        )
        .await;
        let att = c.ok(201)["attachments"][0].clone();
        assert_eq!(att["content_type"], "application/pdf");
        let note = Form::new()
            .text("body", "Internal analysis")
            .text("internal", "true")
            .part(
                "attachments",
                file("analysis.txt", b"secret numbers", "text/plain"),
            );
        let n2 = send(
            &app,
            &format!("/api/v1/tickets/{n}/comments"),
            Some(&agent),
            note,
        )
        .await;
        assert_eq!(n2.ok(201)["internal"], true);
        let secret = n2.body["attachments"][0]["id"].clone();
        let pdf = fetch(
            &app,
            &format!("/api/v1/tickets/{n}/attachments/{}", att["id"]),
            Some(&agent),
        )
        .await;
        assert_eq!(pdf.status(), 200);
        assert!(
            pdf.headers()["content-disposition"]
                .to_str()
                .unwrap()
                .starts_with("inline")
        );
        assert_eq!(
            fetch(
                &app,
                &format!("/api/v1/tickets/{n}/attachments/{}", att["id"]),
                Some(&eve)
            )
            .await
            .status(),
            404,
            "another customer"
        );
        assert_eq!(
            fetch(
                &app,
                &format!("/api/v1/tickets/{n}/attachments/{secret}"),
                Some(&ada)
            )
            .await
            .status(),
            404,
            "internal-note file"
        );
        assert_eq!(
            fetch(
                &app,
                &format!("/api/v1/tickets/{n}/attachments/{secret}"),
                Some(&agent)
            )
            .await
            .status(),
            200
        );
        assert_eq!(
            fetch(
                &app,
                &format!("/api/v1/tickets/{n}/attachments/999999"),
                Some(&agent)
            )
            .await
            .status(),
            404
        );
        let thread = app
            .get(&format!("/api/v1/tickets/{n}/comments"), &ada)
            .await;
        let list = thread.ok(200).as_array().unwrap().clone();
        assert_eq!(list.len(), 1, "customers never see the note");
        assert_eq!(list[0]["attachments"][0]["filename"], "invoice.pdf");
    }
);

both_backends!(
    opening_file_counts_follow_uploads_replies_merges_and_deletes,
    |app: TestApp| async move {
        let (_, agent) = app.user(Role::Agent, "Sam").await;
        let count = |id: i64| {
            let app = &app;
            async move {
                app.scalar(&format!(
                    "SELECT opening_files FROM tickets WHERE id = {id}"
                ))
                .await
            }
        };
        let opening = |form: Form| {
            let app = &app;
            async move {
                let r = send(app, "/api/v1/tickets/submit", None, form).await;
                let number = r.ok(201)["ticket_id"].as_str().unwrap().to_string();
                app.scalar(&format!("SELECT id FROM tickets WHERE number = '{number}'"))
                    .await
            }
        };
        let a = opening(
            submit_form()
                .part("attachments", file("one.png", PNG, "image/png"))
                .part("attachments", file("two.txt", b"log lines", "text/plain")),
        )
        .await;
        let b =
            opening(submit_form().part("attachments", file("three.txt", b"more", "text/plain")))
                .await;
        let plain = opening(submit_form()).await;
        assert_eq!(
            (count(a).await, count(b).await, count(plain).await),
            (2, 1, 0)
        );
        // A reply's files are the reply's, not the opening post's.
        let reply = Form::new()
            .text("body", "Another file")
            .part("attachments", file("four.txt", b"reply", "text/plain"));
        send(
            &app,
            &format!("/api/v1/tickets/{a}/comments"),
            Some(&agent),
            reply,
        )
        .await
        .ok(201);
        assert_eq!(count(a).await, 2);
        let view = app.get(&format!("/api/v1/tickets/{a}"), &agent).await;
        assert_eq!(view.ok(200)["attachments"].as_array().unwrap().len(), 2);
        let view = app.get(&format!("/api/v1/tickets/{plain}"), &agent).await;
        assert_eq!(view.ok(200)["attachments"], serde_json::json!([]));
        // Merged, b's opening files become a message's files on a.
        app.post(
            &format!("/api/v1/tickets/{b}/merge"),
            &agent,
            serde_json::json!({"into": a}),
        )
        .await
        .ok(200);
        assert_eq!((count(a).await, count(b).await), (2, 0));
        let view = app.get(&format!("/api/v1/tickets/{a}"), &agent).await;
        let names: Vec<String> = view.ok(200)["attachments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["filename"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(names, ["one.png", "two.txt"]);
        assert_eq!(app.opening_files_drift().await, 0);
        // Deleting a ticket deletes its files' rows; no count is left behind anywhere.
        let (_, admin) = app.user(Role::Admin, "Boss").await;
        app.delete(&format!("/api/v1/tickets/{a}"), &admin)
            .await
            .ok(204);
        assert_eq!(app.scalar("SELECT COUNT(*) FROM attachments").await, 0);
        assert_eq!(app.opening_files_drift().await, 0);
    }
);
