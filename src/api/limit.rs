//! Per-IP rate limits on the unauthenticated endpoints that invite abuse: login, registration,
//! refresh (password guessing) and the public form (spam).

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;

use crate::app::AppState;
use crate::error::Error;

/// Keyed limiters: one bucket per (client IP, endpoint group).
#[derive(Clone)]
pub struct Limits {
    inner: Arc<DefaultKeyedRateLimiter<(IpAddr, &'static str)>>,
}

impl Limits {
    /// Allows `per_minute` requests a minute per key, with the same burst.
    pub fn new(per_minute: u32) -> Limits {
        let n = NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        Limits {
            inner: Arc::new(RateLimiter::keyed(Quota::per_minute(n))),
        }
    }

    /// Forgets idle keys so the table does not grow without bound.
    pub fn prune(&self) {
        self.inner.retain_recent();
    }
}

fn group(method: &axum::http::Method, path: &str) -> Option<&'static str> {
    if method != axum::http::Method::POST {
        return None;
    }
    match path {
        "/api/v1/auth/login"
        | "/api/v1/auth/register"
        | "/api/v1/auth/refresh"
        | "/api/v1/auth/password/forgot"
        | "/api/v1/auth/password/reset"
        | "/login"
        | "/register"
        | "/forgot-password"
        | "/reset-password" => Some("auth"),
        "/api/v1/tickets/submit" | "/" => Some("submit"),
        _ => None,
    }
}

/// Middleware: answers 429 `RATE_LIMITED` with `Retry-After` once a client's bucket is empty.
pub async fn limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(g) = group(req.method(), req.uri().path()) else {
        return next.run(req).await;
    };
    let Some(ip) = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
    else {
        return next.run(req).await;
    };
    match state.limits.inner.check_key(&(ip, g)) {
        Ok(()) => next.run(req).await,
        Err(not_until) => {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            tracing::warn!(%ip, group = g, "rate limited");
            let refused = Error::RateLimited {
                retry_after_secs: wait.as_secs().max(1),
            }
            .into_response();
            if req.uri().path().starts_with("/api/") {
                refused
            } else {
                // A page's form gets a page back, not JSON.
                crate::web::html_errors(refused).await
            }
        }
    }
}
