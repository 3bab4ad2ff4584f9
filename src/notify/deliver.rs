//! Sending webhook jobs: per-destination rate limit (held jobs wait; chat destinations get one
//! digest for the backlog), `Retry-After` honoured, generic bodies signed with HMAC-SHA256 over
//! `"<t>.<body>"`, the job's key as `X-Triage-Delivery` on every attempt.

use hmac::{Hmac, Mac};
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{
    ColumnTrait, DatabaseBackend, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect, Statement,
};
use serde_json::{Value, json};
use sha2::Sha256;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use super::chat;
use crate::clock::rfc3339;
use crate::context::Ctx;
use crate::db::entities::job;
use crate::db::mail_entities::webhook;
use crate::error::Result;
use crate::jobs::queue::Outcome;

/// Sliding one-minute windows of send times per destination URL.
#[derive(Default)]
pub struct RateWindows(Mutex<HashMap<String, VecDeque<i64>>>);

const MINUTE: i64 = 60_000_000;

impl RateWindows {
    /// Takes a slot for `url` if one is free: `Ok(slots left after this one)`, else
    /// `Err(when the next slot frees)`. Check and take are one step, so concurrent sends to
    /// one destination cannot overshoot.
    fn take(&self, url: &str, per_minute: usize, now: i64) -> std::result::Result<usize, i64> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let q = map.entry(url.to_string()).or_default();
        while q.front().is_some_and(|t| *t <= now - MINUTE) {
            q.pop_front();
        }
        if q.len() >= per_minute {
            return Err(q.front().map(|t| t + MINUTE).unwrap_or(now));
        }
        q.push_back(now);
        Ok(per_minute - q.len())
    }
}

/// Delivers one webhook job.
pub async fn deliver(
    ctx: &Ctx,
    http: &reqwest::Client,
    windows: &RateWindows,
    j: &job::Model,
) -> Result<Outcome> {
    let p: Value = serde_json::from_str(&j.payload).unwrap_or(Value::Null);
    let Some(hook_id) = p["webhook_id"].as_i64() else {
        return Ok(Outcome::Fail("payload without webhook_id".into()));
    };
    let Some(hook) = webhook::Entity::find_by_id(hook_id)
        .one(&ctx.db.read)
        .await?
    else {
        return Ok(Outcome::Skipped("the webhook was deleted".into()));
    };
    if !hook.active {
        return Ok(Outcome::Skipped("the webhook is disabled".into()));
    }
    let now = ctx.clock.now_micros();
    if let Some(until) = hook.blocked_until.filter(|u| *u > now) {
        return Ok(Outcome::Postpone { until });
    }
    let chat_kind = hook.kind == "discord" || hook.kind == "slack";
    let left = match windows.take(&hook.url, hook.rate_per_minute.max(1) as usize, now) {
        Ok(left) => left,
        Err(next_slot) => {
            // Only the oldest held chat message wakes at the next slot; it then takes the
            // others along as one digest.
            let until = if chat_kind && someone_wakes_by(ctx, j, &hook.url, next_slot).await? {
                next_slot + MINUTE
            } else {
                next_slot
            };
            return Ok(Outcome::Postpone { until });
        }
    };
    let mut events: Vec<(String, Value)> = match p["digest"].as_array() {
        Some(list) => list
            .iter()
            .map(|e| {
                (
                    e["event"].as_str().unwrap_or("").to_string(),
                    e["data"].clone(),
                )
            })
            .collect(),
        None => vec![(
            p["event"].as_str().unwrap_or("").to_string(),
            p["data"].clone(),
        )],
    };
    if chat_kind && p["digest"].is_null() {
        let backlog = backlog(ctx, j, &hook.url, left, now).await?;
        if !backlog.is_empty() {
            events.extend(backlog);
        }
    }
    let body = match hook.kind.as_str() {
        "discord" => chat::discord_message(&events),
        "slack" => chat::slack_message(&events),
        _ => json!({"event": events[0].0, "delivered_at": rfc3339(now), "data": events[0].1}),
    };
    let raw = body.to_string();
    let mut req = http
        .post(&hook.url)
        .header("Content-Type", "application/json")
        .header("User-Agent", "Triage-Webhooks/1")
        .header("X-Triage-Event", events[0].0.as_str())
        .header("X-Triage-Delivery", j.idempotency_key.as_str());
    if let Some(secret) = hook.secret.as_deref().filter(|s| !s.is_empty()) {
        req = req.header(
            "X-Triage-Signature",
            signature(secret, now / 1_000_000, &raw),
        );
    }
    let resp = match req.body(raw).send().await {
        Ok(r) => r,
        Err(e) => {
            return Ok(Outcome::Retry {
                error: format!("request failed: {e}"),
                after_secs: None,
            });
        }
    };
    let status = resp.status();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, ctx.clock.now()));
    let text: String = resp
        .text()
        .await
        .unwrap_or_default()
        .chars()
        .take(500)
        .collect();
    let summary = format!("HTTP {} {}", status.as_u16(), text.trim());
    if status.is_success() {
        return Ok(Outcome::Done(summary));
    }
    if status.as_u16() == 429 {
        let secs = retry_after
            .or_else(|| discord_retry_after(&text))
            .unwrap_or(60);
        webhook::Entity::update_many()
            .col_expr(
                webhook::Column::BlockedUntil,
                Expr::value(now + secs * 1_000_000),
            )
            .filter(webhook::Column::Id.eq(hook.id))
            .exec(&ctx.db.write)
            .await?;
        return Ok(Outcome::Retry {
            error: summary,
            after_secs: Some(secs),
        });
    }
    if status.is_server_error() || status.as_u16() == 408 {
        return Ok(Outcome::Retry {
            error: summary,
            after_secs: retry_after,
        });
    }
    Ok(Outcome::Fail(summary))
}

