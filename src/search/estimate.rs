//! A search plan chosen from PostgreSQL's statistics instead of a count (PostgreSQL only).
//!
//! Counting a common word's matches makes GIN merge every posting list under the prefix into
//! a bitmap before the first row comes back: 35–130 ms for a word in 5 % of a million tickets,
//! paid by the first search of each word on each server (and by every client that asked for
//! it at once), which was what held the search p99 near its target after a restart. `ANALYZE`
//! already keeps the most common lexemes of `tickets.search` with their frequencies
//! (`pg_stats.most_common_elems`); where they settle the choice, no count is made.
//!
//! The choice only ever affects speed, never which rows come back, and a wrong one is bounded:
//! a scan that finds too few matches runs out of its budget and the matches drive
//! (`tickets::budget`).

use sea_orm::{ConnectionTrait, DbBackend, Statement};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::{PLAN_TTL, Plan};
use crate::error::Result;

/// Shortest word whose statistics are trusted: a one- or two-letter prefix covers many
/// lexemes too rare to be listed.
const MIN_WORD: usize = 3;

/// The most common lexemes of `tickets.search` as `ANALYZE` last sampled them.
#[derive(Debug, Default)]
pub struct LexemeStats {
    /// Tickets in the table (`pg_class.reltuples`).
    rows: f64,
    /// Lexemes in byte order with the fraction of tickets holding each.
    elems: Vec<(String, f64)>,
    /// The lowest listed fraction: no lexeme left off the list is more common than this.
    floor: f64,
}

impl LexemeStats {
    /// Statistics from `pg_stats`' arrays; `freqs` has the lexemes' fractions followed by the
    /// lowest and the highest of them (and, for arrays though not for `tsvector`, the
    /// fraction of null elements). `None` when they do not fit.
    pub fn new(rows: f64, lexemes: Vec<String>, freqs: &[f64]) -> Option<LexemeStats> {
        let n = lexemes.len();
        if n == 0 || !(n + 2..=n + 3).contains(&freqs.len()) || rows <= 0.0 {
            return None;
        }
        let floor = freqs[n];
        let mut elems: Vec<(String, f64)> =
            lexemes.into_iter().zip(freqs.iter().copied()).collect();
        elems.sort_by(|a, b| a.0.cmp(&b.0));
        Some(LexemeStats { rows, floor, elems })
    }

    /// Tickets holding a listed lexeme that starts with `word` (an estimate by `ANALYZE`'s
    /// sample; lexemes too rare to be listed are not in it).
    fn listed_matches(&self, word: &str) -> f64 {
        let start = self.elems.partition_point(|(e, _)| e.as_str() < word);
        let share: f64 = self.elems[start..]
            .iter()
            .take_while(|(e, _)| e.starts_with(word))
            .map(|(_, f)| f)
            .sum();
        share * self.rows
    }

    /// The plan for a query whose words (as prefixes) must all match, when the statistics
    /// settle it; `None` when only a count can.
    pub fn choose(&self, words: &[String], drive_limit: i64) -> Option<Plan> {
        if words.is_empty() || words.iter().any(|w| w.chars().count() < MIN_WORD) {
            return None;
        }
        let limit = drive_limit as f64;
        // A lexeme left off the list is below the floor. Every word must match, so one word
        // with few listed matches and a low floor bounds the whole query's matches (a prefix
        // over several unlisted lexemes may have more: then the drive reads them all, which
        // costs about what the count would have).
        let unlisted = self.floor * self.rows;
        if words
            .iter()
            .any(|w| self.listed_matches(w) + unlisted <= limit / 2.0)
        {
            return Some(Plan::Drive);
        }
        // Only a single word: words together may match anywhere from none to the rarest's.
        match words {
            [w] if self.listed_matches(w) >= 2.0 * limit => Some(Plan::Scan),
            _ => None,
        }
    }
}

/// The statistics last read and when, shared by the server's requests.
#[derive(Default)]
pub struct LexemeSlot {
    last: Mutex<(Option<Arc<LexemeStats>>, Option<Instant>)>,
    /// Held by the one request reading them.
    reading: tokio::sync::Mutex<()>,
}

impl LexemeSlot {
    /// The statistics last read, whether they are still fresh, and whether any read was made.
    fn last(&self) -> (Option<Arc<LexemeStats>>, bool, bool) {
        match self.last.lock() {
            Ok(l) => (
                l.0.clone(),
                l.1.is_some_and(|at| at.elapsed() < PLAN_TTL),
                l.1.is_some(),
            ),
            Err(_) => (None, true, true),
        }
    }

    fn keep(&self, stats: Option<Arc<LexemeStats>>) {
        if let Ok(mut l) = self.last.lock() {
            *l = (stats, Some(Instant::now()));
        }
    }
}

