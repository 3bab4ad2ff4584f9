//! The bulk seeder and `triage bench`'s load driver against the real app.

use crate::both_backends;
use crate::harness::{Backend, TestApp, pg_url};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;
use triage::db::entities::{message, ticket};
use triage::db::mail_entities::inbound_mail;
use triage::tickets::model::Role;

both_backends!(
    bulk_seeded_tickets_look_like_real_ones,
    |app: TestApp| async move {
        let (_, admin) = app.user(Role::Admin, "Lead").await;
        let (agent, _) = app.user(Role::Agent, "Sam").await;
        let r = triage::demo::seed_bulk(&app.ctx, &[agent], 3000, &|_, _| {})
            .await
            .expect("seed");
        assert_eq!(r.tickets, 3000);
        assert!(r.messages > 1000, "threads seeded: {}", r.messages);
        // Counters kept by the triggers agree with the rows.
        let stats = app.get("/api/v1/stats", &admin).await;
        let stats = stats.ok(200);
        assert_eq!(stats["total"], 3000);
        let by_status: i64 = stats["by_status"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_i64().unwrap())
            .sum();
        assert_eq!(by_status, 3000);
        assert!(stats["by_status"]["closed"].as_i64().unwrap() > 1000);
        assert!(stats["by_status"]["open"].as_i64().unwrap() > 0);
        // The search index has them.
        let found = app.get("/api/v1/tickets?q=refund&limit=100", &admin).await;
        let found = found.ok(200)["data"].as_array().unwrap().clone();
        assert!(!found.is_empty());
        for t in &found {
            let text = format!("{} {}", t["subject"], t["description"]).to_lowercase();
            assert!(text.contains("refund"), "{text}");
        }
        // Tags as agents leave them: on most tickets, a few tags carrying most of them.
        let tagged = app
            .get("/api/v1/tickets?tag=billing&limit=100", &admin)
            .await;
        let tagged = tagged.ok(200)["data"].as_array().unwrap().clone();
        assert_eq!(tagged.len(), 100, "billing is the commonest tag");
        for t in &tagged {
            let tags: Vec<&str> = t["tags"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|v| v.as_str())
                .collect();
            assert!(tags.contains(&"billing"), "{tags:?}");
            assert!(
                tags.windows(2).all(|w| w[0] < w[1]),
                "sorted, distinct: {tags:?}"
            );
        }
        let tag_rows = app.scalar("SELECT COUNT(*) FROM ticket_tags").await;
        // The report counts what went in.
        assert_eq!(r.extras.tags as i64, tag_rows);
        let ratings = app.scalar("SELECT COUNT(*) FROM ratings").await;
        assert_eq!(r.extras.ratings as i64, ratings);
        let files = app.scalar("SELECT COUNT(*) FROM attachments").await;
        assert_eq!(r.extras.files as i64, files);
        assert!(
            (2400..=3600).contains(&tag_rows),
            "~0.9 tags a ticket: {tag_rows}"
        );
        // A fifth of solved tickets carry the customer's rating, and their view shows it.
        let solved = app
            .scalar("SELECT COUNT(*) FROM tickets WHERE status IN ('resolved', 'closed')")
            .await;
        let rated = app.scalar("SELECT COUNT(*) FROM ratings").await;
        assert!(
            rated * 100 >= solved * 14 && rated * 100 <= solved * 26,
            "{rated} ratings of {solved} solved tickets"
        );
        let one = app
            .scalar("SELECT MIN(ticket_id) FROM ratings WHERE score = 5")
            .await;
        let view = app.get(&format!("/api/v1/tickets/{one}"), &admin).await;
        assert_eq!(view.ok(200)["rating"]["score"], 5, "{:?}", view.body);
        seeded_files_are_real(&app, &admin).await;
        // A closed ticket has a thread, due times and history.
        let closed = ticket::Entity::find()
            .filter(ticket::Column::Status.eq("closed"))
            .one(&app.ctx.db.read)
            .await
            .unwrap()
            .unwrap();
        assert!(closed.first_response_at.is_some() && closed.closed_at.is_some());
        assert!(closed.resolved_at.unwrap() >= closed.first_response_at.unwrap());
        assert!(closed.resolution_due_at.is_some());
        let thread = app
            .get(&format!("/api/v1/tickets/{}/comments", closed.id), &admin)
            .await;
        assert!(!thread.ok(200).as_array().unwrap().is_empty());
        let history = app
            .get(&format!("/api/v1/tickets/{}/history", closed.id), &admin)
            .await;
        assert!(!history.ok(200).as_array().unwrap().is_empty());
        // Alerts that would have fired are marked sent: the first sweep is not a storm.
        let now = app.ctx.clock.now_micros();
        let due = ticket::Entity::find()
            .filter(ticket::Column::SlaNextAt.lte(now))
            .count(&app.ctx.db.read)
            .await
            .unwrap();
        assert_eq!(due, 0);
        // Normal writes continue after the bulk ids (the PostgreSQL sequence moved on).
        let t = app.ticket(&admin, "After the bulk load", "high").await;
        assert!(t["id"].as_i64().unwrap() > closed.id);
        // Topping up adds to what is there.
        triage::demo::seed_bulk(&app.ctx, &[agent], 500, &|_, _| {})
            .await
            .expect("top up");
        let total = ticket::Entity::find()
            .count(&app.ctx.db.read)
            .await
            .unwrap();
        assert_eq!(total, 3501);
        let orphans = message::Entity::find()
            .filter(message::Column::TicketId.gt(total as i64 + 10))
            .count(&app.ctx.db.read)
            .await
            .unwrap();
        assert_eq!(orphans, 0);
    }
);

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

