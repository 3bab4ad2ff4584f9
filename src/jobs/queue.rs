//! Claiming and settling jobs. A claim leases rows (`running`, `locked_until`); a worker that
//! dies mid-delivery leaves the lease to expire and the job is claimed again, with the same
//! idempotency key.

use rand::Rng;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter, QueryTrait, Set,
    Statement,
};

use crate::db::Db;
use crate::db::direct::RowsOf;
use crate::db::entities::job;
use crate::db::mail_entities::job_attempt;
use crate::db::pipeline::Pipeline;
use crate::error::Result;

/// How one run of a job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Delivered; the text is the receiver's answer, for the log.
    Done(String),
    /// Nothing to do (e-mail off, no recipient); kept in the log as `skipped`.
    Skipped(String),
    /// Failed for now: retry with backoff, or after the receiver's `Retry-After`.
    Retry {
        /// What went wrong.
        error: String,
        /// Receiver-requested delay, seconds.
        after_secs: Option<i64>,
    },
    /// Failed for good (bad address, 4xx): dead at once.
    Fail(String),
    /// Not attempted (destination rate-limited or blocked): wait, without using an attempt.
    Postpone {
        /// When to try again, µs.
        until: i64,
    },
}

/// Claims up to `limit` due jobs (and jobs whose lease expired), leasing them for `lease_us`.
pub async fn claim(db: &Db, now: i64, lease_us: i64, limit: u32) -> Result<Vec<job::Model>> {
    let lock = match db.backend {
        DatabaseBackend::Postgres => " FOR UPDATE SKIP LOCKED",
        _ => "",
    };
    // Due jobs and expired leases are looked up apart, each in `jobs_claim_idx` order with its
    // own limit: as one OR the planner collects every due job and sorts them all, which made
    // each claim cost as much as the whole backlog (300,000 queued jobs: most of a core).
    let sql = format!(
        "UPDATE jobs SET status = 'running', attempts = attempts + 1, locked_until = $1, updated_at = $2 \
         WHERE id IN (SELECT id FROM ( \
            SELECT * FROM (SELECT id, run_at FROM jobs WHERE status = 'queued' AND run_at <= $2 \
                ORDER BY run_at, id LIMIT $3{lock}) AS due \
            UNION ALL \
            SELECT * FROM (SELECT id, run_at FROM jobs WHERE status = 'running' AND locked_until < $2 \
                ORDER BY run_at, id LIMIT $3{lock}) AS expired \
         ) AS claimable ORDER BY run_at, id LIMIT $3) \
         RETURNING {}",
        job::column_list()
    );
    let stmt = Statement::from_sql_and_values(
        db.backend,
        sql,
        [(now + lease_us).into(), now.into(), i64::from(limit).into()],
    );
    // Through the group committer: on SQLite a claim shares its commit with queued writes,
    // and runs on the writer's handle, in the same transaction as the direct writes.
    if db.group.runs_direct() {
        let rows = RowsOf::<job::Model>::default();
        return db
            .group
            .run_direct(move |conn| Ok(crate::db::direct::query(conn, &stmt, &rows)?))
            .await;
    }
    db.group
        .run(move |txn| {
            Box::pin(async move { Ok(job::Entity::find().from_raw_sql(stmt).all(txn).await?) })
        })
        .await
}

/// How much work the queue holds right now (for `/metrics` and `triage bench`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Backlog {
    /// Runnable now: queued and due, or leased by a worker whose lease has run out.
    pub due: i64,
    /// Leased by a worker that is still within its lease.
    pub running: i64,
    /// Queued for later (retries after a back-off, postponed deliveries).
    pub waiting: i64,
}

