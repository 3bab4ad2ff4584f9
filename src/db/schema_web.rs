//! Migration 3: browser sessions for the web pages (cookie token stored as a hash).

/// Statements for every backend.
pub const COMMON: &[&str] = &[
    "CREATE TABLE web_sessions (
        id {pk},
        token_hash TEXT NOT NULL UNIQUE,
        user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        created_at BIGINT NOT NULL,
        last_seen_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL)",
    "CREATE INDEX web_sessions_user_idx ON web_sessions (user_id)",
];

/// Migration 4: saved queue views of the agent console.
pub const VIEWS: &[&str] = &[
    "CREATE TABLE saved_views (
        id {pk},
        user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        query TEXT NOT NULL,
        created_at BIGINT NOT NULL)",
    "CREATE INDEX saved_views_user_idx ON saved_views (user_id, id)",
];
