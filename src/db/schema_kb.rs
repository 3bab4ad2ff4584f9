//! Migration 6: the knowledge base (articles with full-text search) and ticket links;
//! migration 7: chat conversations.

/// Statements for every backend.
pub const COMMON: &[&str] = &[
    "CREATE TABLE articles (
        id {pk},
        slug TEXT NOT NULL UNIQUE,
        title TEXT NOT NULL,
        body TEXT NOT NULL,
        category TEXT,
        published BOOLEAN NOT NULL DEFAULT FALSE,
        created_by BIGINT REFERENCES users(id) ON DELETE SET NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL)",
    "CREATE INDEX articles_published_idx ON articles (published, category, title)",
    "CREATE TABLE ticket_articles (
        ticket_id BIGINT NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
        article_id BIGINT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        linked_by BIGINT REFERENCES users(id) ON DELETE SET NULL,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (ticket_id, article_id))",
    "CREATE INDEX ticket_articles_article_idx ON ticket_articles (article_id)",
];

/// SQLite: an FTS5 index with English stemming (suggestions match "dropping" to "drops").
pub const SQLITE: &[&str] = &[
    "CREATE VIRTUAL TABLE articles_fts USING fts5(title, body, content='articles', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER articles_fts_ai AFTER INSERT ON articles BEGIN
        INSERT INTO articles_fts(rowid, title, body) VALUES (new.id, new.title, new.body);
     END",
    "CREATE TRIGGER articles_fts_ad AFTER DELETE ON articles BEGIN
        INSERT INTO articles_fts(articles_fts, rowid, title, body) VALUES ('delete', old.id, old.title, old.body);
     END",
    "CREATE TRIGGER articles_fts_au AFTER UPDATE OF title, body ON articles BEGIN
        INSERT INTO articles_fts(articles_fts, rowid, title, body) VALUES ('delete', old.id, old.title, old.body);
        INSERT INTO articles_fts(rowid, title, body) VALUES (new.id, new.title, new.body);
     END",
];

/// PostgreSQL: a weighted English tsvector (title above body).
pub const POSTGRES: &[&str] = &[
    "ALTER TABLE articles ADD COLUMN search tsvector GENERATED ALWAYS AS (setweight(to_tsvector('english', title), 'A') || setweight(to_tsvector('english', body), 'B')) STORED",
    "CREATE INDEX articles_search_idx ON articles USING GIN (search)",
];

/// Migration 7: chat transcripts that tickets can be drafted from.
pub const CONVERSATIONS: &[&str] = &[
    "CREATE TABLE conversations (
        id {pk},
        user_id BIGINT REFERENCES users(id) ON DELETE SET NULL,
        messages TEXT NOT NULL,
        ticket_id BIGINT REFERENCES tickets(id) ON DELETE SET NULL,
        created_at BIGINT NOT NULL)",
    "CREATE INDEX conversations_user_idx ON conversations (user_id, id)",
];
