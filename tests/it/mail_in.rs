//! `triage mailgate` as an MTA runs it (a process reading stdin, sysexits codes), the
//! acknowledgement limit that stops loops with header-less auto-responders, and the daily
//! summary job.

use crate::harness::*;
use crate::on_both;
use crate::sinks::SmtpSink;
use std::io::Write;
use std::process::{Command, Stdio};
use triage::tickets::model::Role;

fn mailgate(app: &TestApp, raw: &[u8], extra_env: &[(&str, &str)]) -> (i32, String, String) {
    let c = &app.ctx.config;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_triage"));
    cmd.arg("mailgate")
        .arg("--data-dir")
        .arg(&c.data_dir)
        .env("TRIAGE_DATABASE_URL", &c.database_url)
        .env("TRIAGE_SECRET_KEY", "test-secret")
        .env("RUST_LOG", "error")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start mailgate");
    child.stdin.take().unwrap().write_all(raw).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

on_both!(mailgate_speaks_sysexits, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let (_, admin) = app.user(Role::Admin, "Boss").await;
    let raw = b"From: Ada <ada@example.com>\r\nTo: support@acme.test\r\nSubject: Scanner jammed\r\nMessage-ID: <gate-1@example.com>\r\n\r\nThe scanner on floor 2 is jammed.\r\n";
    let (code, out, err) = mailgate(&app, raw, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("created "), "{out}");
    let list = app.get("/api/v1/tickets?q=scanner", &admin).await;
    assert_eq!(list.ok(200)["data"][0]["subject"], "Scanner jammed");
    // The MTA delivers the same message again: accepted, nothing new.
    let (code, out, _) = mailgate(&app, raw, &[]);
    assert_eq!(
        (code, out.split_whitespace().next()),
        (0, Some("duplicate"))
    );
    // Automatic mail is accepted (so the MTA does not bounce it) and dropped.
    let (code, out, _) = mailgate(
        &app,
        b"From: a@b.example\r\nSubject: Auto: away\r\nAuto-Submitted: auto-replied\r\n\r\naway\r\n",
        &[],
    );
    assert_eq!((code, out.trim()), (0, "ignored"));
    // Not a message: 65 (EX_DATAERR), so the MTA bounces it to the sender.
    let (code, _, err) = mailgate(&app, b"\x00\x01 garbage without headers", &[]);
    assert_eq!(code, 65, "{err}");
    // Over the size limit: 65 as well.
    let (code, _, err) = mailgate(&app, raw, &[("TRIAGE_MAX_MAIL_BYTES", "20")]);
    assert_eq!(code, 65, "{err}");
    assert!(err.contains("larger than"), "{err}");
    // Database unreachable: 75 (EX_TEMPFAIL), so the MTA keeps the message and retries.
    let (code, _, err) = mailgate(
        &app,
        raw,
        &[("TRIAGE_DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")],
    );
    assert_eq!(code, 75, "{err}");
    assert_eq!(
        app.get("/api/v1/tickets", &admin).await.ok(200)["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
});

on_both!(
    acknowledgements_are_capped_per_address,
    |backend| async move {
        let sink = SmtpSink::start().await;
        let app = TestApp::with_mail(backend, &sink).await;
        let (_, admin) = app.user(Role::Admin, "Boss").await;
        // A broken auto-responder without RFC 3834 headers, answering every acknowledgement.
        for i in 0..7 {
            let raw = format!(
                "From: robot@loop.example\r\nTo: support@acme.test\r\nSubject: Ticket received {i}\r\nMessage-ID: <loop-{i}@loop.example>\r\n\r\nThank you for your message number {i}.\r\n"
            );
            let r = app.inbound(&admin, raw.clone()).await;
            assert_eq!(r.ok(200)["outcome"], "created");
            app.settle().await;
        }
        let acks = sink
            .received()
            .iter()
            .filter(|m| m.to == vec!["robot@loop.example"])
            .count();
        assert_eq!(acks, 5, "at most 5 acknowledgements an hour to one address");
        app.advance(chrono::Duration::minutes(61));
        let raw = "From: robot@loop.example\r\nTo: support@acme.test\r\nSubject: later\r\nMessage-ID: <loop-late@loop.example>\r\n\r\nThank you, an hour later.\r\n";
        app.inbound(&admin, raw).await.ok(200);
        app.settle().await;
        let acks = sink
            .received()
            .iter()
            .filter(|m| m.to == vec!["robot@loop.example"])
            .count();
        assert_eq!(acks, 6);
    }
);

on_both!(
    daily_summary_reaches_admins_once_a_day,
    |backend| async move {
        let sink = SmtpSink::start().await;
        let url = sink.url();
        let app = TestApp::spawn_with(backend, move |c| {
            c.smtp_url = url;
            c.mail_from = "support@acme.test".into();
            c.daily_summary_hour = 0;
        })
        .await;
        let (_, admin) = app.user(Role::Admin, "Boss").await;
        let (_, agent) = app.user(Role::Agent, "Sam").await;
        app.ticket(&agent, "Counted in the summary", "high").await;
        // The worker's start-up tick may already have sent today's (to whichever admins
        // existed by then), so move to just after midnight: tomorrow's summary is scheduled
        // once however often the tick runs, and its last 24 hours still hold the ticket.
        let now = app.ctx.clock.now();
        let tomorrow = (now.date_naive() + chrono::Days::new(1))
            .and_hms_opt(0, 0, 1)
            .expect("valid time")
            .and_utc();
        app.advance(tomorrow - now);
        let date = app.ctx.clock.now().format("%Y-%m-%d").to_string();
        triage::notify::summary::schedule(&app.ctx).await.unwrap();
        triage::notify::summary::schedule(&app.ctx).await.unwrap();
        app.settle().await;
        let got = sink.wait_for(1).await;
        app.settle().await;
        let summaries: Vec<_> = sink
            .received()
            .into_iter()
            .filter(|m| {
                let subject = m.header("Subject").unwrap();
                subject.contains("daily summary") && subject.contains(&date)
            })
            .collect();
        assert_eq!(summaries.len(), 1, "scheduled twice, sent once");
        assert_eq!(summaries[0].to, vec!["boss@example.test"]);
        assert!(summaries[0].header("Subject").unwrap().contains(&date));
        let text = summaries[0].parsed().body_text(0).unwrap().to_string();
        assert!(text.contains("New tickets: 1"), "{text}");
        assert!(text.contains("Past their resolution due time: 0"), "{text}");
        assert!(text.contains("Unassigned: 1"), "{text}");
        drop(got);
        let _ = admin;
    }
);

crate::both_backends!(
    concurrent_intakes_from_one_new_sender_all_land,
    |app: TestApp| async move {
        use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
        use triage::db::entities::{ticket, user};
        use triage::mail::inbound::{Intake, receive};
        let app = app;
        // A new sender's first messages arrive together (an IMAP batch, parallel mailgates):
        // every intake tries to create the same contact at once; on PostgreSQL they really run
        // side by side.
        let runs: Vec<_> = (0..16)
            .map(|i| {
                let ctx = app.ctx.clone();
                tokio::spawn(async move {
                    let raw = format!(
                        "From: Burst Sender <burst@new.example>\r\nTo: support@acme.test\r\n\
                         Subject: Order {i} never arrived\r\nMessage-ID: <burst-{i}@new.example>\r\n\r\n\
                         My order number {i} has not arrived after two weeks.\r\n"
                    );
                    receive(&ctx, raw.as_bytes()).await
                })
            })
            .collect();
        for r in runs {
            let out = r.await.unwrap().expect("intake");
            assert!(matches!(out, Intake::Created { .. }), "{out:?}");
        }
        let db = &app.ctx.db.read;
        let senders = user::Entity::find()
            .filter(user::Column::Email.eq("burst@new.example"))
            .all(db)
            .await
            .unwrap();
        assert_eq!(senders.len(), 1, "one contact for the sender");
        let tickets = ticket::Entity::find()
            .filter(ticket::Column::RequesterId.eq(senders[0].id))
            .count(db)
            .await
            .unwrap();
        assert_eq!(tickets, 16);
    }
);
