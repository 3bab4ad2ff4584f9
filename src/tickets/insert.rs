//! The rows a new ticket writes, written the same way through sea-orm in a transaction (any
//! backend) and as a direct write on SQLite's group writer, which costs no hand-off per
//! statement (see `db::tx`).

use sea_orm::sea_query::{Alias, DynIden, Expr, InsertStatement, IntoIden, OnConflict, Query};
use sea_orm::{
    ActiveModelTrait, DatabaseBackend, EntityTrait, Iterable, QueryTrait, Set, SqlErr, TryIntoModel,
};

use super::history::{self, Change};
use super::model::Status;
use super::number;
use super::service::{Checked, NewTicket};
use crate::context::Ctx;
use crate::db::entities::{ticket, ticket_tag};
use crate::db::pipeline::Pipeline;
use crate::db::tx::{self, Tx};
use crate::error::{Error, Result};

/// Tries at a free number: 40 random bits per day make a clash vanishingly rare, so the
/// check is the insert itself (`ON CONFLICT DO NOTHING` on the unique number).
const NUMBER_TRIES: usize = 5;

/// The ticket row of a checked new ticket (its SLA clocks not set yet).
pub(super) fn row(
    input: &NewTicket,
    c: &Checked,
    requester_id: i64,
    now: i64,
) -> ticket::ActiveModel {
    ticket::ActiveModel {
        subject: Set(c.subject.clone()),
        description: Set(c.description.clone()),
        category: Set(c.category.clone()),
        priority: Set(c.priority.as_str().into()),
        priority_rank: Set(c.priority.rank()),
        status: Set(Status::Open.as_str().into()),
        requester_id: Set(requester_id),
        assignee_id: Set(None),
        channel: Set(input.channel.as_str().into()),
        page_url: Set(c.page_url.clone()),
        browser_info: Set(c.browser_info.clone()),
        ip: Set(input.ip.clone()),
        conversation_id: Set(input.conversation_id),
        merged_into: Set(None),
        resolution: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        first_response_at: Set(None),
        resolved_at: Set(None),
        closed_at: Set(None),
        first_response_due_at: Set(None),
        resolution_due_at: Set(None),
        follow_up_of: Set(input.follow_up_of),
        sla_paused_at: Set(None),
        sla_paused_micros: Set(0),
        sla_alerts: Set(0),
        sla_next_at: Set(None),
        ..Default::default()
    }
}

/// Queues what follows the ticket row: its tags, its first history events and the
/// `ticket.created` job.
pub(super) fn queue_created(
    writes: &mut Pipeline,
    t: &ticket::Model,
    input: &NewTicket,
    tags: &[String],
    requester_id: i64,
    now: i64,
) {
    let mut changes = vec![Change::public("created", None, Some(t.number.clone()))];
    if let Some(prev) = input.follow_up_of {
        changes.push(Change::public("follow_up_of", None, Some(prev.to_string())));
    }
    queue_tags(writes, t.id, tags);
    history::queue(writes, t.id, Some(requester_id), changes, now);
    crate::jobs::queue_event(
        writes,
        "ticket.created",
        t.id,
        Some(requester_id),
        serde_json::json!({"number": t.number, "suppress_ack": input.suppress_ack}),
        now,
    );
}

/// Queues the insert of tags the ticket does not carry (a new ticket, or one whose tags are
/// cleared earlier in the same pipeline).
pub(super) fn queue_tags(writes: &mut Pipeline, ticket_id: i64, tags: &[String]) {
    if !tags.is_empty() {
        let rows = tags.iter().map(|tag| ticket_tag::ActiveModel {
            ticket_id: Set(ticket_id),
            tag: Set(tag.clone()),
        });
        writes.push(&ticket_tag::Entity::insert_many(rows).into_query());
    }
}

/// Whether a new ticket can be written by [`create_alone`]: on PostgreSQL, when it has no
/// files, is not assigned on creation (both write in a transaction of their own) and its SLA
/// policy is loaded.
pub(super) fn fits_one_statement(ctx: &Ctx, input: &NewTicket, c: &Checked) -> bool {
    ctx.db.backend == DatabaseBackend::Postgres
        && input.attachments.is_empty()
        && !c.auto_assign
        && c.policy.is_some()
}

