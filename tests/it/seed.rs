//! The bulk seeder: rows of realistic shape (threads, tags, ratings, files) that the API
//! reads as it reads real ones, and indexes set aside for a load that always come back.

use crate::bench::column;
use crate::both_backends;
use crate::harness::{Backend, TestApp, pg_url};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use triage::db::entities::{message, ticket};
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
        // On PostgreSQL the triggers copied each ticket's tags to its row.
        assert_eq!(app.tag_list_drift().await, 0);
        assert_eq!(app.rated_drift().await, 0);
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
