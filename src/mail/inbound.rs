//! Intake of one inbound e-mail: classify, de-duplicate, thread or create, store attachments,
//! log the outcome — the ticket change, its Message-ID and the log row in one transaction.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryTrait, Set, Statement};

use super::classify::{self, Kind};
use super::parse::{self, Parsed};
use super::{ids, opening, quote};
use crate::attachments::{self, NewAttachment, Refusal};
use crate::auth::Actor;
use crate::context::Ctx;
use crate::conversations::{self, MAX_BODY_CHARS, Reply};
use crate::db::entities::{job, ticket, user};
use crate::db::mail_entities::{inbound_mail, mail_id};
use crate::db::pipeline::Pipeline;
use crate::db::tx::{self, OnHandle, Tx};
use crate::error::{Error, Result};
use crate::tickets::model::{Channel, Role, Status};
use crate::tickets::workflow;
use crate::users::service as users;

/// What intake did with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intake {
    /// A new ticket.
    Created {
        /// Ticket id.
        ticket_id: i64,
    },
    /// A new ticket linked to a closed one the reply came too late for.
    FollowUp {
        /// New ticket id.
        ticket_id: i64,
        /// The closed ticket.
        previous: i64,
    },
    /// Added to an existing ticket's thread.
    Threaded {
        /// Ticket id.
        ticket_id: i64,
        /// New message row.
        message: i64,
        /// How the ticket was found.
        by: Evidence,
    },
    /// Seen before (same Message-ID): nothing done.
    Duplicate {
        /// Ticket it went to the first time.
        ticket_id: i64,
    },
    /// Automatic, bulk or looping mail: dropped, no ticket, no reply.
    Ignored {
        /// Why.
        reason: String,
    },
    /// A bounce: the deliveries it names are marked `bounced`.
    Bounce {
        /// Deliveries marked.
        marked: u64,
    },
}

impl Intake {
    /// Short outcome name for logs and the inbound log.
    pub fn name(&self) -> &'static str {
        match self {
            Intake::Created { .. } => "created",
            Intake::FollowUp { .. } => "follow_up",
            Intake::Threaded { .. } => "threaded",
            Intake::Duplicate { .. } => "duplicate",
            Intake::Ignored { .. } => "ignored",
            Intake::Bounce { .. } => "bounce",
        }
    }

    /// The ticket concerned, if any.
    pub fn ticket_id(&self) -> Option<i64> {
        match self {
            Intake::Created { ticket_id }
            | Intake::FollowUp { ticket_id, .. }
            | Intake::Threaded { ticket_id, .. }
            | Intake::Duplicate { ticket_id } => Some(*ticket_id),
            _ => None,
        }
    }

    /// The message a reply was threaded as.
    fn message_row(&self) -> Option<i64> {
        match self {
            Intake::Threaded { message, .. } => Some(*message),
            _ => None,
        }
    }
}

/// Which rule found the ticket of a reply (strongest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evidence {
    /// In-Reply-To/References named a Message-ID we stored.
    KnownMessageId,
    /// A Message-ID carried Triage's valid signature (works even after a restore).
    SignedMessageId,
    /// The signed reply-to plus-address.
    PlusAddress,
    /// The `[TKT-…]` subject tag (or an unsigned plus-address), from a participant.
    SubjectTag,
}

