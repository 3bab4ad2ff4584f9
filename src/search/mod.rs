//! Full-text search: the one place with backend-specific SQL (FTS5 on SQLite, tsvector on PostgreSQL).
//! Placeholders follow the dialect: sea-query keeps a custom expression's values only with its
//! builder's own placeholder (`$N` for PostgreSQL, `?` for SQLite).

use sea_orm::sea_query::{Alias, Expr, IntoIden, Query, SelectStatement, SimpleExpr};
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::Result;

pub mod estimate;
pub mod matches;

/// How a full-text condition joins a ticket list query.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Plan {
    /// The matches drive: every matching row is read and sorted (few matches, a rare word).
    #[default]
    Drive,
    /// The list's own index is walked in sort order and each entry is checked against the
    /// set of matching ids, built once from the text index (many matches: a page fills after
    /// a few entries, where reading and sorting every row matching a common word takes seconds
    /// at a million tickets). Checking each entry with its own text-index lookup instead was
    /// measured 100 times slower: a prefix term's doclists are merged again for every probe.
    Scan,
}

/// Matches up to which a search reads and sorts all of them; beyond, it scans. Measured at
/// 1M tickets: 4,400 matches read and sorted in 2 ms, 50,000 in 95 ms; scanning 8–10 ms.
pub const DRIVE_LIMIT: i64 = 5000;

/// Rows a PostgreSQL walk of the list index reads, per part of the filter, before the page is
/// read from the matches instead (`tickets::budget`). A word just past the drive limit whose
/// matches all sort late (a burst of tickets about one thing) walked 51,000 rows (186 ms) where
/// reading its 5,182 matches took 14-21 ms. Each walked row costs about what reading one match
/// does (~3.6 µs), so a budget the size of the drive limit spends at most what driving a
/// just-past-the-limit word costs before it drives: never much worse than the better choice,
/// while walks of words spread over the list (5,001+ matches) rarely run out.
pub const SCAN_BUDGET: u64 = 5000;

/// How long a chosen plan is reused: a word's match count changes slowly.
const PLAN_TTL: Duration = Duration::from_secs(60);

/// Most plans remembered; the cache starts over beyond this.
const PLAN_CACHE_MAX: usize = 10_000;

/// Searches by how their plan was chosen, since start.
#[derive(Default)]
pub struct PlanChoices {
    /// A plan chosen for the same query in the last minute.
    pub cached: AtomicU64,
    /// Settled by PostgreSQL's lexeme statistics.
    pub statistics: AtomicU64,
    /// Settled by counting the matches.
    pub counted: AtomicU64,
    /// PostgreSQL page walks that found their page within the budget.
    pub walks_stood: AtomicU64,
    /// Walks that ran out of budget (the matches then drove).
    pub walks_ran_out: AtomicU64,
    /// Walks not tried because the same walk ran out in the last minute.
    pub walks_skipped: AtomicU64,
}

/// Plans chosen recently, by text query. Counting a common word's matches merges its prefix
/// doclists, which costs a third of the whole search (2–12 ms at a million tickets), and the
/// choice only ever affects speed, never which rows come back.
#[derive(Clone)]
pub struct PlanCache {
    plans: Arc<Mutex<HashMap<String, (Plan, Instant)>>>,
    /// Walks (query, filters, sort, caller, cursor) that ran out of budget lately, and when.
    ran_out: Arc<Mutex<HashMap<String, Instant>>>,
    /// PostgreSQL's statistics of the text index's lexemes, which settle most choices.
    lexemes: Arc<estimate::LexemeSlot>,
    /// How the plans were chosen, for `/metrics`.
    pub chosen: Arc<PlanChoices>,
    /// Matches up to which a search drives (`DRIVE_LIMIT` unless configured).
    pub drive_limit: i64,
    /// Rows a PostgreSQL scan may walk per part (`SCAN_BUDGET` unless configured).
    pub scan_budget: u64,
}

impl Default for PlanCache {
    fn default() -> Self {
        PlanCache::new(DRIVE_LIMIT, SCAN_BUDGET)
    }
}

impl PlanCache {
    /// An empty cache choosing with these limits.
    pub fn new(drive_limit: i64, scan_budget: u64) -> PlanCache {
        PlanCache {
            plans: Default::default(),
            ran_out: Default::default(),
            lexemes: Default::default(),
            chosen: Default::default(),
            drive_limit: drive_limit.max(0),
            scan_budget: scan_budget.max(1),
        }
    }

    /// The plan to use for `query`, or `None` when the caller must count. When a plan has
    /// expired, the first caller to see it counts again while everyone else goes on with the
    /// old plan until the new one is in: every client searching a word at once recounted it
    /// each minute (~100 ms of the database's time each on PostgreSQL at 1M).
    fn get(&self, query: &str) -> Option<Plan> {
        let mut map = self.plans.lock().ok()?;
        let (plan, at) = map.get_mut(query)?;
        if at.elapsed() < PLAN_TTL {
            return Some(*plan);
        }
        *at = Instant::now();
        None
    }

