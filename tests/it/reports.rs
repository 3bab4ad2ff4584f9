//! Reports against hand-computed figures on a fixed week (the clock travels to March 2027).

use crate::both_backends;
use crate::harness::{Backend, TestApp, pg_url};
use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use triage::tickets::model::Role;

fn go(app: &TestApp, day: u32, hour: u32) {
    let target = Utc.with_ymd_and_hms(2027, 3, day, hour, 0, 0).unwrap();
    app.advance(target - app.ctx.clock.now());
}

both_backends!(
    reports_match_a_hand_computed_week,
    |app: TestApp| async move {
        let (_, admin) = app.user(Role::Admin, "Lead").await;
        let (ann, ann_t) = app.user(Role::Agent, "Ann").await;
        let (bob, bob_t) = app.user(Role::Agent, "Bob").await;
        let (_, ada) = app.user(Role::Customer, "Ada").await;
        // Monday 2027-03-01 09:00: three tickets.
        go(&app, 1, 9);
        let t1 = app.ticket(&ada, "Site down", "urgent").await["id"]
            .as_i64()
            .unwrap();
        let t2 = app.ticket(&ada, "Slow export", "high").await["id"]
            .as_i64()
            .unwrap();
        app.ticket(&ada, "Typo on pricing page", "low").await;
        let assign = |t: i64, who: i64| {
            let (app, admin) = (&app, admin.clone());
            async move {
                app.post(
                    &format!("/api/v1/tickets/{t}/assign"),
                    &admin,
                    json!({"agent_id": who}),
                )
                .await
                .ok(200);
            }
        };
        let status = |t: i64, tok: String, s: &'static str| {
            let app = &app;
            async move {
                app.put(
                    &format!("/api/v1/tickets/{t}/status"),
                    &tok,
                    json!({"status": s}),
                )
                .await
                .ok(200);
            }
        };
        let reply = |t: i64, tok: String| {
            let app = &app;
            async move {
                app.post(
                    &format!("/api/v1/tickets/{t}/comments"),
                    &tok,
                    json!({"body": "Looking into it."}),
                )
                .await
                .ok(201);
            }
        };
        assign(t1, ann).await;
        assign(t2, bob).await;
        go(&app, 1, 10); // Ann answers in 1 h (urgent target 2 h: met)
        reply(t1, ann_t.clone()).await;
        go(&app, 1, 14); // Bob answers in 5 h (high target 4 h: missed)
        reply(t2, bob_t.clone()).await;
        go(&app, 2, 8); // Ann resolves after 23 h (target 24 h: met)
        status(t1, ann_t.clone(), "in_progress").await;
        status(t1, ann_t.clone(), "resolved").await;
        go(&app, 3, 10); // Bob resolves after 49 h (target 48 h: missed)
        status(t2, bob_t.clone(), "in_progress").await;
        status(t2, bob_t.clone(), "resolved").await;
        for (t, score) in [(t1, 5), (t2, 2)] {
            app.post(
                &format!("/api/v1/tickets/{t}/rating"),
                &ada,
                json!({"score": score}),
            )
            .await
            .ok(201);
        }
        go(&app, 4, 9); // Thursday: a medium ticket for Ann, never answered
        let t4 = app.ticket(&ada, "Change billing address", "medium").await["id"]
            .as_i64()
            .unwrap();
        assign(t4, ann).await;
        go(&app, 5, 12); // Friday noon: report time

        let week = "from=2027-03-01&to=2027-03-07";
        let v = app
            .get(&format!("/api/v1/admin/reports/tickets?{week}"), &admin)
            .await;
        let v = v.ok(200);
        assert_eq!(
            (v["created"].as_i64(), v["resolved"].as_i64()),
            (Some(4), Some(2))
        );
        let days: Vec<(String, i64, i64)> = v["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                (
                    b["start"].as_str().unwrap().to_string(),
                    b["created"].as_i64().unwrap(),
                    b["resolved"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(days.len(), 7);
        assert_eq!(days[0], ("2027-03-01".into(), 3, 0));
        assert_eq!(days[1], ("2027-03-02".into(), 0, 1));
        assert_eq!(days[2], ("2027-03-03".into(), 0, 1));
        assert_eq!(days[3], ("2027-03-04".into(), 1, 0));
        let w = app
            .get(
                &format!("/api/v1/admin/reports/tickets?{week}&interval=week"),
                &admin,
            )
            .await;
        assert_eq!(
            w.ok(200)["buckets"],
            json!([{"start": "2027-03-01", "created": 4, "resolved": 2}])
        );
        let csv = app
            .get(
                &format!("/api/v1/admin/reports/tickets?{week}&format=csv"),
                &admin,
            )
            .await;
        assert_eq!(csv.status.as_u16(), 200);
        assert!(
            csv.text
                .starts_with("day,created,resolved\n2027-03-01,3,0\n2027-03-02,0,1\n"),
            "{}",
            csv.text
        );

        let a = app
            .get(&format!("/api/v1/admin/reports/agents?{week}"), &admin)
            .await;
        let rows = a.ok(200)["agents"].as_array().unwrap().clone();
        let row = |name: &str| rows.iter().find(|r| r["name"] == name).cloned().unwrap();
        let expect =
            |r: Value, open: i64, assigned: i64, resolved: i64, fr: i64, res: i64, csat: f64| {
                assert_eq!(r["open_now"], open, "{r}");
                assert_eq!(r["assigned"], assigned, "{r}");
                assert_eq!(r["resolved"], resolved, "{r}");
                assert_eq!(r["median_first_response_secs"], fr, "{r}");
                assert_eq!(r["median_resolution_secs"], res, "{r}");
                assert_eq!(r["csat_average"].as_f64(), Some(csat), "{r}");
                assert_eq!(r["csat_count"], 1, "{r}");
            };
        expect(row("Ann"), 1, 2, 1, 3600, 23 * 3600, 5.0);
        expect(row("Bob"), 0, 1, 1, 5 * 3600, 49 * 3600, 2.0);
        let lead = row("Lead");
        assert_eq!(
            (lead["assigned"].as_i64(), lead["csat_average"].is_null()),
            (Some(0), true)
        );
        let csv = app
            .get(
                &format!("/api/v1/admin/reports/agents?{week}&format=csv"),
                &admin,
            )
            .await;
        assert!(
            csv.text
                .contains(&format!("{ann},Ann,1,2,1,3600,82800,5,1")),
            "{}",
            csv.text
        );

        let s = app
            .get(&format!("/api/v1/admin/reports/sla?{week}"), &admin)
            .await;
        let p = s.ok(200)["priorities"].as_array().unwrap().clone();
        let pick = |name: &str| p.iter().find(|r| r["priority"] == name).cloned().unwrap();
        let urgent = pick("urgent");
        assert_eq!(
            urgent["first_response"],
            json!({"met": 1, "missed": 0, "pending": 0, "percent": 100.0})
        );
        assert_eq!(urgent["resolution"]["percent"], 100.0);
        let high = pick("high");
        assert_eq!(high["first_response"]["missed"], 1);
        assert_eq!(
            high["resolution"],
            json!({"met": 0, "missed": 1, "pending": 0, "percent": 0.0})
        );
        let medium = pick("medium");
        assert_eq!(
            (
                medium["first_response"]["missed"].as_i64(),
                medium["resolution"]["pending"].as_i64()
            ),
            (Some(1), Some(1))
        );
        assert!(medium["resolution"]["percent"].is_null());
        assert_eq!(pick("low")["first_response"]["missed"], 1);

        let d = app.get("/api/v1/admin/dashboard", &admin).await;
        let d = d.ok(200);
        assert_eq!(
            (
                d["total"].as_i64(),
                d["open"].as_i64(),
                d["unassigned"].as_i64()
            ),
            (Some(4), Some(2), Some(1))
        );
        assert_eq!(d["avg_first_response_secs"], (3600 + 5 * 3600) / 2);
        assert_eq!(d["resolution_rate_30d"], 50.0);
        assert_eq!(
            d["sla_breaches"], 3,
            "T3 and T4 unanswered past due, T2 resolved late"
        );
        assert_eq!(d["by_priority"]["urgent"], 1);
        assert!(!d["recent_activity"].as_array().unwrap().is_empty());

        app.get("/api/v1/admin/reports/sla", &ann_t)
            .await
            .err(403, "FORBIDDEN");
        app.get(
            "/api/v1/admin/reports/tickets?from=2027-03-09&to=2027-03-01",
            &admin,
        )
        .await
        .err(400, "VALIDATION_ERROR");
        app.get("/api/v1/admin/reports/tickets?format=xml", &admin)
            .await
            .err(400, "VALIDATION_ERROR");
        let _ = bob;
    }
);

both_backends!(
    trigger_kept_counts_match_the_table,
    |app: TestApp| async move {
        use sea_orm::{ConnectionTrait, Statement};
        let (_, admin) = app.user(Role::Admin, "Lead").await;
        let (_, ada) = app.user(Role::Customer, "Ada").await;
        let mut ids = Vec::new();
        for (i, p) in ["low", "high", "urgent", "medium", "high"]
            .iter()
            .enumerate()
        {
            ids.push(
                app.ticket(&ada, &format!("Counted {i}"), p).await["id"]
                    .as_i64()
                    .unwrap(),
            );
        }
        app.put(
            &format!("/api/v1/tickets/{}/priority", ids[0]),
            &admin,
            json!({"priority": "urgent"}),
        )
        .await
        .ok(200);
        app.patch(
            &format!("/api/v1/tickets/{}", ids[1]),
            &admin,
            json!({"category": "billing"}),
        )
        .await
        .ok(200);
        app.put(
            &format!("/api/v1/tickets/{}/status", ids[2]),
            &admin,
            json!({"status": "closed"}),
        )
        .await
        .ok(200);
        app.post(
            &format!("/api/v1/tickets/{}/merge", ids[3]),
            &admin,
            json!({"into": ids[4]}),
        )
        .await
        .ok(200);
        app.delete(&format!("/api/v1/tickets/{}", ids[4]), &admin)
            .await
            .ok(204);
        let stats = app.get("/api/v1/stats", &admin).await;
        let stats = stats.ok(200);
        let db = &app.ctx.db.read;
        let count = |col: &str| {
            let sql = format!("SELECT {col}, COUNT(*) FROM tickets GROUP BY {col}");
            async move {
                let rows = db
                    .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
                    .await
                    .unwrap();
                rows.iter()
                    .map(|r| {
                        (
                            r.try_get_by_index::<String>(0).unwrap(),
                            r.try_get_by_index::<i64>(1).unwrap(),
                        )
                    })
                    .collect::<Vec<_>>()
            }
        };
        for (col, key) in [
            ("status", "by_status"),
            ("priority", "by_priority"),
            ("category", "by_category"),
        ] {
            let truth = count(col).await;
            for (k, n) in &truth {
                assert_eq!(stats[key][k].as_i64(), Some(*n), "{key}.{k}: {stats}");
            }
            let shown: i64 = stats[key]
                .as_object()
                .unwrap()
                .values()
                .map(|v| v.as_i64().unwrap())
                .sum();
            assert_eq!(shown, truth.iter().map(|t| t.1).sum::<i64>(), "{key}");
        }
        assert_eq!(stats["total"], 4);
        assert_eq!(stats["by_status"]["closed"], 2);
        assert_eq!(stats["by_priority"]["urgent"], 2);
    }
);
