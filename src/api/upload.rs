//! `JsonOrForm<T>`: the same request body as JSON, or as `multipart/form-data` with the JSON
//! fields as text fields and files in the repeatable field `attachments` (streamed to disk,
//! never buffered whole). Size rules: JSON bodies the configured body limit; each file the
//! attachment limit; at most N files.

use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::app::AppState;
use crate::attachments::NewAttachment;
use crate::attachments::upload::{UploadError, store_stream};
use crate::error::{Error, FieldErrors};

/// A decoded body plus the files that came with it.
pub struct JsonOrForm<T> {
    /// The fields.
    pub body: T,
    /// Stored uploads, in order.
    pub files: Vec<NewAttachment>,
}

/// Form fields that are not strings in the JSON shape.
const BOOLEANS: &[&str] = &["internal"];
const INTEGERS: &[&str] = &["requester_id", "template_id", "conversation_id"];
const LISTS: &[&str] = &["tags", "ids"];

impl<T: DeserializeOwned> FromRequest<AppState> for JsonOrForm<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let ctype = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        if ctype.starts_with("multipart/form-data") {
            return from_multipart(req, &ctype, state).await;
        }
        let super::extract::ApiJson(body) =
            super::extract::ApiJson::<T>::from_request(req, state).await?;
        Ok(JsonOrForm {
            body,
            files: Vec::new(),
        })
    }
}

async fn from_multipart<T: DeserializeOwned>(
    req: Request,
    ctype: &str,
    state: &AppState,
) -> Result<JsonOrForm<T>, Error> {
    let cfg = &state.ctx.config;
    let boundary = multer::parse_boundary(ctype)
        .map_err(|_| Error::bad_request("multipart body without a boundary"))?;
    let stream = req.into_body().into_data_stream();
    let mut mp = multer::Multipart::new(stream, boundary);
    let mut fields = Map::new();
    let mut files = Vec::new();
    let mut errors = FieldErrors::new();
    let mut text_bytes = 0usize;
    loop {
        let field = match mp.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return Err(Error::bad_request(format!("malformed multipart body: {e}"))),
        };
        let name = field.name().unwrap_or("").to_string();
        if name == "attachments" || field.file_name().is_some() {
            let filename = crate::mail::parse::sanitize_filename(field.file_name().unwrap_or(""));
            if files.len() >= cfg.max_attachments {
                // Stop reading: the rest of a too-large request is never buffered.
                return Err(Error::field(
                    "attachments",
                    format!("at most {} files per message", cfg.max_attachments),
                ));
            }
            let declared = field.content_type().map(|m| m.to_string());
            let filename = if filename.is_empty() {
                "upload".to_string()
            } else {
                filename
            };
            match store_stream(
                &state.ctx.blobs,
                &filename,
                declared.as_deref(),
                field,
                cfg.max_attachment_bytes,
            )
            .await
            {
                Ok(f) => files.push(f),
                Err(UploadError::TooLarge(m)) => return Err(Error::PayloadTooLarge(m)),
                Err(UploadError::Refused(m)) => crate::error::push(&mut errors, "attachments", m),
                // An empty file input in a plain HTML form still sends a part.
                Err(UploadError::Empty) => {}
                Err(UploadError::Body(m)) => {
                    return Err(Error::bad_request(format!("upload broke off: {m}")));
                }
                Err(UploadError::Io(e)) => return Err(Error::Internal(e.into())),
            }
            continue;
        }
        let text = field
            .text()
            .await
            .map_err(|e| Error::bad_request(format!("unreadable field {name}: {e}")))?;
        text_bytes += text.len();
        if text_bytes > cfg.max_body_bytes {
            return Err(Error::PayloadTooLarge(
                "form fields are larger than the configured limit".into(),
            ));
        }
        insert_field(&mut fields, &name, text);
    }
    Error::check(errors)?;
    let body = serde_json::from_value(Value::Object(fields))
        .map_err(|e| Error::bad_request(format!("invalid form: {e}")))?;
    Ok(JsonOrForm { body, files })
}

/// Puts a text field into the JSON shape: `a[b]` nests, booleans/integers/lists convert.
pub fn insert_field(fields: &mut Map<String, Value>, name: &str, text: String) {
    if let Some((outer, rest)) = name.split_once('[') {
        let inner = rest.trim_end_matches(']');
        let entry = fields
            .entry(outer.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(m) = entry {
            m.insert(inner.to_string(), Value::String(text));
        }
        return;
    }
    let value = if BOOLEANS.contains(&name) {
        Value::Bool(matches!(text.trim(), "true" | "on" | "1" | "yes"))
    } else if INTEGERS.contains(&name) {
        if text.trim().is_empty() {
            return;
        }
        text.trim()
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or(Value::String(text))
    } else if LISTS.contains(&name) {
        let mut list = match fields.remove(name) {
            Some(Value::Array(a)) => a,
            _ => Vec::new(),
        };
        list.extend(
            text.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_string())),
        );
        Value::Array(list)
    } else if text.is_empty() && fields.contains_key(name) {
        return;
    } else {
        Value::String(text)
    };
    fields.insert(name.to_string(), value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_fields_take_the_json_shape() {
        let mut m = Map::new();
        insert_field(&mut m, "subject", "Hi".into());
        insert_field(&mut m, "internal", "on".into());
        insert_field(&mut m, "requester_id", "7".into());
        insert_field(&mut m, "tags", "a, b".into());
        insert_field(&mut m, "tags", "c".into());
        insert_field(&mut m, "requester[name]", "Ada".into());
        insert_field(&mut m, "template_id", "".into());
        assert_eq!(
            Value::Object(m),
            serde_json::json!({"subject": "Hi", "internal": true, "requester_id": 7,
                "tags": ["a", "b", "c"], "requester": {"name": "Ada"}})
        );
    }
}
