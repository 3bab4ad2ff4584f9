//! `/admin/reports`: volume, SLA compliance and agent workload for a date range, as SVG charts
//! and tables, each downloadable as CSV.

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;

use super::session::Viewer;
use super::{Layout, Need, charts, page, require};
use crate::app::AppState;
use crate::error::{Error, Result};
use crate::reports::{self, AgentReport, Interval, Range, SlaReport, VolumeReport};

/// `/admin/reports`.
#[derive(askama::Template)]
#[template(path = "admin_reports.html")]
pub struct ReportsPage {
    l: Layout,
    query: String,
    interval: &'static str,
    volume: VolumeReport,
    agents: AgentReport,
    sla: SlaReport,
    volume_chart: String,
    sla_chart: String,
    workload_chart: String,
}

fn pct(v: Option<f64>) -> i64 {
    v.map(|p| p.round() as i64).unwrap_or(0)
}

/// GET `/admin/reports?from=&to=&interval=`.
pub async fn reports_page(
    State(s): State<AppState>,
    v: Viewer,
    Query(p): Query<BTreeMap<String, String>>,
) -> Result<Response> {
    require!(v, "/admin/reports", Need::Admin);
    let now = s.ctx.clock.now_micros();
    let (range, interval, flash) = match (
        Range::from_params(&p, now),
        Interval::parse(p.get("interval").map(String::as_str)),
    ) {
        (Ok(r), Ok(i)) => (r, i, None),
        (r, i) => {
            let msg = [r.err(), i.err()]
                .into_iter()
                .flatten()
                .map(|e| super::agent::describe(&e))
                .collect::<Vec<_>>()
                .join("; ");
            (Range::last_days(now, 30), Interval::Day, Some(msg))
        }
    };
    let volume = reports::volume(&s.ctx, &range, interval).await?;
    let agents = reports::agents(&s.ctx, &range).await?;
    let sla = reports::sla(&s.ctx, &range).await?;
    let every = (volume.buckets.len() / 10).max(1);
    let volume_chart = charts::bars(
        "Tickets created",
        &volume
            .buckets
            .iter()
            .map(|b| (b.start[5..].to_string(), b.created))
            .collect::<Vec<_>>(),
        every,
    );
    let sla_chart = charts::bars(
        "Resolution SLA met (%)",
        &sla.priorities
            .iter()
            .map(|r| (r.priority.clone(), pct(r.resolution.percent)))
            .collect::<Vec<_>>(),
        1,
    );
    let workload_chart = charts::bars(
        "Open tickets per agent",
        &agents
            .agents
            .iter()
            .map(|a| (a.name.clone(), a.open_now))
            .collect::<Vec<_>>(),
        1,
    );
    let mut l = Layout::new(&v, "Reports", "admin-reports");
    l.flash = flash;
    let query = format!("from={}&to={}", volume.from, volume.to);
    let view = ReportsPage {
        l,
        query,
        interval: interval.name(),
        volume,
        agents,
        sla,
        volume_chart,
        sla_chart,
        workload_chart,
    };
    Ok(page(&v, 200, &view))
}

/// GET `/admin/reports/{kind}.csv?from=&to=&interval=`: `tickets`, `agents` or `sla`.
pub async fn report_csv(
    State(s): State<AppState>,
    v: Viewer,
    Path(file): Path<String>,
    Query(p): Query<BTreeMap<String, String>>,
) -> Result<Response> {
    require!(v, "/admin/reports", Need::Admin);
    let range = Range::from_params(&p, s.ctx.clock.now_micros())?;
    let (name, body) = match file.as_str() {
        "tickets.csv" => {
            let i = Interval::parse(p.get("interval").map(String::as_str))?;
            (
                "tickets",
                reports::csv::volume(&reports::volume(&s.ctx, &range, i).await?)?,
            )
        }
        "agents.csv" => (
            "agents",
            reports::csv::agents(&reports::agents(&s.ctx, &range).await?)?,
        ),
        "sla.csv" => (
            "sla",
            reports::csv::sla(&reports::sla(&s.ctx, &range).await?)?,
        ),
        _ => return Err(Error::NotFound("report")),
    };
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"{name}-{}-{}.csv\"",
                    range.from_label(),
                    range.to_label()
                ),
            ),
        ],
        body,
    )
        .into_response())
}
