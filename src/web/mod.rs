//! Server-rendered pages (askama), enhanced by one small JS module; every page works without
//! JavaScript. Pages call the same service functions as the API.

pub mod admin;
pub mod admin_articles;
pub mod admin_reports;
pub mod admin_sla;
pub mod admin_templates;
pub mod agent;
pub mod assets;
pub mod charts;
pub mod form;
pub mod help;
pub mod live;
pub mod markdown;
pub mod pages;
pub mod password;
pub mod portal;
pub mod public;
pub mod session;
pub mod thread;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use std::collections::BTreeMap;

use crate::app::AppState;
use crate::error::Error;
use session::Viewer;

/// What the shared layout needs.
pub struct Layout {
    /// Page title.
    pub title: String,
    /// `guest`, `customer`, `agent` or `admin`.
    pub role: &'static str,
    /// Signed-in name.
    pub user: String,
    /// CSRF token for the page's forms.
    pub csrf: String,
    /// Page id for the JS module.
    pub page: &'static str,
    /// One-off message.
    pub flash: Option<String>,
}

impl Layout {
    /// The layout for a viewer.
    pub fn new(v: &Viewer, title: impl Into<String>, page: &'static str) -> Layout {
        Layout {
            title: title.into(),
            role: v.role(),
            user: v.actor.as_ref().map(|a| a.name.clone()).unwrap_or_default(),
            csrf: v.csrf.clone(),
            page,
            flash: None,
        }
    }
}

/// Field errors for re-rendering a form.
#[derive(Default)]
pub struct FieldErrs {
    /// Per field.
    pub map: BTreeMap<String, Vec<String>>,
    /// Not tied to a field.
    pub general: String,
}

impl FieldErrs {
    /// Whether a field has an error.
    pub fn has(&self, f: &str) -> bool {
        self.map.contains_key(f)
    }
    /// The first error of a field ("" when none).
    pub fn first(&self, f: &str) -> String {
        self.map
            .get(f)
            .and_then(|v| v.first())
            .cloned()
            .unwrap_or_default()
    }
    /// From a domain error: field errors where there are some, else the message.
    pub fn from_error(e: &Error) -> FieldErrs {
        match e {
            Error::Validation { errors, message } => FieldErrs {
                map: errors.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                general: if errors.is_empty() {
                    message.clone()
                } else {
                    "Please correct the marked fields.".into()
                },
            },
            other => FieldErrs {
                map: BTreeMap::new(),
                general: other.to_string(),
            },
        }
    }
}

/// Renders a template into a page response with the viewer's cookies.
pub fn page(v: &Viewer, status: u16, t: &impl askama::Template) -> Response {
    let body = match t.render() {
        Ok(b) => b,
        Err(e) => return Error::Internal(anyhow::anyhow!("template: {e}")).into_response(),
    };
    let mut resp = (
        axum::http::StatusCode::from_u16(status).unwrap_or_default(),
        Html(body),
    )
        .into_response();
    for c in v.cookies() {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}

/// Who may see a page.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Any signed-in account.
    SignedIn,
    /// Agents and admins.
    Staff,
    /// Admins.
    Admin,
}

/// The viewer as an actor allowed on the page, or the redirect to send instead: guests to the
/// sign-in page (coming back afterwards), others to their own home.
pub fn guard(
    v: &Viewer,
    here: &str,
    need: Need,
) -> std::result::Result<crate::auth::Actor, Box<Response>> {
    let Some(a) = &v.actor else {
        return Err(Box::new(see_other(&format!(
            "/login?next={}",
            agent::urlencode(here)
        ))));
    };
    let allowed = match need {
        Need::SignedIn => true,
        Need::Staff => a.is_staff(),
        Need::Admin => a.is_admin(),
    };
    match (allowed, a.is_staff()) {
        (true, _) => Ok(a.clone()),
        (false, true) => Err(Box::new(see_other("/agent"))),
        (false, false) => Err(Box::new(see_other("/portal"))),
    }
}

/// `let a = require!(viewer, "/here", Need::Staff);` — returns the guard's redirect early.
macro_rules! require {
    ($v:expr, $here:expr, $need:expr) => {
        match $crate::web::guard(&$v, $here, $need) {
            Ok(a) => a,
            Err(r) => return Ok(*r),
        }
    };
}
pub(crate) use require;

/// What to tell the user after a form action: the success message, or the refusal in words;
/// storage and internal failures stay errors (an error page, logged).
pub fn said<T>(
    r: crate::error::Result<T>,
    ok: impl FnOnce(T) -> String,
) -> crate::error::Result<String> {
    Ok(refusal(r)?.map_or_else(|m| m, ok))
}

/// Separates a refusal the user should read (validation, conflict, not found…), as its
/// words, from a failure of the server, which stays an error (an error page, logged).
pub fn refusal<T>(
    r: crate::error::Result<T>,
) -> crate::error::Result<std::result::Result<T, String>> {
    match r {
        Ok(v) => Ok(Ok(v)),
        Err(e @ (crate::error::Error::Db(_) | crate::error::Error::Internal(_))) => Err(e),
        Err(e) => Ok(Err(agent::describe(&e))),
    }
}

/// A 303 redirect (after a successful POST).
pub fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// An error shown as a page.
#[derive(askama::Template)]
#[template(path = "error.html")]
struct ErrorPage {
    l: Layout,
    heading: String,
    message: String,
}

