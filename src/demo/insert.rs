//! Multi-row INSERT statements for bulk loads, in either dialect's placeholders.

use sea_orm::{ConnectionTrait, DatabaseBackend, Statement, Value};

/// Bound values per statement; under SQLite's 32,766 and PostgreSQL's 65,535.
pub(super) const MAX_PARAMS: usize = 30_000;

/// Inserts `rows` (values in `cols` order) in as few statements as the parameter limit allows.
pub(super) async fn insert_rows(
    conn: &impl ConnectionTrait,
    backend: DatabaseBackend,
    table: &str,
    cols: &[&str],
    rows: &[Vec<Value>],
) -> anyhow::Result<()> {
    for chunk in rows.chunks((MAX_PARAMS / cols.len()).max(1)) {
        let sql = insert_sql(backend, table, cols, chunk.len());
        conn.execute_raw(Statement::from_sql_and_values(backend, sql, chunk.concat()))
            .await?;
    }
    Ok(())
}

/// `INSERT INTO table (cols) VALUES (…),(…)` with `rows` rows of the backend's placeholders.
pub(super) fn insert_sql(
    backend: DatabaseBackend,
    table: &str,
    cols: &[&str],
    rows: usize,
) -> String {
    let mut sql = format!("INSERT INTO {table} ({}) VALUES ", cols.join(", "));
    let mut n = 0;
    for r in 0..rows {
        if r > 0 {
            sql.push(',');
        }
        sql.push('(');
        for c in 0..cols.len() {
            if c > 0 {
                sql.push(',');
            }
            n += 1;
            match backend {
                DatabaseBackend::Postgres => sql.push_str(&format!("${n}")),
                _ => sql.push('?'),
            }
        }
        sql.push(')');
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_follow_the_dialect() {
        assert_eq!(
            insert_sql(DatabaseBackend::Postgres, "t", &["a", "b"], 2),
            "INSERT INTO t (a, b) VALUES ($1,$2),($3,$4)"
        );
        assert_eq!(
            insert_sql(DatabaseBackend::Sqlite, "t", &["a"], 2),
            "INSERT INTO t (a) VALUES (?),(?)"
        );
    }
}
