//! Live updates by server-sent events: the page subscribes to its ticket and hears `changed`
//! when the ticket or its thread moves, then re-fetches itself. Polling the row keeps this
//! correct across several server processes (no in-memory broadcast to keep in sync).

use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use std::convert::Infallible;
use std::time::Duration;

use super::session::Viewer;
use crate::app::AppState;
use crate::db::entities::message;
use crate::error::{Error, Result};
use crate::tickets::access;

/// GET `/live/{number}`: `changed` events for a ticket the viewer may see.
pub async fn ticket_events(
    State(s): State<AppState>,
    v: Viewer,
    Path(number): Path<String>,
) -> Result<Sse<impl Stream<Item = std::result::Result<Event, Infallible>>>> {
    let actor = v.actor.ok_or(Error::Unauthorized("sign in first".into()))?;
    let t = access::load(&s.ctx.db, &actor, &number).await?;
    let ctx = s.ctx.clone();
    let id = t.id;
    let stream =
        futures::stream::unfold((t.updated_at, None::<u64>), move |(mut seen, mut count)| {
            let ctx = ctx.clone();
            async move {
                loop {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    let updated = crate::db::entities::ticket::Entity::find_by_id(id)
                        .one(&ctx.db.read)
                        .await
                        .ok()
                        .flatten()
                        .map(|t| t.updated_at)?;
                    let n = message::Entity::find()
                        .filter(message::Column::TicketId.eq(id))
                        .count(&ctx.db.read)
                        .await
                        .ok();
                    let changed = updated != seen || (count.is_some() && n != count);
                    seen = updated;
                    count = n;
                    if changed {
                        let ev = Event::default().event("changed").data(updated.to_string());
                        return Some((Ok(ev), (seen, count)));
                    }
                }
            }
        });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
