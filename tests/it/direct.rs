//! `db::direct`: on SQLite the hot reads (a ticket, a list page, the bearer's account) run on
//! rusqlite connections on the calling thread; they must return exactly what the pool returns.

use crate::harness::*;
use sea_orm::ConnectionTrait;
use serde_json::json;
use std::collections::BTreeMap;
use triage::auth::Actor;
use triage::db::Db;
use triage::tickets::model::Role;
use triage::tickets::query::{self, Sort};
use triage::tickets::view;

/// The same connections with the direct reads switched off: every read goes through the pool.
fn pooled(db: &Db) -> Db {
    Db {
        direct: None,
        ..db.clone()
    }
}

/// Tickets in varied states: tags, assignees, replies, statuses, an attachment-free mix.
async fn varied_tickets(app: &TestApp, admin: &str, agent_id: i64) -> Vec<i64> {
    let mut ids = Vec::new();
    for (i, priority) in ["low", "medium", "high", "urgent", "medium", "high"]
        .iter()
        .enumerate()
    {
        let t = app
            .post(
                "/api/v1/tickets",
                admin,
                json!({"subject": format!("Direct read {i} — ünïcode"), "description": "It's broken; ? and ' inside.",
                       "category": "technical", "priority": priority, "tags": ["zeta", "alpha", format!("t{i}")]}),
            )
            .await
            .ok(201)
            .clone();
        ids.push(t["id"].as_i64().unwrap());
    }
    let path = |id: i64| format!("/api/v1/tickets/{id}");
    for id in [ids[1], ids[4]] {
        app.post(
            &format!("{}/assign", path(id)),
            admin,
            json!({"agent_id": agent_id}),
        )
        .await
        .ok(200);
    }
    app.post(
        &format!("{}/comments", path(ids[2])),
        admin,
        json!({"body": "We are looking into it."}),
    )
    .await
    .ok(201);
    app.put(
        &format!("{}/status", path(ids[3])),
        admin,
        json!({"status": "closed"}),
    )
    .await
    .ok(200);
    app.put(
        &format!("{}/status", path(ids[4])),
        admin,
        json!({"status": "in_progress"}),
    )
    .await
    .ok(200);
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_reads_return_what_the_pool_returns() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    assert!(
        app.ctx.db.direct.is_some(),
        "a SQLite file database reads directly"
    );
    let (admin_id, admin) = app.user(Role::Admin, "Ada").await;
    let (agent_id, _) = app.user(Role::Agent, "Pia").await;
    let (customer_id, _) = app.user(Role::Customer, "Cy").await;
    let ids = varied_tickets(&app, &admin, agent_id).await;
    let (direct, pool) = (&app.ctx.db, &pooled(&app.ctx.db));
    let now = app.ctx.clock.now_micros();
    let actors = [
        Actor {
            id: admin_id,
            name: "Ada".into(),
            email: "ada@example.test".into(),
            role: Role::Admin,
        },
        Actor {
            id: agent_id,
            name: "Pia".into(),
            email: "pia@example.test".into(),
            role: Role::Agent,
        },
        Actor {
            id: customer_id,
            name: "Cy".into(),
            email: "cy@example.test".into(),
            role: Role::Customer,
        },
    ];
    let as_json = |v: &view::TicketView| serde_json::to_value(v).unwrap();

    for id in &ids {
        let d = view::load_by_id(direct, *id, now).await.unwrap();
        let p = view::load_by_id(pool, *id, now).await.unwrap();
        assert_eq!(as_json(&d), as_json(&p));
        assert_eq!(
            d.tags,
            vec![
                "alpha".to_string(),
                format!("t{}", ids.iter().position(|x| x == id).unwrap()),
                "zeta".into()
            ]
        );
        for a in &actors {
            for key in [id.to_string(), d.number.to_lowercase()] {
                let d = view::load_one(direct, a, &key, now).await;
                let p = view::load_one(pool, a, &key, now).await;
                match (d, p) {
                    (Ok(d), Ok(p)) => assert_eq!(as_json(&d), as_json(&p)),
                    (Err(d), Err(p)) => assert_eq!(d.to_string(), p.to_string()),
                    (d, p) => panic!(
                        "direct {:?} vs pool {:?} for {key} as {:?}",
                        d.is_ok(),
                        p.is_ok(),
                        a.role
                    ),
                }
            }
        }
    }
    // The assigned ticket carries its assignee; the customer sees none of the admin's tickets.
    let assigned = view::load_by_id(direct, ids[1], now).await.unwrap();
    assert_eq!(assigned.assignee.map(|a| a.id), Some(agent_id));
    assert!(
        view::load_one(direct, &actors[2], &ids[0].to_string(), now)
            .await
            .is_err()
    );

    let mut order = ids.clone();
    order.reverse();
    order.insert(2, 999_999);
    let d = view::load_many(direct, &order, now).await.unwrap();
    let p = view::load_many(pool, &order, now).await.unwrap();
    assert_eq!(
        d.iter().map(as_json).collect::<Vec<_>>(),
        p.iter().map(as_json).collect::<Vec<_>>()
    );
    assert_eq!(
        d.iter().map(|v| v.id).collect::<Vec<_>>(),
        order
            .iter()
            .copied()
            .filter(|i| *i != 999_999)
            .collect::<Vec<_>>()
    );

    // Every page of several filters and sorts, walked with the cursors, in both ways.
    for (filter, sort) in [
        ("", "-priority,created_at"),
        ("status=open,assigned,closed", "updated_at"),
        ("priority=high,medium", "-created_at"),
        (
            "status=open&priority=urgent,high,low",
            "priority,-updated_at,created_at",
        ),
    ] {
        let params: BTreeMap<String, String> = filter
            .split('&')
            .filter(|p| !p.is_empty())
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let filters = query::parse_filters(&params, admin_id).unwrap();
        let sort = Sort::parse(Some(sort)).unwrap();
        let walk = |db: Db| {
            let (filters, sort, actor) = (filters.clone(), sort.clone(), actors[0].clone());
            async move {
                let (mut all, mut cursor) = (Vec::new(), None::<String>);
                loop {
                    let (page, next) =
                        query::page_ids(&db, &actor, &filters, &sort, cursor.as_deref(), 2)
                            .await
                            .unwrap();
                    all.push(page);
                    match next {
                        Some(c) => cursor = Some(c),
                        None => return all,
                    }
                }
            }
        };
        let d = walk(direct.clone()).await;
        let p = walk(pool.clone()).await;
        assert_eq!(d, p, "{filter} sorted {sort:?}");
        assert!(d.iter().flatten().count() >= 2, "{filter}: {d:?}");
    }
}

