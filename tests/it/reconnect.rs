//! PostgreSQL connections that the server cut while they sat in a pool (a restart, an
//! administrator's `pg_terminate_backend`, a dropped link) must not reach a request: a pooled
//! connection idle for a while is tested before use and replaced when dead, and a batch of
//! reads whose connection died is answered through the pool.

use crate::harness::*;
use serde_json::json;
use std::time::Duration;
use triage::db::pg_pool::TEST_AFTER_IDLE;
use triage::tickets::model::Role;

/// Ends every other backend connected to the app's database; returns how many.
async fn cut_every_connection(url: &str) -> i64 {
    let admin = sqlx::PgPool::connect(url).await.expect("connect as admin");
    let (cut,): (i64,) = sqlx::query_as(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_one(&admin)
    .await
    .expect("terminate backends");
    admin.close().await;
    cut
}

/// Every path in `paths` fetched at once by `token`.
async fn all_at_once(app: &TestApp, paths: &[String], token: &str) -> Vec<Res> {
    let tasks = paths
        .iter()
        .map(|p| {
            let req = app
                .client
                .get(format!("{}{p}", app.base))
                .bearer_auth(token);
            tokio::spawn(async move { Res::read(req.send().await.expect("send")).await })
        })
        .collect();
    joined(tasks).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_after_the_server_cut_idle_connections_succeed() {
    if pg_url().is_none() {
        eprintln!("TRIAGE_TEST_DATABASE_URL not set: PostgreSQL-only test not run");
        return;
    }
    let app = TestApp::spawn(Backend::Postgres).await;
    let (_, admin) = app.user(Role::Admin, "Reconnect Admin").await;
    let (_, alice) = app.user(Role::Customer, "Reconnect Alice").await;
    let mut tickets = Vec::new();
    for i in 0..4 {
        tickets.push(
            app.ticket(&alice, &format!("Printer jam {i}"), "high")
                .await,
        );
    }
    // Every pool has open connections now: reads, writes, batched reads.
    let paths: Vec<String> = tickets
        .iter()
        .map(|t| format!("/api/v1/tickets/{}", t["id"]))
        .collect();
    for r in all_at_once(&app, &paths, &admin).await {
        r.ok(200);
    }

    let cut = cut_every_connection(&app.ctx.config.database_url).await;
    assert!(cut >= 3, "the app held connections to cut, found {cut}");
    tokio::time::sleep(TEST_AFTER_IDLE + Duration::from_millis(300)).await;

    // One by one, then at once (batched reads), every kind of request still answers.
    for (t, p) in tickets.iter().zip(&paths) {
        let got = app.get(p, &admin).await;
        assert_eq!(got.ok(200)["subject"], t["subject"], "{p}");
    }
    let list = app
        .get("/api/v1/tickets?priority=high&limit=50", &admin)
        .await;
    assert_eq!(list.ok(200)["data"].as_array().map(Vec::len), Some(4));
    let created = app
        .post(
            "/api/v1/tickets",
            &alice,
            json!({"subject": "Scanner offline", "description": "Since the restart.", "category": "general"}),
        )
        .await;
    created.ok(201);
    let comment = app
        .post(
            &format!("{}/comments", paths[0]),
            &admin,
            json!({"body": "Looking into it.", "internal": true}),
        )
        .await;
    comment.ok(201);
    for (r, t) in all_at_once(&app, &paths, &alice).await.iter().zip(&tickets) {
        assert_eq!(r.ok(200)["id"], t["id"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_connection_whose_statement_was_cancelled_is_not_reused() {
    use sea_orm::{DbBackend, Statement};
    use sqlx::postgres::PgConnectOptions;
    use std::str::FromStr;
    use triage::db::keeper::Keeper;
    let Some(url) = pg_url() else {
        eprintln!("TRIAGE_TEST_DATABASE_URL not set: PostgreSQL-only test not run");
        return;
    };
    let keeper = Keeper::new(PgConnectOptions::from_str(&url).expect("url"), 1);
    let stmt = |sql: &str| Statement::from_string(DbBackend::Postgres, sql.to_string());
    let backend_pid = || async {
        let rows = keeper
            .query_all(&stmt("SELECT pg_backend_pid()"))
            .await
            .expect("read");
        rows[0].try_get_by_index::<i32>(0).expect("pid")
    };
    let first = backend_pid().await;
    let again = backend_pid().await;
    assert_eq!(
        first, again,
        "a finished statement gives its connection back"
    );

    // The request is dropped while PostgreSQL is still working on its statement.
    let slow = stmt("SELECT 7 AS n FROM pg_sleep(0.5)");
    let cut = tokio::time::timeout(Duration::from_millis(100), keeper.query_all(&slow)).await;
    assert!(cut.is_err(), "the slow statement was still running");
    let rows = keeper
        .query_all(&stmt("SELECT 42 AS answer, pg_backend_pid()"))
        .await
        .expect("the next statement runs on a clean connection");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].try_get_by_index::<i32>(0).expect("answer"), 42);
    let now = rows[0].try_get_by_index::<i32>(1).expect("pid");
    assert_ne!(
        now, first,
        "the cancelled statement's connection was dropped, not kept"
    );

    // PostgreSQL's own error leaves the connection ready: it is kept.
    let failed = keeper.query_all(&stmt("SELECT 1 / 0")).await;
    assert!(failed.is_err());
    let after = backend_pid().await;
    assert_eq!(
        after, now,
        "a statement that failed in SQL keeps its connection"
    );
    keeper.close().await;
    assert!(keeper.query_all(&stmt("SELECT 1")).await.is_err(), "closed");
}
