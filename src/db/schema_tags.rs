//! Migration 14 (PostgreSQL): each ticket's tags on its own row, kept by triggers on
//! `ticket_tags` in the same transaction as every write of a tag.
//!
//! A ticket view read its tags with a sub-select, an index probe per ticket: on PostgreSQL
//! ~16 % of a list page's execution, where the database is most of a page's CPU. With the
//! list on the row the view reads it with the row. SQLite keeps the sub-select: there a list
//! page is well inside its target, and the triggers' ticket updates would cost its creates.
//!
//! Lists are the tags joined by U+001F in byte order (`COLLATE "C"`, as Rust sorts them,
//! whatever the database's collation); no tags is NULL. Each trigger edits the list already
//! on the row rather than reading `ticket_tags` again, so under READ COMMITTED a write that
//! waited for another's lock on the ticket re-applies its change to the list that one
//! committed, as the file counts of migration 13 do. A trigger leaves a row whose list
//! already says what its write did: a new ticket's insert writes its list with the row
//! (`tickets::insert`, the bulk seed), since updating the row once per tag cost ~140 µs of
//! the database's time each (every index and the search vector written again).

/// The column, its values, and the triggers.
pub const POSTGRES: &[&str] = &[
    "ALTER TABLE tickets ADD COLUMN tag_list TEXT",
    "UPDATE tickets SET tag_list = t.list
     FROM (SELECT ticket_id, string_agg(tag, chr(31) ORDER BY tag COLLATE \"C\") AS list
           FROM ticket_tags GROUP BY ticket_id) AS t
     WHERE tickets.id = t.ticket_id",
    "CREATE FUNCTION ticket_tags_keep() RETURNS trigger LANGUAGE plpgsql AS $fn$
     BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            UPDATE tickets SET tag_list = (
                SELECT string_agg(t, chr(31) ORDER BY t COLLATE \"C\")
                FROM unnest(string_to_array(tickets.tag_list, chr(31))) AS t
                WHERE t <> OLD.tag)
            WHERE id = OLD.ticket_id
              AND OLD.tag = ANY(string_to_array(coalesce(tag_list, ''), chr(31)));
        END IF;
        IF TG_OP IN ('UPDATE', 'INSERT') THEN
            UPDATE tickets SET tag_list = (
                SELECT string_agg(t, chr(31) ORDER BY t COLLATE \"C\")
                FROM (SELECT unnest(string_to_array(tickets.tag_list, chr(31)))
                      UNION SELECT NEW.tag) AS u(t))
            WHERE id = NEW.ticket_id
              AND NOT NEW.tag = ANY(string_to_array(coalesce(tag_list, ''), chr(31)));
        END IF;
        RETURN NULL;
     END $fn$",
    "CREATE TRIGGER ticket_tags_list AFTER INSERT OR DELETE OR UPDATE ON ticket_tags
        FOR EACH ROW EXECUTE FUNCTION ticket_tags_keep()",
];
