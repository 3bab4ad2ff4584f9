//! Sign in, sign out, register, and file downloads for signed-in viewers.

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::Response;
use serde::Deserialize;
use std::collections::BTreeMap;

use super::form::WebForm;
use super::session::{SESSION, Viewer, cookie, set_cookie};
use super::{FieldErrs, Layout, page, see_other};
use crate::app::AppState;
use crate::auth::service as auth;
use crate::error::{Error, Result};
use crate::tickets::model::Role;

/// Sign-in and registration page.
#[derive(askama::Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    l: Layout,
    heading: &'static str,
    action: &'static str,
    register: bool,
    name: String,
    email: String,
    next: String,
    e: FieldErrs,
}

/// Sign-in or registration fields.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Credentials {
    /// Name (registration).
    pub name: String,
    /// E-mail.
    pub email: String,
    /// Password.
    pub password: String,
    /// Where to go afterwards.
    pub next: String,
}

fn login_view(v: &Viewer, register: bool, c: &Credentials, e: FieldErrs) -> LoginPage {
    let heading = if register {
        "Create an account"
    } else {
        "Sign in"
    };
    LoginPage {
        l: Layout::new(v, heading, "login"),
        heading,
        action: if register { "/register" } else { "/login" },
        register,
        name: c.name.clone(),
        email: c.email.clone(),
        next: c.next.clone(),
        e,
    }
}

/// Where a user lands after signing in.
fn home_for(role: Role) -> &'static str {
    match role {
        Role::Admin | Role::Agent => "/agent",
        Role::Customer => "/portal",
    }
}

/// Only local paths are followed after sign-in (no open redirect).
fn safe_next(next: &str) -> Option<&str> {
    (next.starts_with('/') && !next.starts_with("//") && !next.contains('\\')).then_some(next)
}

/// GET `/login`.
pub async fn login_page(v: Viewer, Query(q): Query<BTreeMap<String, String>>) -> Response {
    let c = Credentials {
        next: q.get("next").cloned().unwrap_or_default(),
        ..Default::default()
    };
    page(&v, 200, &login_view(&v, false, &c, FieldErrs::default()))
}

/// GET `/register`.
pub async fn register_page(v: Viewer) -> Response {
    page(
        &v,
        200,
        &login_view(&v, true, &Credentials::default(), FieldErrs::default()),
    )
}

fn signed_in(s: &AppState, v: &Viewer, token: &str, role: Role, next: &str) -> Response {
    let to = safe_next(next).unwrap_or(home_for(role));
    let mut resp = see_other(to);
    let secure = v.secure;
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SESSION, token, 14 * 86_400, "Lax", secure),
    );
    let _ = s;
    resp
}

/// POST `/login` (rate-limited with the API's login).
pub async fn login(
    State(s): State<AppState>,
    v: Viewer,
    WebForm { body: c, .. }: WebForm<Credentials>,
) -> Result<Response> {
    match auth::check_credentials(&s.ctx, &c.email, &c.password).await {
        Ok(u) => {
            let token = crate::auth::web_session::start(&s.ctx, u.id).await?;
            let role = Role::parse(&u.role).unwrap_or(Role::Customer);
            Ok(signed_in(&s, &v, &token, role, &c.next))
        }
        Err(Error::Unauthorized(m)) => {
            let e = FieldErrs {
                general: m,
                ..Default::default()
            };
            Ok(page(&v, 401, &login_view(&v, false, &c, e)))
        }
        Err(e) => Err(e),
    }
}

/// POST `/register`: a customer account, signed in at once.
pub async fn register(
    State(s): State<AppState>,
    v: Viewer,
    WebForm { body: c, .. }: WebForm<Credentials>,
) -> Result<Response> {
    match auth::register(&s.ctx, &c.email, &c.name, &c.password).await {
        Ok(pair) => {
            let token = crate::auth::web_session::start(&s.ctx, pair.user.id).await?;
            Ok(signed_in(&s, &v, &token, Role::Customer, "/portal"))
        }
        Err(e @ (Error::Validation { .. } | Error::Conflict(_))) => Ok(page(
            &v,
            400,
            &login_view(&v, true, &c, FieldErrs::from_error(&e)),
        )),
        Err(e) => Err(e),
    }
}

/// POST `/logout`.
pub async fn logout(
    State(s): State<AppState>,
    v: Viewer,
    req_headers: axum::http::HeaderMap,
    WebForm { .. }: WebForm<serde_json::Value>,
) -> Result<Response> {
    if let Some(token) = cookie(&req_headers, SESSION) {
        crate::auth::web_session::end(&s.ctx, &token).await?;
    }
    let mut resp = see_other("/login");
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SESSION, "", 0, "Lax", v.secure),
    );
    Ok(resp)
}

/// GET `/files/{number}/{id}`: an attachment for the signed-in viewer.
pub async fn file(
    State(s): State<AppState>,
    v: Viewer,
    Path((number, id)): Path<(String, i64)>,
) -> Result<Response> {
    let actor = v.actor.ok_or(Error::NotFound("attachment"))?;
    crate::api::files::serve(&s, &actor, &number, id).await
}
