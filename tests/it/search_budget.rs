//! A search for a word with many matches walks the list in sort order (on PostgreSQL with a
//! row budget per walk, falling back to reading the matches when the budget runs out before
//! the page is known). Here the limits are tiny so that both outcomes happen on a few dozen
//! tickets, and the matches are skewed the way a burst of tickets about one thing skews them:
//! all new. Every page must be exactly the one the full ordered list gives.

use crate::harness::*;
use crate::on_both;
use sea_orm::ConnectionTrait;
use serde_json::Value;
use triage::tickets::model::Role;

fn rank(priority: &str) -> i32 {
    match priority {
        "urgent" => 4,
        "high" => 3,
        "medium" => 2,
        _ => 1,
    }
}

/// The ids of `tickets` in list order: priority high to low, then oldest first; or newest
/// first. Ids follow creation (the API's times are whole seconds, the list's are not).
fn ordered(tickets: &[&Value], newest_first: bool) -> Vec<i64> {
    let mut v: Vec<(i32, i64)> = tickets
        .iter()
        .map(|t| {
            (
                rank(t["priority"].as_str().unwrap()),
                t["id"].as_i64().unwrap(),
            )
        })
        .collect();
    if newest_first {
        v.sort_by_key(|t| std::cmp::Reverse(t.1));
    } else {
        v.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    }
    v.into_iter().map(|(_, id)| id).collect()
}

on_both!(
    searches_page_exactly_whether_the_walk_finishes_or_runs_out,
    |backend| async move {
        let app = TestApp::spawn_with(backend, |c| {
            c.search_drive_limit = 5;
            c.search_scan_budget = 6;
        })
        .await;
        let (_, admin) = app.user(Role::Admin, "Budget Admin").await;
        let priorities = ["low", "medium", "high", "urgent"];
        let mut all = Vec::new();
        for i in 0..28 {
            let t = app
                .ticket(
                    &admin,
                    &format!("Printer jam number {i}"),
                    priorities[i % 4],
                )
                .await;
            all.push(t);
        }
        // The burst: every ticket that mentions the outage comes last.
        for i in 0..11 {
            let t = app
                .ticket(
                    &admin,
                    &format!("Outage report {i}"),
                    priorities[(i * 3) % 4],
                )
                .await;
            all.push(t);
        }
        let outage: Vec<&Value> = all
            .iter()
            .filter(|t| t["subject"].as_str().unwrap().starts_with("Outage"))
            .collect();
        let every: Vec<&Value> = all.iter().collect();
        assert_eq!(outage.len(), 11);

        for limit in [2, 3, 50] {
            // Skewed: the walk (priority first, oldest first) meets the burst late.
            assert_eq!(
                app.all_pages(&admin, "&q=outage", limit).await,
                ordered(&outage, false),
                "q=outage, limit {limit}"
            );
            // Newest first: the burst comes first and the walk finishes inside its budget.
            assert_eq!(
                app.all_pages(&admin, "&q=outage&sort=-created_at", limit)
                    .await,
                ordered(&outage, true),
                "q=outage newest first, limit {limit}"
            );
            // Dense: every ticket matches.
            let mut by_age: Vec<i64> = every.iter().map(|t| t["id"].as_i64().unwrap()).collect();
            by_age.sort_unstable();
            let mut found = app.all_pages(&admin, "&q=something", limit).await;
            assert_eq!(
                found,
                ordered(&every, false),
                "q=something (every description), limit {limit}"
            );
            found.sort_unstable();
            assert_eq!(found, by_age);
            // Several walks: one per priority of the filter.
            let high: Vec<&Value> = outage
                .iter()
                .copied()
                .filter(|t| matches!(t["priority"].as_str(), Some("high" | "low")))
                .collect();
            assert_eq!(
                app.all_pages(&admin, "&q=outage&priority=high,low", limit)
                    .await,
                ordered(&high, false),
                "q=outage in two priorities, limit {limit}"
            );
        }
        if app.ctx.db.is_postgres() {
            // A walk that ran out lately is not walked again: its page comes from the
            // matches at once, and is the same page.
            let ran_out = walks(&app, "ran_out").await;
            let skipped = walks(&app, "skipped").await;
            assert!(ran_out > 0, "the skewed walks ran out");
            assert_eq!(
                app.all_pages(&admin, "&q=outage", 2).await,
                ordered(&outage, false),
                "q=outage again"
            );
            assert_eq!(walks(&app, "ran_out").await, ran_out, "walked again");
            assert!(walks(&app, "skipped").await > skipped, "nothing skipped");
        }
    }
);

