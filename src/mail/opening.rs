//! The ticket a new message opens. Everything that needs no lock (text shaping, category,
//! validation, a free number, the SLA policy) is done on the read pool before intake takes
//! the single writer, which then only inserts.

use super::ids;
use super::inbound::{Files, body_with_notes, fit, text_attachment};
use super::parse::Parsed;
use crate::context::Ctx;
use crate::db::entities::{ticket, user};
use crate::db::pipeline::Pipeline;
use crate::db::tx::Tx;
use crate::error::Result;
use crate::tickets::model::Channel;
use crate::tickets::service::{self as tickets, NewTicket, Prepared, RequesterInput};

/// A ticket ready to open, should the message not thread onto an existing one.
pub(super) struct Opening {
    /// With its files (and the full text as `message.txt` when the description was cut).
    ticket: NewTicket,
    prepared: Prepared,
}

impl Opening {
    /// Whether its category hands new tickets to an agent (a write only sea-orm has a form of).
    pub(super) fn assigns(&self) -> bool {
        self.prepared.assigns()
    }
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
    let mut attachments = files.stored.clone();
    attachments.extend(text_attachment(ctx, extra).await?);
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
        attachments,
    };
    let prepared = tickets::prepare(ctx, &ticket).await?;
    Ok(Opening { ticket, prepared })
}

/// Opens the ticket for `author` in `txn` (a follow-up of `previous` when that one is closed
/// for good), queueing its rows on `writes`; the caller adds the message's Message-ID and
/// intake log row and runs them.
pub(super) async fn open(
    ctx: &Ctx,
    txn: &impl Tx,
    author: &user::Model,
    opening: Opening,
    previous: Option<i64>,
    now: i64,
    writes: &mut Pipeline,
) -> Result<ticket::Model> {
    let Opening {
        mut ticket,
        prepared,
    } = opening;
    ticket.requester = RequesterInput::Known(author.id);
    ticket.follow_up_of = previous;
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
