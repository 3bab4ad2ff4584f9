//! Keyset paging that stays on the indexes at a million tickets. A filter with several
//! statuses or priorities cannot be read from `(status, priority_rank DESC, created_at, id)`
//! in sort order, and "after this cursor" written as one OR over the sort keys cannot become
//! an index range, so the database would collect and sort every match. Instead a page is read
//! as one query per (status, priority) pair, and the rows after a cursor as its disjoint
//! ranges in sort order (same leading keys, next key beyond); each is an index seek with a
//! `LIMIT`, and the pieces are merged.

use std::cmp::Ordering;

use sea_orm::sea_query::SelectStatement;
use sea_orm::{ColumnTrait, Condition, DatabaseBackend, DbErr, Statement, Value};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::db::direct::{Cells, Decode};
use crate::error::{Error, Result};

use super::query::{Filters, Sort, SortField};
use crate::db::entities::ticket;

/// Most sub-queries a page is split into; beyond this the filter runs as one query.
const MAX_PARTS: usize = 16;

/// The filter as single-status, single-priority parts (or whole, when splitting does not help:
/// full-text queries, or too many combinations).
pub fn split(f: &Filters) -> Vec<Filters> {
    if f.q.is_some() {
        return vec![f.clone()];
    }
    let statuses: Vec<Vec<_>> = if f.status.len() > 1 {
        f.status.iter().map(|s| vec![*s]).collect()
    } else {
        vec![f.status.clone()]
    };
    let priorities: Vec<Vec<_>> = if f.priority.len() > 1 {
        f.priority.iter().map(|p| vec![*p]).collect()
    } else {
        vec![f.priority.clone()]
    };
    if statuses.len() * priorities.len() > MAX_PARTS {
        return vec![f.clone()];
    }
    let mut out = Vec::new();
    for s in &statuses {
        for p in &priorities {
            out.push(Filters {
                status: s.clone(),
                priority: p.clone(),
                ..f.clone()
            });
        }
    }
    out
}

/// The rows after a cursor as disjoint conditions in sort order: all keys equal and a higher
/// id first, then one fewer equal key and that key beyond, down to the first key beyond.
/// Without a cursor, one unbounded range (`None`).
pub fn ranges(sort: &Sort, after: Option<&[i64]>) -> Vec<Option<Condition>> {
    let Some(vals) = after else {
        return vec![None];
    };
    let mut keys: Vec<(ticket::Column, bool)> =
        sort.0.iter().map(|(f, d)| (f.column(), *d)).collect();
    keys.push((ticket::Column::Id, false));
    (0..keys.len())
        .rev()
        .map(|i| {
            let mut all = Condition::all();
            for (j, (col, _)) in keys.iter().enumerate().take(i) {
                all = all.add(col.eq(vals[j]));
            }
            let (col, desc) = keys[i];
            Some(all.add(if desc {
                col.lt(vals[i])
            } else {
                col.gt(vals[i])
            }))
        })
        .collect()
}

/// What a page needs of a row to merge parts and make a cursor: its id and sort values. Read
/// alone, they come from the index entries (no table rows, no descriptions), so merging 8
/// parts of 51 costs 408 small index reads; only the page's final rows are loaded in full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SortKeys {
    /// Ticket id.
    pub id: i64,
    /// Indexed by `SortField::slot`; only the fields of the sort are filled.
    vals: [i64; 3],
}

/// A sort reads its key rows: `id`, then the sort's columns in order.
impl Decode for Sort {
    type Row = SortKeys;
    fn decode(&self, row: &impl Cells) -> Result<SortKeys, DbErr> {
        let mut vals = [0; 3];
        for (i, (f, _)) in self.0.iter().enumerate() {
            vals[f.slot()] = match f {
                SortField::Priority => i64::from(row.at::<i32>(i + 1)?),
                SortField::CreatedAt | SortField::UpdatedAt => row.at(i + 1)?,
            };
        }
        Ok(SortKeys {
            id: row.at(0)?,
            vals,
        })
    }
}

impl SortKeys {
    /// The place of ticket `id` whose sort fields have `values`, in the sort's order.
    pub fn at(sort: &Sort, id: i64, values: &[i64]) -> SortKeys {
        let mut vals = [0; 3];
        for ((f, _), v) in sort.0.iter().zip(values) {
            vals[f.slot()] = *v;
        }
        SortKeys { id, vals }
    }

