//! The SLA sweep: a system job scheduled once a minute (de-duplicated by its key) that finds
//! tickets whose `sla_next_at` has passed, records warnings and breaches in their history and
//! raises `sla.warning` / `sla.breached` events (e-mail to assignee and admins, webhooks).

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::json;

use super::{due_alerts, next_after, store};
use crate::clock::rfc3339;
use crate::context::Ctx;
use crate::db::entities::ticket;
use crate::error::Result;
use crate::jobs::queue::Outcome;
use crate::jobs::{self, Channel, NewJob};
use crate::tickets::history::{self, Change};
use crate::tickets::model::{Priority, Status};

/// Tickets handled per query.
const BATCH: u64 = 200;
/// Batches per run; the next minute's run picks up anything left.
const MAX_BATCHES: usize = 50;

/// Enqueues this minute's sweep (idempotent per minute, however many workers tick).
pub async fn schedule(ctx: &Ctx) -> Result<()> {
    let now = ctx.clock.now_micros();
    let minute = now / 60_000_000;
    let job = NewJob {
        kind: "sla_sweep".into(),
        channel: Channel::System,
        target: None,
        ticket_id: None,
        payload: json!({"minute": minute}),
        key: format!("sla-sweep:{minute}"),
        run_at: now,
        max_attempts: 3,
    };
    jobs::enqueue_all(&ctx.db.write, vec![job], now).await?;
    Ok(())
}

/// Runs one sweep: every ticket whose next SLA point has passed gets its alerts.
pub async fn run(ctx: &Ctx) -> Result<Outcome> {
    let now = ctx.clock.now_micros();
    let (mut checked, mut raised) = (0usize, 0usize);
    for _ in 0..MAX_BATCHES {
        let ids: Vec<i64> = ticket::Entity::find()
            .select_only()
            .column(ticket::Column::Id)
            .filter(ticket::Column::SlaNextAt.lte(now))
            .order_by_asc(ticket::Column::SlaNextAt)
            .limit(BATCH)
            .into_tuple()
            .all(&ctx.db.read)
            .await?;
        for id in &ids {
            raised += check_one(ctx, *id, now).await?;
            checked += 1;
        }
        if (ids.len() as u64) < BATCH {
            break;
        }
    }
    Ok(Outcome::Done(format!(
        "{checked} tickets checked, {raised} SLA alerts"
    )))
}

/// Alerts one ticket in its own transaction; returns how many alerts it raised.
async fn check_one(ctx: &Ctx, id: i64, now: i64) -> Result<usize> {
    let txn = ctx.db.begin().await?;
    let Some(t) = ticket::Entity::find_by_id(id)
        .lock_exclusive()
        .one(&txn)
        .await?
        .filter(|t| t.sla_next_at.is_some_and(|n| n <= now))
    else {
        return Ok(0);
    };
    let status = Status::parse(&t.status).unwrap_or(Status::Open);
    let set_next = |next: Option<i64>, alerts: i32| {
        ticket::Entity::update_many()
            .col_expr(ticket::Column::SlaNextAt, Expr::value(next))
            .col_expr(ticket::Column::SlaAlerts, Expr::value(alerts))
            .filter(ticket::Column::Id.eq(id))
    };
    if super::is_paused(status) || t.sla_paused_at.is_some() {
        set_next(None, t.sla_alerts).exec(&txn).await?;
        txn.commit().await?;
        return Ok(0);
    }
    let priority = Priority::parse(&t.priority).unwrap_or(Priority::Medium);
    let policy = store::policy(&txn, priority).await?;
    let schedule = policy.schedule(t.created_at, t.sla_paused_micros);
    let responded = t.first_response_at.is_some();
    let (alerts, bits) = due_alerts(&schedule, t.sla_alerts, responded, now);
    let next = next_after(&schedule, bits, responded);
    set_next(next, bits).exec(&txn).await?;
    let mut changes = Vec::new();
    for a in &alerts {
        let (due, label) = match a.clock() {
            "first_response" => (schedule.first_response_due, "first response"),
            _ => (schedule.resolution_due, "resolution"),
        };
        let what = if a.is_breach() { "breached" } else { "warning" };
        changes.push(Change::internal(
            "sla",
            None,
            Some(format!("{label} {what} (due {})", rfc3339(due))),
        ));
        jobs::enqueue_event(
            &txn,
            a.event(),
            t.id,
            None,
            json!({"clock": a.clock(), "due_at": rfc3339(due), "breach": a.is_breach()}),
            now,
        )
        .await?;
    }
    history::record(&txn, t.id, None, changes, now).await?;
    txn.commit().await?;
    Ok(alerts.len())
}
