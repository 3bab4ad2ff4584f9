//! `db::pipeline`: statements sent together bind their own values, in order, and a failing
//! statement fails the call (the caller's transaction then rolls back all of it).

use crate::both_backends;
use crate::harness::*;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, Statement};
use triage::db::pipeline::Pipeline;
use triage::tickets::model::Role;

async fn tags_of(app: &TestApp, id: i64) -> Vec<String> {
    let rows = app
        .ctx
        .db
        .read
        .query_all_raw(Statement::from_sql_and_values(
            app.ctx.db.backend,
            "SELECT tag FROM ticket_tags WHERE ticket_id = $1 ORDER BY tag",
            [id.into()],
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|r| r.try_get_by_index(0).unwrap())
        .collect()
}

fn tag_insert(id: i64, tags: &[&str]) -> sea_orm::sea_query::InsertStatement {
    let mut q = Query::insert();
    q.into_table("ticket_tags").columns(["ticket_id", "tag"]);
    for t in tags {
        q.values_panic([id.into(), (*t).into()]);
    }
    q.to_owned()
}

/// An agent's token and a fresh ticket of theirs.
async fn agent_ticket(app: &TestApp, subject: &str) -> (String, i64) {
    let (_, token) = app.user(Role::Agent, "Pia").await;
    let id = app.ticket(&token, subject, "low").await["id"]
        .as_i64()
        .unwrap();
    (token, id)
}

both_backends!(
    a_pipeline_binds_each_statement_its_own_values,
    |app: TestApp| async move {
        let (token, id) = agent_ticket(&app, "Pipeline subject").await;
        let txn = app.ctx.db.begin().await.unwrap();
        let mut p = Pipeline::new(&txn);
        // Different numbers of values per statement, and values that look like SQL.
        p.push(&tag_insert(id, &["one; DROP", "two?"]));
        p.push(
            Query::update()
                .table("tickets")
                .value("subject", "Changed; by ? the pipeline")
                .and_where(Expr::col("id").eq(id)),
        );
        p.push(&tag_insert(id, &["three"]));
        assert_eq!(p.len(), 3);
        p.run(&txn).await.expect("pipeline runs");
        txn.commit().await.unwrap();
        assert_eq!(tags_of(&app, id).await, ["one; DROP", "three", "two?"]);
        let got = app.get(&format!("/api/v1/tickets/{id}"), &token).await;
        assert_eq!(got.ok(200)["subject"], "Changed; by ? the pipeline");
    }
);

both_backends!(
    a_failing_statement_fails_the_pipeline_and_its_transaction_keeps_nothing,
    |app: TestApp| async move {
        let (_, id) = agent_ticket(&app, "Pipeline failure").await;
        let txn = app.ctx.db.begin().await.unwrap();
        let mut p = Pipeline::new(&txn);
        p.push(&tag_insert(id, &["kept-only-if-all-ran"]));
        // The same (ticket, tag) twice violates the primary key.
        p.push(&tag_insert(id, &["dup", "dup"]));
        p.push(&tag_insert(id, &["after"]));
        let err = p
            .run(&txn)
            .await
            .expect_err("a duplicate key must fail the call");
        assert!(
            err.to_string().to_lowercase().contains("unique")
                || err.to_string().to_lowercase().contains("duplicate"),
            "{err}"
        );
        txn.rollback().await.unwrap();
        assert!(tags_of(&app, id).await.is_empty());
        // An empty pipeline is a no-op.
        Pipeline::new(&app.ctx.db.write)
            .run(&app.ctx.db.write)
            .await
            .unwrap();
    }
);
