//! Ticket service functions: create, edit, delete. Status, priority and assignment live in `changes`.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QueryTrait, Set,
};

use super::access;
use super::history::{self, Change};
use super::model::{Channel, Priority, Status};
use super::view::{self, TicketView};
use super::{insert, validate};
use crate::auth::Actor;
use crate::context::Ctx;
use crate::db::entities::{category, ticket, ticket_tag};
use crate::db::pipeline::Pipeline;
use crate::db::tx::{self, OnHandle, Tx};
use crate::error::{Error, FieldErrors, Result};
use crate::users::service as users;

/// Who a new ticket is for.
pub enum RequesterInput {
    /// An existing user, checked to exist before the ticket is written.
    Id(i64),
    /// An account the caller has just read (the actor itself, mail intake's sender): not
    /// looked up again.
    Known(i64),
    /// A contact by name and email, created when unknown.
    Contact {
        /// Contact name.
        name: String,
        /// Contact email.
        email: String,
    },
}

/// Input for a new ticket, from any channel.
pub struct NewTicket {
    /// Subject.
    pub subject: String,
    /// Description (Markdown); `description_field` names it in errors (`message` on the form).
    pub description: String,
    /// Name of the description field in validation errors.
    pub description_field: &'static str,
    /// Category slug.
    pub category: String,
    /// Priority, medium when absent.
    pub priority: Option<String>,
    /// Free labels.
    pub tags: Vec<String>,
    /// Channel it came through.
    pub channel: Channel,
    /// Requester.
    pub requester: RequesterInput,
    /// Page the form was sent from.
    pub page_url: Option<String>,
    /// Browser description.
    pub browser_info: Option<String>,
    /// Client IP.
    pub ip: Option<String>,
    /// Chat conversation it was drafted from.
    pub conversation_id: Option<i64>,
    /// Closed ticket this one follows up (a reply that came too late to reopen it).
    pub follow_up_of: Option<i64>,
    /// Skip the acknowledgement e-mail (the sender asked for no automatic replies).
    pub suppress_ack: bool,
    /// Stored files attached to the opening post.
    pub attachments: Vec<crate::attachments::NewAttachment>,
}

/// Slugs of the active categories, in display order.
pub async fn active_categories(conn: &impl ConnectionTrait) -> Result<Vec<String>> {
    Ok(active_category_rows(conn)
        .await?
        .into_iter()
        .map(|c| c.slug)
        .collect())
}

/// The active categories' rows, in display order.
pub(super) async fn active_category_rows(
    conn: &impl ConnectionTrait,
) -> Result<Vec<category::Model>> {
    Ok(category::Entity::find()
        .filter(category::Column::Active.eq(true))
        .order_by_asc(category::Column::Position)
        .order_by_asc(category::Column::Id)
        .all(conn)
        .await?)
}

/// Creates a ticket, its tags, its first history event and the `ticket.created` job, atomically.
pub async fn create(ctx: &Ctx, input: NewTicket) -> Result<ticket::Model> {
    Ok(create_noting_tags(ctx, input).await?.0)
}

/// [`create`], answered with the new ticket's view. When `actor` is the requester of a ticket
/// with nothing but its row and tags (no files, no automatic assignment), the view is built
/// from the inserted row: exactly what reading it back would return, one statement fewer.
pub async fn create_viewed(ctx: &Ctx, actor: &Actor, input: NewTicket) -> Result<TicketView> {
    let (t, tags) = create_noting_tags(ctx, input).await?;
    let now = ctx.clock.now_micros();
    match tags {
        Some(tags) if t.requester_id == actor.id => {
            let requester = view::Requester {
                id: actor.id,
                name: actor.name.clone(),
                email: actor.email.clone(),
            };
            Ok(view::of_new(&t, requester, tags, now))
        }
        _ => view::load_by_id(&ctx.db, t.id, now).await,
    }
}

