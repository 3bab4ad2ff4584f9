//! Fan-out: a domain event job becomes one e-mail job per recipient and one webhook job per
//! subscribed destination, rendered now and enqueued in one transaction. Keys derive from the
//! event's key, so running the fan-out twice (a lease that expired) enqueues nothing new.

use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
    Set, Statement,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::webhooks;
use crate::context::Ctx;
use crate::db::entities::{job, message, ticket, user};
use crate::db::mail_entities::mail_id;
use crate::db::pipeline::Pipeline;
use crate::error::Result;
use crate::jobs::queue::Outcome;
use crate::jobs::{self, NewJob};
use crate::mail::outbound::OutgoingEmail;
use crate::mail::{ids, templates};
use crate::tickets::tracking;

/// Automatic acknowledgements one address may receive per hour (stops loops with auto-
/// responders that send no RFC 3834 headers).
const ACKS_PER_HOUR: u64 = 5;

/// A person (or the team address) to e-mail about an event.
pub struct Recipient {
    /// Template to render.
    pub template: &'static str,
    /// Address.
    pub email: String,
    /// Name.
    pub name: String,
    /// Staff links (console) instead of the customer's tracking link.
    pub staff: bool,
}

/// Expands one event job.
pub async fn run(ctx: &Ctx, j: &job::Model) -> Result<Outcome> {
    let p: Value = serde_json::from_str(&j.payload).unwrap_or(Value::Null);
    let event = p["event"].as_str().unwrap_or(&j.kind).to_string();
    let Some(ticket_id) = p["ticket_id"].as_i64() else {
        return Ok(Outcome::Fail("event without a ticket".into()));
    };
    let actor_id = p["actor_id"].as_i64();
    let data = &p["data"];
    // The ticket and its people are short reads by key: direct on SQLite (see `db::direct`),
    // and on PostgreSQL folded with the same reads of the other events running beside it.
    let db = &ctx.db;
    let Some(t) = db
        .read_one_coalesced::<ticket::Model>(
            ticket::Entity::find_by_id(ticket_id).build(db.backend),
        )
        .await?
    else {
        return Ok(Outcome::Skipped("the ticket was deleted".into()));
    };
    let user_of = |id: Option<i64>| async move {
        match id {
            Some(id) => {
                db.read_one_coalesced::<user::Model>(user::Entity::find_by_id(id).build(db.backend))
                    .await
            }
            None => Ok(None),
        }
    };
    let requester = user_of(Some(t.requester_id)).await?;
    let assignee = user_of(t.assignee_id).await?;
    let actor = match actor_id {
        Some(a) if a == t.requester_id => requester.clone(),
        other => user_of(other).await?,
    };
    let comment = match data["comment_id"].as_i64() {
        Some(c) => message::Entity::find_by_id(c).one(&ctx.db.read).await?,
        None => None,
    };
    if comment.as_ref().is_some_and(|c| c.internal) {
        return Ok(Outcome::Skipped("internal notes are never sent".into()));
    }
    let admins = if event.starts_with("sla.") {
        user::Entity::find()
            .filter(user::Column::Role.eq("admin"))
            .filter(user::Column::Active.eq(true))
            .all(&ctx.db.read)
            .await?
    } else {
        Vec::new()
    };
    let into = match data["into_id"].as_i64() {
        Some(id) => ticket::Entity::find_by_id(id).one(&ctx.db.read).await?,
        None => None,
    };
    let facts = Facts {
        into: into.as_ref(),
        admins: &admins,
        t: &t,
        requester: requester.as_ref(),
        assignee: assignee.as_ref(),
        actor: actor.as_ref(),
        comment: comment.as_ref(),
        data,
    };
    let mut recipients = recipients(ctx, &event, &facts);
    if event == "ticket.created" {
        recipients.retain(|r| {
            r.template != "ticket_created" || !data["suppress_ack"].as_bool().unwrap_or(false)
        });
        let mut kept = Vec::new();
        for r in recipients {
            if r.template == "ticket_created"
                && recent_acks(&ctx.db, &r.email, ctx.clock.now_micros()).await? >= ACKS_PER_HOUR
            {
                tracing::warn!(to = %r.email, "acknowledgement skipped: too many to this address in the last hour");
                continue;
            }
            kept.push(r);
        }
        recipients = kept;
    }
    let now = ctx.clock.now_micros();
    // Rendering reads on the read pool; only the rows it produces go to the single writer,
    // through the group committer, and none at all when there is nothing to send.
    let read = &ctx.db.read;
    let mut writes = Pipeline::new(read);
    let mut deliveries = Vec::new();
    if ctx.config.smtp_url.trim().is_empty() {
        if !recipients.is_empty() {
            tracing::debug!(event = %event, ticket = t.id, count = recipients.len(), "e-mail is off; not sending notifications");
        }
    } else {
        for r in recipients {
            let (job, mid) = render_email(ctx, read, &j.idempotency_key, &r, &facts, now).await?;
            let row = mail_id::ActiveModel {
                message_id: Set(mid),
                ticket_id: Set(t.id),
                message_row: Set(comment.as_ref().map(|c| c.id)),
                direction: Set("out".into()),
                created_at: Set(now),
            };
            // A re-run of the same fan-out derives the same ids: keep the first.
            writes.push(
                &mail_id::Entity::insert(row)
                    .on_conflict(
                        OnConflict::column(mail_id::Column::MessageId)
                            .do_nothing()
                            .to_owned(),
                    )
                    .into_query(),
            );
            deliveries.push(job);
        }
    }
    let public_event = !(event == "comment.created" && comment.is_none());
    if public_event {
        deliveries
            .extend(webhooks::jobs_for(ctx, read, &j.idempotency_key, &event, &facts, now).await?);
    }
    let n = deliveries.len();
    jobs::queue_all(&mut writes, deliveries, now);
    if !writes.is_empty() {
        ctx.db.group.run_pipeline(writes).await?;
    }
    Ok(Outcome::Done(format!("{n} deliveries enqueued")))
}

