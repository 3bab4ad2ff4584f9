//! Migration 15: whether a ticket has its requester's rating, kept on the ticket's row by
//! triggers on `ratings` in the same transaction as every write of a rating.
//!
//! A ticket view joined `ratings` for every ticket, an index probe each although about one
//! ticket in seven is rated: on PostgreSQL ~7 % of a list page's execution (pgbench, the
//! page's statement: 0.64 → 0.59 ms with the flag and one sub-select for rated tickets). As
//! with migration 13's file counts, triggers rather than code keep the flag, so every path
//! that writes `ratings` keeps it right. `ratings.ticket_id` is unique, so a flag says all:
//! a trigger sets it only where it is not set yet, and the bulk seed, which writes the flag
//! with its ticket rows, costs no update.

/// The column, filled from the rows already there.
pub const COMMON: &[&str] = &[
    "ALTER TABLE tickets ADD COLUMN rated BOOLEAN NOT NULL DEFAULT FALSE",
    "UPDATE tickets SET rated = TRUE WHERE id IN (SELECT ticket_id FROM ratings)",
];

/// SQLite triggers.
pub const SQLITE: &[&str] = &[
    "CREATE TRIGGER ratings_rated_ai AFTER INSERT ON ratings BEGIN
        UPDATE tickets SET rated = TRUE WHERE id = new.ticket_id AND NOT rated;
     END",
    "CREATE TRIGGER ratings_rated_ad AFTER DELETE ON ratings BEGIN
        UPDATE tickets SET rated = FALSE WHERE id = old.ticket_id AND rated;
     END",
    "CREATE TRIGGER ratings_rated_au AFTER UPDATE OF ticket_id ON ratings
     WHEN old.ticket_id IS NOT new.ticket_id BEGIN
        UPDATE tickets SET rated = FALSE WHERE id = old.ticket_id AND rated;
        UPDATE tickets SET rated = TRUE WHERE id = new.ticket_id AND NOT rated;
     END",
];

/// PostgreSQL trigger function and trigger.
pub const POSTGRES: &[&str] = &[
    "CREATE FUNCTION ratings_rated_keep() RETURNS trigger LANGUAGE plpgsql AS $fn$
     BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            UPDATE tickets SET rated = FALSE WHERE id = OLD.ticket_id AND rated;
        END IF;
        IF TG_OP IN ('UPDATE', 'INSERT') THEN
            UPDATE tickets SET rated = TRUE WHERE id = NEW.ticket_id AND NOT rated;
        END IF;
        RETURN NULL;
     END $fn$",
    "CREATE TRIGGER ratings_rated_insdel AFTER INSERT OR DELETE ON ratings
        FOR EACH ROW EXECUTE FUNCTION ratings_rated_keep()",
    "CREATE TRIGGER ratings_rated_upd AFTER UPDATE OF ticket_id ON ratings
        FOR EACH ROW WHEN (OLD.ticket_id IS DISTINCT FROM NEW.ticket_id)
        EXECUTE FUNCTION ratings_rated_keep()",
];
