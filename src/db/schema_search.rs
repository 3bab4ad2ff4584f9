//! Migration 10: the search epoch (SQLite). Full-text match sets are cached per query
//! (`search::matches`); a cached set stays exact while tickets are only appended, so every
//! change that could alter an earlier ticket's match bumps this counter in the same
//! transaction: a subject or description edit, a delete, or an insert below the highest id.

/// SQLite tables and triggers; PostgreSQL searches its GIN index directly and needs none.
pub const SQLITE: &[&str] = &[
    "CREATE TABLE search_epoch (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL)",
    "INSERT INTO search_epoch (id, n) VALUES (1, 0)",
    "CREATE TRIGGER search_epoch_au AFTER UPDATE OF subject, description ON tickets
        WHEN old.subject IS NOT new.subject OR old.description IS NOT new.description BEGIN
        UPDATE search_epoch SET n = n + 1 WHERE id = 1;
     END",
    "CREATE TRIGGER search_epoch_ad AFTER DELETE ON tickets BEGIN
        UPDATE search_epoch SET n = n + 1 WHERE id = 1;
     END",
    "CREATE TRIGGER search_epoch_ai AFTER INSERT ON tickets
        WHEN new.id < (SELECT max(id) FROM tickets) BEGIN
        UPDATE search_epoch SET n = n + 1 WHERE id = 1;
     END",
];

/// Migration 11 (SQLite): the group writer's direct batches index their new tickets with one
/// statement at the end of the batch. FTS5 writes its pending terms out as a new segment at
/// every savepoint, and each write of a batch has one, so a ticket indexed by the insert
/// trigger became a one-ticket segment that the automerge then merged again and again. While
/// the writer's flag row is in `search_defer`, new tickets are listed in `search_pending`
/// instead; [`DIRECT_BATCH`] sets the flag and indexes the list in the same transaction, so
/// nothing outside the batch ever sees a ticket that is not indexed. The update and delete
/// triggers skip a ticket still listed (the batch's statement reads its current text).
pub const DEFERRED: &[&str] = &[
    "CREATE TABLE search_defer (id INTEGER PRIMARY KEY CHECK (id = 1))",
    "CREATE TABLE search_pending (id INTEGER PRIMARY KEY)",
    "DROP TRIGGER tickets_fts_ai",
    "DROP TRIGGER tickets_fts_ad",
    "DROP TRIGGER tickets_fts_au",
    "CREATE TRIGGER tickets_fts_ai AFTER INSERT ON tickets
        WHEN NOT EXISTS (SELECT 1 FROM search_defer) BEGIN
        INSERT INTO tickets_fts(rowid, subject, description) VALUES (new.id, new.subject, new.description);
     END",
    "CREATE TRIGGER tickets_fts_ai_deferred AFTER INSERT ON tickets
        WHEN EXISTS (SELECT 1 FROM search_defer) BEGIN
        INSERT INTO search_pending (id) VALUES (new.id);
     END",
    "CREATE TRIGGER tickets_fts_ad AFTER DELETE ON tickets BEGIN
        INSERT INTO tickets_fts(tickets_fts, rowid, subject, description)
            SELECT 'delete', old.id, old.subject, old.description
            WHERE NOT EXISTS (SELECT 1 FROM search_pending WHERE id = old.id);
        DELETE FROM search_pending WHERE id = old.id;
     END",
    "CREATE TRIGGER tickets_fts_au AFTER UPDATE OF subject, description ON tickets
        WHEN NOT EXISTS (SELECT 1 FROM search_pending WHERE id = old.id) BEGIN
        INSERT INTO tickets_fts(tickets_fts, rowid, subject, description) VALUES ('delete', old.id, old.subject, old.description);
        INSERT INTO tickets_fts(rowid, subject, description) VALUES (new.id, new.subject, new.description);
     END",
];

/// What the group writer runs around each direct batch on the migrated schema: the flag
/// after `BEGIN`, and before `COMMIT` the one statement that indexes the batch's new tickets.
pub const DIRECT_BATCH: super::group_direct::BatchEnds = super::group_direct::BatchEnds {
    open: &["INSERT INTO search_defer (id) VALUES (1)"],
    close: &[
        "INSERT INTO tickets_fts(rowid, subject, description)
            SELECT t.id, t.subject, t.description
            FROM search_pending p JOIN tickets t ON t.id = p.id ORDER BY p.id",
        "DELETE FROM search_pending",
        "DELETE FROM search_defer",
    ],
};

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    /// The ticket columns the index reads, with migrations 1, 10 and 11 applied.
    fn database() -> Connection {
        let conn = Connection::open_in_memory().expect("open");
        conn.execute_batch(
            "CREATE TABLE tickets (id INTEGER PRIMARY KEY, subject TEXT NOT NULL, description TEXT NOT NULL)",
        )
        .expect("table");
        for sql in crate::db::migrations::TICKETS_FTS
            .iter()
            .chain(super::SQLITE)
            .chain(super::DEFERRED)
        {
            conn.execute_batch(sql).expect("schema");
        }
        conn
    }

    fn add(conn: &Connection, subject: &str) -> i64 {
        conn.execute(
            "INSERT INTO tickets (subject, description) VALUES (?1, 'body')",
            [subject],
        )
        .expect("insert");
        conn.last_insert_rowid()
    }

    fn matching(conn: &Connection, fts: &str) -> Vec<i64> {
        let mut s = conn
            .prepare("SELECT rowid FROM tickets_fts WHERE tickets_fts MATCH ?1 ORDER BY rowid")
            .expect("prepare");
        s.query_map([fts], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    }

    fn count(conn: &Connection, table: &str) -> i64 {
        conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .expect("count")
    }

    #[test]
    fn a_direct_batch_indexes_its_tickets_at_its_end_with_their_last_text() {
        let conn = database();
        let before = add(&conn, "printer old");
        conn.execute_batch("BEGIN").expect("begin");
        conn.execute_batch(&super::DIRECT_BATCH.open.join(";"))
            .expect("open");
        let kept = add(&conn, "printer jammed");
        let edited = add(&conn, "printer typo");
        let gone = add(&conn, "printer gone");
        conn.execute_batch(&format!(
            "UPDATE tickets SET subject = 'scanner fixed' WHERE id = {edited};
             DELETE FROM tickets WHERE id = {gone};
             UPDATE tickets SET subject = 'printer older' WHERE id = {before}"
        ))
        .expect("edits");
        // Inside the batch only the ticket from before it is indexed.
        assert_eq!(matching(&conn, "printer"), vec![before]);
        assert_eq!(count(&conn, "search_pending"), 2);
        conn.execute_batch(&super::DIRECT_BATCH.close.join(";"))
            .expect("close");
        conn.execute_batch("COMMIT").expect("commit");
        assert_eq!(matching(&conn, "printer"), vec![before, kept]);
        assert_eq!(matching(&conn, "scanner"), vec![edited]);
        assert!(matching(&conn, "typo OR gone OR old").is_empty());
        assert_eq!(
            count(&conn, "search_pending") + count(&conn, "search_defer"),
            0
        );
        // Outside a batch the triggers index at once, as before.
        let later = add(&conn, "printer later");
        assert_eq!(matching(&conn, "later"), vec![later]);
        conn.execute_batch(&format!("DELETE FROM tickets WHERE id = {kept}"))
            .expect("delete");
        assert_eq!(matching(&conn, "printer"), vec![before, later]);
        conn.execute_batch(
            "INSERT INTO tickets_fts(tickets_fts, rank) VALUES ('integrity-check', 1)",
        )
        .expect("the index matches the table");
    }
}
