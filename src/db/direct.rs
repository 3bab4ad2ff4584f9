//! Short reads on SQLite run on the calling thread (rusqlite), not on a pooled connection.
//!
//! sqlx gives every SQLite connection its own thread and hands each statement (and each
//! row) to it and back over channels; for the hottest requests (the bearer's account, a
//! ticket, a list page: a few index look-ups each) that hand-off cost more CPU than the SQL
//! — `perf` during the get scenario put ~45 % of the server's samples in the kernel's task
//! switching. Only short, index-bound statements belong here: they run without yielding,
//! on the runtime's worker thread. Searches, reports and exports stay on the pool.

use rusqlite::types::{FromSql, ToSqlOutput, ValueRef};
use rusqlite::{CachedStatement, Connection, OpenFlags};
use sea_orm::sea_query::Value;
use sea_orm::{DbErr, QueryResult, Statement, TryGetable};
use std::any::TypeId;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A type a cell can be read as, from either driver.
pub trait Cell:
    'static
    + FromSql
    + TryGetable
    + for<'r> sqlx::Decode<'r, sqlx::Postgres>
    + sqlx::Type<sqlx::Postgres>
{
}

impl<T> Cell for T where
    T: 'static
        + FromSql
        + TryGetable
        + for<'r> sqlx::Decode<'r, sqlx::Postgres>
        + sqlx::Type<sqlx::Postgres>
{
}

/// A result row read by position, from either driver.
pub trait Cells {
    /// The value in column `idx` (0-based), converted to `T`.
    fn at<T: Cell>(&self, idx: usize) -> Result<T, DbErr>;
}

impl Cells for rusqlite::Row<'_> {
    fn at<T: Cell>(&self, idx: usize) -> Result<T, DbErr> {
        self.get(idx).map_err(sqlite_err)
    }
}

impl Cells for QueryResult {
    fn at<T: Cell>(&self, idx: usize) -> Result<T, DbErr> {
        // sea-orm reads a NULL into an `Option` by way of an error whose text it formats
        // (`format!("{idx:?}")`): with a ticket's dozen empty columns that was ~1.5 % of the
        // server's CPU in the PostgreSQL get scenario. sqlx reads NULL as `None` directly.
        match self.try_as_pg_row() {
            Some(row) => pg_cell(row, idx),
            None => self.try_get_by_index(idx),
        }
    }
}

/// Pairs of a Rust type and a PostgreSQL type (by OID) already found compatible.
///
/// sqlx checks a cell's SQL type against the Rust type on every read (cloning and comparing
/// type descriptions, ~300 instructions a string column): ~13 % of the server's instructions
/// for a list page of 50 tickets, ~5 % of a single ticket's read. Whether a Rust type can
/// decode a built-in SQL type depends on nothing else, so each pair is checked once per
/// thread. Types without an OID (looked up by name) are checked every time.
struct CompatibleTypes(std::cell::RefCell<Vec<(TypeId, u32)>>);

/// Pairs remembered per thread; there are a dozen in our schema, so a linear scan is fastest.
const MAX_COMPATIBLE: usize = 64;

thread_local! {
    static COMPATIBLE: CompatibleTypes = const { CompatibleTypes(std::cell::RefCell::new(Vec::new())) };
}

impl CompatibleTypes {
    fn knows(&self, pair: (TypeId, u32)) -> bool {
        self.0.borrow().contains(&pair)
    }

    fn learn(&self, pair: (TypeId, u32)) {
        let mut known = self.0.borrow_mut();
        if known.len() < MAX_COMPATIBLE {
            known.push(pair);
        }
    }
}

