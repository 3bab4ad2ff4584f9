//! Per-IP rate limits on the unauthenticated endpoints that invite abuse: login, registration,
//! refresh (password guessing) and the public form (spam).

use axum::extract::{ConnectInfo, Request};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;

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

fn group(method: &Method, path: &str) -> Option<&'static str> {
    if method != Method::POST {
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

/// The 429 `RATE_LIMITED` answer (with `Retry-After`) for a request from `ip` whose bucket is
/// empty; `None` lets the request through.
pub async fn refusal(
    limits: &Limits,
    method: &Method,
    path: &str,
    ip: Option<IpAddr>,
) -> Option<Response> {
    let (g, ip) = (group(method, path)?, ip?);
    let not_until = limits.inner.check_key(&(ip, g)).err()?;
    let wait = not_until.wait_time_from(DefaultClock::default().now());
    tracing::warn!(%ip, group = g, "rate limited");
    let refused = Error::RateLimited {
        retry_after_secs: wait.as_secs().max(1),
    }
    .into_response();
    Some(if path.starts_with("/api/") {
        refused
    } else {
        // A page's form gets a page back, not JSON.
        crate::web::html_errors(refused).await
    })
}

/// The client's address, as the listener saw it.
pub fn client_ip(req: &Request) -> Option<IpAddr> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}
