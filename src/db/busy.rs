//! How a SQLite write connection waits for another process's writer (a mailgate, a CLI
//! command, a second `serve` on the same file). SQLite's own busy timeout sleeps 1, 2, 5, 10,
//! 15, 20, 25, 25, 25, 50, 50 and then 100 ms between tries, so a writer that meets a lock
//! held for a millisecond (one group commit) sleeps far longer than the holder needed, and one
//! that has waited a quarter of a second keeps missing short gaps 100 ms at a time: strace of
//! `serve` beside the bench's mail intake showed it asleep more than half the time. Here it
//! tries again every 100 µs at first and every millisecond after, for the same ten seconds.

use std::time::Duration;

/// Short waits before the millisecond ones (2 ms in all).
const QUICK_TRIES: i32 = 20;
const QUICK_WAIT: Duration = Duration::from_micros(100);
const WAIT: Duration = Duration::from_millis(1);

/// Tries in all: the quick ones, then one per millisecond up to `super::BUSY_TIMEOUT`.
const TRIES: i32 = QUICK_TRIES + super::BUSY_TIMEOUT.as_millis() as i32;

/// SQLite's busy handler: sleeps before try `count` (0-based) and says whether to try again.
pub(super) fn patient(count: i32) -> bool {
    if count >= TRIES {
        return false;
    }
    std::thread::sleep(if count < QUICK_TRIES {
        QUICK_WAIT
    } else {
        WAIT
    });
    true
}

/// Sets [`patient`] as the busy handler of `db` (it replaces the busy timeout, and a later
/// `busy_timeout` call replaces it).
pub(super) fn set(db: &rusqlite::Connection) -> rusqlite::Result<()> {
    db.busy_handler(Some(patient))
}

/// [`set`] on a connection sqlx opened (its `after_connect` hook).
pub(super) async fn set_on(conn: &mut sqlx::SqliteConnection) -> Result<(), sqlx::Error> {
    super::group_direct::with_handle(conn, set)
        .await
        .map_err(sqlx::Error::Protocol)?
        .map_err(|e| sqlx::Error::Protocol(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn tries_quickly_then_each_millisecond_for_the_timeout() {
        let t = Instant::now();
        assert!(patient(0));
        assert!(t.elapsed() < Duration::from_millis(50));
        assert!(patient(TRIES - 1));
        assert!(!patient(TRIES));
        assert_eq!(TRIES, 20 + 10_000);
    }

    #[test]
    fn a_writer_gets_the_lock_soon_after_another_process_lets_it_go() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("t.db");
        let holder = rusqlite::Connection::open(&path).expect("open");
        holder
            .execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (x INTEGER);")
            .expect("schema");
        let waiter = rusqlite::Connection::open(&path).expect("open");
        set(&waiter).expect("handler");
        holder
            .execute_batch("BEGIN IMMEDIATE; INSERT INTO t VALUES (1)")
            .expect("lock");
        let released = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(240));
            holder.execute_batch("COMMIT").expect("commit");
            Instant::now()
        });
        waiter
            .execute_batch("BEGIN IMMEDIATE; INSERT INTO t VALUES (2); COMMIT")
            .expect("the waiter writes once the lock is free");
        let got = Instant::now();
        let freed = released.join().expect("holder");
        // SQLite's own timeout tries at 228 ms and then at 328 ms.
        assert!(
            got.duration_since(freed) < Duration::from_millis(50),
            "waited {:?} after the lock was free",
            got.duration_since(freed)
        );
        let n: i64 = waiter
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .expect("count");
        assert_eq!(n, 2);
    }
}
