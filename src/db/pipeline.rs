//! Statements sent to the database together. sqlx hands every SQLite call to the
//! connection's own thread and back; inside the single writer's transaction those hand-offs,
//! not the SQL, are what a write costs. sqlx runs a multi-statement string with positional
//! arguments in one call, so on SQLite the statements queued here cost one hand-off; on
//! PostgreSQL (one statement per protocol message) they run one after another. On a direct
//! writer's rusqlite connection there is no hand-off, and each runs as its own prepared
//! statement (reused across a batch).

use sea_orm::{ConnectionTrait, DatabaseBackend, Statement, StatementBuilder};

use crate::error::Result;

/// Write statements that return nothing, queued to run as one call.
pub struct Pipeline {
    backend: DatabaseBackend,
    statements: Vec<Statement>,
}

impl Pipeline {
    /// An empty pipeline for the dialect of `conn`.
    pub fn new(conn: &impl ConnectionTrait) -> Pipeline {
        Pipeline {
            backend: conn.get_database_backend(),
            statements: Vec::new(),
        }
    }

    /// An empty pipeline for `backend`.
    pub fn for_backend(backend: DatabaseBackend) -> Pipeline {
        Pipeline {
            backend,
            statements: Vec::new(),
        }
    }

    /// Queues an insert, update or delete.
    pub fn push(&mut self, statement: &impl StatementBuilder) {
        self.statements.push(self.backend.build(statement));
    }

    /// How many statements are queued.
    pub fn len(&self) -> usize {
        self.statements.len()
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    /// The queue as one PostgreSQL statement, when it is one or folds into one: a single
    /// statement is atomic by itself, so it needs no transaction around it.
    pub fn single(&self) -> Option<Statement> {
        if self.backend != DatabaseBackend::Postgres {
            return None;
        }
        match self.statements.as_slice() {
            [one] => Some(one.clone()),
            [] => None,
            many => folded_inserts(many),
        }
    }

    /// The queues of `pipelines` as one PostgreSQL statement, for writes of distinct rows
    /// that arrive together (job settles, `jobs::settler`). Unlike [`Pipeline::single`] it
    /// lets several updates of one table share the statement, which is sound only when no
    /// two of them can touch the same row: the caller guarantees that. `None` when a part is
    /// not a plain insert or update, or a table is both inserted into and updated.
    pub fn folded_together(pipelines: &[Pipeline]) -> Option<Statement> {
        if pipelines
            .iter()
            .any(|p| p.backend != DatabaseBackend::Postgres)
        {
            return None;
        }
        let parts: Vec<&Statement> = pipelines.iter().flat_map(|p| &p.statements).collect();
        folded(&parts, Updates::ManyOfDistinctRows)
    }

    /// Runs the queued statements in order on a direct writer's connection (see
    /// `db::group`), stopping at the first that fails.
    pub fn run_direct(self, db: &rusqlite::Connection) -> Result<()> {
        for statement in &self.statements {
            super::direct::execute(db, statement)?;
        }
        Ok(())
    }

    /// Runs the queued statements in order, stopping at the first that fails.
    pub async fn run(self, conn: &impl ConnectionTrait) -> Result<()> {
        if let Some(one) = self.single() {
            conn.execute_raw(one).await?;
            return Ok(());
        }
        if self.backend != DatabaseBackend::Sqlite || self.statements.len() < 2 {
            for statement in self.statements {
                conn.execute_raw(statement).await?;
            }
            return Ok(());
        }
        // SQLite's placeholders are positional `?`, so joining the texts and concatenating
        // the values in the same order binds each statement's own.
        let mut sql = String::new();
        let mut values = Vec::new();
        for statement in self.statements {
            sql.push_str(&statement.sql);
            sql.push_str(";\n");
            if let Some(v) = statement.values {
                values.extend(v.0);
            }
        }
        conn.execute_raw(Statement::from_sql_and_values(
            DatabaseBackend::Sqlite,
            sql,
            values,
        ))
        .await?;
        Ok(())
    }
}

/// PostgreSQL statements that are all plain `INSERT … VALUES`, with at most one plain
/// `UPDATE` of a table none of them inserts into, as one statement (see [`folded`]).
fn folded_inserts(statements: &[Statement]) -> Option<Statement> {
    let parts: Vec<&Statement> = statements.iter().collect();
    folded(&parts, Updates::One)
}

/// How many plain updates a fold may hold.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Updates {
    /// At most one.
    One,
    /// Any number; the caller guarantees no two of them touch the same row.
    ManyOfDistinctRows,
}

