//! Reports for support leads: the dashboard, ticket volume, agent performance and SLA
//! compliance. Every query is bounded by a date range on an indexed column (`created_at`,
//! `resolved_at`) or groups a small indexed column, so none walks the whole ticket table.

pub mod csv;
mod range;

use std::collections::BTreeMap;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use serde::Serialize;

use crate::auth::Actor;
use crate::context::Ctx;
use crate::db::desk_entities::rating;
use crate::db::entities::{ticket, user};
use crate::error::Result;
use crate::tickets::model::{Priority, Role, Status};
use crate::tickets::query;
pub use range::{Interval, Range};

const SEC: i64 = 1_000_000;

/// Median of durations in microseconds, in seconds rounded to the nearest (`None` when empty).
pub fn median_secs(mut v: Vec<i64>) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let mid = v.len() / 2;
    let m = if v.len().is_multiple_of(2) {
        (v[mid - 1] + v[mid]) / 2
    } else {
        v[mid]
    };
    Some(round_secs(m))
}

/// Microseconds to the nearest whole second.
fn round_secs(us: i64) -> i64 {
    (us + SEC / 2).div_euclid(SEC)
}

/// Rows of `(a, b, c, …)` tuples from `tickets` in a range of one column.
async fn times_in<T: sea_orm::TryGetableMany>(
    conn: &impl ConnectionTrait,
    cols: &[ticket::Column],
    by: ticket::Column,
    r: &Range,
) -> Result<Vec<T>> {
    let mut q = ticket::Entity::find().select_only();
    for c in cols {
        q = q.column(*c);
    }
    Ok(q.filter(by.gte(r.from))
        .filter(by.lt(r.to))
        .into_tuple()
        .all(conn)
        .await?)
}

/// One bucket of the volume report.
#[derive(Debug, Serialize, utoipa::ToSchema, PartialEq, Eq)]
pub struct VolumeBucket {
    /// Bucket start, `YYYY-MM-DD`.
    pub start: String,
    /// Tickets created.
    pub created: i64,
    /// Tickets resolved.
    pub resolved: i64,
}

/// `/admin/reports/tickets`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VolumeReport {
    /// First day, `YYYY-MM-DD`.
    pub from: String,
    /// Last day (inclusive), `YYYY-MM-DD`.
    pub to: String,
    /// `day` or `week`.
    pub interval: &'static str,
    /// One row per day or ISO week, oldest first, empty ones included.
    pub buckets: Vec<VolumeBucket>,
    /// Created in the range.
    pub created: i64,
    /// Resolved in the range.
    pub resolved: i64,
}

/// Tickets created and resolved per day or week.
pub async fn volume(ctx: &Ctx, r: &Range, interval: Interval) -> Result<VolumeReport> {
    let db = &ctx.db.read;
    let mut counts: BTreeMap<i64, (i64, i64)> =
        r.buckets(interval).iter().map(|s| (*s, (0, 0))).collect();
    for (start, n) in grouped(db, "created_at", r, interval).await? {
        counts.entry(start).or_default().0 += n;
    }
    for (start, n) in grouped(db, "resolved_at", r, interval).await? {
        counts.entry(start).or_default().1 += n;
    }
    let (created, resolved) = counts
        .values()
        .fold((0, 0), |(c, s), (a, b)| (c + a, s + b));
    Ok(VolumeReport {
        from: r.from_label(),
        to: r.to_label(),
        interval: interval.name(),
        buckets: counts
            .into_iter()
            .map(|(s, (c, res))| VolumeBucket {
                start: range::day_label(s),
                created: c,
                resolved: res,
            })
            .collect(),
        created,
        resolved,
    })
}

/// Tickets per bucket of one time column, counted by the database over its index.
async fn grouped(
    conn: &impl ConnectionTrait,
    column: &'static str,
    r: &Range,
    interval: Interval,
) -> Result<Vec<(i64, i64)>> {
    let (offset, step) = interval.grid();
    let sql = format!(
        "SELECT ({column} - $1) / $2 AS b, COUNT(*) FROM tickets \
         WHERE {column} >= $3 AND {column} < $4 GROUP BY 1"
    );
    let rows = conn
        .query_all_raw(sea_orm::Statement::from_sql_and_values(
            conn.get_database_backend(),
            sql,
            [offset.into(), step.into(), r.from.into(), r.to.into()],
        ))
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let b: i64 = row.try_get_by_index(0)?;
        let n: i64 = row.try_get_by_index(1)?;
        out.push((b * step + offset, n));
    }
    Ok(out)
}

