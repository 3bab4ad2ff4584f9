//! Who is looking at a page: the session cookie resolved to an actor, plus the CSRF token
//! every form on the page must send back.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};

use crate::app::AppState;
use crate::auth::Actor;
use crate::auth::tokens::random_token;
use crate::error::Error;

/// Session cookie name.
pub const SESSION: &str = "triage_session";
/// CSRF cookie name (double-submit: forms echo its value in `_csrf`).
pub const CSRF: &str = "triage_csrf";

/// The viewer of a page.
#[derive(Clone)]
pub struct Viewer {
    /// Signed-in actor, if any.
    pub actor: Option<Actor>,
    /// Token the page's forms carry.
    pub csrf: String,
    /// The CSRF cookie must be (re)set on the response.
    pub new_csrf: bool,
    /// Cookies are marked `Secure` (the public URL is https).
    pub secure: bool,
}

/// Reads one cookie from the request headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
        .filter(|v| !v.is_empty())
}

/// A `Set-Cookie` value: HttpOnly, SameSite, Path=/, Secure behind https.
pub fn set_cookie(
    name: &str,
    value: &str,
    max_age_secs: i64,
    same_site: &str,
    secure: bool,
) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite={same_site}; Max-Age={max_age_secs}{secure}"
    ))
    .unwrap_or(HeaderValue::from_static(""))
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Self::Rejection> {
        let secure = s.ctx.config.public_base_url().starts_with("https://");
        let actor = match cookie(&parts.headers, SESSION) {
            Some(token) => crate::auth::web_session::resolve(&s.ctx, &token).await?,
            None => None,
        };
        let (csrf, new_csrf) = match cookie(&parts.headers, CSRF) {
            Some(c) if c.len() >= 32 => (c, false),
            _ => (random_token(), true),
        };
        Ok(Viewer {
            actor,
            csrf,
            new_csrf,
            secure,
        })
    }
}

impl Viewer {
    /// Headers to add to a page response (the CSRF cookie on first visit).
    pub fn cookies(&self) -> Vec<HeaderValue> {
        if self.new_csrf {
            vec![set_cookie(
                CSRF,
                &self.csrf,
                86_400 * 30,
                "Strict",
                self.secure,
            )]
        } else {
            Vec::new()
        }
    }

    /// Role name for the layout (`guest` when signed out).
    pub fn role(&self) -> &'static str {
        match &self.actor {
            None => "guest",
            Some(a) if a.is_admin() => "admin",
            Some(a) if a.is_staff() => "agent",
            Some(_) => "customer",
        }
    }
}
