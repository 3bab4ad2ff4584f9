//! Unit tests of list parsing and key-walk building.

use super::*;
use sea_orm::{QueryOrder, QueryTrait, Select};

/// A caller with id 7 in `role`.
fn actor_7(role: crate::tickets::model::Role) -> Actor {
    Actor {
        id: 7,
        name: String::new(),
        email: String::new(),
        role,
    }
}

#[test]
fn sort_parsing() {
    assert_eq!(
        Sort::parse(None).unwrap(),
        Sort(vec![
            (SortField::Priority, true),
            (SortField::CreatedAt, false)
        ])
    );
    assert_eq!(
        Sort::parse(Some("-updated_at")).unwrap(),
        Sort(vec![(SortField::UpdatedAt, true)])
    );
    assert!(Sort::parse(Some("subject")).is_err());
    assert!(Sort::parse(Some("priority,-priority")).is_err());
}

fn ordered(mut q: Select<ticket::Entity>, sort: &Sort) -> Select<ticket::Entity> {
    for (f, desc) in &sort.0 {
        q = q.order_by(f.column(), if *desc { Order::Desc } else { Order::Asc });
    }
    q.order_by(ticket::Column::Id, Order::Asc)
}

/// `members` as it was built through sea-orm's `Select` (every column, then `select_only`).
fn members_through_select(
    backend: sea_orm::DatabaseBackend,
    actor: &Actor,
    filters: &Filters,
    sort: &Sort,
    after: Option<&[i64]>,
) -> Vec<SelectStatement> {
    let mut out = Vec::new();
    for mut part in crate::tickets::keyset::split(filters) {
        part.q = None;
        let base = ticket::Entity::find()
            .filter(access::visible(actor))
            .filter(apply_filters(backend, &part, Default::default()));
        for range in crate::tickets::keyset::ranges(sort, after) {
            let q = match range {
                Some(c) => base.clone().filter(c),
                None => base.clone(),
            };
            let mut keys = ordered(q, sort).select_only().column(ticket::Column::Id);
            for (f, _) in &sort.0 {
                keys = keys.column(f.column());
            }
            out.push(keys.into_query());
        }
    }
    out
}

#[test]
fn key_walks_are_what_the_entity_select_builds() {
    use crate::tickets::model::Role;
    use sea_orm::DatabaseBackend::{Postgres, Sqlite};
    let mut filters = BTreeMap::new();
    filters.insert("status".to_string(), "open,waiting".to_string());
    filters.insert("priority".to_string(), "high,urgent".to_string());
    filters.insert("category".to_string(), "billing".to_string());
    filters.insert("assignee".to_string(), "me".to_string());
    filters.insert("tag".to_string(), "vip".to_string());
    let filter_sets = [BTreeMap::new(), filters];
    let sorts = [None, Some("-updated_at"), Some("created_at,-priority")];
    for backend in [Sqlite, Postgres] {
        for role in [Role::Admin, Role::Agent, Role::Customer] {
            let actor = actor_7(role);
            for params in &filter_sets {
                let f = parse_filters(params, actor.id).unwrap();
                for s in sorts {
                    let sort = Sort::parse(s).unwrap();
                    let after: Vec<i64> = (0..=sort.0.len() as i64).map(|i| 100 + i).collect();
                    for after in [None, Some(&after[..])] {
                        let built = |m: Vec<SelectStatement>| -> Vec<_> {
                            m.iter().map(|q| backend.build(q)).collect()
                        };
                        let got = built(members(backend, &actor, &f, &sort, after, None));
                        let want = built(members_through_select(backend, &actor, &f, &sort, after));
                        assert!(!got.is_empty());
                        assert_eq!(got, want, "{backend:?} {role:?} {params:?} {s:?}");
                    }
                }
            }
        }
    }
}

