//! A search for a word with many matches walks the list in sort order (on PostgreSQL with a
//! row budget per walk, falling back to reading the matches when the budget runs out before
//! the page is known). Here the limits are tiny so that both outcomes happen on a few dozen
//! tickets, and the matches are skewed the way a burst of tickets about one thing skews them:
//! all new. Every page must be exactly the one the full ordered list gives.

use crate::harness::*;
use crate::on_both;
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
    }
);