/// Plain inserts and updates as one statement of data-modifying CTEs, `WITH w0 AS (first),
/// w1 AS (second) last`: one round trip instead of one each. The parts share a snapshot and
/// run in no set order. That cannot change what inserts of given values do, nor updates of
/// rows none of the inserts writes (a ticket's update beside its history and event rows) and
/// no other update touches; anything else (a delete, a table both inserted into and updated,
/// a statement that reads, more updates than `updates` allows) is left to run on its own
/// (`None`).
fn folded(parts: &[&Statement], updates: Updates) -> Option<Statement> {
    let (mut inserted, mut updated) = (Vec::new(), Vec::new());
    for s in parts {
        let head = s.sql.trim_start();
        if head.contains("SELECT") || head.contains("RETURNING") {
            return None;
        }
        if let Some(rest) = head.strip_prefix("INSERT INTO ") {
            inserted.push(table_at(rest));
        } else if let Some(rest) = head.strip_prefix("UPDATE ") {
            updated.push(table_at(rest));
        } else {
            return None;
        }
    }
    if parts.is_empty()
        || (updates == Updates::One && updated.len() > 1)
        || updated.iter().any(|u| inserted.contains(u))
    {
        return None;
    }
    Some(with_parts(parts))
}

/// `statements` as `WITH w0 AS (first), w1 AS (second) last`, their placeholders renumbered.
fn with_parts(statements: &[&Statement]) -> Statement {
    let mut sql = String::from("WITH ");
    let mut values = Vec::new();
    let last = statements.len() - 1;
    for (i, statement) in statements.iter().enumerate() {
        let text = renumbered(&statement.sql, values.len());
        if i < last {
            sql.push_str(&format!("w{i} AS ({text}), "));
        } else {
            // The last part is the statement the CTEs hang on.
            sql.truncate(sql.len() - 2);
            sql.push(' ');
            sql.push_str(&text);
        }
        if let Some(v) = &statement.values {
            values.extend(v.0.iter().cloned());
        }
    }
    Statement::from_sql_and_values(DatabaseBackend::Postgres, sql, values)
}

/// The table name a statement's text starts with (`"tickets" SET …` → `"tickets"`).
fn table_at(rest: &str) -> &str {
    rest.split_whitespace().next().unwrap_or_default()
}

/// `sql` with every PostgreSQL placeholder `$n` outside quotes moved up by `by`.
pub(crate) fn renumbered(sql: &str, by: usize) -> String {
    if by == 0 {
        return sql.to_string();
    }
    map_placeholders(sql, |n, out| {
        use std::fmt::Write;
        let _ = write!(out, "${}", n + by);
    })
}

