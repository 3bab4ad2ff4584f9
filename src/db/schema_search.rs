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
