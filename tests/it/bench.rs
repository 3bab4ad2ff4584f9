//! `triage bench` against the real app: every scenario, mail intake, search pages against SQL,
//! and how its server and clients start and stop.

use crate::both_backends;
use crate::harness::{Backend, TestApp, pg_url};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;
use triage::db::entities::{message, ticket};
use triage::db::mail_entities::inbound_mail;
use triage::tickets::model::Role;

both_backends!(
    bench_drives_every_scenario_without_errors,
    |app: TestApp| async move {
        let (_, admin) = app.user(Role::Admin, "Lead").await;
        let (agent, _) = app.user(Role::Agent, "Sam").await;
        triage::demo::seed_bulk(&app.ctx, &[agent], 1500, &|_, _| {})
            .await
            .expect("seed");
        let out = std::env::temp_dir().join(format!("bench-{}.json", uuid::Uuid::new_v4()));
        let report = triage::bench::run(triage::bench::BenchOptions {
            url: Some(app.base.clone()),
            email: None,
            password: None,
            token: Some(admin.clone()),
            tickets: 0,
            clients: 2,
            create_clients: 2,
            seconds: 1,
            // `mail` writes to the database itself, so it needs the bench's own server.
            scenarios: triage::bench::load::SCENARIOS
                .iter()
                .filter(|s| **s != "mail")
                .map(|s| s.to_string())
                .collect(),
            json: Some(out.clone()),
            database_url: None,
            data_dir: None,
            sqlite_synchronous: "full".into(),
            deep_pages: 5,
            settle_seconds: 60,
        })
        .await
        .expect("bench");
        assert_eq!(
            report.results.len(),
            triage::bench::load::SCENARIOS.len() - 1
        );
        for r in &report.results {
            assert!(r.ok > 0, "{} did nothing", r.scenario);
            assert_eq!(r.errors, 0, "{}: {:?}", r.scenario, r.first_error);
            assert!(r.p50_ms <= r.p99_ms && r.p99_ms <= r.max_ms);
            // The server reports its queue, so every scenario began on a settled one.
            let settled = r.settled.expect("waited for background jobs");
            assert!(!settled.timed_out, "{}: {settled:?}", r.scenario);
            // Linux counts the CPU time the hypervisor took, so each scenario says how much.
            let steal = r.steal_pct.expect("steal measured from /proc/stat");
            assert!((0.0..=100.0).contains(&steal), "{}: {steal}", r.scenario);
        }
        // Every acknowledged create is in the database.
        let created = report.results[0].ok;
        let total = ticket::Entity::find()
            .count(&app.ctx.db.read)
            .await
            .unwrap();
        assert!(total >= 1500 + created, "{total} < 1500 + {created}");
        let saved: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
        assert_eq!(saved["results"][0]["scenario"], json!("create"));
        assert!(saved["results"][0]["steal_pct"].is_number());
        let _ = std::fs::remove_file(out);
    }
);

both_backends!(
    mail_scenario_creates_threads_and_drops_auto_replies,
    |app: TestApp| async move {
        use triage::bench::load::drive;
        use triage::bench::mail::MailLoad;
        // The block would otherwise capture only `app.ctx` and drop the data dir at once.
        let app = app;
        let before = ticket::Entity::find()
            .count(&app.ctx.db.read)
            .await
            .unwrap();
        let load = std::sync::Arc::new(MailLoad::new(app.ctx.clone()));
        let r = drive(load, "mail", 4, std::time::Duration::from_secs(2), None).await;
        assert_eq!(r.errors, 0, "{:?}", r.first_error);
        assert!(r.ok > 20, "only {} messages taken in", r.ok);
        // Every outcome was checked by the load itself; check the rows agree with it.
        let db = &app.ctx.db.read;
        let logged = |outcome: &'static str| async move {
            inbound_mail::Entity::find()
                .filter(inbound_mail::Column::Outcome.eq(outcome))
                .count(db)
                .await
                .unwrap()
        };
        let (created, threaded, ignored) = (
            logged("created").await,
            logged("threaded").await,
            logged("ignored").await,
        );
        assert_eq!(
            created + threaded + ignored,
            r.ok,
            "every message logged once"
        );
        assert!(
            created > 0 && threaded > 0 && ignored > 0,
            "{created}/{threaded}/{ignored}"
        );
        let email_tickets = ticket::Entity::find()
            .filter(ticket::Column::Channel.eq("email"))
            .count(db)
            .await
            .unwrap();
        assert_eq!(email_tickets, created);
        let replies = message::Entity::find().count(db).await.unwrap();
        assert!(
            replies >= threaded,
            "{replies} messages, {threaded} replies threaded"
        );
        let out_of_office = ticket::Entity::find()
            .filter(ticket::Column::Subject.eq("Out of office"))
            .count(db)
            .await
            .unwrap();
        assert_eq!(out_of_office, 0, "auto-replies never open tickets");
        let total = ticket::Entity::find()
            .count(&app.ctx.db.read)
            .await
            .unwrap();
        assert_eq!(total, before + created);
    }
);