    /// Whether the walk `key` ran out of budget in the last minute. Its page was then read
    /// from the matches; the same walk again (same query, filters, sort, caller and cursor)
    /// is skipped and the matches drive at once. A word just past the drive limit whose
    /// matches all sort late paid a walk of the whole budget before every such search
    /// (5–10 ms of a 15–30 ms search for 5,363 matches at 1.1M tickets).
    pub fn ran_out_lately(&self, key: &str) -> bool {
        let Ok(mut map) = self.ran_out.lock() else {
            return false;
        };
        match map.get(key) {
            Some(at) if at.elapsed() < PLAN_TTL => {
                self.chosen.walks_skipped.fetch_add(1, Ordering::Relaxed);
                true
            }
            Some(_) => {
                map.remove(key);
                false
            }
            None => false,
        }
    }

    /// Records how the walk `key` ended (see [`PlanCache::ran_out_lately`]).
    pub fn walk_ended(&self, key: String, ran_out: bool) {
        let counter = if ran_out {
            &self.chosen.walks_ran_out
        } else {
            &self.chosen.walks_stood
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if ran_out {
            remember(&self.ran_out, key, Instant::now());
        }
    }

    fn put(&self, query: String, plan: Plan) {
        remember(&self.plans, query, (plan, Instant::now()));
    }
}

/// Inserts into a bounded map of recent choices, which starts over once it is full.
fn remember<V>(map: &Mutex<HashMap<String, V>>, key: String, value: V) {
    if let Ok(mut map) = map.lock() {
        if map.len() >= PLAN_CACHE_MAX {
            map.clear();
        }
        map.insert(key, value);
    }
}

/// Chooses the plan for `q` by counting its matches up to the drive limit (a short read of the
/// text index), or reuses the choice made for the same query in the last minute. On
/// PostgreSQL the lexeme statistics settle most choices without a count (`estimate`).
/// PostgreSQL needs the choice too: its estimate for a prefix query is a default (5,064
/// rows at 1M tickets for a word with 700 matches), so it walked the list index for rare
/// words and filtered a million rows (200–350 ms) where the GIN matches sorted take 9–19 ms.
pub async fn plan(conn: &impl ConnectionTrait, cache: &PlanCache, q: &str) -> Result<Plan> {
    let backend = conn.get_database_backend();
    let (query, count_sql) = if backend == DatabaseBackend::Postgres {
        (
            tsquery(q),
            "SELECT count(*) AS n FROM (SELECT 1 FROM tickets \
             WHERE search @@ to_tsquery('simple', $1) LIMIT $2) m",
        )
    } else {
        (
            fts5_query(q),
            "SELECT count(*) AS n FROM (SELECT 1 FROM tickets_fts WHERE tickets_fts MATCH ? LIMIT ?)",
        )
    };
    let Some(query) = query else {
        return Ok(Plan::Drive);
    };
    if let Some(p) = cache.get(&query) {
        cache.chosen.cached.fetch_add(1, Ordering::Relaxed);
        return Ok(p);
    }
    if backend == DatabaseBackend::Postgres {
        // The statistics only spare a count: when they cannot be read, count.
        let stats = estimate::current(conn, &cache.lexemes)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!("search statistics unreadable, counting instead: {e}");
                None
            });
        if let Some(p) = stats.and_then(|s| s.choose(&tokens(q), cache.drive_limit)) {
            cache.chosen.statistics.fetch_add(1, Ordering::Relaxed);
            cache.put(query, p);
            return Ok(p);
        }
    }
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            count_sql,
            [query.clone().into(), (cache.drive_limit + 1).into()],
        ))
        .await?;
    let n: i64 = match row {
        Some(r) => r.try_get("", "n")?,
        None => 0,
    };
    cache.chosen.counted.fetch_add(1, Ordering::Relaxed);
    let plan = if n > cache.drive_limit {
        Plan::Scan
    } else {
        Plan::Drive
    };
    cache.put(query, plan);
    Ok(plan)
}

/// Every word as a PostgreSQL prefix term, all required.
fn tsquery(q: &str) -> Option<String> {
    each_word(q, |w| format!("{w}:*"), " & ")
}

/// Every word as an FTS5 prefix term, quoted so no query syntax gets through.
pub fn fts5_query(q: &str) -> Option<String> {
    each_word(q, |w| format!("\"{w}\"*"), " ")
}