/// Creates the ticket; with it, its tags when its row and tags are all it has.
async fn create_noting_tags(
    ctx: &Ctx,
    mut input: NewTicket,
) -> Result<(ticket::Model, Option<Vec<String>>)> {
    let Prepared(checked) = prepare(ctx, &input).await?;
    let bare = (!checked.auto_assign && input.attachments.is_empty()).then(|| checked.tags.clone());
    if let RequesterInput::Id(id) = input.requester {
        let known = crate::db::entities::user::Entity::find_by_id(id)
            .count(&ctx.db.read)
            .await?;
        if known == 0 {
            return Err(Error::field("requester_id", "no such user"));
        }
        input.requester = RequesterInput::Known(id);
    }
    let now = ctx.clock.now_micros();
    if let RequesterInput::Known(requester_id) = input.requester
        && insert::fits_one_statement(ctx, &input, &checked)
    {
        let t = insert::create_alone(ctx, &input, &checked, requester_id, now).await?;
        return Ok((t, bare));
    }
    let c = ctx.clone();
    // Concurrent creations share one durable commit on SQLite (see `db::group`), written on
    // the writer's own handle unless the category assigns (that write needs sea-orm).
    let t = if ctx.db.group.runs_direct() && !checked.auto_assign {
        ctx.db
            .group
            .run_direct(move |db| tx::finish(insert_queued(&c, &OnHandle(db), input, checked, now)))
            .await?
    } else {
        ctx.db
            .group
            .run(move |txn| {
                Box::pin(async move { insert_queued(&c, txn, input, checked, now).await })
            })
            .await?
    };
    Ok((t, bare))
}

/// [`insert_checked`] with its queued rows run, in `txn`.
async fn insert_queued(
    ctx: &Ctx,
    txn: &impl Tx,
    input: NewTicket,
    checked: Checked,
    now: i64,
) -> Result<ticket::Model> {
    let mut writes = Pipeline::for_backend(txn.backend());
    let t = insert_checked(ctx, txn, input, checked, now, &mut writes).await?;
    txn.run(writes).await?;
    Ok(t)
}

/// A new ticket checked and given a free number and its SLA policy, ready to insert.
pub struct Prepared(Checked);

impl Prepared {
    /// Whether its category hands new tickets to an agent.
    pub fn assigns(&self) -> bool {
        self.0.auto_assign
    }
}

/// Validates `input` and finds its SLA policy before the write transaction (from the
/// per-process catalog, else the read pool), so the single writer's work stays short.
pub async fn prepare(ctx: &Ctx, input: &NewTicket) -> Result<Prepared> {
    let mut checked = check(&ctx.catalog.categories(&ctx.db.read).await?, input)?;
    checked.policy = Some(ctx.catalog.policy(&ctx.db.read, checked.priority).await?);
    Ok(Prepared(checked))
}

/// Inserts a ticket `prepare`d from the same `input` inside the caller's transaction,
/// queueing its other rows on `writes` (a `Known` requester is trusted, an `Id` looked up).
pub async fn create_prepared(
    ctx: &Ctx,
    txn: &impl Tx,
    input: NewTicket,
    Prepared(checked): Prepared,
    now: i64,
    writes: &mut Pipeline,
) -> Result<ticket::Model> {
    insert_checked(ctx, txn, input, checked, now, writes).await
}

/// Validates and inserts a ticket inside the caller's transaction (mail intake adds the first
/// message and its Message-ID in the same transaction).
pub async fn create_in(
    ctx: &Ctx,
    txn: &DatabaseTransaction,
    input: NewTicket,
    now: i64,
) -> Result<ticket::Model> {
    let checked = check(&active_category_rows(txn).await?, &input)?;
    let mut writes = Pipeline::new(txn);
    let t = insert_checked(ctx, txn, input, checked, now, &mut writes).await?;
    writes.run(txn).await?;
    Ok(t)
}

/// A new ticket's fields after validation.
pub(super) struct Checked {
    pub(super) subject: String,
    pub(super) description: String,
    pub(super) category: String,
    pub(super) priority: Priority,
    pub(super) tags: Vec<String>,
    pub(super) page_url: Option<String>,
    pub(super) browser_info: Option<String>,
    contact: Option<(String, String)>,
    /// Whether the category hands new tickets to an agent.
    pub(super) auto_assign: bool,
    /// The SLA policy of the priority, when already loaded (`prepare`d).
    pub(super) policy: Option<crate::sla::Policy>,
}

