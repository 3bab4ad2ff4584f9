//! Bulk seeding for large data sets (`demo-data --tickets N` past a few thousand, and
//! `triage bench`): multi-row INSERTs in large transactions straight into the tables. Rows have
//! the shapes the service layer writes: SLA fields from the pure clock (alerts that would have
//! fired marked as sent, so the first sweep is not a storm), counters and the search index kept
//! by the schema's own triggers, threads of public replies and internal notes.

use std::time::Instant;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use sea_orm::{ConnectionTrait, DatabaseBackend, Value};

use super::insert::{first_column, insert_customers, insert_rows, scalar};
use super::text::{AGENT_REPLIES, AREAS, CUSTOMER_REPLIES, DETAILS, NOTES, SAMPLES};
use crate::context::Ctx;
use crate::sla::{self, Clock, Policy};
use crate::tickets::model::{Priority, Status};

const DAY: i64 = 86_400_000_000;
const MINUTE: i64 = 60_000_000;
/// Rows per transaction: big enough that commits (fsync) do not dominate.
const BATCH: usize = 20_000;
const CRCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// What a bulk seed wrote and how long it took.
#[derive(Debug, Clone)]
pub struct BulkReport {
    /// Tickets inserted.
    pub tickets: usize,
    /// Messages (replies and notes) inserted.
    pub messages: usize,
    /// Customer contacts inserted.
    pub customers: usize,
    /// Tag rows, ratings and opening-post files inserted.
    pub extras: Extras,
    /// Wall-clock seconds.
    pub seconds: f64,
}

struct Pools {
    agents: Vec<i64>,
    customers: Vec<i64>,
    categories: Vec<String>,
    policies: Vec<(Priority, Policy)>,
    files: Vec<super::files::SampleFile>,
}

/// Inserts `n` tickets spread over the last year, with customers (one per ~50 tickets) and
/// threads, assigned among `agents`. `progress(done, n)` is called after each transaction.
pub async fn seed_bulk(
    ctx: &Ctx,
    agents: &[i64],
    n: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> anyhow::Result<BulkReport> {
    let started = Instant::now();
    anyhow::ensure!(!agents.is_empty(), "bulk seeding needs at least one agent");
    let customers = insert_customers(ctx, (n / 50).clamp(20, 20_000)).await?;
    let categories: Vec<String> = first_column(
        ctx,
        "SELECT slug FROM categories WHERE active ORDER BY position, id",
    )
    .await?;
    anyhow::ensure!(
        !categories.is_empty(),
        "no active categories to file tickets under"
    );
    let mut policies = Vec::new();
    for p in [
        Priority::Low,
        Priority::Medium,
        Priority::High,
        Priority::Urgent,
    ] {
        policies.push((p, sla::store::policy(&ctx.db.read, p).await?));
    }
    let pools = Pools {
        agents: agents.to_vec(),
        customers: customers.clone(),
        categories,
        policies,
        files: super::files::store_samples(ctx).await?,
    };
    let first_id: i64 = scalar(ctx, "SELECT COALESCE(MAX(id), 0) + 1 FROM tickets").await?;
    let now = ctx.clock.now_micros();
    // A load that at least doubles the tables is faster with their indexes built once at the
    // end (a million tickets: 13.7 s of sorting instead of ~27 s of row-by-row upkeep).
    if n >= DEFER_INDEXES_FROM && n as i64 >= first_id {
        crate::db::deferred::set_aside(&ctx.db, BULK_TABLES, now).await?;
    }
    let loaded = load(ctx, pools, first_id, n, now, progress).await;
    // Also after a failed load; what is not built here is built at the next start.
    crate::db::deferred::rebuild(&ctx.db).await?;
    let (messages, extras) = loaded?;
    if ctx.db.backend == DatabaseBackend::Postgres {
        // Explicit ids leave the sequence behind; move it past them.
        ctx.db
            .write
            .execute_unprepared(
                "SELECT setval(pg_get_serial_sequence('tickets', 'id'), (SELECT MAX(id) FROM tickets))",
            )
            .await?;
        // VACUUM as well as ANALYZE: it sets the freshly loaded rows' hint bits and the
        // visibility map now, instead of the first queries after the load doing it.
        ctx.db.write.execute_unprepared("VACUUM (ANALYZE)").await?;
    } else {
        ctx.db.write.execute_unprepared("PRAGMA optimize").await?;
    }
    Ok(BulkReport {
        tickets: n,
        messages,
        customers: customers.len(),
        extras,
        seconds: started.elapsed().as_secs_f64(),
    })
}

impl std::fmt::Display for BulkReport {
    /// "N tickets, N messages, … in S s": what `demo-data` and `bench` print after a load.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Extras {
            tags,
            ratings,
            files,
        } = self.extras;
        write!(
            f,
            "{} tickets, {} messages, {} contacts, {tags} tags, {ratings} ratings, {files} files in {:.1} s",
            self.tickets, self.messages, self.customers, self.seconds
        )
    }
}