#[test]
fn a_driving_postgres_search_sorts_the_rows_the_text_index_found() {
    use crate::tickets::model::Role;
    use sea_orm::DatabaseBackend;
    let actor = actor_7(Role::Agent);
    let filters = Filters {
        q: Some("Time-out".into()),
        status: vec![crate::tickets::model::Status::Open],
        ..Filters::default()
    };
    let sort = Sort::parse(None).expect("default sort");
    let drive = Some(crate::search::Plan::Drive);
    let sql = |backend, plan| {
        members(backend, &actor, &filters, &sort, None, plan)
            .iter()
            .map(|m| m.to_string(sea_orm::sea_query::PostgresQueryBuilder))
            .collect::<Vec<_>>()
    };
    for walk in sql(DatabaseBackend::Postgres, drive) {
        assert!(
            walk.contains(
                "FROM (SELECT \"id\", \"status\", \"priority_rank\", \"category\", \
                 \"assignee_id\", \"requester_id\", \"created_at\", \"updated_at\" FROM \
                 \"tickets\" AS \"m\" WHERE m.search @@ to_tsquery('simple', 'time:* & out:*') \
                 OFFSET 0) AS \"tickets\""
            ),
            "{walk}"
        );
        assert!(!walk.contains("IN (SELECT m.id"), "{walk}");
        assert!(
            walk.contains("\"tickets\".\"status\" IN ('open')"),
            "{walk}"
        );
    }
    // A scan walks the table itself; SQLite drives from FTS5 ids.
    let scan = sql(DatabaseBackend::Postgres, Some(crate::search::Plan::Scan));
    assert!(
        scan.iter().all(|w| w.contains("FROM \"tickets\" WHERE")),
        "{scan:?}"
    );
    let sqlite = sql(DatabaseBackend::Sqlite, drive);
    assert!(
        sqlite
            .iter()
            .all(|w| w.contains("FROM \"tickets\" WHERE") && w.contains("tickets_fts")),
        "{sqlite:?}"
    );
}

#[test]
fn a_driving_search_carries_every_column_its_key_walks_read() {
    use crate::tickets::model::Role;
    use sea_orm::DatabaseBackend::Postgres;
    use sea_orm::sea_query::Iden;
    let listed: Vec<String> = LISTED_COLUMNS.iter().map(|c| c.to_string()).collect();
    let mut every = BTreeMap::new();
    for (k, v) in [
        ("q", "printer jam"),
        ("status", "open,waiting"),
        ("priority", "high,urgent"),
        ("category", "billing"),
        ("assignee", "none"),
        ("requester", "12"),
        ("tag", "vip"),
        ("created_after", "2026-01-01T00:00:00Z"),
        ("created_before", "2026-12-01T00:00:00Z"),
    ] {
        every.insert(k.to_string(), v.to_string());
    }
    let mut assigned = every.clone();
    assigned.insert("assignee".to_string(), "me".to_string());
    let mut plain = BTreeMap::new();
    plain.insert("q".to_string(), "printer".to_string());
    let sorts = [None, Some("-updated_at"), Some("created_at,-priority")];
    let mut walks = 0;
    for role in [Role::Admin, Role::Agent, Role::Customer] {
        let actor = actor_7(role);
        for params in [&every, &assigned, &plain] {
            let f = parse_filters(params, actor.id).unwrap();
            for s in sorts {
                let sort = Sort::parse(s).unwrap();
                let after: Vec<i64> = (0..=sort.0.len() as i64).map(|i| 100 + i).collect();
                for after in [None, Some(&after[..])] {
                    let drive = Some(crate::search::Plan::Drive);
                    for m in members(Postgres, &actor, &f, &sort, after, drive) {
                        let sql = Postgres.build(&m).sql;
                        assert!(sql.contains("m.search @@"), "{sql}");
                        walks += 1;
                        for used in sql.split("\"tickets\".\"").skip(1) {
                            let column = used.split('"').next().unwrap_or_default();
                            assert!(listed.iter().any(|c| c == column), "{column} in {sql}");
                        }
                    }
                }
            }
        }
    }
    assert!(walks > 50, "{walks}");
}