/// Collects every field error of a new ticket at once.
fn check(rows: &[category::Model], input: &NewTicket) -> Result<Checked> {
    let mut errors = FieldErrors::new();
    let subject = validate::subject(&mut errors, &input.subject);
    let description =
        validate::description(&mut errors, input.description_field, &input.description);
    let cats: Vec<String> = rows.iter().map(|c| c.slug.clone()).collect();
    let category = validate::category(&mut errors, &input.category, &cats);
    let auto_assign = rows.iter().any(|c| c.slug == category && c.auto_assign);
    let priority = validate::priority(&mut errors, input.priority.as_deref());
    let tags = validate::tags(&mut errors, &input.tags);
    let page_url =
        validate::optional_text(&mut errors, "page_url", input.page_url.as_deref(), 2000);
    let browser_info = validate::optional_text(
        &mut errors,
        "browser_info",
        input.browser_info.as_deref(),
        1000,
    );
    let contact = match &input.requester {
        RequesterInput::Contact { name, email } => Some((
            users::check_name(&mut errors, name),
            users::check_email(&mut errors, email),
        )),
        RequesterInput::Id(_) | RequesterInput::Known(_) => None,
    };
    Error::check(errors)?;
    Ok(Checked {
        subject,
        description,
        category,
        priority,
        tags,
        page_url,
        browser_info,
        contact,
        auto_assign,
        policy: None,
    })
}

/// Inserts the ticket and queues its tags, history and event job on `writes`, which the
/// caller runs (after queueing its own rows, so they all cost one call).
async fn insert_checked(
    ctx: &Ctx,
    txn: &impl Tx,
    input: NewTicket,
    c: Checked,
    now: i64,
    writes: &mut Pipeline,
) -> Result<ticket::Model> {
    let requester_id = match input.requester {
        RequesterInput::Contact { .. } => {
            let (name, email) = c.contact.clone().unwrap_or_default();
            users::find_or_create_contact(txn, &email, &name, now)
                .await?
                .id
        }
        RequesterInput::Known(id) => id,
        RequesterInput::Id(id) => {
            let query = crate::db::entities::user::Entity::find_by_id(id).into_query();
            tx::first::<crate::db::entities::user::Model>(txn, &query)
                .await?
                .ok_or_else(|| Error::field("requester_id", "no such user"))?
                .id
        }
    };
    let mut am = insert::row(&input, &c, requester_id, now);
    match &c.policy {
        Some(p) => crate::sla::store::apply(&mut am, p, now)?,
        None => ctx.catalog.refresh_sla(txn, &mut am, now).await?,
    }
    let t = insert::insert_numbered(ctx, txn, am, &c.tags).await?;
    // Tags, history and the event job go to the writer in one call (see `db::pipeline`).
    insert::queue_created(writes, &t, &input, &c.tags, requester_id, now);
    crate::attachments::record(txn, t.id, None, input.attachments, now).await?;
    if !c.auto_assign {
        return Ok(t);
    }
    let Some(orm) = txn.orm() else {
        return Err(Error::Internal(anyhow::anyhow!(
            "automatic assignment runs in a sea-orm transaction"
        )));
    };
    // The assignment's own history must follow the creation's: write the queue first.
    std::mem::replace(writes, Pipeline::for_backend(txn.backend()))
        .run(orm)
        .await?;
    super::autoassign::on_create(orm, t, now).await
}

/// Replaces a ticket's tags.
pub async fn set_tags(conn: &impl ConnectionTrait, ticket_id: i64, tags: &[String]) -> Result<()> {
    let mut writes = Pipeline::new(conn);
    writes.push(
        &ticket_tag::Entity::delete_many()
            .filter(ticket_tag::Column::TicketId.eq(ticket_id))
            .into_query(),
    );
    insert::queue_tags(&mut writes, ticket_id, tags);
    writes.run(conn).await
}

/// Current tags of a ticket.
pub async fn tags_of(conn: &impl ConnectionTrait, ticket_id: i64) -> Result<Vec<String>> {
    Ok(ticket_tag::Entity::find()
        .filter(ticket_tag::Column::TicketId.eq(ticket_id))
        .order_by_asc(ticket_tag::Column::Tag)
        .all(conn)
        .await?
        .into_iter()
        .map(|t| t.tag)
        .collect())
}

/// Field edits; `None` leaves a field alone.
#[derive(Default)]
pub struct TicketPatch {
    /// New subject.
    pub subject: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New category.
    pub category: Option<String>,
    /// New priority.
    pub priority: Option<String>,
    /// New full tag set.
    pub tags: Option<Vec<String>>,
    /// Tags to add to the current set (merged inside the transaction, so concurrent adds keep each other).
    pub add_tags: Vec<String>,
}