/// One agent's row.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AgentRow {
    /// Agent id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Open tickets assigned to them now.
    pub open_now: i64,
    /// Tickets created in the range and assigned to them.
    pub assigned: i64,
    /// Tickets they resolved in the range (assignee at resolution).
    pub resolved: i64,
    /// Median seconds from creation to first public reply, tickets first answered in the range.
    pub median_first_response_secs: Option<i64>,
    /// Median seconds from creation to resolution, tickets resolved in the range.
    pub median_resolution_secs: Option<i64>,
    /// Average satisfaction score (1–5) of ratings given in the range.
    pub csat_average: Option<f64>,
    /// Ratings given in the range.
    pub csat_count: i64,
}

/// `/admin/reports/agents`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AgentReport {
    /// First day.
    pub from: String,
    /// Last day (inclusive).
    pub to: String,
    /// Agents and admins, by name.
    pub agents: Vec<AgentRow>,
}

/// Workload, speed and satisfaction per agent.
pub async fn agents(ctx: &Ctx, r: &Range) -> Result<AgentReport> {
    let db = &ctx.db.read;
    let staff = user::Entity::find()
        .filter(user::Column::Role.is_in([Role::Agent.as_str(), Role::Admin.as_str()]))
        .all(db)
        .await?;
    let open =
        crate::tickets::changes::open_loads(db, staff.iter().map(|u| u.id).collect()).await?;
    let created: Vec<(Option<i64>, i64)> = times_in(
        db,
        &[ticket::Column::AssigneeId, ticket::Column::CreatedAt],
        ticket::Column::CreatedAt,
        r,
    )
    .await?;
    let resolved: Vec<(Option<i64>, i64, Option<i64>)> = times_in(
        db,
        &[
            ticket::Column::AssigneeId,
            ticket::Column::CreatedAt,
            ticket::Column::ResolvedAt,
        ],
        ticket::Column::ResolvedAt,
        r,
    )
    .await?;
    let answered: Vec<(Option<i64>, i64, Option<i64>)> = times_in(
        db,
        &[
            ticket::Column::AssigneeId,
            ticket::Column::CreatedAt,
            ticket::Column::FirstResponseAt,
        ],
        ticket::Column::FirstResponseAt,
        r,
    )
    .await?;
    let ratings: Vec<(Option<i64>, i32)> = rating::Entity::find()
        .select_only()
        .column(rating::Column::AgentId)
        .column(rating::Column::Score)
        .filter(rating::Column::CreatedAt.gte(r.from))
        .filter(rating::Column::CreatedAt.lt(r.to))
        .into_tuple()
        .all(db)
        .await?;
    let mut rows: Vec<AgentRow> = staff
        .into_iter()
        .map(|u| {
            let mine = |a: &Option<i64>| *a == Some(u.id);
            let res: Vec<i64> = resolved
                .iter()
                .filter(|x| mine(&x.0))
                .filter_map(|x| x.2.map(|at| at - x.1))
                .collect();
            let fr: Vec<i64> = answered
                .iter()
                .filter(|x| mine(&x.0))
                .filter_map(|x| x.2.map(|at| at - x.1))
                .collect();
            let scores: Vec<i32> = ratings.iter().filter(|x| mine(&x.0)).map(|x| x.1).collect();
            AgentRow {
                id: u.id,
                open_now: open.get(&u.id).copied().unwrap_or(0),
                assigned: created.iter().filter(|x| mine(&x.0)).count() as i64,
                resolved: res.len() as i64,
                median_first_response_secs: median_secs(fr),
                median_resolution_secs: median_secs(res),
                csat_average: (!scores.is_empty()).then(|| {
                    let avg = f64::from(scores.iter().sum::<i32>()) / scores.len() as f64;
                    (avg * 100.0).round() / 100.0
                }),
                csat_count: scores.len() as i64,
                name: u.name,
            }
        })
        .collect();
    rows.sort_by_key(|a| a.name.to_lowercase());
    Ok(AgentReport {
        from: r.from_label(),
        to: r.to_label(),
        agents: rows,
    })
}

