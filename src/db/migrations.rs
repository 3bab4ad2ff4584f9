//! Schema migrations: written once, with `{pk}` standing for the dialect's auto-increment key.
//! Only the full-text search DDL differs per backend (see `search`).

use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};

use super::Db;

/// One schema step; statements run in order inside one transaction.
struct Migration {
    version: i64,
    name: &'static str,
    common: &'static [&'static str],
    sqlite: &'static [&'static str],
    postgres: &'static [&'static str],
}

/// The ticket text index and the triggers that keep it (SQLite, migration 1).
pub(crate) const TICKETS_FTS: &[&str] = &[
        "CREATE VIRTUAL TABLE tickets_fts USING fts5(subject, description, content='tickets', content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
        "CREATE TRIGGER tickets_fts_ai AFTER INSERT ON tickets BEGIN
            INSERT INTO tickets_fts(rowid, subject, description) VALUES (new.id, new.subject, new.description);
         END",
        "CREATE TRIGGER tickets_fts_ad AFTER DELETE ON tickets BEGIN
            INSERT INTO tickets_fts(tickets_fts, rowid, subject, description) VALUES ('delete', old.id, old.subject, old.description);
         END",
        "CREATE TRIGGER tickets_fts_au AFTER UPDATE OF subject, description ON tickets BEGIN
            INSERT INTO tickets_fts(tickets_fts, rowid, subject, description) VALUES ('delete', old.id, old.subject, old.description);
            INSERT INTO tickets_fts(rowid, subject, description) VALUES (new.id, new.subject, new.description);
         END",
];

