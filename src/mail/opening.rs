//! The ticket a new message opens. Everything that needs no lock (text shaping, category,
//! validation, a free number, the SLA policy) is done on the read pool before intake takes
//! the single writer, which then only inserts.

use sea_orm::DatabaseTransaction;

use super::ids;
use super::inbound::{Files, body_with_notes, fit, text_attachment};
use super::parse::Parsed;
use crate::context::Ctx;
use crate::db::entities::{ticket, user};
use crate::db::pipeline::Pipeline;
use crate::error::Result;
use crate::tickets::model::Channel;
use crate::tickets::service::{self as tickets, NewTicket, Prepared, RequesterInput};

/// A ticket ready to open, should the message not thread onto an existing one.
pub(super) struct Opening {
    ticket: NewTicket,
    /// The full text, when the description had to be cut (kept as `message.txt`).
    extra: Option<String>,
    prepared: Prepared,
}

/// Shapes and checks the ticket `p` would open, outside the write transaction.
pub(super) async fn prepare(
    ctx: &Ctx,
    p: &Parsed,
    files: &Files,
    no_auto_reply: bool,
) -> Result<Opening> {
    let mut subject = ids::clean_subject(&ctx.config.ticket_prefix, &p.subject);
    if subject.chars().count() < 3 {
        subject = "(no subject)".into();
    }
    if subject.chars().count() > 200 {
        subject = subject.chars().take(199).collect::<String>() + "…";
    }
    let text = body_with_notes(p.text.trim(), &files.notes);
    let text = if text.chars().count() < 10 {
        format!("{text}\n\n(sent by e-mail without further text)")
    } else {
        text
    };
    let (description, extra) = fit(&text, 5000, &p.text);
    let ticket = NewTicket {
        subject,
        description,
        description_field: "body",
        category: default_category(ctx).await?,
        priority: None,
        tags: Vec::new(),
        channel: Channel::Email,
        // The sender's account is found or made in the transaction; set there.
        requester: RequesterInput::Known(0),
        page_url: None,
        browser_info: None,
        ip: None,
        conversation_id: None,
        follow_up_of: None,
        suppress_ack: no_auto_reply,
        attachments: Vec::new(),
    };
    let prepared = tickets::prepare(ctx, &ticket).await?;
    Ok(Opening {
        ticket,
        extra,
        prepared,
    })
}

/// Opens the ticket for `author` in `txn` (a follow-up of `previous` when that one is closed
/// for good), queueing its rows on `writes`; the caller adds the message's Message-ID and
/// intake log row and runs them.
#[allow(clippy::too_many_arguments)]
pub(super) async fn open(
    ctx: &Ctx,
    txn: &DatabaseTransaction,
    author: &user::Model,
    files: &Files,
    opening: Opening,
    previous: Option<i64>,
    now: i64,
    writes: &mut Pipeline,
) -> Result<ticket::Model> {
    let Opening {
        mut ticket,
        extra,
        prepared,
    } = opening;
    ticket.requester = RequesterInput::Known(author.id);
    ticket.follow_up_of = previous;
    ticket.attachments = files.stored.clone();
    ticket
        .attachments
        .extend(text_attachment(ctx, extra).await?);
    tickets::create_prepared(ctx, txn, ticket, prepared, now, writes).await
}

async fn default_category(ctx: &Ctx) -> Result<String> {
    let cats = ctx.catalog.categories(&ctx.db.read).await?;
    Ok(cats
        .iter()
        .find(|c| c.slug == "general")
        .or(cats.first())
        .map(|c| c.slug.clone())
        .unwrap_or_else(|| "general".into()))
}