/// Loads smaller than this keep their indexes (rebuilding costs more than it saves).
const DEFER_INDEXES_FROM: usize = 20_000;

/// The tables a bulk load fills.
const BULK_TABLES: &[&str] = &["tickets", "messages", "ticket_events"];

/// Rows a bulk load adds beside tickets, messages and contacts.
#[derive(Debug, Clone, Copy, Default)]
pub struct Extras {
    /// Tag rows (a ticket has 0–3).
    pub tags: usize,
    /// Satisfaction ratings.
    pub ratings: usize,
    /// Files on opening posts.
    pub files: usize,
}

/// Generates and inserts the rows; returns how many messages and other rows went in.
async fn load(
    ctx: &Ctx,
    pools: Pools,
    first_id: i64,
    n: usize,
    now: i64,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> anyhow::Result<(usize, Extras)> {
    // Rows are made on a blocking thread while the previous batch is written, so generating
    // text and values (about half of the time) overlaps the database's work.
    let (batches, mut arriving) = tokio::sync::mpsc::channel::<Batch>(1);
    let maker_ctx = ctx.clone();
    let span = Span { first_id, n, now };
    let maker = tokio::task::spawn_blocking(move || {
        let mut rng = SmallRng::seed_from_u64(0x7121_a6e5 ^ first_id as u64);
        let mut made = 0;
        while made < n {
            let take = BATCH.min(n - made);
            let batch = make_batch(&maker_ctx, &pools, &mut rng, span, made, take);
            if batches.blocking_send(batch).is_err() {
                // The writer stopped on an error; it reports it.
                return;
            }
            made += take;
        }
    });
    let ticket_cols = ticket_cols(ctx.db.backend);
    let mut messages = 0;
    let mut extras = Extras::default();
    let mut done = 0;
    while let Some(Batch {
        tickets,
        thread,
        events,
        tags,
        ratings,
        files,
    }) = arriving.recv().await
    {
        messages += thread.len();
        extras.tags += tags.len();
        extras.ratings += ratings.len();
        extras.files += files.len();
        let txn = ctx.db.begin().await?;
        insert_rows(&txn, ctx.db.backend, "tickets", &ticket_cols, &tickets).await?;
        insert_rows(
            &txn,
            ctx.db.backend,
            "messages",
            &[
                "ticket_id",
                "author_id",
                "body",
                "internal",
                "channel",
                "created_at",
            ],
            &thread,
        )
        .await?;
        insert_rows(
            &txn,
            ctx.db.backend,
            "ticket_events",
            &["ticket_id", "actor_id", "field", "new_value", "created_at"],
            &events,
        )
        .await?;
        insert_rows(
            &txn,
            ctx.db.backend,
            "ticket_tags",
            &["ticket_id", "tag"],
            &tags,
        )
        .await?;
        insert_rows(&txn, ctx.db.backend, "ratings", RATING_COLS, &ratings).await?;
        let file_cols = super::files::FILE_COLS;
        insert_rows(&txn, ctx.db.backend, "attachments", file_cols, &files).await?;
        txn.commit().await?;
        done += tickets.len();
        progress(done, n);
    }
    maker
        .await
        .map_err(|e| anyhow::anyhow!("bulk row generation failed: {e}"))?;
    anyhow::ensure!(done == n, "bulk seed stopped after {done} of {n} tickets");
    Ok((messages, extras))
}

const RATING_COLS: &[&str] = &[
    "ticket_id",
    "user_id",
    "agent_id",
    "score",
    "comment",
    "created_at",
];

const TICKET_COLS: &[&str] = &[
    "id",
    "number",
    "subject",
    "description",
    "category",
    "priority",
    "priority_rank",
    "status",
    "requester_id",
    "assignee_id",
    "channel",
    "created_at",
    "updated_at",
    "first_response_at",
    "resolved_at",
    "closed_at",
    "first_response_due_at",
    "resolution_due_at",
    "sla_paused_at",
    "sla_paused_micros",
    "sla_alerts",
    "sla_next_at",
    "rated",
];

/// The columns of the ticket rows `make_batch` writes: on PostgreSQL each row also carries
/// its tag list (`db::schema_tags`), so the tags' insert trigger finds it listed.
fn ticket_cols(backend: DatabaseBackend) -> Vec<&'static str> {
    let mut cols = TICKET_COLS.to_vec();
    if backend == DatabaseBackend::Postgres {
        cols.push("tag_list");
    }
    cols
}

