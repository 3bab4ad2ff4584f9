//! Migration 8: ticket counts per (status, priority, category), kept by triggers in the same
//! transaction as every ticket insert, update and delete, so the dashboard never counts a
//! million rows. Spread over 16 shards (by ticket id) so concurrent writers on PostgreSQL do
//! not queue on one hot row; readers sum the shards. Also an index for first-response ranges.

/// Statements for every backend.
pub const COMMON: &[&str] = &[
    "CREATE TABLE ticket_counts (
        status TEXT NOT NULL,
        priority TEXT NOT NULL,
        category TEXT NOT NULL,
        shard INTEGER NOT NULL,
        n BIGINT NOT NULL,
        PRIMARY KEY (status, priority, category, shard))",
    "INSERT INTO ticket_counts (status, priority, category, shard, n)
        SELECT status, priority, category, 0, COUNT(*) FROM tickets GROUP BY status, priority, category",
    // Reports range over first responses (dashboard average, agents' medians).
    "CREATE INDEX tickets_first_response_idx ON tickets (first_response_at)",
];

/// SQLite triggers.
pub const SQLITE: &[&str] = &[
    "CREATE TRIGGER ticket_counts_ai AFTER INSERT ON tickets BEGIN
        INSERT INTO ticket_counts (status, priority, category, shard, n)
            VALUES (new.status, new.priority, new.category, new.id % 16, 1)
            ON CONFLICT (status, priority, category, shard) DO UPDATE SET n = n + 1;
     END",
    "CREATE TRIGGER ticket_counts_ad AFTER DELETE ON tickets BEGIN
        INSERT INTO ticket_counts (status, priority, category, shard, n)
            VALUES (old.status, old.priority, old.category, old.id % 16, -1)
            ON CONFLICT (status, priority, category, shard) DO UPDATE SET n = n - 1;
     END",
    "CREATE TRIGGER ticket_counts_au AFTER UPDATE OF status, priority, category ON tickets
     WHEN old.status IS NOT new.status OR old.priority IS NOT new.priority OR old.category IS NOT new.category
     BEGIN
        INSERT INTO ticket_counts (status, priority, category, shard, n)
            VALUES (old.status, old.priority, old.category, old.id % 16, -1)
            ON CONFLICT (status, priority, category, shard) DO UPDATE SET n = n - 1;
        INSERT INTO ticket_counts (status, priority, category, shard, n)
            VALUES (new.status, new.priority, new.category, new.id % 16, 1)
            ON CONFLICT (status, priority, category, shard) DO UPDATE SET n = n + 1;
     END",
];

/// PostgreSQL trigger function and triggers.
pub const POSTGRES: &[&str] = &[
    "CREATE FUNCTION ticket_counts_keep() RETURNS trigger LANGUAGE plpgsql AS $fn$
     BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            INSERT INTO ticket_counts (status, priority, category, shard, n)
                VALUES (OLD.status, OLD.priority, OLD.category, (OLD.id % 16)::int, -1)
                ON CONFLICT (status, priority, category, shard) DO UPDATE SET n = ticket_counts.n - 1;
        END IF;
        IF TG_OP IN ('UPDATE', 'INSERT') THEN
            INSERT INTO ticket_counts (status, priority, category, shard, n)
                VALUES (NEW.status, NEW.priority, NEW.category, (NEW.id % 16)::int, 1)
                ON CONFLICT (status, priority, category, shard) DO UPDATE SET n = ticket_counts.n + 1;
        END IF;
        RETURN NULL;
     END $fn$",
    "CREATE TRIGGER ticket_counts_insdel AFTER INSERT OR DELETE ON tickets
        FOR EACH ROW EXECUTE FUNCTION ticket_counts_keep()",
    "CREATE TRIGGER ticket_counts_upd AFTER UPDATE OF status, priority, category ON tickets
        FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.priority IS DISTINCT FROM NEW.priority
            OR OLD.category IS DISTINCT FROM NEW.category)
        EXECUTE FUNCTION ticket_counts_keep()",
];
