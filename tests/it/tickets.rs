use crate::both_backends;
use crate::harness::*;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use triage::tickets::model::Role;

fn submit_body(email: &str, subject: &str) -> Value {
    json!({"name": "Grace", "email": email, "category": "billing", "priority": "high", "subject": subject,
           "message": "I was charged twice for November.", "page_url": "https://shop.example/checkout", "browser_info": "Firefox 140"})
}

both_backends!(
    public_submit_creates_contact_and_tracking_link,
    |app: TestApp| async move {
        let r = app
            .anon_post(
                "/api/v1/tickets/submit",
                submit_body("Grace@Example.com", "Double charge"),
            )
            .await;
        let b = r.ok(201).clone();
        assert_eq!(b["success"], true);
        let number = b["ticket_id"].as_str().unwrap().to_string();
        assert!(number.starts_with("TKT-") && number.len() == 21, "{number}");
        assert_eq!(b["category"], "billing");
        assert_eq!(b["priority"], "high");
        assert!(b["message"].as_str().unwrap().contains(&number));
        let url = b["tracking_url"].as_str().unwrap().to_string();
        assert!(url.starts_with(&format!("{}/track/{number}?token=", app.base)));

        // Same email again reuses the contact.
        let r2 = app
            .anon_post(
                "/api/v1/tickets/submit",
                submit_body("grace@example.com", "Another one"),
            )
            .await;
        r2.ok(201);
        let contacts = triage::db::entities::user::Entity::find()
            .filter(triage::db::entities::user::Column::Email.eq("grace@example.com"))
            .all(&app.ctx.db.read)
            .await
            .unwrap();
        assert_eq!(contacts.len(), 1);
        assert!(contacts[0].password_hash.is_none());

        // The tracking link shows the ticket and lets the contact reply; a wrong token is a 404.
        let token = url.split("token=").nth(1).unwrap();
        let tracked = app
            .call(
                reqwest::Method::GET,
                &format!("/api/v1/track/{number}?token={token}"),
                None,
                None,
            )
            .await;
        let t = tracked.ok(200);
        assert_eq!(t["ticket"]["number"], number.as_str());
        assert_eq!(t["ticket"]["page_url"], "https://shop.example/checkout");
        assert_eq!(t["ticket"]["channel"], "web");
        app.call(
            reqwest::Method::GET,
            &format!("/api/v1/track/{number}?token=AAAA{token}"),
            None,
            None,
        )
        .await
        .err(404, "NOT_FOUND");
        let reply = app
            .call(
                reqwest::Method::POST,
                &format!("/api/v1/track/{number}/comments?token={token}"),
                None,
                Some(json!({"body": "Any news?"})),
            )
            .await;
        assert_eq!(reply.ok(201)["author"]["name"], "Grace");

        // Registering with the contact's email claims the account and its tickets.
        let reg = app
            .anon_post(
                "/api/v1/auth/register",
                json!({"email": "grace@example.com", "name": "Grace H", "password": "s3cret-pass"}),
            )
            .await;
        let access = reg.ok(201)["access_token"].as_str().unwrap().to_string();
        let mine = app.get("/api/v1/tickets", &access).await;
        assert_eq!(mine.ok(200)["data"].as_array().unwrap().len(), 2);

        // A ticket.created job was enqueued for each ticket, in the same transaction.
        let jobs = triage::db::entities::job::Entity::find()
            .filter(triage::db::entities::job::Column::Kind.eq("ticket.created"))
            .all(&app.ctx.db.read)
            .await
            .unwrap();
        assert_eq!(jobs.len(), 2);
        // The in-process worker may already have fanned them out.
        assert!(
            jobs.iter()
                .all(|j| ["queued", "running", "done"].contains(&j.status.as_str()))
        );
    }
);

