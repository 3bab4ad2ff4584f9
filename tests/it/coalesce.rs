//! On PostgreSQL, ticket reads and account reads that arrive together go to the database as
//! one statement over arrays (`db::coalesce`). Each request must still get exactly its own
//! answer: its own visibility, its own 404 or 401, and one failing read must not fail the
//! reads it was batched with.

use crate::harness::*;
use crate::{both_backends, on_both};
use serde_json::Value;
use triage::db::direct::{Cells, FromCells};
use triage::tickets::model::Role;

/// Sends every `(token, path)` GET at once and returns `(status, body)` in order.
async fn all_at_once(app: &TestApp, requests: &[(String, String)]) -> Vec<(u16, Value)> {
    let tasks = requests
        .iter()
        .map(|(token, path)| {
            let req = app
                .client
                .get(format!("{}{path}", app.base))
                .bearer_auth(token);
            tokio::spawn(async move {
                let r = Res::read(req.send().await.expect("request")).await;
                (r.status.as_u16(), r.body)
            })
        })
        .collect();
    joined(tasks).await
}

both_backends!(
    ticket_reads_sent_together_each_get_their_own_answer,
    |app: TestApp| async move {
        let (_, admin) = app.user(Role::Admin, "Batch Admin").await;
        let (agent_a, tok_a) = app.user(Role::Agent, "Batch Agent A").await;
        let (agent_b, jwt_b) = app.user_jwt(Role::Agent, "Batch Agent B").await;
        let (_, alice) = app.user(Role::Customer, "Batch Alice").await;
        let (_, bob) = app.user(Role::Customer, "Batch Bob").await;
        let alice_open = app.ticket(&alice, "Alice's open one", "high").await;
        let alice_b = app.ticket(&alice, "Alice's, with agent B", "low").await;
        let bob_a = app.ticket(&bob, "Bob's, with agent A", "urgent").await;
        app.assign(&admin, &alice_b, agent_b).await;
        app.assign(&admin, &bob_a, agent_a).await;

        let by_id = |t: &Value| format!("/api/v1/tickets/{}", t["id"]);
        let by_number = |t: &Value| {
            format!(
                "/api/v1/tickets/{}",
                t["number"].as_str().unwrap().to_lowercase()
            )
        };
        let paths = [
            by_id(&alice_open),
            by_id(&alice_b),
            by_id(&bob_a),
            by_number(&alice_b),
            by_number(&bob_a),
            "/api/v1/tickets/99999999".to_string(),
        ];
        let tokens = [
            admin.clone(),
            tok_a.clone(),
            jwt_b.clone(),
            alice.clone(),
            bob.clone(),
            "tri_not-a-real-token".to_string(),
        ];
        let mut requests = Vec::new();
        for t in &tokens {
            for p in &paths {
                requests.push((t.clone(), p.clone()));
            }
        }

        // Each request alone first: what every batched answer must equal.
        let mut alone = Vec::new();
        for (t, p) in &requests {
            let r = app.get(p, t).await;
            alone.push((r.status.as_u16(), r.body.clone()));
        }
        let status = |token: &str, path: &str| {
            let i = requests
                .iter()
                .position(|(t, p)| t == token && p == path)
                .unwrap();
            alone[i].0
        };
        // The answers alone are the visibility rules, not just any answers.
        assert_eq!(status(&admin, &by_id(&bob_a)), 200);
        assert_eq!(status(&tok_a, &by_id(&bob_a)), 200, "assigned to A");
        assert_eq!(status(&tok_a, &by_id(&alice_b)), 404, "assigned to B");
        assert_eq!(status(&tok_a, &by_number(&alice_b)), 404);
        assert_eq!(status(&jwt_b, &by_number(&alice_b)), 200);
        assert_eq!(status(&alice, &by_id(&bob_a)), 404, "Bob's");
        assert_eq!(status(&bob, &by_number(&bob_a)), 200);
        assert_eq!(status(&admin, "/api/v1/tickets/99999999"), 404);
        for p in &paths {
            assert_eq!(status("tri_not-a-real-token", p), 401);
        }
        let i = requests
            .iter()
            .position(|(t, p)| t == &alice && p == &by_id(&alice_b))
            .unwrap();
        assert_eq!(alone[i].1["subject"], "Alice's, with agent B");
        assert_eq!(alone[i].1["assignee"]["id"], agent_b);

        // Then all at once, three of each, until PostgreSQL has batched some of them.
        let thrice: Vec<_> = requests
            .iter()
            .chain(&requests)
            .chain(&requests)
            .cloned()
            .collect();
        let postgres = app.ctx.db.is_postgres();
        let mut rounds = 0;
        loop {
            rounds += 1;
            let got = all_at_once(&app, &thrice).await;
            for (k, (status, body)) in got.iter().enumerate() {
                let (want_status, want_body) = &alone[k % requests.len()];
                let (t, p) = &requests[k % requests.len()];
                assert_eq!(status, want_status, "{t} {p}: {body}");
                if *status == 200 {
                    assert_eq!(body, want_body, "{t} {p}");
                } else {
                    assert_eq!(body["code"], want_body["code"], "{t} {p}");
                }
            }
            let batched = app.metric("triage_db_batched_reads_total").await;
            if !postgres {
                assert_eq!(
                    batched, None,
                    "SQLite reads on the calling thread, unbatched"
                );
                break;
            }
            if batched.is_some_and(|n| n > 0) {
                break;
            }
            assert!(rounds < 20, "no reads were batched in {rounds} rounds");
        }
    }
);