/// `t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
pub fn signature(secret: &str, unix: i64, body: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(format!("{unix}.{body}").as_bytes());
    format!("t={unix},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Seconds from a `Retry-After` value (delta seconds or an HTTP date).
pub fn parse_retry_after(v: &str, now: chrono::DateTime<chrono::Utc>) -> Option<i64> {
    let v = v.trim();
    if let Ok(s) = v.parse::<f64>() {
        return Some(s.ceil().max(1.0) as i64);
    }
    chrono::DateTime::parse_from_rfc2822(v)
        .ok()
        .map(|d| (d.with_timezone(&chrono::Utc) - now).num_seconds().max(1))
}

fn discord_retry_after(body: &str) -> Option<i64> {
    serde_json::from_str::<Value>(body)
        .ok()?
        .get("retry_after")?
        .as_f64()
        .map(|s| s.ceil().max(1.0) as i64)
}

/// Whether another held message to this destination already wakes by `until` (then that one
/// carries the digest and this one waits a further window).
async fn someone_wakes_by(ctx: &Ctx, j: &job::Model, url: &str, until: i64) -> Result<bool> {
    Ok(job::Entity::find()
        .filter(job::Column::Channel.eq("webhook"))
        .filter(job::Column::Target.eq(url))
        .filter(job::Column::Status.eq("queued"))
        .filter(job::Column::Id.ne(j.id))
        .filter(job::Column::RunAt.lte(until))
        .count(&ctx.db.read)
        .await?
        > 0)
}

/// When more messages wait for this chat destination than the window has room for after this
/// one, or any of them is held for a later window, takes them over (marking them delivered as
/// part of this one) so one digest goes out. A held message was put off to the window after
/// this one's (`someone_wakes_by`), so left alone it would go a whole window late even when
/// this window had room for it.
async fn backlog(
    ctx: &Ctx,
    j: &job::Model,
    url: &str,
    left: usize,
    now: i64,
) -> Result<Vec<(String, Value)>> {
    // One read for both counts: the messages waiting, and those among them held for later.
    // Held means put back after a claim (postponed to a later window, or retried): a job
    // that is merely newer than `now` (fanned out while this delivery began) is not held;
    // counted as held, it folded a fresh message into a digest with room left in the window.
    // New jobs are written with `updated_at = created_at`; a claim moves `updated_at` on.
    // Built from expressions, not text: a custom expression's value is kept only for its own
    // dialect's placeholder (`$1` on SQLite dropped it, and nothing ever counted as held).
    use sea_orm::sea_query::ExprTrait;
    let held = Expr::case(
        Expr::col(job::Column::RunAt)
            .gt(now)
            .and(Expr::col(job::Column::UpdatedAt).gt(Expr::col(job::Column::CreatedAt))),
        1,
    )
    .finally(0);
    let counts: Option<(i64, i64)> = job::Entity::find()
        .filter(job::Column::Channel.eq("webhook"))
        .filter(job::Column::Target.eq(url))
        .filter(job::Column::Status.eq("queued"))
        .filter(job::Column::Id.ne(j.id))
        .select_only()
        .column_as(Expr::cust("COUNT(*)"), "waiting")
        .column_as(
            Expr::from(Func::coalesce([Func::sum(held).into(), Expr::val(0)])),
            "held",
        )
        .into_tuple()
        .one(&ctx.db.read)
        .await?;
    let (waiting, held) = counts.unwrap_or((0, 0));
    if waiting == 0 || (waiting as usize <= left && held == 0) {
        return Ok(Vec::new());
    }
    let lock = match ctx.db.backend {
        DatabaseBackend::Postgres => " FOR UPDATE SKIP LOCKED",
        _ => "",
    };
    let sql = format!(
        "UPDATE jobs SET status = 'done', finished_at = $1, updated_at = $1, last_error = $2 \
         WHERE id IN (SELECT id FROM jobs WHERE channel = 'webhook' AND target = $3 AND status = 'queued' \
            AND id <> $4 ORDER BY id LIMIT 200{lock}) RETURNING *"
    );
    let note = format!("coalesced into digest delivery #{}", j.id);
    let txn = ctx.db.begin().await?;
    let taken = job::Entity::find()
        .from_raw_sql(Statement::from_sql_and_values(
            ctx.db.backend,
            sql,
            [now.into(), note.into(), url.into(), j.id.into()],
        ))
        .all(&txn)
        .await?;
    let mut taken = taken;
    taken.sort_by_key(|t| t.id);
    let first: Value = serde_json::from_str(&j.payload).unwrap_or(Value::Null);
    let mut digest = vec![json!({"event": first["event"], "data": first["data"]})];
    let mut out = Vec::new();
    for t in &taken {
        let p: Value = serde_json::from_str(&t.payload).unwrap_or(Value::Null);
        digest.push(json!({"event": p["event"], "data": p["data"]}));
        out.push((
            p["event"].as_str().unwrap_or("").to_string(),
            p["data"].clone(),
        ));
    }
    let mut payload = first.clone();
    payload["digest"] = Value::Array(digest);
    // The digest is stored first, so a retry resends all of it.
    job::Entity::update_many()
        .col_expr(job::Column::Payload, Expr::value(payload.to_string()))
        .col_expr(job::Column::Kind, Expr::value(format!("{}.digest", j.kind)))
        .filter(job::Column::Id.eq(j.id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_the_spec_format() {
        let s = signature("k", 1700000000, "{}");
        let mut mac = Hmac::<Sha256>::new_from_slice(b"k").unwrap();
        mac.update(b"1700000000.{}");
        assert_eq!(
            s,
            format!(
                "t=1700000000,v1={}",
                hex::encode(mac.finalize().into_bytes())
            )
        );
    }

    #[test]
    fn retry_after_forms() {
        let now = chrono::Utc::now();
        assert_eq!(parse_retry_after("7", now), Some(7));
        assert_eq!(parse_retry_after("0.2", now), Some(1));
        let later = (now + chrono::Duration::seconds(30)).to_rfc2822();
        let got = parse_retry_after(&later, now).unwrap();
        assert!((29..=30).contains(&got));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn windows_fill_and_free() {
        let w = RateWindows::default();
        assert_eq!(w.take("u", 2, 0), Ok(1));
        assert_eq!(w.take("u", 2, 10), Ok(0));
        assert_eq!(w.take("u", 2, 20), Err(MINUTE));
        assert_eq!(w.take("v", 2, 20), Ok(1), "per destination");
        assert_eq!(w.take("u", 2, MINUTE + 5), Ok(0));
    }
}