/// Counts the queue's backlog at `now` on `jobs_claim_idx` (status first, then run time).
pub async fn backlog(conn: &impl ConnectionTrait, now: i64) -> Result<Backlog> {
    let backend = conn.get_database_backend();
    let sql = "SELECT \
        (SELECT COUNT(*) FROM jobs WHERE status = 'queued' AND run_at <= $1) \
          + (SELECT COUNT(*) FROM jobs WHERE status = 'running' AND locked_until < $1) AS due, \
        (SELECT COUNT(*) FROM jobs WHERE status = 'running' AND locked_until >= $1) AS running, \
        (SELECT COUNT(*) FROM jobs WHERE status = 'queued' AND run_at > $1) AS waiting";
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(backend, sql, [now.into()]))
        .await?;
    let Some(row) = row else {
        return Ok(Backlog::default());
    };
    Ok(Backlog {
        due: row.try_get("", "due")?,
        running: row.try_get("", "running")?,
        waiting: row.try_get("", "waiting")?,
    })
}

/// Delay before retry `attempt` (1-based): `base · 2^(attempt-1)`, capped at 6 h, ±20 % jitter
/// so a burst of failures does not retry in lockstep.
pub fn backoff_us(base_secs: i64, attempt: i32, rng: &mut impl Rng) -> i64 {
    let exp = attempt.clamp(1, 30) - 1;
    let secs = std::cmp::min(
        std::cmp::max(base_secs, 1).saturating_mul(1i64 << exp),
        6 * 3600,
    ) as f64;
    let jitter = rng.random_range(0.8..1.2);
    (secs * jitter * 1e6) as i64
}

/// The writes that record the outcome of a claimed job: the attempt row and the job's new
/// state, to run together in one transaction.
pub fn settle_writes(
    backend: DatabaseBackend,
    j: &job::Model,
    outcome: &Outcome,
    started: i64,
    now: i64,
    backoff_base_secs: i64,
) -> Pipeline {
    let mut writes = Pipeline::for_backend(backend);
    let (ok, response) = match outcome {
        Outcome::Done(r) | Outcome::Skipped(r) => (true, r.clone()),
        Outcome::Retry { error, .. } | Outcome::Fail(error) => (false, error.clone()),
        Outcome::Postpone { until } => {
            writes.push(
                &job::Entity::update_many()
                    .col_expr(job::Column::Status, Expr::value("queued"))
                    .col_expr(job::Column::RunAt, Expr::value(*until))
                    .col_expr(
                        job::Column::Attempts,
                        Expr::col(job::Column::Attempts).sub(1),
                    )
                    .col_expr(job::Column::LockedUntil, Expr::value(Option::<i64>::None))
                    .col_expr(job::Column::UpdatedAt, Expr::value(now))
                    .filter(job::Column::Id.eq(j.id))
                    .filter(job::Column::Status.eq("running"))
                    .filter(job::Column::Attempts.eq(j.attempts))
                    .into_query(),
            );
            return writes;
        }
    };
    let attempt = job_attempt::ActiveModel {
        job_id: Set(j.id),
        attempt: Set(j.attempts),
        started_at: Set(started),
        finished_at: Set(now),
        ok: Set(ok),
        response: Set(truncate(&response, 2000)),
        ..Default::default()
    };
    writes.push(&job_attempt::Entity::insert(attempt).into_query());
    let mut am = job::ActiveModel {
        updated_at: Set(now),
        locked_until: Set(None),
        ..Default::default()
    };
    match outcome {
        Outcome::Done(_) => {
            am.status = Set("done".into());
            am.finished_at = Set(Some(now));
            am.last_error = Set(None);
        }
        Outcome::Skipped(why) => {
            am.status = Set("skipped".into());
            am.finished_at = Set(Some(now));
            am.last_error = Set(Some(truncate(why, 2000)));
        }
        Outcome::Fail(e) => {
            am.status = Set("dead".into());
            am.finished_at = Set(Some(now));
            am.last_error = Set(Some(truncate(e, 2000)));
        }
        Outcome::Postpone { .. } => {}
        Outcome::Retry { error, after_secs } => {
            am.last_error = Set(Some(truncate(error, 2000)));
            if j.attempts >= j.max_attempts {
                am.status = Set("dead".into());
                am.finished_at = Set(Some(now));
            } else {
                let delay = match after_secs {
                    Some(s) => (*s).clamp(1, 24 * 3600) * 1_000_000,
                    None => backoff_us(backoff_base_secs, j.attempts, &mut rand::rng()),
                };
                am.status = Set("queued".into());
                am.run_at = Set(now + delay);
            }
        }
    }
    // Only settle our own lease: if it expired and someone else re-claimed the job, their
    // result wins.
    writes.push(
        &job::Entity::update_many()
            .set(am)
            .filter(job::Column::Id.eq(j.id))
            .filter(job::Column::Status.eq("running"))
            .filter(job::Column::Attempts.eq(j.attempts))
            .into_query(),
    );
    writes
}