/// `sqlx::Row::try_get` with the type check remembered (see [`CompatibleTypes`]).
fn pg_cell<T: Cell>(row: &sqlx::postgres::PgRow, idx: usize) -> Result<T, DbErr> {
    use sqlx::{Row, TypeInfo, ValueRef};
    let value = row.try_get_raw(idx).map_err(pg_err)?;
    // A NULL says nothing about the column's type (sqlx does not check it either).
    if !value.is_null() {
        let ty = value.type_info();
        let pair = ty.oid().map(|oid| (TypeId::of::<T>(), oid.0));
        let known = pair.is_some_and(|p| COMPATIBLE.with(|c| c.knows(p)));
        if !known && !ty.is_null() {
            if !T::compatible(&ty) {
                return Err(pg_err(sqlx::Error::ColumnDecode {
                    index: idx.to_string(),
                    source: format!(
                        "Rust type `{}` is not compatible with SQL type `{}`",
                        std::any::type_name::<T>(),
                        ty.name()
                    )
                    .into(),
                }));
            }
            if let Some(p) = pair {
                COMPATIBLE.with(|c| c.learn(p));
            }
        }
    }
    T::decode(value).map_err(|source| {
        pg_err(sqlx::Error::ColumnDecode {
            index: idx.to_string(),
            source,
        })
    })
}

fn pg_err(e: sqlx::Error) -> DbErr {
    DbErr::Query(sea_orm::RuntimeErr::SqlxError(Arc::new(e)))
}

/// Decodes every row of one result from column `shift` on.
pub(crate) fn decode_all<D: Decode>(
    rows: &[QueryResult],
    shift: usize,
    decoder: &D,
) -> Result<Vec<D::Row>, DbErr> {
    rows.iter()
        .map(|row| decoder.decode(&Shifted(row, shift)))
        .collect()
}

/// A row's cells from column `.1` on, as a decoder of a folded statement's part expects them.
pub struct Shifted<'a, C>(pub &'a C, pub usize);

impl<C: Cells> Cells for Shifted<'_, C> {
    fn at<T: Cell>(&self, idx: usize) -> Result<T, DbErr> {
        self.0.at(idx + self.1)
    }
}

/// A value built from one result row read by position (one decoder for both drivers).
pub trait FromCells: Sized {
    /// Reads the row.
    fn from_cells(row: &impl Cells) -> Result<Self, DbErr>;
}

/// Implements [`FromCells`] for the `Model` of the entity module it is used in, reading each
/// field at the position of its `Column` variant: the order `Entity::find()` selects them in.
macro_rules! cells_by_column {
    ($($field:ident: $column:ident),+ $(,)?) => {
        impl crate::db::direct::FromCells for Model {
            fn from_cells(row: &impl crate::db::direct::Cells) -> Result<Self, DbErr> {
                Ok(Model { $($field: row.at(Column::$column as usize)?),+ })
            }
        }
    };
}
pub(crate) use cells_by_column;

/// A one-column row.
impl FromCells for i64 {
    fn from_cells(row: &impl Cells) -> Result<Self, DbErr> {
        row.at(0)
    }
}

/// Reads rows whose layout depends on a value known at run time (a sort's key columns).
pub trait Decode {
    /// What one row becomes.
    type Row;
    /// Reads one row.
    fn decode(&self, row: &impl Cells) -> Result<Self::Row, DbErr>;
}

/// The decoder of a [`FromCells`] type.
pub struct RowsOf<T>(std::marker::PhantomData<T>);

impl<T> Default for RowsOf<T> {
    fn default() -> Self {
        RowsOf(std::marker::PhantomData)
    }
}

impl<T: FromCells> Decode for RowsOf<T> {
    type Row = T;
    fn decode(&self, row: &impl Cells) -> Result<T, DbErr> {
        T::from_cells(row)
    }
}

/// Read connections to one SQLite file, used one at a time by whichever thread asks.
#[derive(Clone)]
pub struct DirectReads {
    pool: Arc<Pool>,
}

struct Pool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// Idle connections kept; a thread that finds none opens one (and it is kept if room).
    keep: usize,
}

/// Page cache per direct connection: these statements touch a few index and row pages each,
/// so 16 MB (half the pool readers') keeps RSS down without measurable misses.
const CACHE_KIB: i64 = 16_000;

impl DirectReads {
    /// Direct reads of the database file at `path`, keeping up to `keep` connections open.
    pub fn new(path: PathBuf, keep: usize) -> DirectReads {
        DirectReads {
            pool: Arc::new(Pool {
                path,
                idle: Mutex::new(Vec::new()),
                keep: keep.max(1),
            }),
        }
    }

    /// Every row of `stmt`, decoded.
    pub fn all<D: Decode>(&self, stmt: &Statement, decoder: &D) -> Result<Vec<D::Row>, DbErr> {
        let conn = self.take()?;
        let rows = query(&conn, stmt, decoder);
        self.give(conn);
        rows
    }

