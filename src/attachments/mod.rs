//! Attachments: bytes stored content-addressed (SHA-256) on local disk or S3 (`blobs`),
//! metadata rows per ticket and message. The type is decided by sniffing the bytes, never by the
//! sender's word; executables are refused.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QueryTrait, Set};
use serde::Serialize;
use utoipa::ToSchema;

pub mod blobs;
pub mod upload;

pub use blobs::Blobs;

use crate::db::mail_entities::attachment;
use crate::db::tx::{self, Tx};
use crate::error::Result;

/// An attachment as the API shows it.
#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct AttachmentView {
    /// Attachment id.
    pub id: i64,
    /// File name.
    pub filename: String,
    /// Sniffed MIME type.
    pub content_type: String,
    /// Size in bytes.
    pub size: i64,
}

impl From<&attachment::Model> for AttachmentView {
    fn from(a: &attachment::Model) -> Self {
        AttachmentView {
            id: a.id,
            filename: a.filename.clone(),
            content_type: a.content_type.clone(),
            size: a.size,
        }
    }
}

/// Why a file was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Programs and scripts are never accepted.
    Executable,
    /// Larger than the configured limit.
    TooLarge,
}

/// The MIME type of `bytes` by content; text that is valid UTF-8 is `text/plain`.
pub fn sniff(bytes: &[u8], filename: &str) -> std::result::Result<String, Refusal> {
    const MAGIC: &[&[u8]] = &[
        b"MZ",
        b"\x7fELF",
        b"\xfe\xed\xfa\xce",
        b"\xfe\xed\xfa\xcf",
        b"\xce\xfa\xed\xfe",
        b"\xcf\xfa\xed\xfe",
        b"#!",
    ];
    if MAGIC.iter().any(|m| bytes.starts_with(m)) {
        return Err(Refusal::Executable);
    }
    if let Some(kind) = infer::get(bytes) {
        if kind.matcher_type() == infer::MatcherType::App
            && !matches!(kind.mime_type(), "application/wasm")
        {
            return Err(Refusal::Executable);
        }
        return Ok(kind.mime_type().to_string());
    }
    let lower = filename.to_ascii_lowercase();
    const SCRIPTS: &[&str] = &[
        ".exe", ".com", ".bat", ".cmd", ".scr", ".pif", ".msi", ".vbs", ".js", ".jse", ".wsf",
        ".ps1", ".sh", ".jar", ".app", ".dll", ".lnk", ".hta", ".cpl",
    ];
    if SCRIPTS.iter().any(|e| lower.ends_with(e)) || bytes.starts_with(b"#!") {
        return Err(Refusal::Executable);
    }
    if std::str::from_utf8(bytes).is_ok() {
        let t = if lower.ends_with(".csv") {
            "text/csv"
        } else if lower.ends_with(".eml") {
            "message/rfc822"
        } else {
            "text/plain"
        };
        return Ok(t.into());
    }
    Ok("application/octet-stream".into())
}

/// Stores bytes already in memory and returns their SHA-256; durable before the caller
/// commits the row that points at them.
pub async fn store_bytes(blobs: &Blobs, bytes: &[u8]) -> Result<String> {
    blobs
        .put_bytes(bytes)
        .await
        .map_err(|e| crate::error::Error::Internal(e.into()))
}

/// A stored file to link to a ticket.
#[derive(Clone, Debug)]
pub struct NewAttachment {
    /// File name shown to users.
    pub filename: String,
    /// Sniffed type.
    pub content_type: String,
    /// Size in bytes.
    pub size: i64,
    /// Content hash (from `store_bytes`).
    pub sha256: String,
    /// Content-ID when the file is an inline image of an HTML mail.
    pub inline_cid: Option<String>,
}

/// Links stored files to a ticket (and message), in the caller's transaction.
pub async fn record(
    conn: &impl Tx,
    ticket_id: i64,
    message_row: Option<i64>,
    files: Vec<NewAttachment>,
    now: i64,
) -> Result<Vec<attachment::Model>> {
    let mut out = Vec::new();
    for f in files {
        let row = attachment::ActiveModel {
            ticket_id: Set(ticket_id),
            message_row: Set(message_row),
            filename: Set(f.filename),
            content_type: Set(f.content_type),
            size: Set(f.size),
            sha256: Set(f.sha256),
            inline_cid: Set(f.inline_cid),
            created_at: Set(now),
            ..Default::default()
        };
        let insert = attachment::Entity::insert(row).into_query();
        let stored = tx::insert_returning::<attachment::Entity, _>(conn, insert)
            .await?
            .ok_or_else(|| {
                crate::error::Error::Internal(anyhow::anyhow!("attachment row not stored"))
            })?;
        out.push(stored);
    }
    Ok(out)
}

/// Attachments of the given messages, in upload order.
pub async fn for_messages(
    conn: &impl Tx,
    message_rows: Vec<i64>,
) -> Result<Vec<attachment::Model>> {
    if message_rows.is_empty() {
        return Ok(Vec::new());
    }
    let query = attachment::Entity::find()
        .filter(attachment::Column::MessageRow.is_in(message_rows))
        .order_by_asc(attachment::Column::Id)
        .into_query();
    Ok(tx::all(conn, &query).await?)
}

/// An attachment the actor may download (its bytes are `ctx.blobs.open(&row.sha256)`).
pub async fn fetch(
    ctx: &crate::context::Ctx,
    actor: &crate::auth::Actor,
    ticket_key: &str,
    id: i64,
) -> Result<attachment::Model> {
    use crate::db::entities::message;
    let t = crate::tickets::access::load(&ctx.db, actor, ticket_key).await?;
    let a = attachment::Entity::find_by_id(id)
        .filter(attachment::Column::TicketId.eq(t.id))
        .one(&ctx.db.read)
        .await?
        .ok_or(crate::error::Error::NotFound("attachment"))?;
    if let Some(row) = a.message_row {
        let internal = message::Entity::find_by_id(row)
            .one(&ctx.db.read)
            .await?
            .is_some_and(|m| m.internal);
        if internal && !actor.is_staff() {
            return Err(crate::error::Error::NotFound("attachment"));
        }
    }
    Ok(a)
}

/// Whether a type may be shown in the browser rather than downloaded: raster images and
/// PDF only (never HTML or SVG, which can carry script).
pub fn shows_inline(content_type: &str) -> bool {
    matches!(
        content_type,
        "image/png" | "image/jpeg" | "image/gif" | "image/webp" | "application/pdf"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffing_trusts_bytes_not_names() {
        let png = [
            0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0x0D,
        ];
        assert_eq!(sniff(&png, "photo.txt").unwrap(), "image/png");
        assert_eq!(
            sniff(
                b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff",
                "report.pdf"
            ),
            Err(Refusal::Executable)
        );
        assert_eq!(
            sniff(b"\x7fELF\x02\x01\x01\x00", "x.png"),
            Err(Refusal::Executable)
        );
        assert_eq!(sniff(b"echo hi", "run.bat"), Err(Refusal::Executable));
        assert_eq!(
            sniff(b"#!/bin/sh\nrm -rf /", "notes.txt"),
            Err(Refusal::Executable)
        );
        assert_eq!(sniff("héllo".as_bytes(), "a.txt").unwrap(), "text/plain");
        assert_eq!(
            sniff(&[0xff, 0xfe, 0x00, 0x01, 0x80], "blob").unwrap(),
            "application/octet-stream"
        );
    }
}