/// `n`, a text and a flag as one statement returns them.
#[derive(Debug, PartialEq)]
struct Echo(i64, Option<String>, bool);

impl FromCells for Echo {
    fn from_cells(row: &impl Cells) -> Result<Self, sea_orm::DbErr> {
        Ok(Echo(row.at(0)?, row.at(1)?, row.at(2)?))
    }
}

on_both!(
    batched_reads_keep_values_types_and_failures_apart,
    |backend: Backend| async move {
        use sea_orm::{DbBackend, Statement, Value as V};
        let app = TestApp::spawn(backend).await;
        let db = app.ctx.db.clone();
        let pg = db.is_postgres();
        // The same statement in each backend's placeholder spelling.
        let statement = |sql: &str, values: Vec<V>| {
            let (backend, sql) = if pg {
                (DbBackend::Postgres, sql.to_string())
            } else {
                (DbBackend::Sqlite, sql.replace('$', "?"))
            };
            Statement::from_sql_and_values(backend, sql, values)
        };
        // Two texts with different value types, NULLs among them, and a division that fails
        // for one read only.
        let echo = |n: i64, text: Option<&str>, flag: bool| {
            statement(
                "SELECT $1 * 2, $2 || '!', NOT $3",
                vec![
                    V::BigInt(Some(n)),
                    V::String(text.map(String::from)),
                    V::Bool(Some(flag)),
                ],
            )
        };
        let divide = |d: i64| {
            statement(
                "SELECT 100 / $1, CAST(NULL AS TEXT), TRUE",
                vec![V::BigInt(Some(d))],
            )
        };
        for round in 0..20 {
            let mut tasks = Vec::new();
            for i in 0..48i64 {
                let db = db.clone();
                let stmt = match i % 3 {
                    0 => echo(i, (i % 2 == 0).then_some("é-text"), i % 4 == 0),
                    1 => divide(i % 7),
                    _ => echo(-i, None, true),
                };
                tasks.push(tokio::spawn(async move {
                    db.read_coalesced(stmt, &triage::db::direct::RowsOf::<Echo>::default())
                        .await
                }));
            }
            let got = joined(tasks).await;
            for (i, r) in (0..48i64).zip(got) {
                match i % 3 {
                    0 => assert_eq!(
                        r.expect("echo"),
                        vec![Echo(
                            2 * i,
                            (i % 2 == 0).then(|| "é-text!".into()),
                            i % 4 != 0
                        )]
                    ),
                    1 if i % 7 == 0 => {
                        // SQLite gives NULL for a division by zero; PostgreSQL refuses it.
                        if pg {
                            assert!(r.is_err(), "division by zero must fail alone");
                        }
                    }
                    1 => assert_eq!(r.expect("division"), vec![Echo(100 / (i % 7), None, true)]),
                    _ => assert_eq!(r.expect("echo"), vec![Echo(-2 * i, None, false)]),
                }
            }
            let batches = db
                .coalesce
                .as_ref()
                .map(|c| c.stats().batches.load(std::sync::atomic::Ordering::Relaxed));
            match batches {
                None => {
                    assert!(!pg);
                    break;
                }
                Some(n) if n > 0 => break,
                Some(_) => assert!(round < 19, "nothing was batched"),
            }
        }
    }
);

/// While a batch is in flight a read or two are held back to go with the next ones, but only
/// briefly: a slow statement must not hold up the reads that arrive behind it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_reads_behind_a_slow_batch_are_not_held_up_by_it() {
    use sea_orm::{DbBackend, Statement, Value as V};
    use std::time::{Duration, Instant};
    if pg_url().is_none() {
        eprintln!("TRIAGE_TEST_DATABASE_URL not set: PostgreSQL variant not run");
        return;
    }
    let app = TestApp::spawn(Backend::Postgres).await;
    let _dir = app.dir_guard();
    let db = app.ctx.db.clone();
    let read = |sql: &str, n: i64| {
        let (db, stmt) = (
            db.clone(),
            Statement::from_sql_and_values(DbBackend::Postgres, sql, vec![V::BigInt(Some(n))]),
        );
        tokio::spawn(async move {
            let rows = db
                .read_coalesced(stmt, &triage::db::direct::RowsOf::<Echo>::default())
                .await;
            (rows, Instant::now())
        })
    };
    let sleep_for = Duration::from_secs(3);
    let started = Instant::now();
    let slow = read("SELECT $1 * 2, (SELECT 'slept' FROM pg_sleep(3)), TRUE", 1);
    // The slow read is in flight (it sleeps in PostgreSQL) before the quick ones arrive.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let quick: Vec<_> = (0..2)
        .map(|n| read("SELECT $1 * 2, CAST(NULL AS TEXT), FALSE", n))
        .collect();
    for (n, task) in (0..2i64).zip(quick) {
        let (rows, at) = task.await.expect("quick read");
        assert_eq!(rows.expect("quick rows"), vec![Echo(2 * n, None, false)]);
        assert!(
            at.duration_since(started) < sleep_for - Duration::from_millis(1500),
            "a quick read waited {:?} behind a slow one",
            at.duration_since(started)
        );
    }
    let (rows, at) = slow.await.expect("slow read");
    assert_eq!(
        rows.expect("slow rows"),
        vec![Echo(2, Some("slept".into()), true)]
    );
    assert!(
        at.duration_since(started) >= sleep_for,
        "the slow read did sleep"
    );
}