both_backends!(
    submit_validation_reports_every_field,
    |app: TestApp| async move {
        let r = app
        .anon_post("/api/v1/tickets/submit", json!({"name": "", "email": "x", "category": "nope", "priority": "asap", "subject": "ab", "message": "short"}))
        .await;
        let e = &r.err(400, "VALIDATION_ERROR")["errors"];
        for field in [
            "name", "email", "category", "priority", "subject", "message",
        ] {
            assert!(e[field].is_array(), "missing error for {field}: {e}");
        }
        // Missing fields are reported too, not just the first.
        let r = app.anon_post("/api/v1/tickets/submit", json!({})).await;
        let e = &r.err(400, "VALIDATION_ERROR")["errors"];
        assert!(e["subject"].is_array() && e["message"].is_array() && e["email"].is_array());
        // Nothing was stored.
        let n = triage::db::entities::ticket::Entity::find()
            .all(&app.ctx.db.read)
            .await
            .unwrap()
            .len();
        assert_eq!(n, 0);
    }
);

both_backends!(create_bounds_and_defaults, |app: TestApp| async move {
    let (_, c) = app.user(Role::Customer, "Bound Customer").await;
    let mk = |subject: String, description: String| json!({"subject": subject, "description": description, "category": "question"});
    let ok = app
        .post(
            "/api/v1/tickets",
            &c,
            mk(format!("  {}  ", "s".repeat(3)), "d".repeat(10)),
        )
        .await;
    let t = ok.ok(201).clone();
    assert_eq!(t["subject"], "sss");
    assert_eq!(t["priority"], "medium");
    assert_eq!(t["status"], "open");
    assert_eq!(t["channel"], "api");
    assert_eq!(t["assignee"], Value::Null);
    assert_eq!(t["requester"]["name"], "Bound Customer");
    app.post("/api/v1/tickets", &c, mk("s".repeat(200), "d".repeat(5000)))
        .await
        .ok(201);
    for (s, d, field) in [
        ("s".repeat(2), "d".repeat(10), "subject"),
        ("s".repeat(201), "d".repeat(10), "subject"),
        ("s".repeat(3), "d".repeat(9), "description"),
        ("s".repeat(3), "d".repeat(5001), "description"),
        ("   ".to_string(), "d".repeat(10), "subject"),
    ] {
        let r = app.post("/api/v1/tickets", &c, mk(s, d)).await;
        assert!(
            r.err(400, "VALIDATION_ERROR")["errors"][field].is_array(),
            "{}",
            r.text
        );
    }
    // Customers cannot set tags or requester.
    app.post(
        "/api/v1/tickets",
        &c,
        json!({"subject": "abc", "description": "0123456789", "category": "bug", "tags": ["x"]}),
    )
    .await
    .err(403, "FORBIDDEN");
    // SLA due times follow the default policy.
    let due =
        |v: &Value, k: &str| chrono::DateTime::parse_from_rfc3339(v[k].as_str().unwrap()).unwrap();
    let urgent = app.ticket(&c, "Server down", "urgent").await;
    let created = due(&urgent, "created_at");
    assert_eq!(
        (due(&urgent, "first_response_due_at") - created).num_hours(),
        2
    );
    assert_eq!(
        (due(&urgent, "resolution_due_at") - created).num_hours(),
        24
    );
    // Fetch by number works the same as by id.
    let by_number = app
        .get(
            &format!("/api/v1/tickets/{}", urgent["number"].as_str().unwrap()),
            &c,
        )
        .await;
    assert_eq!(by_number.ok(200)["id"], urgent["id"]);
    let lower = app
        .get(
            &format!(
                "/api/v1/tickets/{}",
                urgent["number"].as_str().unwrap().to_lowercase()
            ),
            &c,
        )
        .await;
    assert_eq!(lower.ok(200)["id"], urgent["id"]);
});

both_backends!(
    staff_create_for_contact_with_tags,
    |app: TestApp| async move {
        let (_, agent) = app.user(Role::Agent, "Phone Agent").await;
        let r = app
        .post(
            "/api/v1/tickets",
            &agent,
            json!({"subject": "Called about VPN", "description": "Customer called: VPN drops hourly.", "category": "technical",
                   "requester": {"name": "Linus", "email": "linus@example.com"}, "tags": ["VPN", "phone"], "channel": "email"}),
        )
        .await;
        let t = r.ok(201);
        assert_eq!(t["requester"]["email"], "linus@example.com");
        assert_eq!(t["tags"], json!(["phone", "vpn"]));
        assert_eq!(t["channel"], "email");
    }
);