    /// A ticket's place in `sort`.
    pub fn of(sort: &Sort, t: &ticket::Model) -> SortKeys {
        let mut vals = [0; 3];
        for (f, _) in &sort.0 {
            vals[f.slot()] = match f {
                SortField::Priority => i64::from(t.priority_rank),
                SortField::CreatedAt => t.created_at,
                SortField::UpdatedAt => t.updated_at,
            };
        }
        SortKeys { id: t.id, vals }
    }

    /// The value of one sort field.
    pub fn value(&self, f: SortField) -> i64 {
        self.vals[f.slot()]
    }
}

/// The name of a sort field's column, as a key walk selects it.
pub fn column_name(f: SortField) -> &'static str {
    sea_orm::IdenStatic::as_str(&f.column())
}

/// `ORDER BY` terms over a key walk's columns (the sort's, then id), as `compare` orders.
pub fn order_by(sort: &Sort) -> String {
    let mut terms: Vec<String> = sort
        .0
        .iter()
        .map(|(f, desc)| {
            let dir = if *desc { "DESC" } else { "ASC" };
            format!("\"{}\" {dir}", column_name(*f))
        })
        .collect();
    terms.push("\"id\" ASC".into());
    terms.join(", ")
}

/// Orders two tickets as the list does: sort keys, then id ascending.
pub fn compare(sort: &Sort, a: &SortKeys, b: &SortKeys) -> Ordering {
    for (f, desc) in &sort.0 {
        let o = a.value(*f).cmp(&b.value(*f));
        let o = if *desc { o.reverse() } else { o };
        if o != Ordering::Equal {
            return o;
        }
    }
    a.id.cmp(&b.id)
}

/// A position in a sorted list: the sort values and id of the last row returned.
pub fn encode_cursor(sort: &Sort, t: &SortKeys) -> String {
    let mut vals: Vec<i64> = sort.0.iter().map(|(f, _)| t.value(*f)).collect();
    vals.push(t.id);
    let text = vals
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(".");
    URL_SAFE_NO_PAD.encode(text)
}

/// The sort values and id a cursor holds (a field error when it is not this sort's).
pub fn decode_cursor(sort: &Sort, raw: &str) -> Result<Vec<i64>> {
    let bad = || {
        Error::field(
            "cursor",
            "invalid cursor (it belongs to another sort, or was altered)",
        )
    };
    let bytes = URL_SAFE_NO_PAD.decode(raw.trim()).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let vals: Vec<i64> = text
        .split('.')
        .map(|p| p.parse::<i64>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| bad())?;
    if vals.len() != sort.0.len() + 1 {
        return Err(bad());
    }
    Ok(vals)
}

/// The first `limit` of merged rows (a page plus one at most from each walk) in list order,
/// and the next cursor when there are more; `keys` gives a row's place.
pub fn page_of<T>(
    sort: &Sort,
    mut rows: Vec<T>,
    keys: impl Fn(&T) -> SortKeys,
    limit: u64,
) -> (Vec<T>, Option<String>) {
    rows.sort_by(|a, b| compare(sort, &keys(a), &keys(b)));
    rows.truncate(limit as usize + 1);
    let next = if rows.len() as u64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|t| encode_cursor(sort, &keys(t)))
    } else {
        None
    };
    (rows, next)
}

/// `SELECT * FROM (m1 LIMIT n) AS "part0" UNION ALL SELECT * FROM (m2 LIMIT n) AS "part1" …`:
/// each member keeps its own ORDER BY and LIMIT (an ordered index walk that stops after a
/// page), which a bare compound would not. The LIMIT is written into the text, not bound:
/// PostgreSQL plans a statement with a bound LIMIT for its values every time (its generic plan
/// assumes a tenth of the rows), which was a sixth of a list page's time in the database;
/// with the number in the text it keeps one plan per shape. `limit` is a page size plus one
/// (at most 101 for the API, 501 for exports), so the shapes stay few.
pub fn union_all(
    backend: DatabaseBackend,
    members: Vec<SelectStatement>,
    limit: u64,
) -> Option<Statement> {
    union_all_built(backend, members.iter().map(|m| backend.build(m)), limit)
}