/// One transaction's rows.
struct Batch {
    tickets: Vec<Vec<Value>>,
    thread: Vec<Vec<Value>>,
    events: Vec<Vec<Value>>,
    tags: Vec<Vec<Value>>,
    ratings: Vec<Vec<Value>>,
    files: Vec<Vec<Value>>,
}

/// The whole load: `n` tickets with ids from `first_id`, spread over the year before `now`.
#[derive(Clone, Copy)]
struct Span {
    first_id: i64,
    n: usize,
    now: i64,
}

/// Tickets `from..from + take` of the span, with their threads and history.
fn make_batch(
    ctx: &Ctx,
    pools: &Pools,
    rng: &mut SmallRng,
    span: Span,
    from: usize,
    take: usize,
) -> Batch {
    let Span { first_id, n, now } = span;
    let mut tickets = Vec::with_capacity(take);
    let mut thread = Vec::with_capacity(take * 2);
    let mut events = Vec::with_capacity(take);
    let mut tags = Vec::with_capacity(take);
    let mut ratings = Vec::new();
    let mut files = Vec::new();
    for i in from..from + take {
        let id = first_id + i as i64;
        let created = now - 365 * DAY + (i as i64 * 365 * DAY) / n.max(1) as i64
            - rng.random_range(0..MINUTE * 30);
        let row = ticket_row(ctx, pools, rng, id, created.min(now - MINUTE), now);
        thread.extend(row.messages);
        ratings.extend(row.rating);
        files.extend(super::files::pick_files(rng, &pools.files, id, row.created));
        events.push(vec![
            Value::from(id),
            Value::from(row.requester),
            Value::from("created"),
            row.values[1].clone(),
            Value::from(row.created),
        ]);
        let picked = super::text::pick_tags(rng);
        let mut values = row.values;
        if ctx.db.backend == DatabaseBackend::Postgres {
            // The last of `ticket_cols`: the ticket's own copy of its tags.
            values.push(Value::from(crate::tickets::view::tag_list(&picked)));
        }
        tickets.push(values);
        tags.extend(
            picked
                .into_iter()
                .map(|t| vec![Value::from(id), Value::from(t)]),
        );
    }
    Batch {
        tickets,
        thread,
        events,
        tags,
        ratings,
        files,
    }
}

struct TicketRow {
    values: Vec<Value>,
    messages: Vec<Vec<Value>>,
    requester: i64,
    created: i64,
    rating: Option<Vec<Value>>,
}

