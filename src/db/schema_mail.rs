//! Migration 2: the outbox becomes a delivery log (channels, attempts, more states), plus
//! webhooks, e-mail threading identifiers, inbound mail log, attachments and password resets.

/// Statements for every backend. `jobs` is rebuilt because SQLite cannot alter a CHECK
/// constraint; ids are kept.
pub const COMMON: &[&str] = &[
    NEW_JOBS,
    COPY_JOBS,
    "DROP TABLE jobs",
    "ALTER TABLE jobs_v2 RENAME TO jobs",
    "CREATE INDEX jobs_claim_idx ON jobs (status, run_at)",
    "CREATE INDEX jobs_log_idx ON jobs (channel, id)",
    "CREATE INDEX jobs_ticket_idx ON jobs (ticket_id)",
    "CREATE INDEX jobs_target_idx ON jobs (target, created_at)",
    "CREATE TABLE job_attempts (
        id {pk},
        job_id BIGINT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        attempt INTEGER NOT NULL,
        started_at BIGINT NOT NULL,
        finished_at BIGINT NOT NULL,
        ok BOOLEAN NOT NULL,
        response TEXT NOT NULL)",
    "CREATE INDEX job_attempts_job_idx ON job_attempts (job_id, id)",
    "CREATE TABLE webhooks (
        id {pk},
        name TEXT NOT NULL,
        url TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('discord','slack','generic')),
        events TEXT NOT NULL,
        secret TEXT,
        active BOOLEAN NOT NULL DEFAULT TRUE,
        rate_per_minute INTEGER NOT NULL DEFAULT 30,
        blocked_until BIGINT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL)",
    "CREATE TABLE mail_ids (
        message_id TEXT PRIMARY KEY,
        ticket_id BIGINT NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
        message_row BIGINT,
        direction TEXT NOT NULL CHECK (direction IN ('in','out')),
        created_at BIGINT NOT NULL)",
    "CREATE INDEX mail_ids_ticket_idx ON mail_ids (ticket_id, created_at)",
    "CREATE TABLE inbound_mail (
        id {pk},
        message_id TEXT,
        sender TEXT NOT NULL,
        subject TEXT NOT NULL,
        outcome TEXT NOT NULL,
        reason TEXT NOT NULL,
        ticket_id BIGINT,
        created_at BIGINT NOT NULL)",
    "CREATE INDEX inbound_mail_created_idx ON inbound_mail (created_at)",
    "ALTER TABLE messages ADD COLUMN quoted TEXT",
    "ALTER TABLE messages ADD COLUMN message_id TEXT",
    "ALTER TABLE tickets ADD COLUMN follow_up_of BIGINT",
    "CREATE TABLE attachments (
        id {pk},
        ticket_id BIGINT NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
        message_row BIGINT REFERENCES messages(id) ON DELETE CASCADE,
        filename TEXT NOT NULL,
        content_type TEXT NOT NULL,
        size BIGINT NOT NULL,
        sha256 TEXT NOT NULL,
        inline_cid TEXT,
        created_at BIGINT NOT NULL)",
    "CREATE INDEX attachments_ticket_idx ON attachments (ticket_id, message_row)",
    "CREATE TABLE password_resets (
        id {pk},
        user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        token_hash TEXT NOT NULL UNIQUE,
        expires_at BIGINT NOT NULL,
        used_at BIGINT,
        created_at BIGINT NOT NULL)",
    "CREATE TABLE mail_templates (
        name TEXT PRIMARY KEY,
        subject TEXT NOT NULL,
        text_body TEXT NOT NULL,
        html_body TEXT NOT NULL,
        updated_at BIGINT NOT NULL)",
];

const NEW_JOBS: &str = "CREATE TABLE jobs_v2 (
        id {pk},
        kind TEXT NOT NULL,
        channel TEXT NOT NULL DEFAULT 'event' CHECK (channel IN ('event','email','webhook','system')),
        target TEXT,
        ticket_id BIGINT,
        payload TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('queued','running','done','dead','cancelled','bounced','skipped')),
        attempts INTEGER NOT NULL DEFAULT 0,
        max_attempts INTEGER NOT NULL DEFAULT 8,
        run_at BIGINT NOT NULL,
        locked_until BIGINT,
        last_error TEXT,
        idempotency_key TEXT NOT NULL UNIQUE,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        finished_at BIGINT)";

const COPY_JOBS: &str =
    "INSERT INTO jobs_v2 (id, kind, channel, ticket_id, payload, status, attempts,
        max_attempts, run_at, locked_until, last_error, idempotency_key, created_at, updated_at)
    SELECT id, kind, 'event', NULL, payload, status, attempts, max_attempts, run_at, locked_until,
        last_error, idempotency_key, created_at, updated_at FROM jobs";

/// Nothing SQLite-specific.
pub const SQLITE: &[&str] = &[];

/// Moves the rebuilt table's id sequence past the copied rows.
pub const POSTGRES: &[&str] = &[
    "SELECT setval(pg_get_serial_sequence('jobs', 'id'), GREATEST((SELECT MAX(id) FROM jobs), 1))",
];
