//! The reports as CSV (one row per bucket, agent or priority), for spreadsheets.

use super::{AgentReport, SlaReport, VolumeReport};
use crate::error::{Error, Result};

fn finish(w: csv::Writer<Vec<u8>>) -> Result<String> {
    let bytes = w
        .into_inner()
        .map_err(|e| Error::Internal(anyhow::anyhow!("csv: {e}")))?;
    String::from_utf8(bytes).map_err(|e| Error::Internal(anyhow::anyhow!("csv: {e}")))
}

/// Neutralises spreadsheet formulas in exported cells.
pub fn safe_cell(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

fn io(e: csv::Error) -> Error {
    Error::Internal(anyhow::anyhow!("csv: {e}"))
}

/// Volume report: `start,created,resolved`.
pub fn volume(r: &VolumeReport) -> Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([r.interval, "created", "resolved"])
        .map_err(io)?;
    for b in &r.buckets {
        w.write_record([
            b.start.clone(),
            b.created.to_string(),
            b.resolved.to_string(),
        ])
        .map_err(io)?;
    }
    finish(w)
}

/// Agent report, one row per agent.
pub fn agents(r: &AgentReport) -> Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "agent_id",
        "name",
        "open_now",
        "assigned",
        "resolved",
        "median_first_response_secs",
        "median_resolution_secs",
        "csat_average",
        "csat_count",
    ])
    .map_err(io)?;
    for a in &r.agents {
        w.write_record([
            a.id.to_string(),
            safe_cell(&a.name),
            a.open_now.to_string(),
            a.assigned.to_string(),
            a.resolved.to_string(),
            opt(a.median_first_response_secs),
            opt(a.median_resolution_secs),
            opt(a.csat_average),
            a.csat_count.to_string(),
        ])
        .map_err(io)?;
    }
    finish(w)
}

/// SLA report, one row per priority.
pub fn sla(r: &SlaReport) -> Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "priority",
        "tickets",
        "first_response_met",
        "first_response_missed",
        "first_response_pending",
        "first_response_percent",
        "resolution_met",
        "resolution_missed",
        "resolution_pending",
        "resolution_percent",
    ])
    .map_err(io)?;
    for p in &r.priorities {
        w.write_record([
            p.priority.clone(),
            p.tickets.to_string(),
            p.first_response.met.to_string(),
            p.first_response.missed.to_string(),
            p.first_response.pending.to_string(),
            opt(p.first_response.percent),
            p.resolution.met.to_string(),
            p.resolution.missed.to_string(),
            p.resolution.pending.to_string(),
            opt(p.resolution.percent),
        ])
        .map_err(io)?;
    }
    finish(w)
}