/// Takes in one raw message. Unparseable or oversized mail is a validation error (the MTA
/// should bounce it); storage errors are temporary (the MTA should retry).
pub async fn receive(ctx: &Ctx, raw: &[u8]) -> Result<Intake> {
    if raw.len() > ctx.config.max_mail_bytes {
        return Err(Error::field(
            "message",
            format!("is larger than {} bytes", ctx.config.max_mail_bytes),
        ));
    }
    let mut p =
        parse::parse(raw).ok_or_else(|| Error::field("message", "is not an RFC 822 message"))?;
    let own_from = super::bare_address(&ctx.config.mail_from);
    p.facts.own_message_id = p
        .message_id
        .as_deref()
        .is_some_and(|m| ids::verify(&ctx.keys, m).is_some())
        || (own_from.is_some() && p.sender.as_ref().map(|s| &s.1) == own_from.as_ref());
    let now = ctx.clock.now_micros();
    let no_auto_reply = match classify::classify(&p.facts) {
        // A no-reply From with a person's Reply-To (web forms): the person can be answered.
        Kind::Person { no_auto_reply } => {
            let replying_to_other = p.sender.as_ref().is_some_and(|s| s.1 != p.facts.from);
            let suppressed = p
                .facts
                .headers
                .iter()
                .any(|(n, _)| n == "x-auto-response-suppress");
            if replying_to_other {
                suppressed
            } else {
                no_auto_reply
            }
        }
        Kind::Bounce(reason) => return bounce(ctx, &p, &reason, now).await,
        Kind::AutoReply(r) | Kind::Bulk(r) | Kind::Loop(r) => {
            let out = Intake::Ignored { reason: r.clone() };
            log_only(ctx, &p, &out, &r, now).await?;
            return Ok(out);
        }
    };
    let Some((name, email)) = p.sender.clone() else {
        return Err(Error::field("message", "has no sender address (From)"));
    };
    if let Some(mid) = &p.message_id
        && let Some(ticket_id) = ctx
            .db
            .read_one::<i64>(Statement::from_sql_and_values(
                ctx.db.backend,
                "SELECT ticket_id FROM mail_ids WHERE message_id = $1",
                [mid.clone().into()],
            ))
            .await?
    {
        return Ok(Intake::Duplicate { ticket_id });
    }
    // Files are stored, and both outcomes shaped, before the write: the writer only decides
    // between them and inserts.
    let files = store_files(ctx, &p).await?;
    // The ticket this message would open, checked on the read pool.
    let opening = opening::prepare(ctx, &p, &files, no_auto_reply).await?;
    let reply = reply_of(ctx, &p, &files).await?;
    // Through the group committer: on SQLite, messages arriving together (IMAP batches,
    // concurrent mailgates in one process) share one durable commit, each in its savepoint,
    // and run on the writer's own handle unless the ticket would be assigned automatically.
    let owned = ctx.clone();
    let sender = (name, email);
    if ctx.db.group.runs_direct() && !opening.assigns() {
        return ctx
            .db
            .group
            .run_direct(move |db| {
                tx::finish(take_in(
                    &owned,
                    &OnHandle(db),
                    &p,
                    sender,
                    reply,
                    opening,
                    now,
                ))
            })
            .await;
    }
    ctx.db
        .group
        .run(move |txn| {
            Box::pin(async move { take_in(&owned, txn, &p, sender, reply, opening, now).await })
        })
        .await
}

/// The reply `p` adds should it thread onto a ticket: its new text, with the full message
/// stored as `message.txt` when the text had to be cut.
async fn reply_of(ctx: &Ctx, p: &Parsed, files: &Files) -> Result<Reply> {
    let split = quote::split(&p.text);
    let body = body_with_notes(&split.reply, &files.notes);
    let (body, extra) = fit(&body, MAX_BODY_CHARS, &p.text);
    let mut stored = files.stored.clone();
    stored.extend(text_attachment(ctx, extra).await?);
    Ok(Reply {
        body,
        internal: false,
        channel: Channel::Email,
        quoted: split.quoted,
        message_id: p.message_id.clone(),
        files: stored,
    })
}

/// Threads the message onto its ticket or opens one, remembers its Message-ID and logs the
/// outcome, all in `txn`.
async fn take_in(
    ctx: &Ctx,
    txn: &impl Tx,
    p: &Parsed,
    (name, email): (String, String),
    reply: Reply,
    opening: opening::Opening,
    now: i64,
) -> Result<Intake> {
    let display = if name.is_empty() {
        email.split('@').next().unwrap_or("customer").to_string()
    } else {
        name
    };
    let author = users::find_or_create_contact(txn, &email, &display, now).await?;
    let found = find_thread(ctx, txn, p, &author).await?;
    // The ticket's rows, the Message-ID and the intake log row go to the writer in one call.
    let mut writes = Pipeline::for_backend(txn.backend());
    let (out, reason) = match found {
        Some((t, by)) if can_append(ctx, &t, &author, now) => {
            let actor = actor_of(&author);
            let msg = conversations::append(ctx, txn, &t, &actor, reply, now, &mut writes).await?;
            let r = format!("threaded by {by:?}");
            (
                Intake::Threaded {
                    ticket_id: t.id,
                    message: msg.id,
                    by,
                },
                r,
            )
        }
        found => {
            let previous = found.map(|(t, _)| t.id);
            let t = opening::open(ctx, txn, &author, opening, previous, now, &mut writes).await?;
            match previous {
                Some(prev) => (
                    Intake::FollowUp {
                        ticket_id: t.id,
                        previous: prev,
                    },
                    format!("ticket {prev} is closed past its reopen window"),
                ),
                None => (Intake::Created { ticket_id: t.id }, "new request".into()),
            }
        }
    };
    if let Some(ticket_id) = out.ticket_id() {
        remember(&mut writes, p, ticket_id, out.message_row(), now);
    }
    queue_log(&mut writes, p, &out, &reason, now);
    txn.run(writes).await?;
    Ok(out)
}