/// Creates a plain ticket (a direct write on SQLite) and returns its id once the 201 is in.
async fn create_plain(client: &reqwest::Client, base: &str, token: &str, subject: &str) -> i64 {
    let created: serde_json::Value = client
        .post(format!("{base}/api/v1/tickets"))
        .bearer_auth(token)
        .json(
            &json!({"subject": subject, "description": "Read it back at once.",
                      "category": "technical", "priority": "low"}),
        )
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    created["id"].as_i64().expect("created")
}

/// The body of a GET that must answer 200.
async fn get_json(client: &reqwest::Client, url: &str, token: &str) -> serde_json::Value {
    let got = client
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .expect("send");
    assert_eq!(got.status(), 200, "{url}");
    got.json().await.expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_reads_see_every_acknowledged_write_at_once() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, admin) = app.user(Role::Admin, "Ada").await;
    // Each write's response comes after its commit; the next direct read must see it.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (app_base, admin) = (app.base.clone(), admin.clone());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            for j in 0..10 {
                let subject = format!("Seen {i}/{j}");
                let id = create_plain(&client, &app_base, &admin, &subject).await;
                let body =
                    get_json(&client, &format!("{app_base}/api/v1/tickets/{id}"), &admin).await;
                assert_eq!(body["subject"], subject);
            }
        }));
    }
    joined(tasks).await;
    let page = app.get("/api/v1/tickets?limit=100&q=", &admin).await;
    assert_eq!(
        page.ok(200)["data"].as_array().map(Vec::len),
        Some(80),
        "{}",
        page.text
    );
}