/// Makes a dead, cancelled or bounced job run again now (admin "retry"); attempts start over.
pub async fn retry(conn: &impl ConnectionTrait, id: i64, now: i64) -> Result<bool> {
    let r = job::Entity::update_many()
        .col_expr(job::Column::Status, Expr::value("queued"))
        .col_expr(job::Column::Attempts, Expr::value(0))
        .col_expr(job::Column::RunAt, Expr::value(now))
        .col_expr(job::Column::FinishedAt, Expr::value(Option::<i64>::None))
        .col_expr(job::Column::UpdatedAt, Expr::value(now))
        .filter(job::Column::Id.eq(id))
        .filter(job::Column::Status.is_in(["dead", "cancelled", "bounced", "queued", "skipped"]))
        .exec(conn)
        .await?;
    Ok(r.rows_affected == 1)
}

/// Cancels a job that has not been delivered yet.
pub async fn cancel(conn: &impl ConnectionTrait, id: i64, now: i64) -> Result<bool> {
    let r = job::Entity::update_many()
        .col_expr(job::Column::Status, Expr::value("cancelled"))
        .col_expr(job::Column::FinishedAt, Expr::value(now))
        .col_expr(job::Column::UpdatedAt, Expr::value(now))
        .filter(job::Column::Id.eq(id))
        .filter(job::Column::Status.is_in(["queued", "dead"]))
        .exec(conn)
        .await?;
    Ok(r.rows_affected == 1)
}

/// Deletes finished jobs (delivered, skipped, cancelled) older than `before`; dead and
/// bounced ones stay for an admin to look at. It runs every minute, so it must read only what
/// it deletes: the search is on `jobs_finished_idx` (migration 12). With the status first,
/// SQLite chose the claim index and read every delivered job in the retention window (a
/// million rows and 32 MB of page cache at a million tickets) on each run; the unary `+` keeps
/// it off that index.
pub async fn prune(conn: &impl ConnectionTrait, before: i64) -> Result<u64> {
    let backend = conn.get_database_backend();
    let plus = if backend == DatabaseBackend::Sqlite {
        "+"
    } else {
        ""
    };
    let sql = format!(
        "DELETE FROM jobs WHERE finished_at < $1 AND {plus}status IN ('done', 'skipped', 'cancelled')"
    );
    let r = conn
        .execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [before.into()],
        ))
        .await?;
    Ok(r.rows_affected())
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_bounded_jitter_and_caps() {
        let mut rng = rand::rng();
        for attempt in 1..=5 {
            let expect = 30.0 * f64::from(1 << (attempt - 1)) * 1e6;
            let got = backoff_us(30, attempt, &mut rng) as f64;
            assert!(
                got >= expect * 0.8 && got <= expect * 1.2,
                "{attempt}: {got}"
            );
        }
        let capped = backoff_us(30, 25, &mut rng) as f64;
        assert!(capped <= 6.0 * 3600.0 * 1.2e6);
        assert!(capped >= 6.0 * 3600.0 * 0.8e6);
    }

    #[test]
    fn truncates_on_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h…");
        assert_eq!(truncate("abc", 5), "abc");
    }
}
