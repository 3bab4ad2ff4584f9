//! Migration 5: SLA policies and business calendars, the per-ticket SLA clock, canned reply
//! templates, satisfaction ratings, per-category auto-assignment and agent capacity.

/// Statements for every backend.
pub const COMMON: &[&str] = &[
    "CREATE TABLE business_calendars (
        id {pk},
        name TEXT NOT NULL UNIQUE,
        timezone TEXT NOT NULL,
        hours TEXT NOT NULL,
        holidays TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL)",
    "CREATE TABLE sla_policies (
        id {pk},
        priority TEXT NOT NULL UNIQUE CHECK (priority IN ('low','medium','high','urgent')),
        first_response_mins BIGINT NOT NULL,
        resolution_mins BIGINT NOT NULL,
        warn_percent INTEGER NOT NULL DEFAULT 80,
        calendar_id BIGINT REFERENCES business_calendars(id),
        updated_at BIGINT NOT NULL)",
    "INSERT INTO sla_policies (priority, first_response_mins, resolution_mins, warn_percent, updated_at) VALUES
        ('urgent', 120, 1440, 80, 0), ('high', 240, 2880, 80, 0),
        ('medium', 480, 7200, 80, 0), ('low', 1440, 14400, 80, 0)",
    // The clock: when it was paused, business time spent paused so far, which alerts went
    // out (bit set), and when the sweep must next look at the ticket (NULL: never).
    "ALTER TABLE tickets ADD COLUMN sla_paused_at BIGINT",
    "ALTER TABLE tickets ADD COLUMN sla_paused_micros BIGINT NOT NULL DEFAULT 0",
    "ALTER TABLE tickets ADD COLUMN sla_alerts INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE tickets ADD COLUMN sla_next_at BIGINT",
    "UPDATE tickets SET sla_next_at = created_at WHERE status NOT IN ('resolved','closed')",
    "CREATE INDEX tickets_sla_next_idx ON tickets (sla_next_at)",
    "CREATE INDEX tickets_resolved_idx ON tickets (resolved_at)",
    "CREATE TABLE reply_templates (
        id {pk},
        name TEXT NOT NULL,
        category TEXT,
        body TEXT NOT NULL,
        created_by BIGINT REFERENCES users(id) ON DELETE SET NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL)",
    "CREATE INDEX reply_templates_category_idx ON reply_templates (category, name)",
    "CREATE TABLE ratings (
        id {pk},
        ticket_id BIGINT NOT NULL UNIQUE REFERENCES tickets(id) ON DELETE CASCADE,
        user_id BIGINT NOT NULL REFERENCES users(id),
        agent_id BIGINT REFERENCES users(id) ON DELETE SET NULL,
        score INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
        comment TEXT NOT NULL DEFAULT '',
        created_at BIGINT NOT NULL)",
    "CREATE INDEX ratings_created_idx ON ratings (created_at)",
    "ALTER TABLE categories ADD COLUMN auto_assign BOOLEAN NOT NULL DEFAULT FALSE",
    "ALTER TABLE users ADD COLUMN capacity INTEGER",
];
