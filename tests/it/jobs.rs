//! The job queue's claim: due jobs in run order and expired leases, nothing else, each once.

use crate::harness::*;
use crate::on_both;
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use triage::db::entities::job;
use triage::jobs::queue;

async fn job_row(app: &TestApp, key: &str, status: &str, run_at: i64, locked: Option<i64>) -> i64 {
    job::ActiveModel {
        kind: Set("test".into()),
        channel: Set("event".into()),
        payload: Set("{}".into()),
        status: Set(status.into()),
        attempts: Set(i32::from(status == "running")),
        max_attempts: Set(8),
        run_at: Set(run_at),
        locked_until: Set(locked),
        idempotency_key: Set(key.into()),
        created_at: Set(run_at),
        updated_at: Set(run_at),
        ..Default::default()
    }
    .insert(&app.ctx.db.write)
    .await
    .expect("job row")
    .id
}

on_both!(
    claims_due_jobs_in_run_order_and_expired_leases,
    |backend| async move {
        let app = TestApp::spawn_with(backend, |c| c.workers = false).await;
        // Times far in the past, so jobs the app queued itself are not due at `NOW`.
        const NOW: i64 = 1_000;
        let late = job_row(&app, "late", "queued", 900, None).await;
        let first = job_row(&app, "first", "queued", 100, None).await;
        let expired = job_row(&app, "expired", "running", 300, Some(500)).await;
        let second = job_row(&app, "second", "queued", 200, None).await;
        let fourth = job_row(&app, "fourth", "queued", 400, None).await;
        let future = job_row(&app, "future", "queued", 2_000, None).await;
        let leased = job_row(&app, "leased", "running", 50, Some(5_000)).await;
        let finished = job_row(&app, "finished", "done", 10, None).await;

        let ids = |b: &[job::Model]| b.iter().map(|j| j.id).collect::<Vec<_>>();
        let mut batch = queue::claim(&app.ctx.db, NOW, 10_000, 3)
            .await
            .expect("claim");
        batch.sort_by_key(|j| j.run_at);
        assert_eq!(
            ids(&batch),
            vec![first, second, expired],
            "the three earliest, lease included"
        );
        for j in &batch {
            assert_eq!(j.status, "running");
            assert_eq!(j.locked_until, Some(NOW + 10_000));
        }
        let again = batch.iter().find(|j| j.id == expired).expect("expired");
        assert_eq!(again.attempts, 2, "a re-claimed lease counts an attempt");

        let mut rest = queue::claim(&app.ctx.db, NOW, 10_000, 3)
            .await
            .expect("claim");
        rest.sort_by_key(|j| j.run_at);
        assert_eq!(ids(&rest), vec![fourth, late], "the rest, none twice");
        assert!(
            queue::claim(&app.ctx.db, NOW, 10_000, 3)
                .await
                .expect("claim")
                .is_empty()
        );
        for (id, status) in [(future, "queued"), (leased, "running"), (finished, "done")] {
            let row = job::Entity::find_by_id(id)
                .one(&app.ctx.db.read)
                .await
                .expect("read")
                .expect("row");
            assert_eq!(
                (row.status.as_str(), row.updated_at),
                (status, row.created_at),
                "job {id}"
            );
        }
    }
);

on_both!(
    the_backlog_counts_due_running_and_waiting_jobs,
    |backend| async move {
        let app = TestApp::spawn_with(backend, |c| c.workers = false).await;
        const NOW: i64 = 1_000;
        // Jobs the app queued itself are due much later than `NOW`: count them first.
        let before = queue::backlog(&app.ctx.db.read, NOW)
            .await
            .expect("backlog");
        job_row(&app, "due", "queued", 900, None).await;
        job_row(&app, "due-too", "queued", NOW, None).await;
        job_row(&app, "expired", "running", 300, Some(500)).await;
        job_row(&app, "leased", "running", 50, Some(5_000)).await;
        job_row(&app, "later", "queued", 2_000, None).await;
        job_row(&app, "finished", "done", 10, None).await;
        let b = queue::backlog(&app.ctx.db.read, NOW)
            .await
            .expect("backlog");
        assert_eq!(
            b.due - before.due,
            3,
            "two due and one expired lease: {b:?}"
        );
        assert_eq!(b.running - before.running, 1, "{b:?}");
        assert_eq!(b.waiting - before.waiting, 1, "{b:?}");
        // At the real time every one of them is due, the lease included; `/metrics` says so.
        let text = reqwest::get(format!("{}/metrics", app.base))
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text");
        let due = triage::bench::settle::due_jobs(&text).expect("due gauge");
        assert!(due >= 5, "{due} in {text}");
        assert!(text.contains("# TYPE triage_jobs gauge"), "{text}");
    }
);

on_both!(
    settles_written_together_each_answer_for_themselves,
    |backend| async move {
        let app = TestApp::spawn_with(backend, |c| c.workers = false).await;
        const NOW: i64 = 1_000;
        for i in 0..20 {
            job_row(&app, &format!("settle-{i}"), "queued", 100 + i, None).await;
        }
        let claimed = queue::claim(&app.ctx.db, NOW, 10_000, 20)
            .await
            .expect("claim");
        assert_eq!(claimed.len(), 20);
        // A job that does not exist: its attempt row breaks the foreign key, so a fold that
        // holds it fails and every settle in it is written again by itself.
        let mut ghost = claimed[0].clone();
        ghost.id = 9_999_999;
        let settler = triage::jobs::settler::Settler::start(&app.ctx.db);
        let writes = |j: &job::Model| {
            queue::settle_writes(
                app.ctx.db.backend,
                j,
                &queue::Outcome::Done("ok".into()),
                NOW,
                NOW + 5,
                30,
            )
        };
        let mut all: Vec<_> = claimed.iter().map(&writes).collect();
        all.insert(10, writes(&ghost));
        let results = futures::future::join_all(all.into_iter().map(|w| settler.settle(w))).await;
        assert!(results[10].is_err(), "the ghost's settle fails");
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 20);
        for j in &claimed {
            let row = job::Entity::find_by_id(j.id)
                .one(&app.ctx.db.read)
                .await
                .expect("read")
                .expect("row");
            assert_eq!(
                (row.status.as_str(), row.finished_at),
                ("done", Some(NOW + 5))
            );
        }
    }
);