/// Met and missed targets of one clock.
#[derive(Debug, Default, Serialize, utoipa::ToSchema, PartialEq)]
pub struct Compliance {
    /// Done before the due time.
    pub met: i64,
    /// Done late, or still open past the due time.
    pub missed: i64,
    /// Not done yet, not due yet (left out of the percentage).
    pub pending: i64,
    /// `met / (met + missed)` in percent, one decimal; `null` with nothing decided.
    pub percent: Option<f64>,
}

impl Compliance {
    fn add(&mut self, done: Option<i64>, due: Option<i64>, now: i64) {
        match (done, due) {
            (_, None) => {}
            (Some(at), Some(d)) if at <= d => self.met += 1,
            (Some(_), Some(_)) => self.missed += 1,
            (None, Some(d)) if now > d => self.missed += 1,
            (None, Some(_)) => self.pending += 1,
        }
    }

    fn finish(&mut self) {
        let decided = self.met + self.missed;
        self.percent =
            (decided > 0).then(|| (self.met as f64 * 1000.0 / decided as f64).round() / 10.0);
    }
}

/// One priority's SLA row.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SlaRow {
    /// Priority.
    pub priority: String,
    /// Tickets created in the range.
    pub tickets: i64,
    /// First-response target.
    pub first_response: Compliance,
    /// Resolution target.
    pub resolution: Compliance,
}

/// `/admin/reports/sla`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SlaReport {
    /// First day.
    pub from: String,
    /// Last day (inclusive).
    pub to: String,
    /// Most urgent first.
    pub priorities: Vec<SlaRow>,
}

/// SLA compliance per priority for tickets created in the range.
pub async fn sla(ctx: &Ctx, r: &Range) -> Result<SlaReport> {
    type Row = (
        String,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
    );
    let rows: Vec<Row> = times_in(
        &ctx.db.read,
        &[
            ticket::Column::Priority,
            ticket::Column::FirstResponseAt,
            ticket::Column::FirstResponseDueAt,
            ticket::Column::ResolvedAt,
            ticket::Column::ResolutionDueAt,
            ticket::Column::ClosedAt,
        ],
        ticket::Column::CreatedAt,
        r,
    )
    .await?;
    let now = ctx.clock.now_micros();
    let mut out: Vec<SlaRow> = [
        Priority::Urgent,
        Priority::High,
        Priority::Medium,
        Priority::Low,
    ]
    .iter()
    .map(|p| SlaRow {
        priority: p.to_string(),
        tickets: 0,
        first_response: Compliance::default(),
        resolution: Compliance::default(),
    })
    .collect();
    for (p, fr, fr_due, res, res_due, closed) in rows {
        let Some(row) = out.iter_mut().find(|x| x.priority == p) else {
            continue;
        };
        row.tickets += 1;
        row.first_response.add(fr, fr_due, now);
        // Closed without a resolution (spam, duplicates) is not judged.
        if res.is_some() || closed.is_none() {
            row.resolution.add(res, res_due, now);
        }
    }
    for row in &mut out {
        row.first_response.finish();
        row.resolution.finish();
    }
    Ok(SlaReport {
        from: r.from_label(),
        to: r.to_label(),
        priorities: out,
    })
}

/// `/admin/dashboard`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Dashboard {
    /// Every ticket.
    pub total: i64,
    /// Not resolved or closed.
    pub open: i64,
    /// Open and nobody's.
    pub unassigned: i64,
    /// Average seconds to the first public reply, tickets first answered in the last 30 days.
    pub avg_first_response_secs: Option<i64>,
    /// Resolved in the last 30 days per ticket created in them, percent.
    pub resolution_rate_30d: Option<f64>,
    /// Open tickets past a due time now, plus tickets resolved late in the last 30 days.
    pub sla_breaches: i64,
    /// Counts per status.
    pub by_status: BTreeMap<String, i64>,
    /// Counts per priority.
    pub by_priority: BTreeMap<String, i64>,
    /// Counts per category.
    pub by_category: BTreeMap<String, i64>,
    /// Latest history events: `{ticket, field, new_value, actor, created_at}`.
    pub recent_activity: Vec<serde_json::Value>,
}

