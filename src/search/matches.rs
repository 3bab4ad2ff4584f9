//! Match sets (SQLite): which tickets one full-text query matches, as a bitmap by ticket id,
//! cached per query. A common word's matches are 50,000–200,000 tickets at a million, and
//! FTS5 merges every doclist under a prefix again for each query (20–60 ms) before a page of
//! 50 can be picked from them; a cached set turns that into a bit test per list entry.
//!
//! A cached set is exact, not approximate. Tickets only ever get higher ids, so a set built
//! over ids up to `upto` stays right for those tickets until one of them changes its text or
//! is deleted; every such change bumps `search_epoch` in its own transaction (migration 10).
//! Tickets created since are matched on top of the set: their text is indexed into a
//! throwaway in-memory FTS5 table with the same tokenizer, and the query run on it.
//! Everything is read inside the caller's read transaction, so one snapshot answers all.

use rusqlite::Connection;
use rusqlite::types::ToSqlOutput;
use sea_orm::DbErr;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::db::direct::sqlite_err;

/// The tokenizer of `tickets_fts` (migration 1); the tail table must split words the same way.
pub const TOKENIZE: &str = "tokenize='unicode61 remove_diacritics 2'";

/// Highest ticket id a set covers (8 MB a set); beyond, searches use SQL alone.
const MAX_ID: i64 = 1 << 26;

/// Tickets created since a cached set that are matched on top of it; more, and it is rebuilt.
const TAIL_MAX: i64 = 2048;

/// Bytes of bitmaps kept; the cache starts over beyond this.
const CACHE_BYTES: usize = 32 << 20;

/// The ids of the tickets one query matches, as of an epoch and a highest id.
#[derive(Debug)]
pub struct MatchSet {
    epoch: i64,
    upto: i64,
    bits: Vec<u64>,
}

impl MatchSet {
    fn empty(epoch: i64, upto: i64) -> MatchSet {
        let words = usize::try_from(upto).unwrap_or(0) / 64 + 1;
        MatchSet {
            epoch,
            upto,
            bits: vec![0; words],
        }
    }

    /// True when ticket `id` matches.
    pub fn contains(&self, id: i64) -> bool {
        usize::try_from(id)
            .ok()
            .and_then(|i| self.bits.get(i / 64).map(|w| w >> (i % 64) & 1 == 1))
            .unwrap_or(false)
    }

    fn insert(&mut self, id: i64) {
        let Ok(i) = usize::try_from(id) else {
            return;
        };
        if i / 64 >= self.bits.len() {
            self.bits.resize(i / 64 + 1, 0);
        }
        self.bits[i / 64] |= 1 << (i % 64);
    }

    /// How many tickets match.
    pub fn len(&self) -> u64 {
        self.bits.iter().map(|w| u64::from(w.count_ones())).sum()
    }

    /// True when no ticket matches.
    pub fn is_empty(&self) -> bool {
        self.bits.iter().all(|w| *w == 0)
    }

    fn bytes(&self) -> usize {
        self.bits.len() * 8
    }
}

/// Match sets built recently, by FTS5 query, and the slots for the walks that use them.
#[derive(Clone)]
pub struct MatchCache {
    sets: Arc<Mutex<HashMap<String, Arc<MatchSet>>>>,
    slots: Arc<Semaphore>,
}

impl Default for MatchCache {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        MatchCache {
            sets: Arc::default(),
            slots: Arc::new(Semaphore::new(cores)),
        }
    }
}

impl MatchCache {
    /// Waits for one of the walk slots (one per core); held until the permit is dropped.
    pub async fn slot(&self) -> Option<SemaphorePermit<'_>> {
        self.slots.acquire().await.ok()
    }

    /// The tickets FTS5 query `fts` matches in the snapshot of `conn`'s open read transaction;
    /// `None` when ticket ids are too high for a bitmap.
    pub fn matches(&self, conn: &Connection, fts: &str) -> Result<Option<Arc<MatchSet>>, DbErr> {
        let epoch = scalar(conn, "SELECT n FROM search_epoch WHERE id = 1")?;
        let top = scalar(conn, "SELECT coalesce(max(id), 0) FROM tickets")?;
        if top > MAX_ID {
            return Ok(None);
        }
        let cached = self.get(fts).filter(|m| m.epoch == epoch);
        let set = match cached {
            // A set built at a later snapshot with the same epoch holds every ticket this
            // snapshot has, with the same text.
            Some(m) if m.upto >= top => return Ok(Some(m)),
            Some(m) if top - m.upto <= TAIL_MAX => {
                let mut next = MatchSet {
                    epoch,
                    upto: top,
                    bits: m.bits.clone(),
                };
                for id in tail_matches(conn, fts, m.upto)? {
                    next.insert(id);
                }
                next
            }
            _ => build(conn, fts, epoch, top)?,
        };
        let set = Arc::new(set);
        self.put(fts, set.clone());
        Ok(Some(set))
    }

    /// How many queries have a set held.
    pub fn held(&self) -> usize {
        self.sets.lock().map_or(0, |m| m.len())
    }

    fn get(&self, fts: &str) -> Option<Arc<MatchSet>> {
        self.sets.lock().ok()?.get(fts).cloned()
    }

    /// Keeps `set` unless a newer one is there; sets of older epochs can never be used again.
    fn put(&self, fts: &str, set: Arc<MatchSet>) {
        let Ok(mut map) = self.sets.lock() else {
            return;
        };
        if let Some(old) = map.get(fts)
            && (old.epoch, old.upto) >= (set.epoch, set.upto)
        {
            return;
        }
        map.retain(|_, s| s.epoch >= set.epoch);
        let held: usize = map
            .iter()
            .filter(|(k, _)| *k != fts)
            .map(|(_, s)| s.bytes())
            .sum();
        if held + set.bytes() > CACHE_BYTES {
            map.clear();
        }
        map.insert(fts.to_string(), set);
    }
}