both_backends!(list_filters_search_sort, |app: TestApp| async move {
    let (_, admin) = app.user(Role::Admin, "List Admin").await;
    let (_, c) = app.user(Role::Customer, "List Customer").await;
    let low = app.ticket(&c, "Printer jam on floor two", "low").await;
    let urgent = app.ticket(&c, "Database server down", "urgent").await;
    let high = app.ticket(&c, "VPN disconnects hourly", "high").await;
    let ids = |r: &Res| {
        r.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_i64().unwrap())
            .collect::<Vec<_>>()
    };
    let id = |v: &Value| v["id"].as_i64().unwrap();

    let all = app.get("/api/v1/tickets", &admin).await;
    all.ok(200);
    assert_eq!(
        ids(&all),
        vec![id(&urgent), id(&high), id(&low)],
        "default sort: priority high→low"
    );
    let by_created = app.get("/api/v1/tickets?sort=-created_at", &admin).await;
    assert_eq!(ids(&by_created), vec![id(&high), id(&urgent), id(&low)]);
    let f = app.get("/api/v1/tickets?priority=low,high", &admin).await;
    assert_eq!(ids(&f), vec![id(&high), id(&low)]);
    let q = app.get("/api/v1/tickets?q=vpn", &admin).await;
    assert_eq!(ids(&q), vec![id(&high)]);
    let q = app.get("/api/v1/tickets?q=serv%20DOWN", &admin).await;
    assert_eq!(
        ids(&q),
        vec![id(&urgent)],
        "prefix, case-insensitive, all words"
    );
    let q = app.get("/api/v1/tickets?q=%22%29%28*", &admin).await;
    q.ok(200);
    let none = app
        .get(
            "/api/v1/tickets?assignee=none&status=open&category=technical",
            &admin,
        )
        .await;
    assert_eq!(ids(&none).len(), 3);
    let future = app
        .get("/api/v1/tickets?created_after=2999-01-01", &admin)
        .await;
    assert!(ids(&future).is_empty());
    let since = app
        .get(
            "/api/v1/tickets?created_before=2999-01-01T00:00:00Z&created_after=2000-01-01",
            &admin,
        )
        .await;
    assert_eq!(ids(&since).len(), 3);

    // Tag filter.
    app.patch(
        &format!("/api/v1/tickets/{}", id(&low)),
        &admin,
        json!({"tags": ["hardware"]}),
    )
    .await
    .ok(200);
    assert_eq!(
        ids(&app.get("/api/v1/tickets?tag=hardware", &admin).await),
        vec![id(&low)]
    );
    // Search follows edits.
    app.patch(
        &format!("/api/v1/tickets/{}", id(&low)),
        &admin,
        json!({"subject": "Scanner broken"}),
    )
    .await
    .ok(200);
    assert!(ids(&app.get("/api/v1/tickets?q=printer", &admin).await).is_empty());
    assert_eq!(
        ids(&app.get("/api/v1/tickets?q=scanner", &admin).await),
        vec![id(&low)]
    );

    // Bad parameters give field errors.
    let bad = app
        .get(
            "/api/v1/tickets?status=nope&priority=x&limit=500&sort=subject&created_after=yesterday",
            &admin,
        )
        .await;
    let e = &bad.err(400, "VALIDATION_ERROR")["errors"];
    assert!(
        e["status"].is_array() && e["priority"].is_array() && e["created_after"].is_array(),
        "{e}"
    );
    app.get("/api/v1/tickets?limit=0", &admin)
        .await
        .err(400, "VALIDATION_ERROR");
    app.get("/api/v1/tickets?cursor=%%%", &admin)
        .await
        .err(400, "VALIDATION_ERROR");
});

