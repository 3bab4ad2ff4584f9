//! Bulk actions: one action over many tickets, each succeeding or failing on its own.

use serde::Serialize;

use super::access;
use super::changes::{self, AssignTarget};
use super::service;
use crate::auth::Actor;
use crate::context::Ctx;
use crate::error::{Error, Result};

/// One ticket that a bulk action could not change.
#[derive(Serialize, utoipa::ToSchema)]
pub struct BulkFailure {
    /// Ticket id.
    pub id: i64,
    /// Error code.
    pub code: String,
    /// Why.
    pub message: String,
}

/// Result of a bulk action.
#[derive(Serialize, utoipa::ToSchema)]
pub struct BulkResult {
    /// Ids changed.
    pub updated: Vec<i64>,
    /// Ids not changed, with reasons.
    pub failed: Vec<BulkFailure>,
}

async fn bulk_one(
    ctx: &Ctx,
    a: &Actor,
    id: i64,
    action: &str,
    value: &serde_json::Value,
) -> Result<()> {
    let key = id.to_string();
    let text = || {
        value
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| Error::field("value", "must be a string"))
    };
    match action {
        "status" => changes::set_status(ctx, a, &key, &text()?, None)
            .await
            .map(|_| ()),
        "priority" => changes::set_priority(ctx, a, &key, &text()?)
            .await
            .map(|_| ()),
        "assign" => {
            let target = match value {
                serde_json::Value::Null => AssignTarget::Nobody,
                serde_json::Value::String(v) if v == "auto" => AssignTarget::Auto,
                v => AssignTarget::Agent(v.as_i64().ok_or_else(|| {
                    Error::field("value", "must be an agent id, \"auto\" or null")
                })?),
            };
            changes::assign(ctx, a, &key, target).await.map(|_| ())
        }
        "tag" => {
            let patch = service::TicketPatch {
                add_tags: vec![text()?],
                ..Default::default()
            };
            service::update(ctx, a, &key, patch).await.map(|_| ())
        }
        _ => Err(Error::field(
            "action",
            "must be one of: status, priority, assign, tag",
        )),
    }
}

/// Applies `action` with `value` to each ticket id (1–100), as `actor`.
pub async fn run(
    ctx: &Ctx,
    actor: &Actor,
    ids: Vec<i64>,
    action: &str,
    value: &serde_json::Value,
) -> Result<BulkResult> {
    access::require_staff(actor)?;
    if ids.is_empty() || ids.len() > 100 {
        return Err(Error::field("ids", "must hold 1 to 100 ticket ids"));
    }
    if !["status", "priority", "assign", "tag"].contains(&action) {
        return Err(Error::field(
            "action",
            "must be one of: status, priority, assign, tag",
        ));
    }
    if action == "assign" {
        access::require_admin(actor)?;
    }
    let mut out = BulkResult {
        updated: Vec::new(),
        failed: Vec::new(),
    };
    let mut seen = Vec::new();
    for id in ids {
        if seen.contains(&id) {
            continue;
        }
        seen.push(id);
        match bulk_one(ctx, actor, id, action, value).await {
            Ok(()) => out.updated.push(id),
            Err(e @ (Error::Db(_) | Error::Internal(_))) => return Err(e),
            Err(e) => {
                let code = match &e {
                    Error::Validation { .. } => "VALIDATION_ERROR",
                    Error::NotFound(_) => "NOT_FOUND",
                    Error::Forbidden(_) => "FORBIDDEN",
                    Error::InvalidTransition { .. } => "INVALID_TRANSITION",
                    _ => "CONFLICT",
                };
                let message = match &e {
                    Error::Validation { errors, .. } => errors
                        .iter()
                        .map(|(k, v)| format!("{k}: {}", v.join("; ")))
                        .collect::<Vec<_>>()
                        .join(", "),
                    other => other.to_string(),
                };
                out.failed.push(BulkFailure {
                    id,
                    code: code.into(),
                    message,
                });
            }
        }
    }
    Ok(out)
}