/// The statistics to choose with, read again when they are older than a plan may be kept.
/// One request reads them; while it does, the others wait for the first read of all (every
/// client searching at once after a start would otherwise count), and go on with the old
/// statistics for a later one.
pub async fn current(
    conn: &impl ConnectionTrait,
    slot: &LexemeSlot,
) -> Result<Option<Arc<LexemeStats>>> {
    let (old, fresh, read_before) = slot.last();
    if fresh {
        return Ok(old);
    }
    let _reading = match slot.reading.try_lock() {
        Ok(guard) => guard,
        Err(_) if read_before => return Ok(old),
        Err(_) => slot.reading.lock().await,
    };
    let (old, fresh, _) = slot.last();
    if fresh {
        return Ok(old);
    }
    match read(conn).await {
        Ok(stats) => {
            let stats = stats.map(Arc::new);
            slot.keep(stats.clone());
            Ok(stats)
        }
        Err(e) => {
            // Not again before the plans expire: the searches count meanwhile.
            slot.keep(None);
            Err(e)
        }
    }
}

/// `tickets.search`'s most common lexemes from `pg_stats` (none before the first `ANALYZE`).
async fn read(conn: &impl ConnectionTrait) -> Result<Option<LexemeStats>> {
    let row = conn
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT array_to_json(s.most_common_elems::text::text[])::text AS elems, \
             array_to_json(s.most_common_elem_freqs)::text AS freqs, c.reltuples::float8 AS rows \
             FROM pg_stats s JOIN pg_class c ON c.oid = 'tickets'::regclass \
             WHERE s.schemaname = current_schema() AND s.tablename = 'tickets' \
             AND s.attname = 'search'",
        ))
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let elems: Option<String> = row.try_get("", "elems")?;
    let freqs: Option<String> = row.try_get("", "freqs")?;
    let rows: f64 = row.try_get("", "rows")?;
    let (Some(elems), Some(freqs)) = (elems, freqs) else {
        return Ok(None);
    };
    let (Ok(elems), Ok(freqs)) = (
        serde_json::from_str::<Vec<String>>(&elems),
        serde_json::from_str::<Vec<f64>>(&freqs),
    ) else {
        return Ok(None);
    };
    Ok(LexemeStats::new(rows, elems, &freqs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(rows: f64, list: &[(&str, f64)]) -> LexemeStats {
        let mut freqs: Vec<f64> = list.iter().map(|(_, f)| *f).collect();
        let low = freqs.iter().copied().fold(f64::MAX, f64::min);
        let high = freqs.iter().copied().fold(0.0, f64::max);
        freqs.extend([low, high]);
        LexemeStats::new(
            rows,
            list.iter().map(|(e, _)| e.to_string()).collect(),
            &freqs,
        )
        .expect("fits")
    }

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_common_word_scans_and_a_word_off_the_list_drives() {
        let s = stats(
            1e6,
            &[
                ("export", 0.003),
                ("password", 0.054),
                ("passwords", 0.002),
                ("the", 0.9),
                ("vpn", 0.0009),
            ],
        );
        assert_eq!(s.choose(&words(&["password"]), 5000), Some(Plan::Scan));
        // A prefix sums every listed lexeme under it.
        assert_eq!(s.choose(&words(&["pass"]), 5000), Some(Plan::Scan));
        // Listed matches plus what an unlisted lexeme may add (the floor, 0.09 %: 900
        // tickets) stay under half the limit: drive.
        assert_eq!(s.choose(&words(&["vpn"]), 5000), Some(Plan::Drive));
        assert_eq!(s.choose(&words(&["zebra"]), 5000), Some(Plan::Drive));
        // 3,000 + 900 is neither clearly above the limit nor surely below it: count.
        assert_eq!(s.choose(&words(&["export"]), 5000), None);
        // One rare word bounds a query of several words.
        assert_eq!(
            s.choose(&words(&["password", "zebra"]), 5000),
            Some(Plan::Drive)
        );
        // Two common words may match together far fewer tickets than either: count.
        assert_eq!(s.choose(&words(&["password", "the"]), 5000), None);
    }

    #[test]
    fn short_words_empty_queries_and_a_high_floor_leave_it_to_a_count() {
        let s = stats(1e6, &[("password", 0.054), ("the", 0.9)]);
        assert_eq!(s.choose(&words(&["pa"]), 5000), None);
        assert_eq!(s.choose(&words(&[]), 5000), None);
        // A lexeme left off may be as common as the floor: 5.4 % here, far above the limit.
        assert_eq!(s.choose(&words(&["zebra"]), 5000), None);
    }

    #[test]
    fn statistics_that_do_not_fit_are_not_used() {
        assert!(LexemeStats::new(1e6, words(&["a"]), &[0.5]).is_none());
        assert!(LexemeStats::new(1e6, words(&["a"]), &[0.5, 0.5]).is_none());
        assert!(LexemeStats::new(1e6, words(&["a"]), &[0.5, 0.5, 0.5, 0.0, 0.1]).is_none());
        assert!(LexemeStats::new(0.0, words(&["a"]), &[0.5, 0.5, 0.5]).is_none());
        assert!(LexemeStats::new(1e6, Vec::new(), &[0.0, 0.0]).is_none());
        // The lowest frequency follows the list, whether or not a null fraction ends it.
        let s = LexemeStats::new(1e6, words(&["b", "a"]), &[0.2, 0.001, 0.001, 0.2, 0.0]);
        assert_eq!(
            s.map(|s| (s.floor, s.elems[0].0.clone())),
            Some((0.001, "a".to_string()))
        );
    }
}