/// `triage_search_walks_total{outcome="…"}` from `/metrics`.
async fn walks(app: &TestApp, outcome: &str) -> u64 {
    let name = format!("triage_search_walks_total{{outcome=\"{outcome}\"}}");
    app.metric(&name)
        .await
        .unwrap_or_else(|| panic!("no {name}"))
}

/// `triage_search_plans_total{by="…"}` from `/metrics`.
async fn plans_chosen(app: &TestApp, by: &str) -> u64 {
    let name = format!("triage_search_plans_total{{by=\"{by}\"}}");
    app.metric(&name)
        .await
        .unwrap_or_else(|| panic!("no {name}"))
}

/// On PostgreSQL, once `ANALYZE` has listed the text index's common lexemes, a common word
/// scans and a rare one drives without counting its matches first; pages stay exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_statistics_choose_plans_without_a_count() {
    if pg_url().is_none() {
        eprintln!("TRIAGE_TEST_DATABASE_URL not set: PostgreSQL variant not run");
        return;
    }
    let app = TestApp::spawn_with(Backend::Postgres, |c| {
        c.search_drive_limit = 8;
        c.search_scan_budget = 6;
    })
    .await;
    let _dir = app.dir_guard();
    let (_, admin) = app.user(Role::Admin, "Stats Admin").await;
    let priorities = ["low", "medium", "high", "urgent"];
    let mut all = Vec::new();
    for i in 0..20 {
        let subject = format!("Printer jam number {i}");
        all.push(app.ticket(&admin, &subject, priorities[i % 4]).await);
    }
    for i in 0..2 {
        let subject = format!("Outage report {i}");
        all.push(app.ticket(&admin, &subject, priorities[(i * 3) % 4]).await);
    }
    app.ctx
        .db
        .write
        .execute_unprepared("ANALYZE tickets")
        .await
        .expect("analyze");
    let with = |word: &str| -> Vec<&Value> {
        all.iter()
            .filter(|t| t["subject"].as_str().unwrap().to_lowercase().contains(word))
            .collect()
    };
    // Sixteen searches at once, the server's first: they wait for one read of the
    // statistics instead of counting.
    let first = (0..16).map(|i| {
        let path = format!("/api/v1/tickets?limit=5&q={}", ["printer", "outage"][i % 2]);
        let (app, admin) = (&app, &admin);
        async move { app.get(&path, admin).await.ok(200).clone() }
    });
    futures::future::join_all(first).await;
    assert_eq!(plans_chosen(&app, "counted").await, 0);
    // 20 of 22 listed (at least twice the limit of 8): scan. 2 listed, plus at most one for a
    // lexeme too rare to be listed: within half the limit, drive.
    for (word, limit) in [
        ("printer", 3),
        ("outage", 3),
        ("printer", 50),
        ("outage", 1),
    ] {
        assert_eq!(
            app.all_pages(&admin, &format!("&q={word}"), limit).await,
            ordered(&with(word), false),
            "q={word}, limit {limit}"
        );
    }
    assert!(plans_chosen(&app, "statistics").await >= 2);
    assert_eq!(plans_chosen(&app, "counted").await, 0);
    assert!(plans_chosen(&app, "cached").await > 2);
    // A two-letter word is left to a count: its prefix covers lexemes too rare to list.
    app.all_pages(&admin, "&q=ou", 5).await;
    assert_eq!(plans_chosen(&app, "counted").await, 1);
}
