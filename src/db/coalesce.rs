//! Short PostgreSQL reads from concurrent requests folded into one statement.
//!
//! On PostgreSQL a ticket read is one round trip to a backend process on the same cores, and
//! the round trip, not the statement, is what it costs: the view statement executes in about
//! 0.03 ms, while the backend's share of a request was about 0.15 ms of CPU (socket writes,
//! wake-ups, starting the executor) and the server's about as much again. So reads of the same
//! statement text that arrive while earlier ones are in flight wait for a free slot (and,
//! while a batch is in flight, for a few of them to gather) and then go together, as one
//! statement over arrays of their values:
//!
//! `SELECT b.i, q.* FROM unnest($1, …) WITH ORDINALITY AS b(p1, …, i)
//!  CROSS JOIN LATERAL (<the statement with each $n read from b.pn>) AS q`
//!
//! (`b` is spelled `triage_batch` so that it cannot clash with the statement's own names.)
//!
//! Each request's rows are exactly what its own statement gives, read in a snapshot taken
//! after the request arrived (a reader sees every write acknowledged before it asked). Like
//! group commit, a lone read goes at once when nothing is in flight (in the same form, as a
//! batch of one); batches form only while a batch is in flight.
//!
//! Only for statements that give a few rows whose order does not matter (one ticket with its
//! caller's account), and whose placeholders stand where a column may: not in `LIMIT`.

use std::sync::Arc;

use sea_orm::{DbErr, QueryResult, Statement, Value};
use sqlx::postgres::PgConnection;
use std::sync::atomic::{AtomicU64, Ordering};

use super::keeper::Keeper;
use tokio::sync::{Notify, Semaphore, mpsc, oneshot};

/// Most reads folded into one statement.
const MAX_BATCH: usize = 64;

/// Fewest reads sent as a batch of their own while another batch is in flight; fewer wait
/// for it to be answered and go with what queues meanwhile.
///
/// A statement's own cost in PostgreSQL (executor start-up, bind and execute messages, a
/// wake-up on each side) is about three reads' worth of lookups, and a fifth of the reads paid
/// it alone: sent the moment the second slot freed up, with only the read that had just
/// arrived. Held back until four wait, 16 clients' gets went from 2.9 to 4.1 reads a
/// statement; over six alternated pairs PostgreSQL's CPU per get fell 2–15 % (mean 9 %) and
/// gets per second, scaled by the load client's CPU per get, rose 4 % on average. Six gave as
/// much with more idle time; eight, or a single slot, lost throughput to idle cores.
const MIN_ALONGSIDE: usize = 4;

/// Longest reads are held back for a batch in flight: one that is slow (a cold disk read)
/// must not hold up the reads behind it.
const MAX_HOLD: std::time::Duration = std::time::Duration::from_millis(1);

/// Most batched texts remembered.
const MAX_TEXTS: usize = 256;

/// Rows of one read; `shift` columns come before the statement's own (the request index).
pub struct Rows {
    /// The rows, in PostgreSQL's order.
    pub rows: Vec<QueryResult>,
    /// Leading columns that are not the statement's.
    pub shift: usize,
}

/// A read waiting for its batch.
struct Pending {
    stmt: Statement,
    reply: oneshot::Sender<Result<Rows, DbErr>>,
}

/// Hands reads to the task that batches them. Cloning shares the task.
#[derive(Clone)]
pub struct Coalescer {
    tx: mpsc::UnboundedSender<Pending>,
    single: Arc<Keeper>,
    batches: Arc<Keeper>,
    stats: Arc<Stats>,
}

/// Counts since start, for `/metrics`.
#[derive(Default)]
pub struct Stats {
    /// Reads asked for.
    pub reads: AtomicU64,
    /// Statements that answered more than one read.
    pub batches: AtomicU64,
    /// Reads answered by those statements.
    pub batched_reads: AtomicU64,
}

impl Coalescer {
    /// Starts the batching task on the current runtime: reads that cannot be batched go
    /// through `single`,
    /// batches through `batches`' connections, at most `slots` of them in flight at once.
    /// `batches`' connections must plan generically (`plan_cache_mode = force_generic_plan`): with the
    /// arrays' lengths known, PostgreSQL's custom plans always look cheaper than the generic
    /// one, so it planned every batch again (a tenth of its CPU), though the plan — a nested
    /// loop over the arrays — is the same for any length.
    pub fn start(single: Arc<Keeper>, batches: Arc<Keeper>, slots: usize) -> Coalescer {
        let (tx, rx) = mpsc::unbounded_channel();
        let stats = Arc::new(Stats::default());
        tokio::spawn(dispatch(
            single.clone(),
            batches.clone(),
            rx,
            slots.max(1),
            stats.clone(),
        ));
        Coalescer {
            tx,
            single,
            batches,
            stats,
        }
    }