/// Every match from the text index, as of the snapshot.
fn build(conn: &Connection, fts: &str, epoch: i64, top: i64) -> Result<MatchSet, DbErr> {
    let mut set = MatchSet::empty(epoch, top);
    let mut stmt = conn
        .prepare_cached("SELECT rowid FROM tickets_fts WHERE tickets_fts MATCH ?1")
        .map_err(sqlite_err)?;
    let mut rows = stmt.query([fts]).map_err(sqlite_err)?;
    while let Some(r) = rows.next().map_err(sqlite_err)? {
        set.insert(r.get(0).map_err(sqlite_err)?);
    }
    Ok(set)
}

/// The tickets above id `after` that match, by indexing their text on its own.
fn tail_matches(conn: &Connection, fts: &str, after: i64) -> Result<Vec<i64>, DbErr> {
    let mem = Connection::open_in_memory().map_err(sqlite_err)?;
    mem.execute_batch(&format!(
        "CREATE VIRTUAL TABLE tail USING fts5(subject, description, {TOKENIZE}); BEGIN"
    ))
    .map_err(sqlite_err)?;
    {
        let mut add = mem
            .prepare("INSERT INTO tail (rowid, subject, description) VALUES (?1, ?2, ?3)")
            .map_err(sqlite_err)?;
        let mut read = conn
            .prepare_cached("SELECT id, subject, description FROM tickets WHERE id > ?1")
            .map_err(sqlite_err)?;
        let mut rows = read.query([after]).map_err(sqlite_err)?;
        while let Some(r) = rows.next().map_err(sqlite_err)? {
            let id: i64 = r.get(0).map_err(sqlite_err)?;
            let text = |i| r.get_ref(i).map(ToSqlOutput::Borrowed).map_err(sqlite_err);
            add.execute(rusqlite::params![id, text(1)?, text(2)?])
                .map_err(sqlite_err)?;
        }
    }
    let mut found = mem
        .prepare("SELECT rowid FROM tail WHERE tail MATCH ?1")
        .map_err(sqlite_err)?;
    let ids = found
        .query_map([fts], |r| r.get(0))
        .map_err(sqlite_err)?
        .collect::<Result<Vec<i64>, _>>()
        .map_err(sqlite_err)?;
    Ok(ids)
}