const MIGRATIONS: &[Migration] = &[
    Migration {
    version: 1,
    name: "foundation",
    common: &[
        "CREATE TABLE users (
            id {pk},
            email TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('customer','agent','admin')),
            password_hash TEXT,
            active BOOLEAN NOT NULL DEFAULT TRUE,
            away BOOLEAN NOT NULL DEFAULT FALSE,
            last_assigned_at BIGINT,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL)",
        "CREATE INDEX users_role_idx ON users (role, active)",
        "CREATE TABLE refresh_tokens (
            id {pk},
            user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            family TEXT NOT NULL,
            token_hash TEXT NOT NULL UNIQUE,
            expires_at BIGINT NOT NULL,
            used_at BIGINT,
            revoked_at BIGINT,
            created_at BIGINT NOT NULL)",
        "CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family)",
        "CREATE TABLE api_tokens (
            id {pk},
            user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            prefix TEXT NOT NULL,
            token_hash TEXT NOT NULL UNIQUE,
            created_at BIGINT NOT NULL,
            last_used_at BIGINT,
            revoked_at BIGINT)",
        "CREATE INDEX api_tokens_user_idx ON api_tokens (user_id)",
        "CREATE TABLE categories (
            id {pk},
            slug TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            active BOOLEAN NOT NULL DEFAULT TRUE,
            position INTEGER NOT NULL DEFAULT 0,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL)",
        "CREATE TABLE tickets (
            id {pk},
            number TEXT NOT NULL UNIQUE,
            subject TEXT NOT NULL,
            description TEXT NOT NULL,
            category TEXT NOT NULL,
            priority TEXT NOT NULL CHECK (priority IN ('low','medium','high','urgent')),
            priority_rank INTEGER NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('open','assigned','in_progress','waiting','on_hold','resolved','closed','reopened')),
            requester_id BIGINT NOT NULL REFERENCES users(id),
            assignee_id BIGINT REFERENCES users(id),
            channel TEXT NOT NULL CHECK (channel IN ('web','portal','email','api')),
            page_url TEXT,
            browser_info TEXT,
            ip TEXT,
            conversation_id BIGINT,
            merged_into BIGINT,
            resolution TEXT,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            first_response_at BIGINT,
            resolved_at BIGINT,
            closed_at BIGINT,
            first_response_due_at BIGINT,
            resolution_due_at BIGINT)",
        "CREATE INDEX tickets_queue_idx ON tickets (priority_rank DESC, created_at, id)",
        "CREATE INDEX tickets_status_idx ON tickets (status, priority_rank DESC, created_at, id)",
        "CREATE INDEX tickets_requester_idx ON tickets (requester_id, created_at)",
        "CREATE INDEX tickets_assignee_idx ON tickets (assignee_id, status)",
        "CREATE INDEX tickets_created_idx ON tickets (created_at, id)",
        "CREATE TABLE ticket_tags (
            ticket_id BIGINT NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
            tag TEXT NOT NULL,
            PRIMARY KEY (ticket_id, tag))",
        "CREATE INDEX ticket_tags_tag_idx ON ticket_tags (tag, ticket_id)",
        "CREATE TABLE messages (
            id {pk},
            ticket_id BIGINT NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
            author_id BIGINT REFERENCES users(id),
            body TEXT NOT NULL,
            internal BOOLEAN NOT NULL DEFAULT FALSE,
            channel TEXT NOT NULL,
            created_at BIGINT NOT NULL)",
        "CREATE INDEX messages_ticket_idx ON messages (ticket_id, id)",
        "CREATE TABLE ticket_events (
            id {pk},
            ticket_id BIGINT NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
            actor_id BIGINT REFERENCES users(id),
            field TEXT NOT NULL,
            old_value TEXT,
            new_value TEXT,
            internal BOOLEAN NOT NULL DEFAULT FALSE,
            created_at BIGINT NOT NULL)",
        "CREATE INDEX ticket_events_ticket_idx ON ticket_events (ticket_id, id)",
        "CREATE TABLE jobs (
            id {pk},
            kind TEXT NOT NULL,
            payload TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('queued','running','done','dead')),
            attempts INTEGER NOT NULL DEFAULT 0,
            max_attempts INTEGER NOT NULL DEFAULT 8,
            run_at BIGINT NOT NULL,
            locked_until BIGINT,
            last_error TEXT,
            idempotency_key TEXT NOT NULL UNIQUE,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL)",
        "CREATE INDEX jobs_claim_idx ON jobs (status, run_at)",
    ],
    sqlite: TICKETS_FTS,
    postgres: &[
        "ALTER TABLE tickets ADD COLUMN search tsvector GENERATED ALWAYS AS (to_tsvector('simple', subject || ' ' || description)) STORED",
        "CREATE INDEX tickets_search_idx ON tickets USING GIN (search)",
    ],
},
    Migration {
        version: 2,
        name: "mail, webhooks, delivery log, attachments",
        common: super::schema_mail::COMMON,
        sqlite: super::schema_mail::SQLITE,
        postgres: super::schema_mail::POSTGRES,
    },
    Migration {
        version: 3,
        name: "web sessions",
        common: super::schema_web::COMMON,
        sqlite: &[],
        postgres: &[],
    },
    Migration {
        version: 4,
        name: "saved views",
        common: super::schema_web::VIEWS,
        sqlite: &[],
        postgres: &[],
    },
    Migration {
        version: 5,
        name: "SLA calendars and clock, reply templates, ratings, auto-assignment",
        common: super::schema_desk::COMMON,
        sqlite: &[],
        postgres: &[],
    },
    Migration {
        version: 6,
        name: "knowledge base",
        common: super::schema_kb::COMMON,
        sqlite: super::schema_kb::SQLITE,
        postgres: super::schema_kb::POSTGRES,
    },
    Migration {
        version: 7,
        name: "chat conversations",
        common: super::schema_kb::CONVERSATIONS,
        sqlite: &[],
        postgres: &[],
    },
    Migration {
        version: 8,
        name: "ticket counts kept by triggers",
        common: super::schema_counts::COMMON,
        sqlite: super::schema_counts::SQLITE,
        postgres: super::schema_counts::POSTGRES,
    },
    Migration {
        version: 9,
        name: "indexes set aside during bulk loads",
        common: &[super::deferred::TABLE_DDL],
        sqlite: &[],
        postgres: &[],
    },
    Migration {
        version: 10,
        name: "search epoch",
        common: &[],
        sqlite: super::schema_search::SQLITE,
        postgres: &[],
    },
    Migration {
        version: 11,
        name: "search index written once per direct batch",
        common: &[],
        sqlite: super::schema_search::DEFERRED,
        postgres: &[],
    },
    Migration {
        version: 12,
        name: "finished jobs found by when they finished (the delivery log's pruning)",
        common: &["CREATE INDEX jobs_finished_idx ON jobs (finished_at)"],
        sqlite: &[],
        postgres: &[],
    },
    Migration {
        version: 13,
        name: "each ticket's count of opening-post files, kept by triggers",
        common: super::schema_files::COMMON,
        sqlite: super::schema_files::SQLITE,
        postgres: super::schema_files::POSTGRES,
    },
    Migration {
        version: 14,
        name: "each ticket's tags on its row, kept by triggers (PostgreSQL)",
        common: &[],
        sqlite: &[],
        postgres: super::schema_tags::POSTGRES,
    },
    Migration {
        version: 15,
        name: "whether each ticket is rated, kept by triggers",
        common: super::schema_rated::COMMON,
        sqlite: super::schema_rated::SQLITE,
        postgres: super::schema_rated::POSTGRES,
    },
];

/// Applies every pending migration; safe to call from several processes at once.
pub async fn migrate(db: &Db) -> anyhow::Result<usize> {
    let backend = db.backend;
    let txn = db.begin().await?;
    if backend == DatabaseBackend::Postgres {
        // Serialises concurrent starters; released at commit.
        txn.execute_unprepared("SELECT pg_advisory_xact_lock(746172)")
            .await?;
    }
    txn.execute_unprepared(
        "CREATE TABLE IF NOT EXISTS triage_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .await?;
    let rows = txn
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT version FROM triage_migrations",
        ))
        .await?;
    let mut applied = Vec::new();
    for row in rows {
        applied.push(row.try_get_by_index::<i64>(0)?);
    }
    let pk = match backend {
        DatabaseBackend::Postgres => "BIGSERIAL PRIMARY KEY",
        _ => "INTEGER PRIMARY KEY",
    };
    let mut count = 0;
    for m in MIGRATIONS.iter().filter(|m| !applied.contains(&m.version)) {
        let specific = match backend {
            DatabaseBackend::Postgres => m.postgres,
            _ => m.sqlite,
        };
        for sql in m.common.iter().chain(specific.iter()) {
            txn.execute_unprepared(&sql.replace("{pk}", pk)).await?;
        }
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            "INSERT INTO triage_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            [
                m.version.into(),
                m.name.into(),
                chrono::Utc::now().timestamp_micros().into(),
            ],
        ))
        .await?;
        count += 1;
    }
    txn.commit().await?;
    Ok(count)
}