    /// What has been read and batched so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The rows of `stmt`, read alone or together with others of the same text.
    pub async fn read(&self, stmt: Statement) -> Result<Rows, DbErr> {
        self.stats.reads.fetch_add(1, Ordering::Relaxed);
        let (reply, answer) = oneshot::channel();
        match self.tx.send(Pending { stmt, reply }) {
            Ok(()) => answer.await.unwrap_or_else(|_| {
                // The task is gone (its runtime ended) with the read in its queue.
                Err(DbErr::Custom("the read batching task stopped".into()))
            }),
            Err(mpsc::error::SendError(p)) => alone(&self.single, p.stmt).await,
        }
    }

    /// Closes the batches' connections (reads asked for later go one by one).
    pub async fn close(&self) {
        self.batches.close().await;
    }
}

/// Receives reads; whenever a slot is free, sends what has queued since, grouped by text —
/// at once when nothing is in flight, otherwise once `MIN_ALONGSIDE` reads wait.
async fn dispatch(
    single: Arc<Keeper>,
    batches: Arc<Keeper>,
    mut rx: mpsc::UnboundedReceiver<Pending>,
    slots: usize,
    stats: Arc<Stats>,
) {
    let total = slots;
    let slots = Arc::new(Semaphore::new(slots));
    // Told when a batch is answered, so that reads held back for it can go.
    let answered = Arc::new(Notify::new());
    // Keys are our statement texts (~1.8 KB, no request's values): SipHash over them was ~3 %
    // of a ticket read's instructions; foldhash is several times cheaper per byte.
    let mut texts: foldhash::HashMap<String, Option<Arc<str>>> = Default::default();
    let mut queued: Vec<Pending> = Vec::new();
    loop {
        let open = gather(&mut rx, &mut queued, &slots, total, &answered).await;
        if queued.is_empty() {
            return;
        }
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        while let Ok(p) = rx.try_recv() {
            queued.push(p);
        }
        let queued = std::mem::take(&mut queued);
        let permit = Arc::new(permit);
        for group in by_text(queued) {
            for chunk in chunks(group) {
                // A lone read goes the same way: on a batch connection it is spared the
                // round trip a pooled connection costs when it goes back (see `Keeper`).
                let batched = {
                    let sql = &chunk[0].stmt.sql;
                    // The texts come from a handful of shapes; the bound is only a backstop.
                    match texts.get(sql) {
                        Some(known) => known.clone(),
                        None => {
                            if texts.len() >= MAX_TEXTS {
                                texts.clear();
                            }
                            let text = batched_text(sql, arity(&chunk[0].stmt)).map(Arc::from);
                            texts.insert(sql.clone(), text.clone());
                            text
                        }
                    }
                };
                let (single, batches, permit) = (single.clone(), batches.clone(), permit.clone());
                let (stats, answered) = (stats.clone(), answered.clone());
                tokio::spawn(async move {
                    run(&single, &batches, chunk, batched, &stats).await;
                    drop(permit);
                    answered.notify_one();
                });
            }
        }
        if !open {
            return;
        }
    }
}

/// Adds arriving reads to `queued` until they should go (see [`MIN_ALONGSIDE`] and
/// [`MAX_HOLD`]); `false` when no more reads will come.
async fn gather(
    rx: &mut mpsc::UnboundedReceiver<Pending>,
    queued: &mut Vec<Pending>,
    slots: &Semaphore,
    total: usize,
    answered: &Notify,
) -> bool {
    if queued.is_empty() {
        match rx.recv().await {
            Some(p) => queued.push(p),
            None => return false,
        }
    }
    let mut held_until = None;
    loop {
        while let Ok(p) = rx.try_recv() {
            queued.push(p);
        }
        let in_flight = total - slots.available_permits();
        if in_flight == 0 || queued.len() >= MIN_ALONGSIDE {
            return true;
        }
        let until = *held_until.get_or_insert_with(|| tokio::time::Instant::now() + MAX_HOLD);
        tokio::select! {
            p = rx.recv() => match p {
                Some(p) => queued.push(p),
                None => return false,
            },
            _ = answered.notified() => {}
            _ = tokio::time::sleep_until(until) => return true,
        }
    }
}