    /// Runs `f` on one connection inside a read transaction, so every statement it sends
    /// sees the same snapshot of the database.
    pub fn snapshot<T>(&self, f: impl FnOnce(&Connection) -> Result<T, DbErr>) -> Result<T, DbErr> {
        let conn = self.take()?;
        conn.execute_batch("BEGIN").map_err(sqlite_err)?;
        let out = f(&conn);
        // A connection left inside a read transaction would pin its snapshot and keep the
        // checkpointer from ever reaching the end of the WAL: one whose COMMIT fails is closed.
        match conn.execute_batch("COMMIT") {
            Ok(()) => self.give(conn),
            Err(e) if out.is_ok() => return Err(sqlite_err(e)),
            Err(_) => {}
        }
        out
    }

    fn take(&self) -> Result<Connection, DbErr> {
        let idle = self.pool.idle.lock().ok().and_then(|mut v| v.pop());
        match idle {
            Some(c) => Ok(c),
            None => self.open().map_err(sqlite_err),
        }
    }

    fn give(&self, conn: Connection) {
        if let Ok(mut idle) = self.pool.idle.lock()
            && idle.len() < self.pool.keep
        {
            idle.push(conn);
        }
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.pool.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::from_secs(10))?;
        // query_only: nothing sent here can write, whatever a caller builds.
        conn.execute_batch(&format!(
            "PRAGMA query_only = ON; PRAGMA cache_size = -{CACHE_KIB};"
        ))?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(conn)
    }
}

/// Every row of `stmt` on `conn`, decoded (a claim's `UPDATE … RETURNING` on the writer's
/// handle, too); statements are prepared once per connection.
pub fn query<D: Decode>(
    conn: &Connection,
    stmt: &Statement,
    decoder: &D,
) -> Result<Vec<D::Row>, DbErr> {
    let mut out = Vec::new();
    each(conn, stmt, decoder, |row| {
        out.push(row);
        true
    })?;
    Ok(out)
}

/// Decodes the rows of `stmt` one at a time into `f`, until it returns false or they end;
/// statements are prepared once per connection.
pub fn each<D: Decode>(
    conn: &Connection,
    stmt: &Statement,
    decoder: &D,
    mut f: impl FnMut(D::Row) -> bool,
) -> Result<(), DbErr> {
    let mut prepared = bound(conn, stmt)?;
    let mut rows = prepared.raw_query();
    while let Some(row) = rows.next().map_err(sqlite_err)? {
        if !f(decoder.decode(row)?) {
            break;
        }
    }
    Ok(())
}

/// Runs a statement that returns no rows (a write, on the writer's handle: see
/// `db::group_direct`); returns how many rows it changed.
pub fn execute(conn: &Connection, stmt: &Statement) -> Result<usize, DbErr> {
    bound(conn, stmt)?.raw_execute().map_err(sqlite_err)
}

/// `stmt` prepared (once per connection) with its values bound.
fn bound<'c>(conn: &'c Connection, stmt: &Statement) -> Result<CachedStatement<'c>, DbErr> {
    let mut prepared = conn.prepare_cached(&stmt.sql).map_err(sqlite_err)?;
    let values = stmt.values.as_ref().map_or(&[][..], |v| &v.0[..]);
    if prepared.parameter_count() != values.len() {
        return Err(DbErr::Custom(format!(
            "statement has {} parameters but {} values",
            prepared.parameter_count(),
            values.len()
        )));
    }
    for (i, v) in values.iter().enumerate() {
        prepared
            .raw_bind_parameter(i + 1, cell(v)?)
            .map_err(sqlite_err)?;
    }
    Ok(prepared)
}