/// Ticket ids matching `word` in the list's default order, straight from SQL (all matches
/// read and sorted: the plan the list uses only for rare words).
async fn matches_in_order(app: &TestApp, word: &str, statuses: &[&str]) -> Vec<i64> {
    use sea_orm::DatabaseBackend;
    let backend = app.ctx.db.read.get_database_backend();
    let (text, p) = if backend == DatabaseBackend::Postgres {
        ("search @@ to_tsquery('simple', $1)", format!("{word}:*"))
    } else {
        (
            "id IN (SELECT rowid FROM tickets_fts WHERE tickets_fts MATCH $1)",
            format!("\"{word}\"*"),
        )
    };
    let status = if statuses.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = statuses.iter().map(|s| format!("'{s}'")).collect();
        format!(" AND status IN ({})", list.join(","))
    };
    let sql = format!(
        "SELECT id FROM tickets WHERE {text}{status} ORDER BY priority_rank DESC, created_at, id"
    );
    let sql = if backend == DatabaseBackend::Postgres {
        sql
    } else {
        sql.replace("$1", "?")
    };
    column(app, &sql, &p, "id").await
}

/// Column `name` of every row `sql` returns with `param` bound to `$1`.
pub(crate) async fn column<T: sea_orm::TryGetable>(
    app: &TestApp,
    sql: &str,
    param: &str,
    name: &str,
) -> Vec<T> {
    use sea_orm::{ConnectionTrait, Statement};
    let backend = app.ctx.db.read.get_database_backend();
    app.ctx
        .db
        .read
        .query_all_raw(Statement::from_sql_and_values(backend, sql, [param.into()]))
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<T>("", name).unwrap())
        .collect()
}