/// The integer a one-row statement returns.
fn scalar(conn: &Connection, sql: &str) -> Result<i64, DbErr> {
    conn.prepare_cached(sql)
        .and_then(|mut s| s.query_row([], |r| r.get(0)))
        .map_err(sqlite_err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// A file with the ticket columns the index reads, the index, and migration 10.
    fn database() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().expect("temp dir");
        let conn = Connection::open(dir.path().join("t.db")).expect("open");
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE tickets (id INTEGER PRIMARY KEY, subject TEXT NOT NULL, description TEXT NOT NULL);",
        )
        .expect("table");
        for sql in crate::db::migrations::TICKETS_FTS
            .iter()
            .chain(crate::db::schema_search::SQLITE)
        {
            conn.execute_batch(sql).expect("schema");
        }
        (dir, conn)
    }

    fn add(conn: &Connection, subject: &str, description: &str) -> i64 {
        conn.execute(
            "INSERT INTO tickets (subject, description) VALUES (?1, ?2)",
            [subject, description],
        )
        .expect("insert");
        conn.last_insert_rowid()
    }

    /// What the text index itself answers.
    fn truth(conn: &Connection, fts: &str) -> BTreeSet<i64> {
        let mut s = conn
            .prepare("SELECT rowid FROM tickets_fts WHERE tickets_fts MATCH ?1")
            .unwrap();
        s.query_map([fts], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
    }

    /// What the cache answers, read in one transaction as the walk does.
    fn cached(cache: &MatchCache, conn: &Connection, fts: &str) -> BTreeSet<i64> {
        conn.execute_batch("BEGIN").unwrap();
        let set = cache.matches(conn, fts).unwrap().expect("a set");
        conn.execute_batch("COMMIT").unwrap();
        let top: i64 = conn
            .query_row("SELECT coalesce(max(id), 0) + 64 FROM tickets", [], |r| {
                r.get(0)
            })
            .unwrap();
        let ids: BTreeSet<i64> = (0..=top).filter(|i| set.contains(*i)).collect();
        assert_eq!(set.len(), ids.len() as u64);
        ids
    }

    fn held(cache: &MatchCache, fts: &str) -> (i64, i64) {
        let s = cache.get(fts).expect("held");
        (s.epoch, s.upto)
    }

    #[test]
    fn cached_sets_follow_inserts_edits_and_deletes_exactly() {
        let (_dir, conn) = database();
        for i in 0..300 {
            let word = ["invoice", "invoices", "refund", "Café"][i % 4];
            add(
                &conn,
                &format!("{word} number {i}"),
                "Printer jam on floor 3",
            );
        }
        let cache = MatchCache::default();
        let queries = [
            "\"invoice\"*",
            "\"cafe\"*",
            "\"printer\"* \"refund\"*",
            "\"zzz\"*",
        ];
        for q in queries {
            assert_eq!(cached(&cache, &conn, q), truth(&conn, q), "{q} built");
        }
        assert_eq!(truth(&conn, "\"invoice\"*").len(), 150);
        assert!(cached(&cache, &conn, "\"zzz\"*").is_empty());

        // New tickets are matched on top of the set (same epoch, higher reach), including
        // words only the tokenizer's folding makes match.
        let (epoch, upto) = held(&cache, "\"cafe\"*");
        add(&conn, "CAFÉS closed", "nothing else");
        add(&conn, "Invoicing question", "refund printer");
        for q in queries {
            assert_eq!(
                cached(&cache, &conn, q),
                truth(&conn, q),
                "{q} after inserts"
            );
        }
        assert_eq!(
            held(&cache, "\"cafe\"*"),
            (epoch, upto + 2),
            "tail matched, not rebuilt"
        );

        // An edit changes the epoch; the set is rebuilt and the edited ticket moves.
        conn.execute(
            "UPDATE tickets SET subject = 'refund only' WHERE id = 1",
            [],
        )
        .unwrap();
        assert!(held(&cache, "\"invoice\"*").0 == epoch);
        for q in queries {
            assert_eq!(cached(&cache, &conn, q), truth(&conn, q), "{q} after edit");
        }
        assert!(!cached(&cache, &conn, "\"invoice\"*").contains(&1));
        assert_eq!(held(&cache, "\"invoice\"*").0, epoch + 1);
        // A change elsewhere on the row leaves the epoch alone.
        conn.execute("UPDATE tickets SET subject = subject WHERE id = 2", [])
            .unwrap();
        conn.execute(
            "UPDATE tickets SET description = description || '' WHERE id = 3",
            [],
        )
        .unwrap();
        cached(&cache, &conn, "\"invoice\"*");
        assert_eq!(held(&cache, "\"invoice\"*").0, epoch + 1);

        // Deletes, and an insert below the highest id (an id freed by a delete), too.
        conn.execute("DELETE FROM tickets WHERE id IN (5, 6)", [])
            .unwrap();
        for q in queries {
            assert_eq!(
                cached(&cache, &conn, q),
                truth(&conn, q),
                "{q} after delete"
            );
        }
        let e = held(&cache, "\"invoice\"*").0;
        conn.execute(
            "INSERT INTO tickets (id, subject, description) VALUES (5, 'invoice again', '')",
            [],
        )
        .unwrap();
        for q in queries {
            assert_eq!(
                cached(&cache, &conn, q),
                truth(&conn, q),
                "{q} after low insert"
            );
        }
        assert!(held(&cache, "\"invoice\"*").0 > e);
        assert!(cached(&cache, &conn, "\"invoice\"*").contains(&5));
    }

    #[test]
    fn a_long_tail_rebuilds_and_older_snapshots_never_replace_newer_sets() {
        let (_dir, conn) = database();
        add(&conn, "vpn down", "");
        let cache = MatchCache::default();
        assert_eq!(cached(&cache, &conn, "\"vpn\"*").len(), 1);
        conn.execute_batch("BEGIN").unwrap();
        for i in 0..(TAIL_MAX + 10) {
            add(&conn, if i % 2 == 0 { "vpn again" } else { "other" }, "");
        }
        conn.execute_batch("COMMIT").unwrap();
        let q = "\"vpn\"*";
        assert_eq!(cached(&cache, &conn, q), truth(&conn, q));
        let newer = held(&cache, q);
        cache.put(q, Arc::new(MatchSet::empty(newer.0, newer.1 - 1)));
        assert_eq!(held(&cache, q), newer, "kept the set that reaches further");
    }

    #[test]
    fn the_tail_table_splits_words_like_the_ticket_index() {
        assert!(crate::db::migrations::TICKETS_FTS[0].contains(TOKENIZE));
    }

    #[test]
    fn bits_are_set_where_inserted_and_nowhere_else() {
        let mut s = MatchSet::empty(0, 10);
        for id in [0, 1, 63, 64, 200, -3] {
            s.insert(id);
        }
        assert!(s.contains(63) && s.contains(64) && s.contains(200) && s.contains(0));
        assert!(!s.contains(2) && !s.contains(-3) && !s.contains(65) && !s.contains(1 << 40));
        assert_eq!(s.len(), 5);
        assert!(!s.is_empty() && MatchSet::empty(0, 0).is_empty());
    }
}
