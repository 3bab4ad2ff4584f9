//! A new ticket's rows written together: on PostgreSQL as one statement with an id drawn
//! ahead from the sequence (`tickets::insert::create_alone`), elsewhere in a transaction.

use crate::both_backends;
use crate::harness::*;
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter, Statement};
use serde_json::json;
use triage::db::entities::{job, ticket_event};
use triage::tickets::model::Role;

const COLUMNS: &str = "subject, description, category, priority, priority_rank, status, \
    requester_id, assignee_id, channel, page_url, browser_info, ip, conversation_id, merged_into, \
    resolution, created_at, updated_at, first_response_at, resolved_at, closed_at, \
    first_response_due_at, resolution_due_at, follow_up_of, sla_paused_at, sla_paused_micros, \
    sla_alerts, sla_next_at";

/// Rows a simulated bulk load writes: more than one block of ids drawn ahead.
const BULK: i64 = 40;

/// Creates a ticket over the API and checks every row it must have written with it.
async fn create_checked(app: &TestApp, token: &str, subject: &str) -> i64 {
    let body = json!({"subject": subject, "description": "The export button does nothing.",
                      "category": "billing", "priority": "high", "tags": ["export", "vip"]});
    let created = app
        .post("/api/v1/tickets", token, body)
        .await
        .ok(201)
        .clone();
    let id = created["id"].as_i64().expect("id");
    let read = app.get(&format!("/api/v1/tickets/{id}"), token).await;
    let read = read.ok(200);
    assert_eq!(read["number"], created["number"]);
    assert_eq!(read["subject"], json!(subject));
    assert_eq!(read["tags"], json!(["export", "vip"]));
    assert!(
        read["first_response_due_at"].is_string(),
        "SLA clocks set: {read}"
    );
    let events = ticket_event::Entity::find()
        .filter(ticket_event::Column::TicketId.eq(id))
        .all(&app.ctx.db.read)
        .await
        .expect("events");
    assert!(events.iter().any(|e| e.field == "created"), "{events:?}");
    let jobs = job::Entity::find()
        .filter(job::Column::TicketId.eq(id))
        .filter(job::Column::Kind.eq("ticket.created"))
        .all(&app.ctx.db.read)
        .await
        .expect("jobs");
    assert_eq!(jobs.len(), 1, "one event job");
    id
}

both_backends!(
    a_new_tickets_rows_are_written_together_even_when_its_id_is_taken,
    |app: TestApp| async move {
        let (_, token) = app.user(Role::Agent, "Ines").await;
        let total = |stats: Res| stats.ok(200)["total"].as_i64().unwrap_or(0);
        let before = total(app.get("/api/v1/stats", &token).await);
        let first = create_checked(&app, &token, "Export does nothing").await;
        if app.ctx.db.backend == DatabaseBackend::Postgres {
            // A bulk load between two creations takes every id this server drew ahead and
            // moves the sequence on: the next creation clashes once, then draws again.
            let conn = &app.ctx.db.write;
            conn.execute_raw(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                format!(
                    "INSERT INTO tickets (id, number, {COLUMNS}) \
                     SELECT g, 'TKT-BULK-' || g, {COLUMNS} \
                     FROM tickets, generate_series($1::bigint, $1::bigint + {BULK} - 1) AS g \
                     WHERE tickets.id = $2"
                ),
                [(first + 1).into(), first.into()],
            ))
            .await
            .expect("bulk row");
            conn.execute_unprepared(
                "SELECT setval(pg_get_serial_sequence('tickets', 'id'), \
                 (SELECT MAX(id) FROM tickets) + 1000)",
            )
            .await
            .expect("setval");
        }
        let second = create_checked(&app, &token, "Export still does nothing").await;
        let bulk = if app.ctx.db.backend == DatabaseBackend::Postgres {
            assert!(second > first + BULK, "{second} is past the bulk rows");
            BULK
        } else {
            0
        };
        let after = total(app.get("/api/v1/stats", &token).await);
        assert_eq!(after - before, 2 + bulk, "counts kept by the triggers");
    }
);