/// A bound value as SQLite stores it (the kinds sea-query produces for our columns).
fn cell(v: &Value) -> Result<ToSqlOutput<'_>, DbErr> {
    let int = |i: Option<i64>| i.map_or(ValueRef::Null, ValueRef::Integer);
    Ok(ToSqlOutput::Borrowed(match v {
        Value::Bool(b) => int(b.map(i64::from)),
        Value::TinyInt(i) => int(i.map(i64::from)),
        Value::SmallInt(i) => int(i.map(i64::from)),
        Value::Int(i) => int(i.map(i64::from)),
        Value::BigInt(i) => int(*i),
        Value::TinyUnsigned(i) => int(i.map(i64::from)),
        Value::SmallUnsigned(i) => int(i.map(i64::from)),
        Value::Unsigned(i) => int(i.map(i64::from)),
        Value::BigUnsigned(Some(u)) => ValueRef::Integer(
            i64::try_from(*u).map_err(|_| DbErr::Custom(format!("{u} is out of range")))?,
        ),
        Value::BigUnsigned(None) => ValueRef::Null,
        Value::Float(f) => f.map_or(ValueRef::Null, |f| ValueRef::Real(f64::from(f))),
        Value::Double(f) => f.map_or(ValueRef::Null, ValueRef::Real),
        Value::String(s) => s
            .as_deref()
            .map_or(ValueRef::Null, |s| ValueRef::Text(s.as_bytes())),
        Value::Bytes(b) => b.as_deref().map_or(ValueRef::Null, ValueRef::Blob),
        other => {
            return Err(DbErr::Custom(format!(
                "a {other:?} value cannot be bound on a direct read"
            )));
        }
    }))
}

/// A rusqlite error as the storage layer reports it.
pub fn sqlite_err(e: rusqlite::Error) -> DbErr {
    DbErr::Custom(format!("sqlite: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::DatabaseBackend;

    struct Pair(i64, Option<String>);

    impl FromCells for Pair {
        fn from_cells(row: &impl Cells) -> Result<Self, DbErr> {
            Ok(Pair(row.at(0)?, row.at(1)?))
        }
    }

    fn file_with_rows() -> (tempfile::TempDir, DirectReads) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("t.db");
        let conn = Connection::open(&path).expect("open");
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT);
             INSERT INTO t VALUES (1, 'one'), (2, NULL), (3, 'it''s ? three');",
        )
        .expect("seed");
        (dir, DirectReads::new(path, 2))
    }

    #[test]
    fn binds_values_in_order_and_reads_nulls() {
        let (_dir, reads) = file_with_rows();
        let stmt = Statement::from_sql_and_values(
            DatabaseBackend::Sqlite,
            "SELECT id, name FROM t WHERE id >= ? AND (name IS NULL OR name <> ?) ORDER BY id",
            [2i64.into(), "one".into()],
        );
        let rows: Vec<Pair> = reads.all(&stmt, &RowsOf::<Pair>::default()).expect("rows");
        let got: Vec<(i64, Option<String>)> = rows.into_iter().map(|p| (p.0, p.1)).collect();
        assert_eq!(got, vec![(2, None), (3, Some("it's ? three".into()))]);
        // The same statement again comes from the connection's cache with fresh bindings.
        let again = Statement::from_sql_and_values(
            DatabaseBackend::Sqlite,
            "SELECT id, name FROM t WHERE id >= ? AND (name IS NULL OR name <> ?) ORDER BY id",
            [1i64.into(), "x".into()],
        );
        assert_eq!(
            reads
                .all(&again, &RowsOf::<Pair>::default())
                .expect("rows")
                .len(),
            3
        );
    }

    #[test]
    fn refuses_writes_and_wrong_parameter_counts() {
        let (_dir, reads) = file_with_rows();
        let write =
            Statement::from_string(DatabaseBackend::Sqlite, "DELETE FROM t RETURNING id, name");
        let err = reads
            .all(&write, &RowsOf::<Pair>::default())
            .err()
            .expect("refused");
        assert!(err.to_string().contains("readonly"), "{err}");
        let short = Statement::from_sql_and_values(
            DatabaseBackend::Sqlite,
            "SELECT id, name FROM t WHERE id = ? OR id = ?",
            [1i64.into()],
        );
        let err = reads
            .all(&short, &RowsOf::<Pair>::default())
            .err()
            .expect("refused");
        assert!(
            err.to_string().contains("2 parameters but 1 values"),
            "{err}"
        );
        let plain = Statement::from_string(DatabaseBackend::Sqlite, "SELECT id, name FROM t");
        assert_eq!(
            reads
                .all(&plain, &RowsOf::<Pair>::default())
                .expect("rows")
                .len(),
            3
        );
    }
}