/// Edits fields. Staff may edit all; a requester only subject and description while `open`.
pub async fn update(
    ctx: &Ctx,
    actor: &Actor,
    key: &str,
    patch: TicketPatch,
) -> Result<ticket::Model> {
    let txn = ctx.db.begin().await?;
    let t = access::load_for_update(&txn, actor, key).await?;
    if !actor.is_staff() {
        if patch.category.is_some()
            || patch.priority.is_some()
            || patch.tags.is_some()
            || !patch.add_tags.is_empty()
        {
            return Err(Error::Forbidden(
                "customers may only edit the subject and description".into(),
            ));
        }
        if t.status != Status::Open.as_str() {
            return Err(Error::Conflict(
                "a ticket can only be edited by its requester while it is open".into(),
            ));
        }
    }
    let mut errors = FieldErrors::new();
    let subject = patch
        .subject
        .as_deref()
        .map(|s| validate::subject(&mut errors, s));
    let description = patch
        .description
        .as_deref()
        .map(|d| validate::description(&mut errors, "description", d));
    let category = match patch.category.as_deref() {
        Some(c) => Some(validate::category(
            &mut errors,
            c,
            &active_categories(&txn).await?,
        )),
        None => None,
    };
    let priority = patch
        .priority
        .as_deref()
        .map(|p| validate::priority(&mut errors, Some(p)));
    let tags = patch
        .tags
        .as_deref()
        .map(|t| validate::tags(&mut errors, t));
    let adding = validate::tags(&mut errors, &patch.add_tags);
    Error::check(errors)?;

    let now = ctx.clock.now_micros();
    let mut changes = Vec::new();
    let mut am: ticket::ActiveModel = t.clone().into();
    if let Some(s) = subject.filter(|s| *s != t.subject) {
        changes.push(Change::public(
            "subject",
            Some(t.subject.clone()),
            Some(s.clone()),
        ));
        am.subject = Set(s);
    }
    if let Some(d) = description.filter(|d| *d != t.description) {
        changes.push(Change::public("description", None, None));
        am.description = Set(d);
    }
    if let Some(c) = category.filter(|c| *c != t.category) {
        changes.push(Change::public(
            "category",
            Some(t.category.clone()),
            Some(c.clone()),
        ));
        am.category = Set(c);
    }
    if let Some(p) = priority.filter(|p| p.as_str() != t.priority) {
        changes.push(Change::public(
            "priority",
            Some(t.priority.clone()),
            Some(p.to_string()),
        ));
        apply_priority(&mut am, p);
    }
    if tags.is_some() || !adding.is_empty() {
        let old = tags_of(&txn, t.id).await?;
        let mut next = tags.unwrap_or_else(|| old.clone());
        for tag in adding {
            if !next.contains(&tag) {
                next.push(tag);
            }
        }
        next.sort();
        if next.len() > 20 {
            return Err(Error::field("tags", "at most 20 tags"));
        }
        if old != next {
            changes.push(Change::internal(
                "tags",
                Some(old.join(", ")),
                Some(next.join(", ")),
            ));
            set_tags(&txn, t.id, &next).await?;
        }
    }
    if changes.is_empty() {
        txn.rollback().await?;
        return Ok(t);
    }
    ctx.catalog.refresh_sla(&txn, &mut am, now).await?;
    am.updated_at = Set(now);
    let updated = am.update(&txn).await?;
    history::record(&txn, t.id, Some(actor.id), changes, now).await?;
    crate::jobs::enqueue_event(
        &txn,
        "ticket.updated",
        t.id,
        Some(actor.id),
        serde_json::json!({}),
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(updated)
}

/// Sets priority and its sort rank; `sla::store::refresh` then recomputes the due times.
pub fn apply_priority(am: &mut ticket::ActiveModel, p: Priority) {
    am.priority = Set(p.as_str().into());
    am.priority_rank = Set(p.rank());
}

/// Deletes a ticket with its messages, tags and history (admins only).
pub async fn delete(ctx: &Ctx, actor: &Actor, key: &str) -> Result<()> {
    let t = access::load(&ctx.db, actor, key).await?;
    access::require_admin(actor)?;
    ticket::Entity::delete_by_id(t.id)
        .exec(&ctx.db.write)
        .await?;
    Ok(())
}