/// What an event is about, loaded once for every renderer.
pub struct Facts<'a> {
    /// The ticket.
    pub t: &'a ticket::Model,
    /// Its requester.
    pub requester: Option<&'a user::Model>,
    /// Its assignee.
    pub assignee: Option<&'a user::Model>,
    /// Who caused the event.
    pub actor: Option<&'a user::Model>,
    /// The comment, for `comment.created`.
    pub comment: Option<&'a message::Model>,
    /// The event's own data.
    pub data: &'a Value,
    /// Active admins (loaded for SLA events only).
    pub admins: &'a [user::Model],
    /// The ticket this one was merged into (`ticket.merged`).
    pub into: Option<&'a ticket::Model>,
}

fn is_staff(u: &user::Model) -> bool {
    u.role == "agent" || u.role == "admin"
}

/// Who is told about an event (never the person who caused it, never internal notes).
pub fn recipients(ctx: &Ctx, event: &str, f: &Facts) -> Vec<Recipient> {
    let mut out = Vec::new();
    let actor = f.actor.map(|a| a.id);
    let to_user = |template, u: &user::Model, staff| Recipient {
        template,
        email: u.email.clone(),
        name: u.name.clone(),
        staff,
    };
    let active = |u: &&user::Model| u.active;
    let team = ctx.config.support_address.trim();
    match event {
        "ticket.created" => {
            if let Some(r) = f.requester.filter(active) {
                out.push(to_user("ticket_created", r, false));
            }
            if !team.is_empty() {
                out.push(Recipient {
                    template: "ticket_created_team",
                    email: crate::mail::bare_address(team).unwrap_or_else(|| team.to_string()),
                    name: "Support team".into(),
                    staff: true,
                });
            }
        }
        "comment.created" => {
            let Some(author) = f.actor else { return out };
            if is_staff(author) {
                if let Some(r) = f.requester.filter(active).filter(|r| Some(r.id) != actor) {
                    out.push(to_user("agent_reply", r, false));
                }
            } else if let Some(a) = f.assignee.filter(active).filter(|a| Some(a.id) != actor) {
                out.push(to_user("customer_reply", a, true));
            } else if f.assignee.is_none() && !team.is_empty() {
                out.push(Recipient {
                    template: "customer_reply",
                    email: crate::mail::bare_address(team).unwrap_or_else(|| team.to_string()),
                    name: "Support team".into(),
                    staff: true,
                });
            }
        }
        "ticket.status_changed" => {
            let to = f.data["to"].as_str().unwrap_or("");
            if to != "assigned"
                && let Some(r) = f.requester.filter(active).filter(|r| Some(r.id) != actor)
            {
                let template = if to == "resolved" {
                    "ticket_resolved"
                } else {
                    "status_changed"
                };
                out.push(to_user(template, r, false));
            }
        }
        "sla.warning" | "sla.breached" => {
            let template = if event == "sla.breached" {
                "sla_breached"
            } else {
                "sla_warning"
            };
            match f.assignee.filter(active) {
                Some(a) => out.push(to_user(template, a, true)),
                None if !team.is_empty() => out.push(Recipient {
                    template,
                    email: crate::mail::bare_address(team).unwrap_or_else(|| team.to_string()),
                    name: "Support team".into(),
                    staff: true,
                }),
                None => {}
            }
            // Admins hear of breaches; warnings are for whoever can still act on them.
            if event == "sla.breached" {
                for a in f.admins {
                    if !out.iter().any(|r| r.email == a.email) {
                        out.push(to_user(template, a, true));
                    }
                }
            }
        }
        "ticket.merged" => {
            if let Some(r) = f.requester.filter(active).filter(|r| Some(r.id) != actor) {
                out.push(to_user("ticket_merged", r, false));
            }
        }
        "ticket.assigned" => {
            if let Some(a) = f.assignee.filter(active).filter(|a| Some(a.id) != actor) {
                out.push(to_user("ticket_assigned", a, true));
            }
        }
        _ => {}
    }
    out
}

