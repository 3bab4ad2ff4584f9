//! Full-text search: the one place with backend-specific SQL (FTS5 on SQLite, tsvector on PostgreSQL).
//! Placeholders follow the dialect: sea-query rewrites `$N` for PostgreSQL and `?` elsewhere.

use sea_orm::DatabaseBackend;
use sea_orm::sea_query::{Expr, SimpleExpr};

/// Words of a user query: alphanumeric runs, lower-cased, at most 10 of at most 64 chars.
pub fn tokens(q: &str) -> Vec<String> {
    q.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .take(10)
        .map(|t| t.chars().take(64).collect::<String>().to_lowercase())
        .collect()
}

/// A filter on `tickets` matching every word of `q` as a prefix; `None` when `q` has no words.
pub fn ticket_filter(backend: DatabaseBackend, q: &str) -> Option<SimpleExpr> {
    let words = tokens(q);
    if words.is_empty() {
        return None;
    }
    Some(match backend {
        DatabaseBackend::Postgres => {
            let query = words
                .iter()
                .map(|w| format!("{w}:*"))
                .collect::<Vec<_>>()
                .join(" & ");
            Expr::cust_with_values("tickets.search @@ to_tsquery('simple', $1)", [query])
        }
        _ => {
            let query = words
                .iter()
                .map(|w| format!("\"{w}\"*"))
                .collect::<Vec<_>>()
                .join(" ");
            Expr::cust_with_values(
                "tickets.id IN (SELECT rowid FROM tickets_fts WHERE tickets_fts MATCH ?)",
                [query],
            )
        }
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_strip_syntax() {
        assert_eq!(
            super::tokens("VPN \"drops\" OR* -x"),
            vec!["vpn", "drops", "or", "x"]
        );
        assert!(super::tokens("  ** ").is_empty());
    }
}