both_backends!(
    cursor_pagination_is_stable_while_tickets_arrive,
    |app: TestApp| async move {
        let (_, admin) = app.user(Role::Admin, "Pager").await;
        let (_, c) = app.user(Role::Customer, "Pager Customer").await;
        let prios = ["low", "medium", "high", "urgent"];
        for i in 0..23 {
            app.ticket(&c, &format!("Ticket number {i}"), prios[i % 4])
                .await;
            app.advance(chrono::Duration::seconds(1));
        }
        let mut seen: Vec<i64> = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/v1/tickets?limit=5&cursor={c}"),
                None => "/api/v1/tickets?limit=5".to_string(),
            };
            let r = app.get(&path, &admin).await;
            let body = r.ok(200).clone();
            seen.extend(
                body["data"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| t["id"].as_i64().unwrap()),
            );
            pages += 1;
            // New tickets of every priority arrive between page fetches.
            app.ticket(&c, &format!("Late arrival {pages}"), prios[pages % 4])
                .await;
            match body["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
            assert!(pages < 20, "pagination does not terminate");
        }
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), seen.len(), "no ticket twice");
        let all = triage::db::entities::ticket::Entity::find()
            .all(&app.ctx.db.read)
            .await
            .unwrap();
        let originals: Vec<i64> = all
            .iter()
            .filter(|t| t.subject.starts_with("Ticket number"))
            .map(|t| t.id)
            .collect();
        assert!(
            originals.iter().all(|id| seen.contains(id)),
            "every ticket present at the start is seen"
        );
    }
);

both_backends!(patch_and_delete, |app: TestApp| async move {
    let (_, admin) = app.user(Role::Admin, "Patch Admin").await;
    let (_, c) = app.user(Role::Customer, "Patch Customer").await;
    let t = app.ticket(&c, "Original subject", "low").await;
    let path = format!("/api/v1/tickets/{}", t["id"]);
    // Requester may edit subject/description while open, nothing else.
    assert_eq!(
        app.patch(&path, &c, json!({"subject": "Better subject"}))
            .await
            .ok(200)["subject"],
        "Better subject"
    );
    app.patch(&path, &c, json!({"priority": "urgent"}))
        .await
        .err(403, "FORBIDDEN");
    app.patch(&path, &admin, json!({"subject": "x"}))
        .await
        .err(400, "VALIDATION_ERROR");
    app.patch(&path, &admin, json!({"color": "red"}))
        .await
        .err(400, "VALIDATION_ERROR");
    let p = app
        .patch(
            &path,
            &admin,
            json!({"priority": "urgent", "category": "bug"}),
        )
        .await;
    let p = p.ok(200);
    assert_eq!(p["priority"], "urgent");
    assert_eq!(p["category"], "bug");
    let created = chrono::DateTime::parse_from_rfc3339(p["created_at"].as_str().unwrap()).unwrap();
    let due =
        chrono::DateTime::parse_from_rfc3339(p["first_response_due_at"].as_str().unwrap()).unwrap();
    assert_eq!(
        (due - created).num_hours(),
        2,
        "due times recomputed on priority change"
    );
    // Once not open, the requester can no longer edit.
    app.post(
        &format!("{path}/assign"),
        &admin,
        json!({"auto": false, "agent_id": null}),
    )
    .await
    .ok(200);
    let (agent_id, _) = app.user(Role::Agent, "Patch Agent").await;
    app.post(
        &format!("{path}/assign"),
        &admin,
        json!({"agent_id": agent_id}),
    )
    .await
    .ok(200);
    app.patch(&path, &c, json!({"subject": "Changed again"}))
        .await
        .err(409, "CONFLICT");
    let h = app.get(&format!("{path}/history"), &admin).await;
    let fields: Vec<String> = h
        .ok(200)
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_string())
        .collect();
    for f in [
        "created", "subject", "priority", "category", "assignee", "status",
    ] {
        assert!(
            fields.iter().any(|x| x == f),
            "history lacks {f}: {fields:?}"
        );
    }
    // Only admins delete; the ticket and its thread are gone.
    app.post(
        &format!("{path}/comments"),
        &admin,
        json!({"body": "note", "internal": true}),
    )
    .await
    .ok(201);
    app.delete(&path, &c).await.err(403, "FORBIDDEN");
    app.delete(&path, &admin).await.ok(204);
    app.get(&path, &admin).await.err(404, "NOT_FOUND");
    let left = triage::db::entities::message::Entity::find()
        .all(&app.ctx.db.read)
        .await
        .unwrap();
    assert!(left.is_empty());
});