async fn recent_acks(db: &crate::db::Db, email: &str, now: i64) -> Result<u64> {
    let n: Option<i64> = db
        .read_one(Statement::from_sql_and_values(
            db.backend,
            "SELECT count(*) FROM jobs WHERE target = $1 AND created_at > $2 \
             AND channel = 'email' AND kind = 'email.ticket_created'",
            [email.into(), (now - 3_600_000_000).into()],
        ))
        .await?;
    Ok(n.unwrap_or(0).max(0) as u64)
}

fn status_label(s: &str) -> String {
    s.replace('_', " ")
}

/// The variables every template sees.
pub fn template_context(ctx: &Ctx, r: &Recipient, f: &Facts) -> Value {
    let t = f.t;
    let url = if r.staff {
        format!(
            "{}/agent/tickets/{}",
            ctx.config.public_base_url(),
            t.number
        )
    } else {
        tracking::url(ctx, t)
    };
    let agent = f
        .actor
        .filter(|a| is_staff(a))
        .or(f.assignee)
        .map(|a| a.name.clone())
        .unwrap_or_else(|| "Support".into());
    let old = f.data["from"].as_str().unwrap_or("");
    let new = f.data["to"].as_str().unwrap_or(&t.status);
    json!({
        "ticket": {
            "id": t.id, "number": t.number, "subject": t.subject, "description": t.description,
            "status": status_label(&t.status), "priority": t.priority, "category": t.category,
            "resolution": t.resolution, "url": url,
        },
        "customer": {
            "name": f.requester.map(|u| u.name.clone()).unwrap_or_default(),
            "email": f.requester.map(|u| u.email.clone()).unwrap_or_default(),
        },
        "agent": {"name": if r.template == "ticket_assigned" { f.assignee.map(|a| a.name.clone()).unwrap_or(agent) } else { agent }},
        "comment": {"body": f.comment.map(|c| c.body.clone()).unwrap_or_default()},
        "status": {"old": old, "new": new, "old_label": status_label(old), "new_label": status_label(new)},
        "recipient": {"name": r.name, "email": r.email},
        "merged_into": f.into.map(|m| json!({
            "number": m.number, "subject": m.subject,
            "url": if r.staff { format!("{}/agent/tickets/{}", ctx.config.public_base_url(), m.number) } else { tracking::url(ctx, m) },
        })),
        "rate_url": if r.template == "ticket_resolved" { Value::String(tracking::url(ctx, t)) } else { Value::Null },
        "sla": {
            "clock": f.data["clock"].as_str().unwrap_or("").replace('_', " "),
            "due_at": f.data["due_at"].as_str().unwrap_or(""),
        },
    })
}