/// Writes a new ticket on PostgreSQL as one statement: its row, tags, history and event job
/// folded into one (`Pipeline::single`), which is atomic by itself, so it needs no BEGIN and
/// COMMIT around it. The transaction took four round trips (BEGIN, the row, the rest,
/// COMMIT); the id comes from a block drawn ahead ([`crate::db::ids`]) so every row can name
/// it. A clash on the number (or on an id, if a bulk load moved the sequence) stores
/// nothing, and the ticket is tried again under a new number and id.
pub(super) async fn create_alone(
    ctx: &Ctx,
    input: &NewTicket,
    c: &Checked,
    requester_id: i64,
    now: i64,
) -> Result<ticket::Model> {
    let mut am = row(input, c, requester_id, now);
    if let Some(p) = &c.policy {
        crate::sla::store::apply(&mut am, p, now)?;
    }
    for _ in 0..NUMBER_TRIES {
        am.id = Set(ctx.db.ids.next_ticket_id(&ctx.db.write).await?);
        am.number = Set(draw_number(ctx));
        let t: ticket::Model = am.clone().try_into_model()?;
        let mut writes = Pipeline::for_backend(DatabaseBackend::Postgres);
        writes.push(&ticket_insert(
            DatabaseBackend::Postgres,
            am.clone(),
            &c.tags,
        )?);
        queue_created(&mut writes, &t, input, &c.tags, requester_id, now);
        let Some(statement) = writes.single() else {
            return Err(Error::Internal(anyhow::anyhow!(
                "a new ticket's rows did not fold into one statement"
            )));
        };
        match ctx.db.execute_alone(statement).await {
            Ok(_) => return Ok(t),
            Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                ctx.db.ids.forget();
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(no_free_number())
}

/// Inserts the ticket row (with `tags`' list where the backend keeps one) under a freshly
/// drawn number, drawing again when it is taken.
pub(super) async fn insert_numbered(
    ctx: &Ctx,
    tx: &impl Tx,
    mut am: ticket::ActiveModel,
    tags: &[String],
) -> Result<ticket::Model> {
    for _ in 0..NUMBER_TRIES {
        am.number = Set(draw_number(ctx));
        let mut q = ticket_insert(ctx.db.backend, am.clone(), tags)?;
        q.on_conflict(
            OnConflict::column(ticket::Column::Number)
                .do_nothing()
                .to_owned(),
        );
        if let Some(t) = tx::insert_returning::<ticket::Entity, _>(tx, q).await? {
            return Ok(t);
        }
    }
    Err(no_free_number())
}

/// The insert of a new ticket's row. On PostgreSQL the row carries its tags' list
/// (`db::schema_tags`): the tags' insert trigger then finds each tag listed and leaves the
/// row alone, where updating it cost ~140 µs of the database's time per tag (every index and
/// the search vector written again).
fn ticket_insert(
    backend: DatabaseBackend,
    am: ticket::ActiveModel,
    tags: &[String],
) -> Result<InsertStatement> {
    let list = match backend {
        DatabaseBackend::Postgres => super::view::tag_list(tags),
        _ => None,
    };
    let Some(list) = list else {
        return Ok(ticket::Entity::insert(am).into_query());
    };
    let (mut columns, mut values): (Vec<DynIden>, Vec<Expr>) = ticket::Column::iter()
        .filter_map(|c| Some((c.into_iden(), Expr::val(am.get(c).into_value()?))))
        .unzip();
    columns.push(Alias::new("tag_list").into_iden());
    values.push(Expr::val(list));
    let mut q = Query::insert();
    q.into_table(ticket::Entity).columns(columns);
    q.values(values)
        .map_err(|e| Error::Internal(anyhow::anyhow!("a new ticket's insert: {e}")))?;
    Ok(q)
}

fn draw_number(ctx: &Ctx) -> String {
    number::generate(&ctx.config.ticket_prefix, ctx.clock.now(), &mut rand::rng())
}

fn no_free_number() -> Error {
    Error::Internal(anyhow::anyhow!("could not find a free ticket number"))
}