/// `sql` with every PostgreSQL placeholder `$n` outside quotes replaced by what `put` writes
/// for `n`.
///
/// Scans bytes and copies the text between placeholders whole: quotes, `$` and digits are
/// ASCII, and no byte of a multi-byte UTF-8 character is. Pushing the text a character at a
/// time was ~5 % of the server's instructions for a deep list page (a dozen key walks).
pub(crate) fn map_placeholders(sql: &str, mut put: impl FnMut(usize, &mut String)) -> String {
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len() + 8);
    let mut quote: Option<u8> = None;
    let (mut at, mut copied) = (0, 0);
    while at < bytes.len() {
        let b = bytes[at];
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'\'' || b == b'"' => quote = Some(b),
            None if b == b'$' => {
                let digits = bytes[at + 1..]
                    .iter()
                    .take_while(|d| d.is_ascii_digit())
                    .count();
                let end = at + 1 + digits;
                if let Ok(n) = sql[at + 1..end].parse::<usize>() {
                    out.push_str(&sql[copied..at]);
                    put(n, &mut out);
                    (at, copied) = (end, end);
                    continue;
                }
            }
            None => {}
        }
        at += 1;
    }
    out.push_str(&sql[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg(sql: &str, values: Vec<sea_orm::Value>) -> Statement {
        Statement::from_sql_and_values(DatabaseBackend::Postgres, sql, values)
    }

    #[test]
    fn a_pipeline_is_one_statement_only_on_postgresql_and_only_when_it_folds() {
        use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
        let insert = |table: &str, v: i64| {
            Query::insert()
                .into_table(Alias::new(table))
                .columns([Alias::new("x")])
                .values_panic([v.into()])
                .to_owned()
        };
        let update = |table: &str, v: i64| {
            Query::update()
                .table(Alias::new(table))
                .value(Alias::new("x"), v)
                .and_where(Expr::col(Alias::new("id")).eq(1))
                .to_owned()
        };
        let mut p = Pipeline::for_backend(DatabaseBackend::Postgres);
        assert!(p.single().is_none(), "nothing queued");
        p.push(&insert("a", 7));
        let one = p.single().expect("one statement");
        assert_eq!(one.sql, r#"INSERT INTO "a" ("x") VALUES ($1)"#);
        p.push(&update("b", 8));
        let folded = p
            .single()
            .expect("an insert and an update of another table fold");
        assert_eq!(
            folded.sql,
            r#"WITH w0 AS (INSERT INTO "a" ("x") VALUES ($1)) UPDATE "b" SET "x" = $2 WHERE "id" = $3"#
        );
        assert_eq!(
            folded.values.expect("values").0,
            vec![7i64.into(), 8i64.into(), 1i32.into()]
        );
        p.push(&update("c", 9));
        assert!(
            p.single().is_none(),
            "two updates run one by one, in a transaction"
        );

        let mut s = Pipeline::for_backend(DatabaseBackend::Sqlite);
        s.push(&insert("a", 7));
        assert!(
            s.single().is_none(),
            "SQLite's writes go through its group commit"
        );
    }

    #[test]
    fn settles_of_different_rows_fold_together_with_several_updates() {
        use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
        let settle = |id: i64| {
            let mut p = Pipeline::for_backend(DatabaseBackend::Postgres);
            p.push(
                &Query::insert()
                    .into_table(Alias::new("job_attempts"))
                    .columns([Alias::new("job_id")])
                    .values_panic([id.into()])
                    .to_owned(),
            );
            p.push(
                &Query::update()
                    .table(Alias::new("jobs"))
                    .value(Alias::new("status"), "done")
                    .and_where(Expr::col(Alias::new("id")).eq(id))
                    .to_owned(),
            );
            p
        };
        let folded = Pipeline::folded_together(&[settle(1), settle(2)]).expect("folds");
        assert_eq!(
            folded.sql,
            r#"WITH w0 AS (INSERT INTO "job_attempts" ("job_id") VALUES ($1)), w1 AS (UPDATE "jobs" SET "status" = $2 WHERE "id" = $3), w2 AS (INSERT INTO "job_attempts" ("job_id") VALUES ($4)) UPDATE "jobs" SET "status" = $5 WHERE "id" = $6"#
        );
        assert_eq!(
            folded.values.expect("values").0,
            vec![
                1i64.into(),
                "done".into(),
                1i64.into(),
                2i64.into(),
                "done".into(),
                2i64.into()
            ]
        );
        let mut reads = Pipeline::for_backend(DatabaseBackend::Postgres);
        reads.push(
            &Query::select()
                .column(Alias::new("x"))
                .from(Alias::new("jobs"))
                .to_owned(),
        );
        assert!(
            Pipeline::folded_together(&[settle(1), reads]).is_none(),
            "a read"
        );
        let mut both = settle(3);
        both.push(
            &Query::insert()
                .into_table(Alias::new("jobs"))
                .columns([Alias::new("id")])
                .values_panic([4i64.into()])
                .to_owned(),
        );
        assert!(
            Pipeline::folded_together(&[both]).is_none(),
            "a table both inserted into and updated"
        );
        let mut lite = Pipeline::for_backend(DatabaseBackend::Sqlite);
        lite.push(
            &Query::update()
                .table(Alias::new("jobs"))
                .value(Alias::new("x"), 1)
                .to_owned(),
        );
        assert!(
            Pipeline::folded_together(&[lite]).is_none(),
            "PostgreSQL only"
        );
        assert!(Pipeline::folded_together(&[]).is_none());
    }

    #[test]
    fn placeholders_move_up_outside_quotes_only() {
        assert_eq!(
            renumbered(r#"INSERT INTO "t$1" ("a") VALUES ($1, '$2', $10)"#, 3),
            r#"INSERT INTO "t$1" ("a") VALUES ($4, '$2', $13)"#
        );
        assert_eq!(renumbered("VALUES ($1)", 0), "VALUES ($1)");
        // Text beside and between placeholders is copied whole, multi-byte characters too;
        // a `$` without digits, and one at the end, stay as they are.
        assert_eq!(
            renumbered("SELECT 'é$1' || \"ü\" || $2 || $ || $x, $9$", 2),
            "SELECT 'é$1' || \"ü\" || $4 || $ || $x, $11$"
        );
        assert_eq!(renumbered("$1", 1), "$2");
        assert_eq!(renumbered("", 1), "");
    }

    #[test]
    fn plain_inserts_fold_into_one_statement_with_every_value_in_order() {
        let one = folded_inserts(&[
            pg(r#"INSERT INTO "a" ("x") VALUES ($1)"#, vec![1.into()]),
            pg(
                r#"INSERT INTO "b" ("y", "z") VALUES ($1, $2)"#,
                vec![2.into(), 3.into()],
            ),
            pg(r#"INSERT INTO "c" ("w") VALUES ($1)"#, vec![4.into()]),
        ])
        .expect("folded");
        assert_eq!(
            one.sql,
            r#"WITH w0 AS (INSERT INTO "a" ("x") VALUES ($1)), w1 AS (INSERT INTO "b" ("y", "z") VALUES ($2, $3)) INSERT INTO "c" ("w") VALUES ($4)"#
        );
        let values = one.values.expect("values").0;
        assert_eq!(values, vec![1.into(), 2.into(), 3.into(), 4.into()]);
    }

    #[test]
    fn one_update_of_another_table_folds_with_the_inserts() {
        let one = folded_inserts(&[
            pg(
                r#"UPDATE "tickets" SET "status" = $1 WHERE "id" = $2"#,
                vec!["open".into(), 7.into()],
            ),
            pg(r#"INSERT INTO "events" ("t") VALUES ($1)"#, vec![7.into()]),
        ])
        .expect("folded");
        assert_eq!(
            one.sql,
            r#"WITH w0 AS (UPDATE "tickets" SET "status" = $1 WHERE "id" = $2) INSERT INTO "events" ("t") VALUES ($3)"#
        );
        let update = |v: i32| pg(r#"UPDATE "tickets" SET "x" = $1"#, vec![v.into()]);
        let insert = pg(r#"INSERT INTO "events" ("t") VALUES ($1)"#, vec![1.into()]);
        assert!(folded_inserts(&[update(1), insert.clone(), update(2)]).is_none());
        let into_same = pg(r#"INSERT INTO "tickets" ("x") VALUES ($1)"#, vec![1.into()]);
        assert!(folded_inserts(&[update(1), into_same]).is_none());
    }

    #[test]
    fn anything_but_plain_inserts_runs_on_its_own() {
        let insert = pg(r#"INSERT INTO "a" ("x") VALUES ($1)"#, vec![1.into()]);
        for other in [
            r#"DELETE FROM "a" WHERE "x" = $1"#,
            r#"INSERT INTO "a" ("x") SELECT $1 WHERE NOT EXISTS (SELECT 1 FROM "a")"#,
            r#"UPDATE "a" SET "x" = $1"#,
            r#"UPDATE "b" SET "x" = (SELECT 1)"#,
            r#"UPDATE "b" SET "x" = $1 RETURNING "x""#,
        ] {
            assert!(
                folded_inserts(&[insert.clone(), pg(other, vec![2.into()])]).is_none(),
                "{other}"
            );
        }
    }
}