/// Turns the JSON error of a failed page request into an HTML page (same status).
pub async fn html_errors(resp: Response) -> Response {
    let status = resp.status();
    let json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|c| c.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || !json {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let message = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| "Something went wrong.".into());
    let heading = match status.as_u16() {
        404 => "Not found",
        403 => "Not allowed",
        401 => "Please sign in",
        429 => "Slow down",
        s if s >= 500 => "Something went wrong",
        _ => "That did not work",
    };
    let guest = Viewer {
        actor: None,
        csrf: String::new(),
        new_csrf: false,
        secure: false,
    };
    let page_view = ErrorPage {
        l: Layout::new(&guest, heading, "error"),
        heading: heading.into(),
        message,
    };
    let mut out = page(&guest, status.as_u16(), &page_view);
    for (k, v) in parts.headers.iter() {
        if k == header::RETRY_AFTER {
            out.headers_mut().insert(k.clone(), v.clone());
        }
    }
    out
}

/// Unknown paths: a page for browsers (they ask for text/html) outside `/api/`, the JSON
/// error for everyone else.
pub async fn not_found(uri: axum::http::Uri, headers: axum::http::HeaderMap) -> Response {
    let resp = Error::NotFound("route").into_response();
    let browser = headers
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if !browser || uri.path().starts_with("/api/") {
        return resp;
    }
    html_errors(resp).await
}

/// Security headers for every page: a CSP without inline script, no framing.
async fn page_headers(req: Request, next: Next) -> Response {
    let wants_html = !req.uri().path().starts_with("/live/")
        && !req.uri().path().starts_with("/files/")
        && req.headers().get("x-csrf-token").is_none();
    let mut resp = next.run(req).await;
    if wants_html {
        resp = html_errors(resp).await;
    }
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; media-src 'self' blob:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=()"),
    );
    resp
}

/// Every page route.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(public::form).post(public::submit))
        .route("/submitted/{number}", get(public::submitted))
        .route("/help", get(help::index))
        .route("/help/{slug}", get(help::article))
        .route("/track/{number}", get(public::track))
        .route("/track/{number}/reply", post(public::track_reply))
        .route("/track/{number}/rate", post(public::track_rate))
        .route("/login", get(pages::login_page).post(pages::login))
        .route("/logout", post(pages::logout))
        .route("/register", get(pages::register_page).post(pages::register))
        .route(
            "/forgot-password",
            get(password::forgot_page).post(password::forgot),
        )
        .route(
            "/reset-password",
            get(password::reset_page).post(password::reset),
        )
        .route("/files/{number}/{id}", get(pages::file))
        .route("/agent", get(agent::queue))
        .route("/agent/bulk", post(agent::bulk_action))
        .route("/agent/views", post(agent::save_view))
        .route("/agent/views/{id}/delete", post(agent::delete_view))
        .route("/agent/preview", post(agent::preview))
        .route("/agent/tickets/{number}", get(agent::ticket))
        .route("/agent/tickets/{number}/reply", post(agent::reply))
        .route(
            "/agent/tickets/{number}/template/{id}",
            get(agent::template_text),
        )
        .route("/agent/tickets/{number}/{action}", post(agent::action))
        .route("/live/{number}", get(live::ticket_events))
        .route("/admin", get(admin::dashboard))
        .route(
            "/admin/users",
            get(admin::users_page).post(admin::create_user),
        )
        .route("/admin/users/{id}", post(admin::update_user))
        .route(
            "/admin/categories",
            get(admin::categories_page).post(admin::create_category),
        )
        .route("/admin/categories/{id}", post(admin::update_category))
        .route(
            "/admin/templates",
            get(admin_templates::templates_page).post(admin_templates::save_template),
        )
        .route(
            "/admin/templates/{id}",
            post(admin_templates::save_template),
        )
        .route(
            "/admin/templates/{id}/delete",
            post(admin_templates::delete_template),
        )
        .route(
            "/admin/articles",
            get(admin_articles::articles_page).post(admin_articles::save_article),
        )
        .route("/admin/articles/{id}", post(admin_articles::save_article))
        .route(
            "/admin/articles/{id}/delete",
            post(admin_articles::delete_article),
        )
        .route("/admin/reports", get(admin_reports::reports_page))
        .route("/admin/reports/{file}", get(admin_reports::report_csv))
        .route("/admin/sla", get(admin_sla::page_sla))
        .route("/admin/sla/calendars", post(admin_sla::save_calendar))
        .route("/admin/sla/calendars/{id}", post(admin_sla::save_calendar))
        .route(
            "/admin/sla/calendars/{id}/delete",
            post(admin_sla::delete_calendar),
        )
        .route("/admin/sla/{priority}", post(admin_sla::save_policy))
        .route("/admin/notifications", get(admin::notifications))
        .route(
            "/admin/notifications/{id}/{action}",
            post(admin::delivery_action),
        )
        .route("/admin/export.csv", get(admin::export))
        .route("/portal", get(portal::home))
        .route("/portal/tickets/{number}", get(portal::ticket))
        .route("/portal/tickets/{number}/reply", post(portal::reply))
        .route("/portal/tickets/{number}/reopen", post(portal::reopen))
        .route("/portal/tickets/{number}/rate", post(portal::rate))
        .route("/assets/{*path}", get(assets::serve))
        .layer(axum::middleware::from_fn(page_headers))
}
