//! The ticket and its conversation, shaped for the page templates.

use crate::auth::Actor;
use crate::context::Ctx;
use crate::conversations::{self, AttachmentView, CommentView};
use crate::error::Result;
use crate::tickets::view;

/// A downloadable file.
pub struct FileLink {
    /// Name.
    pub name: String,
    /// Human size.
    pub size: String,
    /// Download URL for this viewer.
    pub url: String,
}

/// The ticket header and opening post.
pub struct TicketSummary {
    /// Id.
    pub id: i64,
    /// Number.
    pub number: String,
    /// Subject.
    pub subject: String,
    /// Status slug.
    pub status: String,
    /// Status for people.
    pub status_label: String,
    /// Priority slug.
    pub priority: String,
    /// Category slug.
    pub category: String,
    /// When opened.
    pub created_at: String,
    /// Requester name.
    pub requester_name: String,
    /// Requester e-mail.
    pub requester_email: String,
    /// Assignee name ("" when none).
    pub assignee: String,
    /// Assignee id.
    pub assignee_id: Option<i64>,
    /// Opening post, sanitised HTML.
    pub description_html: String,
    /// Opening files.
    pub files: Vec<FileLink>,
    /// Tags.
    pub tags: Vec<String>,
    /// SLA lines for staff.
    pub first_response_due: String,
    /// The same as RFC 3339, for the console's live countdown.
    pub first_response_due_at: String,
    /// SLA lines for staff.
    pub resolution_due: String,
    /// The same as RFC 3339.
    pub resolution_due_at: String,
    /// First-response clock state.
    pub first_response_state: &'static str,
    /// Resolution clock state.
    pub resolution_state: &'static str,
    /// The requester's rating, once given.
    pub rating: Option<crate::tickets::rating::RatingView>,
    /// Resolved or closed, not merged, not rated yet.
    pub rateable: bool,
}

/// One message.
pub struct MessageItem {
    /// Id.
    pub id: i64,
    /// Author name.
    pub author: String,
    /// Internal note.
    pub internal: bool,
    /// Written by staff.
    pub staff: bool,
    /// When.
    pub created_at: String,
    /// Body, sanitised HTML.
    pub html: String,
    /// Collapsed quoted text of an e-mail.
    pub quoted: Option<String>,
    /// Came by e-mail.
    pub email: bool,
    /// Files.
    pub files: Vec<FileLink>,
}

/// `2026-11-21 10:00 UTC` from RFC 3339.
pub fn human_time(rfc: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|_| rfc.to_string())
}

/// `12 KB` style sizes.
pub fn human_size(bytes: i64) -> String {
    match bytes {
        b if b < 1024 => format!("{b} B"),
        b if b < 1024 * 1024 => format!("{} KB", b / 1024),
        b => format!("{:.1} MB", b as f64 / 1_048_576.0),
    }
}

fn links(files: &[AttachmentView], url: &(dyn Fn(i64) -> String + Sync)) -> Vec<FileLink> {
    files
        .iter()
        .map(|a| FileLink {
            name: a.filename.clone(),
            size: human_size(a.size),
            url: url(a.id),
        })
        .collect()
}

/// Loads a visible ticket and its thread; `file_url` makes download links for this viewer.
pub async fn load(
    ctx: &Ctx,
    actor: &Actor,
    key: &str,
    file_url: &(dyn Fn(i64) -> String + Sync),
) -> Result<(TicketSummary, Vec<MessageItem>)> {
    let v = view::load_one(&ctx.db, actor, key, ctx.clock.now_micros()).await?;
    let comments: Vec<CommentView> = conversations::list(ctx, actor, key).await?;
    let summary = TicketSummary {
        id: v.id,
        number: v.number.clone(),
        subject: v.subject.clone(),
        status_label: v.status.replace('_', " "),
        status: v.status.clone(),
        priority: v.priority.clone(),
        category: v.category.clone(),
        created_at: human_time(&v.created_at),
        requester_name: v
            .requester
            .as_ref()
            .map(|r| r.name.clone())
            .unwrap_or_default(),
        requester_email: v
            .requester
            .as_ref()
            .map(|r| r.email.clone())
            .unwrap_or_default(),
        assignee: v
            .assignee
            .as_ref()
            .map(|a| a.name.clone())
            .unwrap_or_default(),
        assignee_id: v.assignee.as_ref().map(|a| a.id),
        description_html: super::markdown::render(&v.description),
        files: links(&v.attachments, file_url),
        tags: v.tags.clone(),
        first_response_due_at: v.first_response_due_at.clone().unwrap_or_default(),
        resolution_due_at: v.resolution_due_at.clone().unwrap_or_default(),
        first_response_due: v
            .first_response_due_at
            .as_deref()
            .map(human_time)
            .unwrap_or_default(),
        resolution_due: v
            .resolution_due_at
            .as_deref()
            .map(human_time)
            .unwrap_or_default(),
        rating: v.rating.clone(),
        rateable: v.rating.is_none()
            && v.merged_into.is_none()
            && v.resolved_at.is_some()
            && matches!(v.status.as_str(), "resolved" | "closed"),
        first_response_state: v.sla.first_response.state,
        resolution_state: v.sla.resolution.state,
    };
    let messages = comments
        .into_iter()
        .map(|c| MessageItem {
            id: c.id,
            author: c
                .author
                .as_ref()
                .map(|a| a.name.clone())
                .unwrap_or_else(|| "Triage".into()),
            staff: c.author.as_ref().is_some_and(|a| a.role != "customer"),
            internal: c.internal,
            created_at: human_time(&c.created_at),
            html: super::markdown::render(&c.body),
            quoted: c.quoted.clone(),
            email: c.channel == "email",
            files: links(&c.attachments, file_url),
        })
        .collect();
    Ok((summary, messages))
}