/// A ticket of realistic shape: status by age, an agent reply when someone responded, the
/// customer answering on some, internal notes on others.
fn ticket_row(
    ctx: &Ctx,
    pools: &Pools,
    rng: &mut SmallRng,
    id: i64,
    created: i64,
    now: i64,
) -> TicketRow {
    let age = now - created;
    let status = pick_status(rng, age);
    let priority = match rng.random_range(0..100) {
        0..30 => Priority::Low,
        30..75 => Priority::Medium,
        75..95 => Priority::High,
        _ => Priority::Urgent,
    };
    let (sample_cat, subject, body) = SAMPLES[rng.random_range(0..SAMPLES.len())];
    let category = if pools.categories.iter().any(|c| c == sample_cat) {
        sample_cat.to_string()
    } else {
        pools.categories[rng.random_range(0..pools.categories.len())].clone()
    };
    let area = AREAS[rng.random_range(0..AREAS.len())];
    let subject = format!("{subject} ({area})");
    let description = format!(
        "{body} {} {} Reference #{}.",
        DETAILS[rng.random_range(0..DETAILS.len())],
        DETAILS[rng.random_range(0..DETAILS.len())],
        rng.random_range(10_000..99_999)
    );
    let requester = pools.customers[rng.random_range(0..pools.customers.len())];
    let agent = pools.agents[rng.random_range(0..pools.agents.len())];
    let assignee = (status != Status::Open).then_some(agent);
    let responded = !matches!(status, Status::Open | Status::Assigned);
    let span = |lo: i64, hi: i64, r: &mut SmallRng| r.random_range(lo..hi).min(age.max(2) - 1);
    let first_response = responded.then(|| created + span(10 * MINUTE, 8 * 60 * MINUTE, rng));
    let resolved = matches!(status, Status::Resolved | Status::Closed).then(|| {
        created + span(60 * MINUTE, 5 * DAY, rng).max(first_response.unwrap_or(0) - created + 1)
    });
    let closed = (status == Status::Closed).then(|| {
        resolved
            .map(|r| (r + 3 * DAY).min(now - MINUTE))
            .unwrap_or(created)
    });
    let updated = closed.or(resolved).or(first_response).unwrap_or(created);
    // A fifth of the customers whose ticket was solved answer the satisfaction survey.
    let rating = resolved
        .filter(|_| rng.random_range(0..100) < 20)
        .map(|at| {
            let score: i32 = match rng.random_range(0..100) {
                0..50 => 5,
                50..75 => 4,
                75..85 => 3,
                85..92 => 2,
                _ => 1,
            };
            let answered = (at + rng.random_range(MINUTE..DAY)).min(now - MINUTE);
            vec![
                Value::from(id),
                Value::from(requester),
                Value::from(assignee),
                Value::from(score),
                Value::from(""),
                Value::from(answered),
            ]
        });

    let policy = pools
        .policies
        .iter()
        .find(|(p, _)| *p == priority)
        .map(|(_, pol)| pol.clone())
        .unwrap_or_else(|| Policy::default_for(priority));
    let plan = sla::plan(
        &policy,
        created,
        status,
        responded,
        Clock {
            paused_at: None,
            paused_micros: 0,
            alerts: 0,
        },
        updated,
    );
    // Alerts that would have fired by now count as sent.
    let (_, alerts) = sla::due_alerts(&plan.schedule, plan.clock.alerts, responded, now);
    let next_at = if plan.clock.paused_at.is_some() {
        None
    } else {
        sla::next_after(&plan.schedule, alerts, responded)
    };

    let mut messages = Vec::new();
    let mut message = |author: i64, body: &str, internal: bool, channel: &str, at: i64| {
        messages.push(vec![
            Value::from(id),
            Value::from(author),
            Value::from(body.to_string()),
            Value::from(internal),
            Value::from(channel.to_string()),
            Value::from(at),
        ]);
    };
    if let Some(at) = first_response {
        if rng.random_range(0..5) == 0 {
            message(
                agent,
                NOTES[rng.random_range(0..NOTES.len())],
                true,
                "web",
                at - 1,
            );
        }
        message(
            agent,
            AGENT_REPLIES[rng.random_range(0..AGENT_REPLIES.len())],
            false,
            "web",
            at,
        );
        if rng.random_range(0..5) < 2 {
            let reply = CUSTOMER_REPLIES[rng.random_range(0..CUSTOMER_REPLIES.len())];
            message(
                requester,
                reply,
                false,
                "email",
                (at + 30 * MINUTE).min(updated.max(at)),
            );
        }
    }
    let channel = ["web", "portal", "email", "api"][rng.random_range(0..4)];
    let number = format!(
        "{}-{}-{}",
        ctx.config.ticket_prefix,
        crate::clock::from_micros(created).format("%Y%m%d"),
        scrambled(id)
    );
    let values = vec![
        Value::from(id),
        Value::from(number),
        Value::from(subject),
        Value::from(description),
        Value::from(category),
        Value::from(priority.as_str()),
        Value::from(priority.rank()),
        Value::from(status.as_str()),
        Value::from(requester),
        Value::from(assignee),
        Value::from(channel),
        Value::from(created),
        Value::from(updated),
        Value::from(first_response),
        Value::from(resolved),
        Value::from(closed),
        Value::from(plan.schedule.first_response_due),
        Value::from(plan.schedule.resolution_due),
        Value::from(plan.clock.paused_at),
        Value::from(plan.clock.paused_micros),
        Value::from(alerts),
        Value::from(next_at),
        // Written with the row, so the ratings' trigger finds it set (`db::schema_rated`).
        Value::from(rating.is_some()),
    ];
    TicketRow {
        values,
        messages,
        requester,
        created,
        rating,
    }
}

/// Older tickets are mostly done; recent ones spread over the working states.
fn pick_status(rng: &mut SmallRng, age: i64) -> Status {
    let roll = rng.random_range(0..100);
    if age > 14 * DAY {
        return match roll {
            0..70 => Status::Closed,
            70..92 => Status::Resolved,
            92..95 => Status::Waiting,
            95..97 => Status::OnHold,
            97..99 => Status::InProgress,
            _ => Status::Reopened,
        };
    }
    match roll {
        0..18 => Status::Open,
        18..30 => Status::Assigned,
        30..50 => Status::InProgress,
        50..62 => Status::Waiting,
        62..67 => Status::OnHold,
        67..85 => Status::Resolved,
        85..96 => Status::Closed,
        _ => Status::Reopened,
    }
}

/// Eight Crockford characters from the id through a bijection on 40 bits: unique per id, but
/// not sequential-looking.
fn scrambled(id: i64) -> String {
    let mut x = (id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15_u64 | 1) & ((1 << 40) - 1);
    x ^= x >> 17;
    let mut out = [0u8; 8];
    for c in out.iter_mut().rev() {
        *c = CRCKFORD[(x & 31) as usize];
        x >>= 5;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrambled_numbers_are_unique_and_eight_characters() {
        let mut seen = std::collections::HashSet::new();
        for id in 1..200_000 {
            let s = scrambled(id);
            assert_eq!(s.len(), 8);
            assert!(seen.insert(s), "duplicate at {id}");
        }
    }
}
