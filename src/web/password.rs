//! Forgotten password: ask for a link, then set a new password with it.

use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;

use super::form::WebForm;
use super::session::Viewer;
use super::{FieldErrs, Layout, page};
use crate::app::AppState;
use crate::error::{Error, Result};

/// Both password pages.
#[derive(askama::Template)]
#[template(path = "password.html")]
pub struct PasswordPage {
    l: Layout,
    heading: &'static str,
    action: &'static str,
    reset: bool,
    token: String,
    done: bool,
    message: String,
    e: FieldErrs,
}

fn view(
    v: &Viewer,
    reset: bool,
    token: String,
    done: Option<String>,
    e: FieldErrs,
) -> PasswordPage {
    let heading = if reset {
        "Choose a new password"
    } else {
        "Reset your password"
    };
    PasswordPage {
        l: Layout::new(v, heading, "password"),
        heading,
        action: if reset {
            "/reset-password"
        } else {
            "/forgot-password"
        },
        reset,
        token,
        done: done.is_some(),
        message: done.unwrap_or_default(),
        e,
    }
}

/// Fields of both forms.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PasswordForm {
    email: String,
    token: String,
    password: String,
}

/// GET `/forgot-password`.
pub async fn forgot_page(v: Viewer) -> Response {
    page(
        &v,
        200,
        &view(&v, false, String::new(), None, FieldErrs::default()),
    )
}

/// POST `/forgot-password`: always the same answer, whether or not the address has an account.
pub async fn forgot(
    State(s): State<AppState>,
    v: Viewer,
    WebForm { body: f, .. }: WebForm<PasswordForm>,
) -> Result<Response> {
    match crate::auth::reset::request(&s.ctx, &f.email).await {
        Ok(()) => {
            let msg =
                "If the address has an account, a link to choose a new password is on its way."
                    .to_string();
            Ok(page(
                &v,
                200,
                &view(&v, false, String::new(), Some(msg), FieldErrs::default()),
            ))
        }
        Err(e @ Error::Validation { .. }) => Ok(page(
            &v,
            400,
            &view(&v, false, String::new(), None, FieldErrs::from_error(&e)),
        )),
        Err(e) => Err(e),
    }
}

/// Token in the reset link.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TokenQuery {
    token: String,
}

/// GET `/reset-password?token=`.
pub async fn reset_page(v: Viewer, Query(q): Query<TokenQuery>) -> Response {
    page(
        &v,
        200,
        &view(&v, true, q.token, None, FieldErrs::default()),
    )
}

/// POST `/reset-password`.
pub async fn reset(
    State(s): State<AppState>,
    v: Viewer,
    WebForm { body: f, .. }: WebForm<PasswordForm>,
) -> Result<Response> {
    match crate::auth::reset::complete(&s.ctx, &f.token, &f.password).await {
        Ok(()) => {
            let msg = "Your password is changed and every session was signed out. Sign in with the new password.".to_string();
            Ok(page(
                &v,
                200,
                &view(&v, true, String::new(), Some(msg), FieldErrs::default()),
            ))
        }
        Err(e @ Error::Validation { .. }) => Ok(page(
            &v,
            400,
            &view(&v, true, f.token, None, FieldErrs::from_error(&e)),
        )),
        Err(e) => Err(e),
    }
}
