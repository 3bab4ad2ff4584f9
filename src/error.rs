//! Domain errors, and the one place they become HTTP statuses and the spec's JSON error shape.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::collections::BTreeMap;

/// Field name → messages, reported all at once.
pub type FieldErrors = BTreeMap<String, Vec<String>>;

/// Every failure a capability can report.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input broke one or more rules.
    #[error("{message}")]
    Validation {
        /// Summary line.
        message: String,
        /// Every offending field.
        errors: FieldErrors,
    },
    /// Missing, bad or expired credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// Authenticated but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// The thing does not exist, or the caller may not know it exists.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request clashes with the current state (duplicate, in use…).
    #[error("{0}")]
    Conflict(String),
    /// A status change the workflow does not allow.
    #[error("cannot change status from {from} to {to}")]
    InvalidTransition {
        /// Current status.
        from: String,
        /// Requested status.
        to: String,
        /// Statuses reachable from `from`.
        allowed: Vec<&'static str>,
    },
    /// Body or file over the configured limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// Too many attempts from one client; retry after the given seconds.
    #[error("too many requests; retry in {retry_after_secs} s")]
    RateLimited {
        /// Seconds until a retry can succeed.
        retry_after_secs: u64,
    },
    /// Wrong request framing (method, media type) with an explicit status and code.
    #[error("{message}")]
    Request {
        /// HTTP status to answer with.
        status: u16,
        /// Machine-readable code.
        code: &'static str,
        /// Human-readable message.
        message: String,
    },
    /// Storage failure.
    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
    /// Anything else unexpected.
    #[error("internal error: {0}")]
    Internal(#[from] anyhow::Error),
}

/// Result alias used by every capability.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A validation error on one field.
    pub fn field(field: &str, msg: impl Into<String>) -> Error {
        let mut errors = FieldErrors::new();
        errors.insert(field.to_string(), vec![msg.into()]);
        Error::Validation {
            message: "Validation failed".into(),
            errors,
        }
    }

    /// A validation error from collected field errors, or `Ok` when there are none.
    pub fn check(errors: FieldErrors) -> Result<()> {
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation {
                message: "Validation failed".into(),
                errors,
            })
        }
    }

    /// A bad request with a message and no field.
    pub fn bad_request(msg: impl Into<String>) -> Error {
        Error::Request {
            status: 400,
            code: "VALIDATION_ERROR",
            message: msg.into(),
        }
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Error::Validation { .. } => (StatusCode::BAD_REQUEST, "VALIDATION_ERROR"),
            Error::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "UNAUTHORIZED"),
            Error::Forbidden(_) => (StatusCode::FORBIDDEN, "FORBIDDEN"),
            Error::NotFound(_) => (StatusCode::NOT_FOUND, "NOT_FOUND"),
            Error::Conflict(_) => (StatusCode::CONFLICT, "CONFLICT"),
            Error::InvalidTransition { .. } => (StatusCode::CONFLICT, "INVALID_TRANSITION"),
            Error::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE"),
            Error::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED"),
            Error::Request { status, code, .. } => (
                StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_REQUEST),
                code,
            ),
            Error::Db(_) | Error::Internal(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR")
            }
        }
    }
}

/// Adds a message to a field in a collection of field errors.
pub fn push(errors: &mut FieldErrors, field: &str, msg: impl Into<String>) {
    errors
        .entry(field.to_string())
        .or_default()
        .push(msg.into());
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let body = match &self {
            Error::Validation { message, errors } => {
                json!({"status": "error", "message": message, "code": code, "errors": errors})
            }
            Error::InvalidTransition { allowed, .. } => json!({
                "status": "error",
                "message": format!("{self}; allowed next statuses: {}", if allowed.is_empty() { "none".to_string() } else { allowed.join(", ") }),
                "code": code,
                "allowed": allowed,
            }),
            Error::Db(_) | Error::Internal(_) => {
                // Logged once here (inside the request span, so with its request id); never shown.
                tracing::error!(error = %self, "request failed");
                json!({"status": "error", "message": "An internal error occurred", "code": code})
            }
            other => json!({"status": "error", "message": other.to_string(), "code": code}),
        };
        let mut res = (status, axum::Json(body)).into_response();
        if let Error::RateLimited { retry_after_secs } = self
            && let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        res
    }
}