async fn render_email(
    ctx: &Ctx,
    conn: &impl ConnectionTrait,
    event_key: &str,
    r: &Recipient,
    f: &Facts<'_>,
    now: i64,
) -> Result<(NewJob, String)> {
    let t = f.t;
    let domain = crate::mail::domain(ctx);
    let nonce =
        hex::encode(&Sha256::digest(format!("{event_key}|{}|{}", r.template, r.email))[..10]);
    let anchor = ids::anchor(&ctx.keys, &domain, t.id);
    let first_ack = r.template == "ticket_created" && t.channel != "email";
    let message_id = if first_ack {
        anchor.clone()
    } else {
        ids::message_id(&ctx.keys, &domain, t.id, &nonce)
    };
    // The thread as this recipient sees it: what came in, and what we sent to them.
    let sent_to_them: Vec<String> = job::Entity::find()
        .filter(job::Column::TicketId.eq(t.id))
        .filter(job::Column::Channel.eq("email"))
        .filter(job::Column::Target.eq(r.email.as_str()))
        .all(conn)
        .await?
        .into_iter()
        .map(|j| j.idempotency_key)
        .collect();
    let known: Vec<String> = mail_id::Entity::find()
        .filter(mail_id::Column::TicketId.eq(t.id))
        .order_by_asc(mail_id::Column::CreatedAt)
        .limit(500)
        .all(conn)
        .await?
        .into_iter()
        .filter(|m| m.direction == "in" || sent_to_them.contains(&m.message_id))
        .map(|m| m.message_id)
        .collect();
    let mut references: Vec<String> = Vec::new();
    let mut push = |id: &String| {
        if id != &message_id && !references.contains(id) {
            references.push(id.clone());
        }
    };
    if let Some(first) = known.first() {
        push(first);
    }
    push(&anchor);
    for id in known.iter().rev().take(3).rev() {
        push(id);
    }
    let in_reply_to = known
        .last()
        .filter(|l| **l != message_id)
        .cloned()
        .or_else(|| (anchor != message_id).then(|| anchor.clone()));
    let tpl = templates::load(conn, r.template).await?;
    let rendered = templates::render(&tpl, &template_context(ctx, r, f))?;
    let support = if ctx.config.support_address.trim().is_empty() {
        &ctx.config.mail_from
    } else {
        &ctx.config.support_address
    };
    let reply_to = crate::mail::bare_address(support)
        .and_then(|s| ids::reply_address(&ctx.keys, &s, &t.number));
    let auto = match r.template {
        "agent_reply" | "customer_reply" => None,
        "ticket_created" => Some("auto-replied".to_string()),
        _ => Some("auto-generated".to_string()),
    };
    let email = OutgoingEmail {
        template: r.template.to_string(),
        to: r.email.clone(),
        to_name: r.name.clone(),
        subject: ids::tagged_subject(&t.number, &rendered.subject),
        text: rendered.text,
        html: rendered.html,
        message_id: message_id.clone(),
        in_reply_to,
        references,
        reply_to,
        auto_submitted: auto,
    };
    let job = email.into_job(Some(t.id), ctx.config.job_max_attempts, now);
    Ok((job, message_id))
}
