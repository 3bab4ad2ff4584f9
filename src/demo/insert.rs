//! Multi-row INSERT statements for bulk loads, in either dialect's placeholders.

use sea_orm::{ConnectionTrait, DatabaseBackend, Statement, Value};

use super::text::{FIRST, LAST};
use crate::context::Ctx;

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

/// Inserts `count` customer contacts (existing addresses kept) and returns every seeded
/// contact's id.
pub(super) async fn insert_customers(ctx: &Ctx, count: usize) -> anyhow::Result<Vec<i64>> {
    let now = ctx.clock.now_micros();
    let rows: Vec<Vec<Value>> = (0..count)
        .map(|i| {
            let name = format!(
                "{} {}",
                FIRST[i % FIRST.len()],
                LAST[(i / FIRST.len() + i) % LAST.len()]
            );
            vec![
                Value::from(format!("contact{}@customers.example", i + 1)),
                Value::from(name),
                Value::from("customer"),
                Value::from(now),
                Value::from(now),
            ]
        })
        .collect();
    let txn = ctx.db.begin().await?;
    for chunk in rows.chunks(MAX_PARAMS / 5) {
        let sql = format!(
            "{} ON CONFLICT (email) DO NOTHING",
            insert_sql(
                ctx.db.backend,
                "users",
                &["email", "name", "role", "created_at", "updated_at"],
                chunk.len()
            )
        );
        txn.execute_raw(Statement::from_sql_and_values(
            ctx.db.backend,
            sql,
            chunk.concat(),
        ))
        .await?;
    }
    txn.commit().await?;
    first_column(
        ctx,
        "SELECT id FROM users WHERE email LIKE 'contact%@customers.example' AND role = 'customer' ORDER BY id",
    )
    .await
}

/// The first column of every row of `sql` (cells that do not read as `T` left out).
pub(super) async fn first_column<T: sea_orm::TryGetable>(
    ctx: &Ctx,
    sql: &str,
) -> anyhow::Result<Vec<T>> {
    Ok(ctx
        .db
        .read
        .query_all_raw(Statement::from_string(ctx.db.backend, sql))
        .await?
        .iter()
        .filter_map(|r| r.try_get_by_index::<T>(0).ok())
        .collect())
}

/// The first column of the first row of `sql`.
pub(super) async fn scalar(ctx: &Ctx, sql: &str) -> anyhow::Result<i64> {
    let row = ctx
        .db
        .read
        .query_one_raw(Statement::from_string(ctx.db.backend, sql))
        .await?
        .ok_or_else(|| anyhow::anyhow!("no row from {sql}"))?;
    Ok(row.try_get_by_index::<i64>(0)?)
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