both_backends!(
    multi_value_filters_page_exactly_like_one_big_page,
    |app: TestApp| async move {
        // Lists with several statuses and priorities are read as merged per-value queries and
        // cursor ranges; paging through them must give exactly the rows and order of one page.
        let (_, admin) = app.user(Role::Admin, "Pager").await;
        let (agent, _) = app.user(Role::Agent, "Pager Agent").await;
        let prios = ["low", "high", "medium", "urgent"];
        for i in 0..30 {
            let t = app
                .ticket(&admin, &format!("Paging {i}"), prios[i % 4])
                .await;
            if i % 3 == 0 {
                app.post(
                    &format!("/api/v1/tickets/{}/assign", t["id"]),
                    &admin,
                    json!({"agent_id": agent}),
                )
                .await
                .ok(200);
            }
            app.advance(chrono::Duration::seconds(1));
        }
        let filter = "status=open,assigned&priority=high,low,urgent";
        for sort in ["", "&sort=-created_at", "&sort=priority,-updated_at"] {
            let ids = |v: &Value| -> Vec<i64> {
                v["data"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| t["id"].as_i64().unwrap())
                    .collect()
            };
            let all = app
                .get(&format!("/api/v1/tickets?{filter}{sort}&limit=100"), &admin)
                .await;
            let all = ids(all.ok(200));
            assert_eq!(all.len(), 23, "{sort}: open/assigned minus the medium ones");
            let mut paged = Vec::new();
            let mut cursor = String::new();
            loop {
                let r = app
                    .get(
                        &format!("/api/v1/tickets?{filter}{sort}&limit=4{cursor}"),
                        &admin,
                    )
                    .await;
                let body = r.ok(200).clone();
                paged.extend(ids(&body));
                match body["next_cursor"].as_str() {
                    Some(c) => cursor = format!("&cursor={c}"),
                    None => break,
                }
            }
            assert_eq!(paged, all, "{sort}");
        }
    }
);

both_backends!(
    a_created_ticket_answers_with_what_reading_it_back_returns,
    |app: TestApp| async move {
        let (_, admin) = app.user(Role::Admin, "Ada").await;
        let (_, customer) = app.user(Role::Customer, "Cy").await;
        let (agent_id, _) = app.user(Role::Agent, "Pia").await;
        let cases = [
            // Staff for themselves, tags out of order and repeated: built from the row.
            (
                &admin,
                json!({"subject": "Own ticket", "description": "Mine, all of it.", "category": "technical",
                            "priority": "high", "tags": ["Zeta", "alpha", "zeta"]}),
            ),
            // A customer for themselves: built from the row.
            (
                &customer,
                json!({"subject": "Help", "description": "Please help me.", "category": "billing"}),
            ),
            // Staff for someone else: read back.
            (
                &admin,
                json!({"subject": "For Pia", "description": "Hers, not mine.", "category": "technical",
                            "requester_id": agent_id}),
            ),
            (
                &admin,
                json!({"subject": "For a contact", "description": "Theirs, not ours.", "category": "technical",
                            "requester": {"name": "Zed", "email": "zed@example.test"}}),
            ),
        ];
        for (token, body) in cases {
            let created = app
                .post("/api/v1/tickets", token, body)
                .await
                .ok(201)
                .clone();
            let id = created["id"].as_i64().expect("id");
            let read = app
                .get(&format!("/api/v1/tickets/{id}"), token)
                .await
                .ok(200)
                .clone();
            assert_eq!(created, read, "the 201 body is the ticket as stored");
            assert!(
                created["requester"]["email"]
                    .as_str()
                    .is_some_and(|e| e.contains('@'))
            );
        }
    }
);
