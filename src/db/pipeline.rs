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