fn actor_of(u: &user::Model) -> Actor {
    let role = Role::parse(&u.role).unwrap_or(Role::Customer);
    // A deactivated agent's mail still lands, but on the customer side of the thread.
    let role = if u.active { role } else { Role::Customer };
    Actor {
        id: u.id,
        name: u.name.clone(),
        email: u.email.clone(),
        role,
    }
}

/// A customer-side reply to a ticket closed past the reopen window opens a follow-up instead.
fn can_append(ctx: &Ctx, t: &ticket::Model, author: &user::Model, now: i64) -> bool {
    if actor_of(author).is_staff() || t.status != Status::Closed.as_str() {
        return true;
    }
    workflow::check(
        Status::Closed,
        Status::Reopened,
        t.closed_at,
        now,
        ctx.config.reopen_window_days,
    )
    .is_ok()
}

/// Finds the ticket a reply belongs to; weak evidence only counts from participants.
async fn find_thread(
    ctx: &Ctx,
    txn: &impl Tx,
    p: &Parsed,
    author: &user::Model,
) -> Result<Option<(ticket::Model, Evidence)>> {
    let mut candidates: Vec<&String> = p.in_reply_to.iter().collect();
    candidates.extend(p.references.iter().rev());
    if !candidates.is_empty() {
        let query = mail_id::Entity::find()
            .filter(mail_id::Column::MessageId.is_in(candidates.iter().map(|s| s.as_str())))
            .into_query();
        let known: Vec<mail_id::Model> = tx::all(txn, &query).await?;
        for c in &candidates {
            if let Some(k) = known.iter().find(|k| &&k.message_id == c)
                && let Some(t) = follow(txn, k.ticket_id).await?
            {
                return Ok(Some((t, Evidence::KnownMessageId)));
            }
        }
        for c in &candidates {
            if let Some(id) = ids::verify(&ctx.keys, c)
                && let Some(t) = follow(txn, id).await?
            {
                return Ok(Some((t, Evidence::SignedMessageId)));
            }
        }
    }
    let prefix = &ctx.config.ticket_prefix;
    let mut weak = None;
    for r in &p.recipients {
        if let Some((number, signed)) = ids::parse_reply_address(&ctx.keys, prefix, r) {
            if signed && let Some(t) = by_number(txn, &number).await? {
                return Ok(Some((t, Evidence::PlusAddress)));
            }
            weak.get_or_insert(number);
        }
    }
    if let Some(n) = ids::subject_tag(prefix, &p.subject).or(weak)
        && let Some(t) = by_number(txn, &n).await?
    {
        let participant = t.requester_id == author.id
            || t.assignee_id == Some(author.id)
            || actor_of(author).is_staff();
        if participant {
            return Ok(Some((t, Evidence::SubjectTag)));
        }
        tracing::info!(ticket = t.id, sender = %author.email, "subject tag from a non-participant ignored; opening a new ticket");
    }
    Ok(None)
}

async fn by_number(txn: &impl Tx, number: &str) -> Result<Option<ticket::Model>> {
    let query = ticket::Entity::find()
        .filter(ticket::Column::Number.eq(number))
        .into_query();
    let t: Option<ticket::Model> = tx::first(txn, &query).await?;
    match t {
        Some(t) => follow(txn, t.id).await,
        None => Ok(None),
    }
}

/// Loads a ticket, following merge pointers to where its thread lives now.
async fn follow(txn: &impl Tx, id: i64) -> Result<Option<ticket::Model>> {
    let mut id = id;
    for _ in 0..8 {
        let query = ticket::Entity::find_by_id(id).into_query();
        let Some(t) = tx::first::<ticket::Model>(txn, &query).await? else {
            return Ok(None);
        };
        match t.merged_into {
            Some(next) if next != t.id => id = next,
            _ => return Ok(Some(t)),
        }
    }
    Ok(None)
}

#[allow(clippy::too_many_arguments)]
/// Cuts text to `max` characters; the full original then travels as `message.txt`.
pub(super) fn fit(text: &str, max: usize, original: &str) -> (String, Option<String>) {
    if text.chars().count() <= max {
        return (text.to_string(), None);
    }
    let note = "\n\n[… truncated: the full message is attached as message.txt]";
    let keep = max - note.chars().count();
    let cut: String = text.chars().take(keep).collect();
    (format!("{cut}{note}"), Some(original.to_string()))
}

pub(super) async fn text_attachment(ctx: &Ctx, text: Option<String>) -> Result<Vec<NewAttachment>> {
    let Some(text) = text else {
        return Ok(Vec::new());
    };
    let sha = attachments::store_bytes(&ctx.blobs, text.as_bytes()).await?;
    Ok(vec![NewAttachment {
        filename: "message.txt".into(),
        content_type: "text/plain".into(),
        size: text.len() as i64,
        sha256: sha,
        inline_cid: None,
    }])
}

