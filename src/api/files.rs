//! Attachment downloads, with the ticket's visibility rules and safe headers.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use std::collections::BTreeMap;

use super::extract::{ApiPath, ApiQuery, Auth};
use crate::app::AppState;
use crate::attachments;
use crate::auth::Actor;
use crate::error::{Error, Result};
use crate::tickets::tracking;

/// Download an attachment of a visible ticket (internal-note files: staff only).
#[utoipa::path(get, path = "/tickets/{id}/attachments/{att_id}", tag = "comments",
    params(("id" = String, Path), ("att_id" = i64, Path)),
    responses((status = 200, description = "the file"), (status = 404)), security(("bearer" = [])))]
pub async fn download(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath((key, id)): ApiPath<(String, i64)>,
) -> Result<Response> {
    serve(&s, &a, &key, id).await
}

/// Download an attachment through a ticket's tracking link.
#[utoipa::path(get, path = "/track/{number}/attachments/{att_id}", tag = "tickets",
    params(("number" = String, Path), ("att_id" = i64, Path), ("token" = String, Query)),
    responses((status = 200, description = "the file"), (status = 404)))]
pub async fn track_download(
    State(s): State<AppState>,
    ApiPath((number, id)): ApiPath<(String, i64)>,
    ApiQuery(q): ApiQuery<BTreeMap<String, String>>,
) -> Result<Response> {
    let token = q.get("token").map(String::as_str).unwrap_or("");
    let actor = tracking::actor_for(&s.ctx, &number, token).await?;
    serve(&s, &actor, &number, id).await
}

/// Streams the file with headers that stop browsers from running or sniffing it.
pub async fn serve(s: &AppState, actor: &Actor, key: &str, id: i64) -> Result<Response> {
    let a = attachments::fetch(&s.ctx, actor, key, id).await?;
    let bytes = s.ctx.blobs.open(&a.sha256).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            tracing::error!(attachment = a.id, sha256 = %a.sha256, error = %e, "attachment bytes missing");
            Error::NotFound("attachment")
        } else {
            Error::Internal(e.into())
        }
    })?;
    let body = Body::from_stream(bytes);
    let ctype = if a.content_type.starts_with("text/") {
        "text/plain; charset=utf-8".to_string()
    } else {
        a.content_type.clone()
    };
    let disposition = if attachments::shows_inline(&a.content_type) {
        "inline"
    } else {
        "attachment"
    };
    let ascii: String = a
        .filename
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_ ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = a
        .filename
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b".-_".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    let value = |v: String| {
        HeaderValue::from_str(&v).unwrap_or(HeaderValue::from_static("application/octet-stream"))
    };
    h.insert(header::CONTENT_TYPE, value(ctype));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(a.size as u64));
    h.insert(
        header::CONTENT_DISPOSITION,
        value(format!(
            "{disposition}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"
        )),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    Ok(resp)
}