/// `union_all` of members already built as statements (their placeholders each from `$1`).
pub fn union_all_built(
    backend: DatabaseBackend,
    members: impl IntoIterator<Item = Statement>,
    limit: u64,
) -> Option<Statement> {
    let mut sql = String::new();
    let mut values: Vec<Value> = Vec::new();
    let mut any = false;
    for (i, built) in members.into_iter().enumerate() {
        any = true;
        let text = match backend {
            DatabaseBackend::Postgres => crate::db::pipeline::renumbered(&built.sql, values.len()),
            _ => built.sql,
        };
        let part = format!("SELECT * FROM ({text} LIMIT {limit}) AS \"part{i}\"");
        // No parentheses around a member: SQLite does not take them in a compound.
        if i > 0 {
            sql.push_str(" UNION ALL ");
        }
        sql.push_str(&part);
        values.extend(built.values.map(|v| v.0).unwrap_or_default());
    }
    any.then(|| Statement::from_sql_and_values(backend, sql, values))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tickets::model::{Priority, Status};
    use sea_orm::{EntityTrait, QueryFilter, QuerySelect, QueryTrait};

    fn member(status: &str) -> SelectStatement {
        ticket::Entity::find()
            .filter(ticket::Column::Status.eq(status))
            .select_only()
            .column(ticket::Column::Id)
            .into_query()
    }

    #[test]
    fn cursors_roundtrip_and_reject_tampering() {
        let sort = Sort::parse(None).unwrap();
        assert!(decode_cursor(&sort, "bm9wZQ").is_err());
        let raw = URL_SAFE_NO_PAD.encode("3.1700000000.42");
        assert_eq!(decode_cursor(&sort, &raw).unwrap(), vec![3, 1700000000, 42]);
        let short = URL_SAFE_NO_PAD.encode("3.42");
        assert!(decode_cursor(&sort, &short).is_err());
    }

    #[test]
    fn members_keep_their_values_in_order_and_a_written_limit() {
        let pg = union_all(
            DatabaseBackend::Postgres,
            vec![member("open"), member("closed")],
            51,
        )
        .expect("two members");
        assert_eq!(
            pg.sql,
            r#"SELECT * FROM (SELECT "tickets"."id" FROM "tickets" WHERE "tickets"."status" = $1 LIMIT 51) AS "part0" UNION ALL SELECT * FROM (SELECT "tickets"."id" FROM "tickets" WHERE "tickets"."status" = $2 LIMIT 51) AS "part1""#
        );
        let values = pg.values.expect("values").0;
        assert_eq!(values, vec!["open".into(), "closed".into()]);
        let lite = union_all(DatabaseBackend::Sqlite, vec![member("open")], 3).expect("one");
        assert!(
            lite.sql.ends_with(r#"= ? LIMIT 3) AS "part0""#),
            "{}",
            lite.sql
        );
        assert!(union_all(DatabaseBackend::Sqlite, Vec::new(), 3).is_none());
    }

    #[test]
    fn filters_split_per_status_and_priority_but_not_search() {
        let f = Filters {
            status: vec![Status::Open, Status::InProgress],
            priority: vec![Priority::High, Priority::Urgent],
            ..Filters::default()
        };
        let parts = split(&f);
        assert_eq!(parts.len(), 4);
        assert!(
            parts
                .iter()
                .all(|p| p.status.len() == 1 && p.priority.len() == 1)
        );
        let searched = Filters {
            q: Some("printer".into()),
            ..f.clone()
        };
        assert_eq!(split(&searched).len(), 1);
        let all_statuses = Filters {
            status: Status::active_names()
                .iter()
                .filter_map(|s| Status::parse(s))
                .chain([Status::Resolved, Status::Closed])
                .collect(),
            priority: vec![
                Priority::Low,
                Priority::Medium,
                Priority::High,
                Priority::Urgent,
            ],
            ..Filters::default()
        };
        assert_eq!(split(&all_statuses).len(), 1, "too many parts: one query");
    }

    #[test]
    fn ranges_go_from_deepest_to_first_key() {
        let sort = Sort::parse(None).unwrap();
        assert_eq!(ranges(&sort, None).len(), 1);
        // priority, created_at, id: three disjoint ranges after a cursor.
        assert_eq!(ranges(&sort, Some(&[3, 100, 7])).len(), 3);
    }
}