/// Reads of the same text together, in arrival order.
fn by_text(queued: Vec<Pending>) -> Vec<Vec<Pending>> {
    let mut groups: Vec<Vec<Pending>> = Vec::new();
    for p in queued {
        match groups.iter_mut().find(|g| g[0].stmt.sql == p.stmt.sql) {
            Some(g) => g.push(p),
            None => groups.push(vec![p]),
        }
    }
    groups
}

/// A group cut into batches of at most `MAX_BATCH`.
fn chunks(mut group: Vec<Pending>) -> Vec<Vec<Pending>> {
    let mut out = Vec::new();
    while group.len() > MAX_BATCH {
        let rest = group.split_off(MAX_BATCH);
        out.push(std::mem::replace(&mut group, rest));
    }
    out.push(group);
    out
}

/// Answers every read of `chunk`: batched when it has a batched text and its values fit in
/// arrays, otherwise one statement each.
async fn run(
    single: &Keeper,
    batches: &Keeper,
    chunk: Vec<Pending>,
    batched: Option<Arc<str>>,
    stats: &Stats,
) {
    if let Some(text) = batched
        && let Some(columns) = columns_of(&chunk)
    {
        match batch(batches, text, columns, chunk.len()).await {
            Ok(mut per_read) => {
                let n = chunk.len() as u64;
                if n > 1 {
                    stats.batches.fetch_add(1, Ordering::Relaxed);
                    stats.batched_reads.fetch_add(n, Ordering::Relaxed);
                }
                for (p, rows) in chunk.into_iter().zip(per_read.drain(..)) {
                    let _ = p.reply.send(Ok(Rows { rows, shift: 1 }));
                }
            }
            // One read's values may be what failed (a cast, say): each is tried alone, so
            // it fails by itself and the others are answered.
            Err(e) => {
                tracing::debug!(error = %e, reads = chunk.len(), "a batched read failed");
                for p in chunk {
                    let rows = alone(single, p.stmt).await;
                    let _ = p.reply.send(rows);
                }
            }
        }
        return;
    }
    for p in chunk {
        let rows = alone(single, p.stmt).await;
        let _ = p.reply.send(rows);
    }
}

/// One read as it is.
async fn alone(single: &Keeper, stmt: Statement) -> Result<Rows, DbErr> {
    Ok(Rows {
        rows: single.query_all(&stmt).await?,
        shift: 0,
    })
}

/// The batched statement's rows, split by read (index `i` is 1-based, from `ORDINALITY`).
async fn batch(
    batches: &Keeper,
    text: Arc<str>,
    columns: Vec<Column>,
    reads: usize,
) -> Result<Vec<Vec<QueryResult>>, sqlx::Error> {
    let mut lease = batches.lease().await?;
    let rows = fetch(lease.conn(), text, columns).await;
    per_read(lease.finished(rows)?, reads)
}

/// The batched statement's rows as PostgreSQL sent them.
async fn fetch(
    conn: &mut PgConnection,
    text: Arc<str>,
    columns: Vec<Column>,
) -> Result<Vec<sqlx::postgres::PgRow>, sqlx::Error> {
    // The text is ours, built from statements with bound values (nothing of a request's).
    let mut q = sqlx::query(sqlx::AssertSqlSafe(text));
    for c in columns {
        q = match c {
            Column::BigInt(v) => q.bind(v),
            Column::Int(v) => q.bind(v),
            Column::Text(v) => q.bind(v),
            Column::Bool(v) => q.bind(v),
        };
    }
    q.fetch_all(conn).await
}

/// `rows` split by read (index `i` is 1-based, from `ORDINALITY`).
fn per_read(
    rows: Vec<sqlx::postgres::PgRow>,
    reads: usize,
) -> Result<Vec<Vec<QueryResult>>, sqlx::Error> {
    use sqlx::Row;
    let mut per_read: Vec<Vec<QueryResult>> = (0..reads).map(|_| Vec::new()).collect();
    for row in rows {
        let i: i64 = row.try_get(0)?;
        let slot = usize::try_from(i - 1)
            .ok()
            .and_then(|i| per_read.get_mut(i))
            .ok_or_else(|| sqlx::Error::Protocol(format!("batched read index {i} out of range")))?;
        slot.push(QueryResult::from(row));
    }
    Ok(per_read)
}