/// Seeded files: on about a tenth of the tickets' opening posts, shown by the ticket view and
/// list pages exactly as the rows say (in upload order), their bytes downloadable.
async fn seeded_files_are_real(app: &TestApp, admin: &str) {
    let with_files = app
        .scalar("SELECT COUNT(DISTINCT ticket_id) FROM attachments")
        .await;
    assert!((200..=400).contains(&with_files), "{with_files} of 3000");
    let on_replies = app
        .scalar("SELECT COUNT(*) FROM attachments WHERE message_row IS NOT NULL")
        .await;
    assert_eq!(on_replies, 0, "seeded files belong to opening posts");
    // The triggers counted them on their tickets.
    let counted = app
        .scalar("SELECT COUNT(*) FROM tickets WHERE opening_files > 0")
        .await;
    assert_eq!(counted, with_files);
    assert_eq!(app.opening_files_drift().await, 0);
    let two = app
        .scalar("SELECT MIN(ticket_id) FROM (SELECT ticket_id FROM attachments GROUP BY ticket_id HAVING COUNT(*) = 2) t")
        .await;
    let view = app.get(&format!("/api/v1/tickets/{two}"), admin).await;
    let files = view.ok(200)["attachments"].as_array().unwrap().clone();
    let sql = "SELECT id, filename, content_type, size FROM attachments WHERE ticket_id = CAST($1 AS BIGINT) ORDER BY id";
    let key = two.to_string();
    let ids: Vec<i64> = column(app, sql, &key, "id").await;
    let names: Vec<String> = column(app, sql, &key, "filename").await;
    let sizes: Vec<i64> = column(app, sql, &key, "size").await;
    assert_eq!(files.len(), 2, "{files:?}");
    for (i, f) in files.iter().enumerate() {
        assert_eq!(f["id"], ids[i]);
        assert_eq!(f["filename"], names[i].as_str());
        assert_eq!(f["size"], sizes[i]);
    }
    // A list page carries each ticket's files too.
    let page = app.get("/api/v1/tickets?limit=100", admin).await;
    let page = page.ok(200)["data"].as_array().unwrap().clone();
    let mut shown = 0;
    for t in &page {
        let count = app
            .scalar(&format!(
                "SELECT COUNT(*) FROM attachments WHERE ticket_id = {}",
                t["id"]
            ))
            .await;
        let listed = t["attachments"].as_array().unwrap().len() as i64;
        assert_eq!(listed, count, "ticket {}", t["id"]);
        shown += listed;
    }
    assert!(shown > 0, "a page of 100 has some files");
    // The stored bytes behind a seeded screenshot are a real PNG of the recorded size.
    let png = app
        .scalar("SELECT MIN(id) FROM attachments WHERE content_type = 'image/png'")
        .await;
    let owner = app
        .scalar(&format!(
            "SELECT ticket_id FROM attachments WHERE id = {png}"
        ))
        .await;
    let size = app
        .scalar(&format!("SELECT size FROM attachments WHERE id = {png}"))
        .await;
    let got = crate::attachments::fetch(
        app,
        &format!("/api/v1/tickets/{owner}/attachments/{png}"),
        Some(admin),
    )
    .await;
    assert_eq!(got.status(), 200);
    assert_eq!(got.headers()["content-type"], "image/png");
    let bytes = got.bytes().await.unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
    assert_eq!(bytes.len() as i64, size);
}

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
async fn column<T: sea_orm::TryGetable>(
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

/// Names of the indexes on `table`, from the catalog.
async fn index_names(app: &TestApp, table: &str) -> Vec<String> {
    use sea_orm::DatabaseBackend;
    let backend = app.ctx.db.read.get_database_backend();
    let sql = if backend == DatabaseBackend::Postgres {
        "SELECT indexname AS name FROM pg_indexes WHERE schemaname = current_schema() \
         AND tablename = $1 ORDER BY 1"
    } else {
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = $1 ORDER BY 1"
    };
    column(app, sql, table, "name").await
}

both_backends!(
    indexes_set_aside_for_a_bulk_load_come_back_even_after_a_crash,
    |app: TestApp| async move {
        let app = app;
        let (_, admin) = app.user(Role::Admin, "Lead").await;
        let (agent, _) = app.user(Role::Agent, "Sam").await;
        let tables = ["tickets", "messages", "ticket_events"];
        let mut before = Vec::new();
        for t in tables {
            before.push(index_names(&app, t).await);
        }
        assert!(
            before[0].iter().any(|n| n == "tickets_status_idx"),
            "{before:?}"
        );
        // A load big enough to set the indexes aside: they are all back afterwards.
        let r = triage::demo::seed_bulk(&app.ctx, &[agent], 20_000, &|_, _| {})
            .await
            .expect("seed");
        assert_eq!(r.tickets, 20_000);
        for (t, names) in tables.iter().zip(&before) {
            assert_eq!(&index_names(&app, t).await, names, "{t}");
        }
        // A crash between setting aside and rebuilding: the record survives, and the next
        // process to open the database builds every index again.
        let now = app.ctx.clock.now_micros();
        let n = triage::db::deferred::set_aside(&app.ctx.db, &tables, now)
            .await
            .unwrap();
        assert!(n >= 8, "{n} indexes set aside");
        let status_idx = index_names(&app, "tickets").await;
        assert!(!status_idx.iter().any(|n| n == "tickets_status_idx"));
        let config = (*app.ctx.config).clone();
        let reopened = triage::app::open_context(config, triage::clock::Clock::default())
            .await
            .expect("reopen");
        for (t, names) in tables.iter().zip(&before) {
            assert_eq!(&index_names(&app, t).await, names, "{t} after restart");
        }
        assert_eq!(
            triage::db::deferred::rebuild(&reopened.db).await.unwrap(),
            0
        );
        reopened.db.close().await;
        // Lists still page in order with the rebuilt indexes.
        let page = app
            .get("/api/v1/tickets?status=open,closed&limit=5", &admin)
            .await;
        assert_eq!(page.ok(200)["data"].as_array().unwrap().len(), 5);
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
