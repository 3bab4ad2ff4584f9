//! Form bodies of the pages: urlencoded or multipart (with files), always with a CSRF token
//! that must match the CSRF cookie (double submit; the cookie is SameSite=Strict and the
//! request's Origin, when sent, must be this site).

use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::de::DeserializeOwned;

use super::session::{CSRF, cookie};
use crate::api::upload::JsonOrForm;
use crate::app::AppState;
use crate::attachments::NewAttachment;
use crate::error::Error;

/// A checked form submission.
pub struct WebForm<T> {
    /// Fields.
    pub body: T,
    /// Uploaded files (multipart forms).
    pub files: Vec<NewAttachment>,
}

fn same_origin(req: &Request, base: &str) -> bool {
    match req
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
    {
        None | Some("null") => true,
        Some(origin) => {
            let host = req
                .headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("");
            origin == base
                || origin.strip_prefix("http://").is_some_and(|o| o == host)
                || origin.strip_prefix("https://").is_some_and(|o| o == host)
        }
    }
}

impl<T: DeserializeOwned> FromRequest<AppState> for WebForm<T> {
    type Rejection = Error;

    async fn from_request(req: Request, s: &AppState) -> Result<Self, Self::Rejection> {
        let forbidden = || {
            Error::Forbidden(
                "the form expired or came from another site; reload the page and try again".into(),
            )
        };
        if !same_origin(&req, &s.ctx.config.public_base_url()) {
            return Err(forbidden());
        }
        let expected = cookie(req.headers(), CSRF).ok_or_else(forbidden)?;
        let header_token = req
            .headers()
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let ctype = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let (mut value, files) = if ctype.starts_with("multipart/form-data") {
            let JsonOrForm { body, files } =
                JsonOrForm::<serde_json::Value>::from_request(req, s).await?;
            (body, files)
        } else {
            let bytes = axum::body::to_bytes(req.into_body(), s.ctx.config.max_body_bytes)
                .await
                .map_err(|_| {
                    Error::PayloadTooLarge("form is larger than the configured limit".into())
                })?;
            let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes)
                .map_err(|e| Error::bad_request(format!("unreadable form: {e}")))?;
            let mut map = serde_json::Map::new();
            for (k, v) in pairs {
                crate::api::upload::insert_field(&mut map, &k, v);
            }
            (serde_json::Value::Object(map), Vec::new())
        };
        let sent = value
            .get("_csrf")
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .or(header_token)
            .ok_or_else(forbidden)?;
        if !constant_eq(sent.as_bytes(), expected.as_bytes()) {
            return Err(forbidden());
        }
        if let Some(m) = value.as_object_mut() {
            m.remove("_csrf");
        }
        let body = serde_json::from_value(value)
            .map_err(|e| Error::bad_request(format!("invalid form: {e}")))?;
        Ok(WebForm { body, files })
    }
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
