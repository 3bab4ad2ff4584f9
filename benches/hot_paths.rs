//! Criterion benchmarks for the hot pure code: ticket validation, mail intake's pure steps
//! (parse, classify, threading identifiers), reply-template rendering, the draft classifier and
//! the business-hours SLA calculator. Run with `cargo bench --bench hot_paths`.

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use triage::auth::tokens::Keys;
use triage::drafts::classify::{self, ChatMessage};
use triage::error::FieldErrors;
use triage::sla::calendar::Calendar;
use triage::tickets::validate;

fn validation(c: &mut Criterion) {
    let cats: Vec<String> = ["account", "billing", "technical", "bug", "general"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let tags = vec!["vip".to_string(), "Billing Issue".to_string()];
    c.bench_function("validate_new_ticket", |b| {
        b.iter(|| {
            let mut e = FieldErrors::new();
            let s = validate::subject(&mut e, black_box("  Cannot log in after password reset  "));
            let d = validate::description(
                &mut e,
                "description",
                black_box("I reset my password this morning but the login page keeps saying my credentials are invalid."),
            );
            let p = validate::priority(&mut e, black_box(Some("high")));
            let k = validate::category(&mut e, black_box("technical"), &cats);
            let t = validate::tags(&mut e, black_box(&tags));
            black_box((s, d, p, k, t, e))
        })
    });
}

fn mail_intake(c: &mut Criterion) {
    let keys = Keys::new("bench-secret");
    for name in ["reply_gmail_top_posted.eml", "new_outlook.eml"] {
        let raw = std::fs::read(format!("tests/fixtures/mail/{name}")).expect("fixture");
        c.bench_function(&format!("mail_examine/{name}"), |b| {
            b.iter(|| black_box(triage::mail::examine(black_box(&raw), &keys, "TKT")))
        });
    }
}

fn templates(c: &mut Criterion) {
    let body = "Hi {{ customer.first_name }},\n\nthanks for reporting {{ ticket.number }} \
                ({{ ticket.subject }}). {{ agent.name }} is on it.\n\nTrack it at {{ ticket.url }}";
    let vars = json!({
        "customer": {"name": "Ada Lovelace", "first_name": "Ada", "email": "ada@example.com"},
        "ticket": {"number": "TKT-20261122-7K3M9QXA", "subject": "Cannot log in", "status": "open",
                   "priority": "high", "category": "account", "url": "https://help.example.com/t/1"},
        "agent": {"name": "Sam Agent", "first_name": "Sam", "email": "sam@example.com"},
    });
    c.bench_function("render_reply_template", |b| {
        b.iter(|| black_box(triage::canned::render_body(black_box(body), &vars)))
    });
}

fn classifier(c: &mut Criterion) {
    let line = std::fs::read_to_string("tests/fixtures/drafts/transcripts.jsonl")
        .expect("fixture")
        .lines()
        .next()
        .unwrap_or("{}")
        .to_string();
    let v: serde_json::Value = serde_json::from_str(&line).expect("json");
    let messages: Vec<ChatMessage> =
        serde_json::from_value(v["messages"].clone()).expect("messages");
    c.bench_function("draft_from_transcript", |b| {
        b.iter(|| black_box(classify::draft(black_box(&messages))))
    });
}

fn sla_calendar(c: &mut Criterion) {
    let mut hours = BTreeMap::new();
    for d in ["mon", "tue", "wed", "thu", "fri"] {
        hours.insert(
            d.to_string(),
            vec!["09:00-12:00".to_string(), "13:00-17:00".to_string()],
        );
    }
    let cal =
        Calendar::parse("Europe/Berlin", &hours, &["2026-12-25".to_string()]).expect("calendar");
    let start = 1_795_000_000_000_000_i64;
    c.bench_function("sla_business_hours_add_5_days", |b| {
        b.iter(|| black_box(cal.add(black_box(start), 5 * 7 * 3_600_000_000)))
    });
}

criterion_group!(
    hot,
    validation,
    mail_intake,
    templates,
    classifier,
    sla_calendar
);
criterion_main!(hot);