pub(super) fn body_with_notes(text: &str, notes: &[String]) -> String {
    let mut body = text.trim().to_string();
    if body.is_empty() {
        body = "(no text)".into();
    }
    for n in notes {
        body.push_str("\n\n");
        body.push_str(n);
    }
    body
}

/// Files kept from a message, and notes about the ones refused.
pub(super) struct Files {
    /// Stored attachments.
    pub(super) stored: Vec<NewAttachment>,
    /// Notes about refused files, added to the text.
    pub(super) notes: Vec<String>,
}

async fn store_files(ctx: &Ctx, p: &Parsed) -> Result<Files> {
    let mut stored = Vec::new();
    let mut notes = Vec::new();
    for a in &p.attachments {
        let verdict = if a.bytes.len() > ctx.config.max_attachment_bytes {
            Err(Refusal::TooLarge)
        } else {
            attachments::sniff(&a.bytes, &a.filename)
        };
        match verdict {
            Ok(content_type) => {
                let sha = attachments::store_bytes(&ctx.blobs, &a.bytes).await?;
                stored.push(NewAttachment {
                    filename: a.filename.clone(),
                    content_type,
                    size: a.bytes.len() as i64,
                    sha256: sha,
                    inline_cid: a.inline_cid.clone(),
                });
            }
            Err(Refusal::Executable) => notes.push(format!(
                "[attachment {} removed: executable files are not accepted]",
                a.filename
            )),
            Err(Refusal::TooLarge) => notes.push(format!(
                "[attachment {} removed: larger than {} MB]",
                a.filename,
                ctx.config.max_attachment_bytes / (1024 * 1024)
            )),
        }
    }
    Ok(Files { stored, notes })
}

/// Queues the row that remembers the message's Message-ID, so later replies thread by header.
fn remember(writes: &mut Pipeline, p: &Parsed, ticket_id: i64, message_row: Option<i64>, now: i64) {
    if let Some(mid) = &p.message_id {
        let row = mail_id::ActiveModel {
            message_id: Set(mid.clone()),
            ticket_id: Set(ticket_id),
            message_row: Set(message_row),
            direction: Set("in".into()),
            created_at: Set(now),
        };
        writes.push(&mail_id::Entity::insert(row).into_query());
    }
}

async fn bounce(ctx: &Ctx, p: &Parsed, reason: &str, now: i64) -> Result<Intake> {
    let mut named: Vec<String> = p.body_message_ids.clone();
    named.extend(p.in_reply_to.iter().cloned());
    named.extend(p.references.iter().cloned());
    let detail = if p.diagnostic.is_empty() {
        reason.to_string()
    } else {
        format!("bounced: {}", p.diagnostic)
    };
    let txn = ctx.db.begin().await?;
    let marked = job::Entity::update_many()
        .col_expr(job::Column::Status, Expr::value("bounced"))
        .col_expr(job::Column::LastError, Expr::value(detail.clone()))
        .col_expr(job::Column::UpdatedAt, Expr::value(now))
        .filter(job::Column::Channel.eq("email"))
        .filter(job::Column::IdempotencyKey.is_in(named))
        .exec(&txn)
        .await?
        .rows_affected;
    let out = Intake::Bounce { marked };
    log(&txn, p, &out, &detail, now).await?;
    txn.commit().await?;
    Ok(out)
}

async fn log_only(ctx: &Ctx, p: &Parsed, out: &Intake, reason: &str, now: i64) -> Result<()> {
    log(&ctx.db.write, p, out, reason, now).await
}

async fn log(
    conn: &impl ConnectionTrait,
    p: &Parsed,
    out: &Intake,
    reason: &str,
    now: i64,
) -> Result<()> {
    let mut writes = Pipeline::new(conn);
    queue_log(&mut writes, p, out, reason, now);
    writes.run(conn).await
}

/// Queues the intake log row of a message.
fn queue_log(writes: &mut Pipeline, p: &Parsed, out: &Intake, reason: &str, now: i64) {
    let row = inbound_mail::ActiveModel {
        message_id: Set(p.message_id.clone()),
        sender: Set(p.sender.as_ref().map(|s| s.1.clone()).unwrap_or_default()),
        subject: Set(p.subject.chars().take(300).collect()),
        outcome: Set(out.name().into()),
        reason: Set(reason.chars().take(1000).collect()),
        ticket_id: Set(out.ticket_id()),
        created_at: Set(now),
        ..Default::default()
    };
    writes.push(&inbound_mail::Entity::insert(row).into_query());
}