/// The words of `q` as terms, joined by `sep`; `None` when `q` has no words.
fn each_word(q: &str, term: impl Fn(&str) -> String, sep: &str) -> Option<String> {
    let words = tokens(q);
    (!words.is_empty()).then(|| words.iter().map(|w| term(w)).collect::<Vec<_>>().join(sep))
}

/// Words of a user query: alphanumeric runs, lower-cased, at most 10 of at most 64 chars.
pub fn tokens(q: &str) -> Vec<String> {
    q.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .take(10)
        .map(|t| t.chars().take(64).collect::<String>().to_lowercase())
        .collect()
}

/// PostgreSQL's matching tickets for a driving search, with `columns`, to stand in for
/// `tickets` in a list query (`FROM (…) AS tickets`): the page is sorted from the rows the text
/// index found, where `tickets.id IN (matches)` read each match's row a second time through the
/// primary key (16.6 → 8.1 ms for a word with 2,891 matches at 1M). Only the columns the list
/// query reads: whole rows (`*`, ~560 bytes each with the description) took 21 ms to read and
/// sort for 5,363 matches, these 11.6 ms. `OFFSET 0` keeps the planner from folding it into a
/// walk of the list index. `None` when `q` has no words.
pub fn matching_tickets<C: IntoIden>(
    q: &str,
    columns: impl IntoIterator<Item = C>,
) -> Option<SelectStatement> {
    let query = tsquery(q)?;
    Some(
        Query::select()
            .columns(columns)
            .from_as(Alias::new("tickets"), Alias::new("m"))
            .and_where(Expr::cust_with_values(
                "m.search @@ to_tsquery('simple', $1)",
                [query],
            ))
            .offset(0)
            .to_owned(),
    )
}

/// A filter on `tickets` matching every word of `q` as a prefix; `None` when `q` has no words.
/// On PostgreSQL the plan does not shape the filter: a list query that drives from the
/// matches reads from [`matching_tickets`] instead of filtering `tickets`.
pub fn ticket_filter(backend: DatabaseBackend, q: &str, plan: Plan) -> Option<SimpleExpr> {
    if backend == DatabaseBackend::Postgres {
        let query = tsquery(q)?;
        return Some(Expr::cust_with_values(
            "tickets.search @@ to_tsquery('simple', $1)",
            [query],
        ));
    }
    let query = fts5_query(q)?;
    Some(match plan {
        Plan::Drive => Expr::cust_with_values(
            "tickets.id IN (SELECT rowid FROM tickets_fts WHERE tickets_fts MATCH ?)",
            [query],
        ),
        // The unary `+` keeps SQLite from using the id list as the driving rowid lookup, so
        // the ORDER BY index drives and the list (an ephemeral index) is only consulted.
        Plan::Scan => Expr::cust_with_values(
            "+tickets.id IN (SELECT rowid FROM tickets_fts WHERE tickets_fts MATCH ?)",
            [query],
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::{PLAN_CACHE_MAX, Plan, PlanCache};

    #[test]
    fn plans_are_remembered_per_query_and_the_cache_stays_bounded() {
        let c = PlanCache::default();
        assert_eq!(c.get("\"vpn\"*"), None);
        c.put("\"vpn\"*".into(), Plan::Scan);
        c.put("\"zebra\"*".into(), Plan::Drive);
        assert_eq!(c.get("\"vpn\"*"), Some(Plan::Scan));
        assert_eq!(c.get("\"zebra\"*"), Some(Plan::Drive));
        for i in 0..PLAN_CACHE_MAX {
            c.put(format!("\"w{i}\"*"), Plan::Drive);
        }
        let held = c.plans.lock().unwrap().len();
        assert!(held <= PLAN_CACHE_MAX, "{held}");
        assert_eq!(c.get("\"vpn\"*"), None, "started over when full");
    }

    #[test]
    fn an_expired_plan_is_recounted_by_one_caller_while_the_others_keep_it() {
        let c = PlanCache::default();
        c.put("\"vpn\"*".into(), Plan::Scan);
        if let Some(entry) = c.plans.lock().unwrap().get_mut("\"vpn\"*") {
            entry.1 =
                std::time::Instant::now() - super::PLAN_TTL - std::time::Duration::from_secs(1);
        }
        assert_eq!(c.get("\"vpn\"*"), None, "the first caller counts");
        assert_eq!(
            c.get("\"vpn\"*"),
            Some(Plan::Scan),
            "the others keep the old plan"
        );
        c.put("\"vpn\"*".into(), Plan::Drive);
        assert_eq!(c.get("\"vpn\"*"), Some(Plan::Drive), "then the new one");
    }

    #[test]
    fn tokens_strip_syntax() {
        assert_eq!(
            super::tokens("VPN \"drops\" OR* -x"),
            vec!["vpn", "drops", "or", "x"]
        );
        assert!(super::tokens("  ** ").is_empty());
    }
}