/// Ids on one page of `GET /api/v1/tickets?q=…`.
async fn found(app: &TestApp, token: &str, q: &str) -> Vec<i64> {
    let page = app
        .get(&format!("/api/v1/tickets?limit=100&q={q}"), token)
        .await;
    page.ok(200)["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|t| t["id"].as_i64())
        .collect()
}

/// Direct batches index their new tickets with one statement before the commit
/// (`schema_search::DIRECT_BATCH`): each ticket must be found the moment its 201 arrives, edits
/// must follow, and the index must match the table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tickets_of_direct_batches_are_found_at_once() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, admin) = app.user(Role::Admin, "Ada").await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (app_base, admin) = (app.base.clone(), admin.clone());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut made = Vec::new();
            for j in 0..10 {
                let word = format!("quokka{i}x{j}");
                let subject = format!("Printer {word} jammed");
                let id = create_plain(&client, &app_base, &admin, &subject).await;
                let page = get_json(
                    &client,
                    &format!("{app_base}/api/v1/tickets?q={word}"),
                    &admin,
                )
                .await;
                let ids: Vec<i64> = page["data"]
                    .as_array()
                    .expect("data")
                    .iter()
                    .filter_map(|t| t["id"].as_i64())
                    .collect();
                assert_eq!(ids, vec![id], "{word} found at once");
                made.push(id);
            }
            made
        }));
    }
    let made: Vec<i64> = joined(tasks).await.into_iter().flatten().collect();
    assert_eq!(found(&app, &admin, "jammed").await.len(), 80);
    // An edit moves the ticket from its old words to its new ones.
    app.patch(
        &format!("/api/v1/tickets/{}", made[17]),
        &admin,
        json!({"subject": "Scanner wombat"}),
    )
    .await
    .ok(200);
    assert_eq!(found(&app, &admin, "wombat").await, vec![made[17]]);
    assert!(found(&app, &admin, "quokka1x7").await.is_empty());
    assert_eq!(found(&app, &admin, "jammed").await.len(), 79);
    let db = &app.ctx.db.write;
    let left = db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DatabaseBackend::Sqlite,
            "SELECT (SELECT count(*) FROM search_pending) + (SELECT count(*) FROM search_defer)",
        ))
        .await
        .expect("read")
        .expect("row")
        .try_get_by_index::<i64>(0)
        .expect("count");
    assert_eq!(left, 0, "nothing left listed or flagged after the commits");
    // FTS5 compares every indexed term with the ticket table's text.
    db.execute_unprepared(
        "INSERT INTO tickets_fts(tickets_fts, rank) VALUES ('integrity-check', 1)",
    )
    .await
    .expect("the index matches the tickets");
}

/// A cell read as an optional string (a decoder for the checks below).
struct Texts;

impl triage::db::direct::Decode for Texts {
    type Row = (i64, Option<String>);
    fn decode(&self, row: &impl triage::db::direct::Cells) -> Result<Self::Row, sea_orm::DbErr> {
        Ok((row.at(0)?, row.at(1)?))
    }
}

/// The same columns read as integers.
struct Numbers;

impl triage::db::direct::Decode for Numbers {
    type Row = (i64, Option<i64>);
    fn decode(&self, row: &impl triage::db::direct::Cells) -> Result<Self::Row, sea_orm::DbErr> {
        Ok((row.at(0)?, row.at(1)?))
    }
}

crate::both_backends!(
    rows_of_a_result_decode_alike_and_types_are_still_checked,
    |app: TestApp| async move {
        use sea_orm::Statement;
        let db = &app.ctx.db;
        let sql = "SELECT CAST(1 AS BIGINT) AS n, CAST(NULL AS TEXT) AS t \
                   UNION ALL SELECT 2, 'two' UNION ALL SELECT 3, NULL \
                   UNION ALL SELECT 4, 'four' ORDER BY 1";
        let stmt = || Statement::from_string(db.backend, sql);
        // Many rows (types learnt on the first non-NULL cell) and one row read the same.
        let all = db.read_pooled(stmt(), &Texts).await.expect("rows");
        let want: Vec<(i64, Option<String>)> = vec![
            (1, None),
            (2, Some("two".into())),
            (3, None),
            (4, Some("four".into())),
        ];
        assert_eq!(all, want);
        let one = "SELECT CAST(9 AS BIGINT) AS n, 'nine' AS t";
        let one = Statement::from_string(db.backend, one);
        let one = db.read_pooled(one, &Texts).await.expect("row");
        assert_eq!(one, vec![(9, Some("nine".to_string()))]);
        // Text read as a number fails although the first row's cell is NULL (nothing learnt
        // from it) and on every path.
        let err = db.read_pooled(stmt(), &Numbers).await;
        assert!(err.is_err(), "text decoded as a number: {err:?}");
        let single = "SELECT CAST(9 AS BIGINT) AS n, 'nine' AS t";
        let single = Statement::from_string(db.backend, single);
        let err = db.read_pooled(single, &Numbers).await;
        assert!(err.is_err(), "text decoded as a number: {err:?}");
    }
);