/// The dashboard's figures.
pub async fn dashboard(ctx: &Ctx, admin: &Actor) -> Result<Dashboard> {
    let db = &ctx.db.read;
    let stats = query::stats(db, admin).await?;
    let open: i64 = Status::ALL
        .iter()
        .filter(|s| s.is_active())
        .map(|s| stats.by_status.get(s.as_str()).copied().unwrap_or(0))
        .sum();
    let now = ctx.clock.now_micros();
    let month = Range::last_days(now, 30);
    // Three aggregates over 30-day index ranges, computed by the database.
    let agg = |sql: &str| {
        sea_orm::Statement::from_sql_and_values(
            db.get_database_backend(),
            sql,
            [month.from.into(), month.to.into()],
        )
    };
    let first = db
        .query_one_raw(agg(
            "SELECT CAST(COALESCE(SUM(first_response_at - created_at), 0) AS BIGINT), COUNT(*) \
             FROM tickets WHERE first_response_at >= $1 AND first_response_at < $2",
        ))
        .await?;
    let (wait_sum, answered): (i64, i64) = match &first {
        Some(r) => (r.try_get_by_index(0)?, r.try_get_by_index(1)?),
        None => (0, 0),
    };
    let created: i64 = match db
        .query_one_raw(agg(
            "SELECT COUNT(*) FROM tickets WHERE created_at >= $1 AND created_at < $2",
        ))
        .await?
    {
        Some(r) => r.try_get_by_index(0)?,
        None => 0,
    };
    let done = db
        .query_one_raw(agg(
            "SELECT COUNT(*), CAST(COALESCE(SUM(CASE WHEN resolved_at > resolution_due_at THEN 1 ELSE 0 END), 0) AS BIGINT) \
             FROM tickets WHERE resolved_at >= $1 AND resolved_at < $2",
        ))
        .await?;
    let (resolved, late): (i64, i64) = match &done {
        Some(r) => (r.try_get_by_index(0)?, r.try_get_by_index(1)?),
        None => (0, 0),
    };
    let mut activity = Vec::new();
    for (number, e) in crate::tickets::history::recent(db, 15).await? {
        activity.push(serde_json::json!({
            "ticket": number, "field": e.field, "new_value": e.new_value,
            "actor": e.actor.map(|a| a.name), "created_at": e.created_at,
        }));
    }
    Ok(Dashboard {
        total: stats.total,
        open,
        unassigned: query::stats_unassigned(db).await?,
        avg_first_response_secs: (answered > 0).then(|| round_secs(wait_sum / answered)),
        resolution_rate_30d: (created > 0)
            .then(|| (resolved as f64 * 1000.0 / created as f64).round() / 10.0),
        sla_breaches: overdue_now(db, now).await? + late,
        by_status: stats.by_status,
        by_priority: stats.by_priority,
        by_category: stats.by_category,
        recent_activity: activity,
    })
}

/// Open tickets past a due time now (counted in SQL over the open statuses only).
async fn overdue_now(conn: &impl ConnectionTrait, now: i64) -> Result<i64> {
    use sea_orm::{Condition, PaginatorTrait};
    Ok(ticket::Entity::find()
        .filter(ticket::Column::Status.is_in(Status::active_names()))
        .filter(
            Condition::any()
                .add(ticket::Column::ResolutionDueAt.lt(now))
                .add(
                    Condition::all()
                        .add(ticket::Column::FirstResponseAt.is_null())
                        .add(ticket::Column::FirstResponseDueAt.lt(now)),
                ),
        )
        .count(conn)
        .await? as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_compliance() {
        assert_eq!(median_secs(vec![]), None);
        assert_eq!(median_secs(vec![3 * SEC, SEC, 2 * SEC]), Some(2));
        assert_eq!(
            median_secs(vec![4 * SEC, SEC, 2 * SEC, 3 * SEC]),
            Some(3),
            "2.5 s rounds up"
        );
        let mut c = Compliance::default();
        c.add(Some(5), Some(10), 100);
        c.add(Some(11), Some(10), 100);
        c.add(None, Some(50), 100);
        c.add(None, Some(500), 100);
        c.add(Some(1), None, 100);
        c.finish();
        assert_eq!((c.met, c.missed, c.pending), (1, 2, 1));
        assert_eq!(c.percent, Some(33.3));
    }
}
