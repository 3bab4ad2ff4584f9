//! The daily summary to admins: scheduled once a day (a de-duplicated system job), rendered
//! per admin into ordinary e-mail jobs.

use chrono::Timelike;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::context::Ctx;
use crate::db::entities::{job, ticket, user};
use crate::error::Result;
use crate::jobs::queue::Outcome;
use crate::jobs::{self, Channel, NewJob};
use crate::mail::outbound::OutgoingEmail;
use crate::mail::{ids, templates};

/// Enqueues today's summary job once the configured hour has passed (idempotent per date).
pub async fn schedule(ctx: &Ctx) -> Result<()> {
    let hour = ctx.config.daily_summary_hour;
    let now = ctx.clock.now();
    if hour < 0 || (now.hour() as i32) < hour {
        return Ok(());
    }
    let date = now.format("%Y-%m-%d").to_string();
    let job = NewJob {
        kind: "daily_summary".into(),
        channel: Channel::System,
        target: None,
        ticket_id: None,
        payload: json!({"date": date}),
        key: format!("daily-summary:{date}"),
        run_at: ctx.clock.now_micros(),
        max_attempts: 3,
    };
    jobs::enqueue_all(&ctx.db.write, vec![job], ctx.clock.now_micros()).await?;
    Ok(())
}

/// Renders the summary for every active admin.
pub async fn run(ctx: &Ctx, j: &job::Model) -> Result<Outcome> {
    if ctx.config.smtp_url.trim().is_empty() {
        return Ok(Outcome::Skipped("e-mail is off".into()));
    }
    let p: serde_json::Value = serde_json::from_str(&j.payload).unwrap_or_default();
    let date = p["date"].as_str().unwrap_or("").to_string();
    let now = ctx.clock.now_micros();
    let day_ago = now - 86_400_000_000;
    let db = &ctx.db.read;
    let open_states = [
        "open",
        "assigned",
        "in_progress",
        "waiting",
        "on_hold",
        "reopened",
    ];
    let count = |q: sea_orm::Select<ticket::Entity>| async move { q.count(db).await };
    let created =
        count(ticket::Entity::find().filter(ticket::Column::CreatedAt.gte(day_ago))).await?;
    let resolved =
        count(ticket::Entity::find().filter(ticket::Column::ResolvedAt.gte(day_ago))).await?;
    let open =
        count(ticket::Entity::find().filter(ticket::Column::Status.is_in(open_states))).await?;
    let unassigned = count(
        ticket::Entity::find()
            .filter(ticket::Column::Status.is_in(open_states))
            .filter(ticket::Column::AssigneeId.is_null()),
    )
    .await?;
    let overdue = count(
        ticket::Entity::find()
            .filter(ticket::Column::Status.is_in(open_states))
            .filter(ticket::Column::ResolutionDueAt.lt(now)),
    )
    .await?;
    let dead_jobs = job::Entity::find()
        .filter(job::Column::Status.eq("dead"))
        .filter(job::Column::UpdatedAt.gte(day_ago))
        .count(db)
        .await?;
    let admins = user::Entity::find()
        .filter(user::Column::Role.eq("admin"))
        .filter(user::Column::Active.eq(true))
        .all(db)
        .await?;
    let tpl = templates::load(db, "daily_summary").await?;
    let summary = json!({"date": date, "created": created, "resolved": resolved, "open": open,
        "unassigned": unassigned, "overdue": overdue, "dead_jobs": dead_jobs,
        "url": format!("{}/admin", ctx.config.public_base_url())});
    let domain = crate::mail::domain(ctx);
    let mut out = Vec::new();
    for a in &admins {
        let r = templates::render(
            &tpl,
            &json!({"summary": summary, "recipient": {"name": a.name}}),
        )?;
        let nonce =
            hex::encode(&Sha256::digest(format!("{}|{}", j.idempotency_key, a.email))[..10]);
        let mid = ids::message_id(&ctx.keys, &domain, 0, &nonce);
        let email = OutgoingEmail::notice("daily_summary", &a.email, &a.name, r, mid);
        out.push(email.into_job(None, ctx.config.job_max_attempts, now));
    }
    let n = out.len();
    let txn = ctx.db.begin().await?;
    jobs::enqueue_all(&txn, out, now).await?;
    txn.commit().await?;
    Ok(Outcome::Done(format!("summary for {n} admins")))
}