/// One placeholder's values across a batch, as a PostgreSQL array.
enum Column {
    BigInt(Vec<Option<i64>>),
    Int(Vec<Option<i32>>),
    Text(Vec<Option<String>>),
    Bool(Vec<Option<bool>>),
}

/// The arrays of a chunk's values by placeholder, or `None` when a value has no array type
/// here or the reads disagree on a placeholder's type (they are then read one by one).
fn columns_of(chunk: &[Pending]) -> Option<Vec<Column>> {
    let n = arity(&chunk[0].stmt);
    let mut columns = Vec::with_capacity(n);
    for j in 0..n {
        let first = chunk[0].stmt.values.as_ref()?.0.get(j)?;
        let column = match first {
            Value::BigInt(_) => Column::BigInt(every(chunk, j, |v| match v {
                Value::BigInt(x) => Some(x),
                _ => None,
            })?),
            Value::Int(_) => Column::Int(every(chunk, j, |v| match v {
                Value::Int(x) => Some(x),
                _ => None,
            })?),
            Value::String(_) => Column::Text(every(chunk, j, |v| match v {
                Value::String(x) => Some(x),
                _ => None,
            })?),
            Value::Bool(_) => Column::Bool(every(chunk, j, |v| match v {
                Value::Bool(x) => Some(x),
                _ => None,
            })?),
            _ => return None,
        };
        columns.push(column);
    }
    Some(columns)
}

/// Value `j` of every read, each as `pick` takes it; `None` when one does not fit.
fn every<T>(chunk: &[Pending], j: usize, pick: impl Fn(Value) -> Option<T>) -> Option<Vec<T>> {
    chunk
        .iter()
        .map(|p| pick(p.stmt.values.as_ref()?.0.get(j)?.clone()))
        .collect()
}

/// Values bound to a statement.
fn arity(stmt: &Statement) -> usize {
    stmt.values.as_ref().map_or(0, |v| v.0.len())
}

/// The batched form of `sql` with `n` values, or `None` when its placeholders are not
/// exactly `$1`…`$n`.
fn batched_text(sql: &str, n: usize) -> Option<String> {
    let mut seen = vec![false; n];
    let mut ok = true;
    let inner =
        super::pipeline::map_placeholders(sql, |k, out| match seen.get_mut(k.wrapping_sub(1)) {
            Some(s) => {
                *s = true;
                out.push_str(&format!("triage_batch.p{k}"));
            }
            None => {
                ok = false;
                out.push_str(&format!("${k}"));
            }
        });
    if !ok || seen.iter().any(|s| !s) || n == 0 {
        return None;
    }
    let arrays: Vec<String> = (1..=n).map(|k| format!("${k}")).collect();
    let names: Vec<String> = (1..=n).map(|k| format!("p{k}")).collect();
    Some(format!(
        "SELECT triage_batch.i, q.* FROM unnest({}) WITH ORDINALITY AS triage_batch({}, i) \
         CROSS JOIN LATERAL ({inner}) AS q",
        arrays.join(", "),
        names.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_is_batched_over_arrays_with_its_placeholders_read_from_the_batch() {
        let sql = "SELECT a.* FROM (SELECT * FROM users WHERE id = $2) AS a LEFT JOIN \
                   (SELECT * FROM tickets WHERE id = $1 AND note <> '$1') AS v ON 1 = 1";
        let text = batched_text(sql, 2).expect("batched");
        assert_eq!(
            text,
            "SELECT triage_batch.i, q.* FROM unnest($1, $2) WITH ORDINALITY AS \
             triage_batch(p1, p2, i) CROSS JOIN LATERAL (SELECT a.* FROM (SELECT * FROM users \
             WHERE id = triage_batch.p2) AS a LEFT JOIN (SELECT * FROM tickets WHERE id = \
             triage_batch.p1 AND note <> '$1') AS v ON 1 = 1) AS q"
        );
    }

    #[test]
    fn placeholders_that_are_not_one_to_n_are_not_batched() {
        assert!(batched_text("SELECT 1", 0).is_none(), "no values");
        assert!(batched_text("SELECT $1, $3", 2).is_none(), "a gap");
        assert!(batched_text("SELECT $1", 2).is_none(), "a value never used");
    }
}
