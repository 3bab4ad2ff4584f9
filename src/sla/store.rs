//! Loading policies and applying the SLA clock to ticket rows inside the caller's transaction.

use std::collections::BTreeMap;

use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QuerySelect, QueryTrait};

use super::calendar::Calendar;
use super::{Clock, Facts, Policy, State};
use crate::db::desk_entities::{business_calendar, sla_policy};
use crate::db::entities::ticket;
use crate::db::tx::{self, Tx};
use crate::error::{Error, Result};
use crate::tickets::model::{Priority, Status};

const MINUTE: i64 = 60_000_000;

/// Parses a stored calendar row.
pub fn calendar_of(row: &business_calendar::Model) -> Result<Calendar> {
    let hours: BTreeMap<String, Vec<String>> = serde_json::from_str(&row.hours)
        .map_err(|e| Error::Internal(anyhow::anyhow!("calendar {}: bad hours: {e}", row.id)))?;
    let holidays: Vec<String> = serde_json::from_str(&row.holidays)
        .map_err(|e| Error::Internal(anyhow::anyhow!("calendar {}: bad holidays: {e}", row.id)))?;
    Calendar::parse(&row.timezone, &hours, &holidays)
        .map_err(|e| Error::Internal(anyhow::anyhow!("calendar {}: {e:?}", row.id)))
}

/// The policy in force for a priority (the spec's default when its row is missing).
pub async fn policy(conn: &impl Tx, p: Priority) -> Result<Policy> {
    let query = sla_policy::Entity::find()
        .filter(sla_policy::Column::Priority.eq(p.as_str()))
        .limit(1)
        .into_query();
    let Some(row) = tx::first::<sla_policy::Model>(conn, &query).await? else {
        return Ok(Policy::default_for(p));
    };
    let calendar = match row.calendar_id {
        Some(id) => {
            let query = business_calendar::Entity::find_by_id(id).into_query();
            match tx::first::<business_calendar::Model>(conn, &query).await? {
                Some(c) => Some(calendar_of(&c)?),
                None => None,
            }
        }
        None => None,
    };
    Ok(Policy {
        first_response: row.first_response_mins * MINUTE,
        resolution: row.resolution_mins * MINUTE,
        warn_percent: i64::from(row.warn_percent),
        calendar,
    })
}

fn value<T: Clone + Into<sea_orm::Value>>(v: &sea_orm::ActiveValue<T>) -> Option<T> {
    v.try_as_ref().cloned()
}

/// Recomputes the SLA fields of a ticket about to be written: pause or resume with its status,
/// due times for its priority, alert bits and the next sweep time. Call after every change of
/// status, priority or first response, before `update`/`insert`. Reads the policy through
/// `conn`; where a context is at hand, `tickets::catalog::Catalog::refresh_sla` uses the
/// per-process copy instead.
pub async fn refresh(conn: &impl Tx, am: &mut ticket::ActiveModel, now: i64) -> Result<()> {
    let policy = policy(conn, priority_of(am)?).await?;
    apply(am, &policy, now)
}

/// The priority of a ticket about to be written, whose policy `apply` needs.
pub fn priority_of(am: &ticket::ActiveModel) -> Result<Priority> {
    value(&am.priority)
        .and_then(|p| Priority::parse(&p))
        .ok_or_else(missing)
}

fn missing() -> Error {
    Error::Internal(anyhow::anyhow!("ticket row lacks its SLA fields"))
}

/// `refresh` with the policy of the row's priority already loaded.
pub fn apply(am: &mut ticket::ActiveModel, policy: &Policy, now: i64) -> Result<()> {
    let status = value(&am.status)
        .and_then(|s| Status::parse(&s))
        .ok_or_else(missing)?;
    let created_at = value(&am.created_at).ok_or_else(missing)?;
    let responded = value(&am.first_response_at).flatten().is_some();
    let clock = Clock {
        paused_at: value(&am.sla_paused_at).flatten(),
        paused_micros: value(&am.sla_paused_micros).unwrap_or(0),
        alerts: value(&am.sla_alerts).unwrap_or(0),
    };
    let plan = super::plan(policy, created_at, status, responded, clock, now);
    am.sla_paused_at = Set(plan.clock.paused_at);
    am.sla_paused_micros = Set(plan.clock.paused_micros);
    am.sla_alerts = Set(plan.clock.alerts);
    am.sla_next_at = Set(plan.next_at);
    am.first_response_due_at = Set(Some(plan.schedule.first_response_due));
    am.resolution_due_at = Set(Some(plan.schedule.resolution_due));
    Ok(())
}

/// The SLA state of a stored ticket at `now`.
pub fn state_of(t: &ticket::Model, now: i64) -> State {
    super::state(
        &Facts {
            status: Status::parse(&t.status).unwrap_or(Status::Open),
            first_response_due: t.first_response_due_at,
            resolution_due: t.resolution_due_at,
            first_response_at: t.first_response_at,
            resolved_at: t.resolved_at,
            alerts: t.sla_alerts,
        },
        now,
    )
}
