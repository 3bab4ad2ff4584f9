//! The text of `view::load_one`'s statement, built once per backend, role and kind of key.
//! Building it with sea-query for every request (some forty quoted columns, sub-selects, the
//! visibility condition) took about a tenth of the server's CPU in the get scenario. Only the
//! values change from one request to the next. A test checks every shape against a fresh
//! build, text and values.

use sea_orm::{DatabaseBackend, QueryTrait, Statement, Value};
use std::sync::LazyLock;

use super::model::Role;
use crate::auth::Actor;

/// Texts by `[backend][role][by number]`, computed on first use; they never change after.
static TEXTS: LazyLock<[[[String; 2]; 3]; 2]> = LazyLock::new(|| {
    let backends = [DatabaseBackend::Sqlite, DatabaseBackend::Postgres];
    backends.map(|backend| {
        [Role::Admin, Role::Agent, Role::Customer].map(|role| {
            let actor = Actor {
                id: 1,
                name: String::new(),
                email: String::new(),
                role,
            };
            ["1", "TKT-X"].map(|key| built(backend, &actor, key).sql)
        })
    })
});

/// The statement as sea-query builds it.
pub(super) fn built(backend: DatabaseBackend, actor: &Actor, key: &str) -> Statement {
    super::view::with_extras(super::access::find(actor, key), backend).build(backend)
}

/// `load_one`'s statement for `actor` and `key`: the stored text with this request's values,
/// bound in the order `access::find` adds them (the key, then the visibility condition's).
pub(super) fn one(backend: DatabaseBackend, actor: &Actor, key: &str) -> Statement {
    let b = match backend {
        DatabaseBackend::Sqlite => 0,
        DatabaseBackend::Postgres => 1,
        _ => return built(backend, actor, key),
    };
    let (by_number, key_value): (usize, Value) = match key.parse::<i64>() {
        Ok(id) => (0, id.into()),
        Err(_) => (1, key.to_uppercase().into()),
    };
    let (r, values) = match actor.role {
        Role::Admin => (0, vec![key_value]),
        Role::Agent => (1, vec![key_value, actor.id.into(), actor.id.into()]),
        Role::Customer => (2, vec![key_value, actor.id.into()]),
    };
    Statement::from_sql_and_values(backend, TEXTS[b][r][by_number].clone(), values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stored_statement_is_what_sea_query_builds() {
        for backend in [DatabaseBackend::Sqlite, DatabaseBackend::Postgres] {
            for role in [Role::Admin, Role::Agent, Role::Customer] {
                let actor = Actor {
                    id: 42,
                    name: "Ada".into(),
                    email: "ada@example.test".into(),
                    role,
                };
                for key in ["17", "tkt-20261203-ab12cd34", "TKT-20261203-AB12CD34"] {
                    let (got, want) = (one(backend, &actor, key), built(backend, &actor, key));
                    assert_eq!(got.sql, want.sql, "{backend:?} {role:?} {key}");
                    assert_eq!(got.values, want.values, "{backend:?} {role:?} {key}");
                }
            }
        }
    }
}