/// Every page of `q=word` (and `statuses`) through the API, against SQL; returns the size.
async fn pages_match_sql(app: &TestApp, admin: &str, word: &str, statuses: &[&str]) -> usize {
    let expected = matches_in_order(app, word, statuses).await;
    let mut got = Vec::new();
    let mut cursor = String::new();
    loop {
        let mut path = format!("/api/v1/tickets?q={word}&limit=100&cursor={cursor}");
        if !statuses.is_empty() {
            path.push_str(&format!("&status={}", statuses.join(",")));
        }
        let page = app.get(&path, admin).await;
        let body = page.ok(200);
        got.extend(
            body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["id"].as_i64().unwrap()),
        );
        match body["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    assert_eq!(got, expected, "{word} {statuses:?}");
    expected.len()
}

both_backends!(
    searches_of_common_and_rare_words_page_in_list_order,
    |app: TestApp| async move {
        let (_, admin) = app.user(Role::Admin, "Lead").await;
        let (agent, _) = app.user(Role::Agent, "Sam").await;
        triage::demo::seed_bulk(&app.ctx, &[agent], 7000, &|_, _| {})
            .await
            .expect("seed");
        let searches = [
            ("the", &[][..]),
            ("the", &["open", "closed", "resolved"][..]),
            ("refund", &[][..]),
            ("vpn", &["open", "in_progress", "closed"][..]),
            ("zzzunseen", &[][..]),
        ];
        let mut sizes = Vec::new();
        for (word, statuses) in searches {
            sizes.push(pages_match_sql(&app, &admin, word, statuses).await);
        }
        let limit = triage::search::DRIVE_LIMIT as usize;
        assert!(
            sizes.iter().any(|n| *n > limit) && sizes.iter().any(|n| *n > 0 && *n <= limit),
            "both plans exercised: {sizes:?}"
        );
        if !app.ctx.db.is_postgres() {
            assert!(
                app.ctx.db.matches.held() > 0,
                "common words walked a match set"
            );
        }
        // New tickets (matched on top of cached sets), an edit that takes a word out of a
        // ticket and one that puts it in (the sets are rebuilt): still exactly what SQL says.
        let mut made = Vec::new();
        for subject in [
            "The printer again",
            "Refund for the VPN plan",
            "zzzunseen words",
        ] {
            let t = app
                .post(
                    "/api/v1/tickets",
                    &admin,
                    json!({"subject": subject, "description": "Opened after the first searches.", "category": "general"}),
                )
                .await
                .ok(201)
                .clone();
            made.push(t["id"].as_i64().unwrap());
        }
        for (word, statuses) in searches {
            pages_match_sql(&app, &admin, word, statuses).await;
        }
        let first_the = matches_in_order(&app, "the", &[]).await[0];
        app.patch(
            &format!("/api/v1/tickets/{first_the}"),
            &admin,
            json!({"subject": "Renamed: printer"}),
        )
        .await
        .ok(200);
        app.patch(
            &format!("/api/v1/tickets/{}", made[0]),
            &admin,
            json!({"subject": "zzzunseen after all"}),
        )
        .await
        .ok(200);
        for (word, statuses) in searches {
            pages_match_sql(&app, &admin, word, statuses).await;
        }
        let rare = matches_in_order(&app, "zzzunseen", &[]).await;
        assert_eq!(rare, vec![made[0], made[2]]);
    }
);

/// The bench's own server stops the way an operator stops one: it exits by itself and closes
/// its database (the WAL copied back), rather than being killed with its work half done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bench_stops_its_own_server_gracefully() {
    let dir = tempfile::tempdir().expect("tempdir");
    let srv = triage::bench::server::OwnServer::start(
        std::path::Path::new(env!("CARGO_BIN_EXE_triage")),
        dir.path(),
        None,
        "full",
        dir.path().join("server.log"),
    )
    .await
    .expect("server starts");
    let metrics = reqwest::get(format!("{}/metrics", srv.base))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    assert!(
        triage::bench::settle::due_jobs(&metrics).is_some(),
        "the queue is reported: {metrics}"
    );
    let wal = dir.path().join("triage.db-wal");
    assert!(
        std::fs::metadata(&wal).map_or(0, |m| m.len()) > 0,
        "start-up wrote to the WAL"
    );
    assert!(srv.stop().await, "exited by itself, with success");
    assert_eq!(
        std::fs::metadata(&wal).map_or(0, |m| m.len()),
        0,
        "the database was closed"
    );
}

/// A server that answers each request and then closes the connection, counting connections.
async fn closing_server() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let accepted = std::sync::Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let n = count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(k) => got.extend_from_slice(&buf[..k]),
                    }
                }
                let body = format!("conn {n}");
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(format!("{head}{body}").as_bytes()).await;
                let _ = s.shutdown().await;
            });
        }
    });
    (format!("http://{addr}"), accepted)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_client_replaces_a_connection_the_server_closed() {
    use triage::bench::client::{Client, Endpoint};
    let (base, accepted) = closing_server().await;
    let to = Endpoint::new(&base, "tok").expect("plain http endpoint");
    assert!(Endpoint::new("https://example.test", "tok").is_none());
    let mut client = Client::default();
    for i in 0..5 {
        let sent = client.send(&to, hyper::Method::GET, "/health", None);
        let (status, body) = tokio::time::timeout(std::time::Duration::from_secs(5), sent)
            .await
            .unwrap_or_else(|_| panic!("request {i}: no answer"))
            .unwrap_or_else(|e| panic!("request {i}: {e}"));
        assert_eq!(status, 200);
        assert_eq!(&body[..], format!("conn {i}").as_bytes());
        // Let the closed connection be noticed, as time passes between real requests.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 5);
}
