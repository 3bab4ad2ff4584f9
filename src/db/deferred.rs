//! Secondary indexes set aside for a bulk load and built again after it. Maintaining a
//! dozen B-trees row by row costs more than sorting each once at the end, so a large load
//! drops them first. The definitions are copied from the catalog into `deferred_indexes` in
//! the same transaction as the drops, so a load cut off by a crash leaves a record that the
//! next start (`rebuild` runs after the migrations) completes: no index is ever lost.

use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};

use super::Db;

/// The table created by migration 9.
pub const TABLE_DDL: &str = "CREATE TABLE deferred_indexes (
    name TEXT PRIMARY KEY,
    ddl TEXT NOT NULL,
    deferred_at BIGINT NOT NULL)";

/// Drops the non-unique secondary indexes of `tables` (unique ones enforce rules and stay),
/// remembering each definition; returns how many were set aside.
pub async fn set_aside(db: &Db, tables: &[&str], now: i64) -> anyhow::Result<usize> {
    let txn = db.begin().await?;
    let mut count = 0;
    for table in tables {
        let sql = match db.backend {
            DatabaseBackend::Postgres => {
                "SELECT indexname AS name, indexdef AS ddl FROM pg_indexes \
                 WHERE schemaname = current_schema() AND tablename = $1 \
                 AND indexdef NOT LIKE 'CREATE UNIQUE%' ORDER BY indexname"
            }
            _ => {
                "SELECT name, sql AS ddl FROM sqlite_master WHERE type = 'index' \
                 AND tbl_name = $1 AND sql IS NOT NULL \
                 AND upper(sql) NOT LIKE 'CREATE UNIQUE%' ORDER BY name"
            }
        };
        let rows = txn
            .query_all_raw(Statement::from_sql_and_values(
                db.backend,
                sql,
                [(*table).into()],
            ))
            .await?;
        for row in rows {
            let name: String = row.try_get("", "name")?;
            let ddl: String = row.try_get("", "ddl")?;
            txn.execute_raw(Statement::from_sql_and_values(
                db.backend,
                "INSERT INTO deferred_indexes (name, ddl, deferred_at) VALUES ($1, $2, $3)",
                [name.clone().into(), ddl.into(), now.into()],
            ))
            .await?;
            txn.execute_unprepared(&format!("DROP INDEX {}", quoted(&name)))
                .await?;
            count += 1;
        }
    }
    txn.commit().await?;
    Ok(count)
}

/// Builds every index set aside and not built yet; returns how many. Each index is built
/// and its record removed in one transaction, and a record another process took first is
/// skipped, so concurrent starters build each index once.
pub async fn rebuild(db: &Db) -> anyhow::Result<usize> {
    let pending = db
        .read
        .query_all_raw(Statement::from_string(
            db.backend,
            "SELECT name FROM deferred_indexes ORDER BY name",
        ))
        .await?;
    let mut built = 0;
    for row in pending {
        let name: String = row.try_get("", "name")?;
        let txn = db.begin().await?;
        let taken = txn
            .query_one_raw(Statement::from_sql_and_values(
                db.backend,
                "DELETE FROM deferred_indexes WHERE name = $1 RETURNING ddl",
                [name.clone().into()],
            ))
            .await?;
        let Some(taken) = taken else {
            continue;
        };
        let ddl: String = taken.try_get("", "ddl")?;
        txn.execute_unprepared(&ddl).await?;
        txn.commit().await?;
        tracing::info!(index = %name, "rebuilt an index set aside for a bulk load");
        built += 1;
    }
    Ok(built)
}

/// An identifier as SQL: the catalog's names are ours, but quote them anyway.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
