//! JSON responses serialised into one buffer sized for them. axum's `Json` writes through
//! `BytesMut`'s `io::Write` from 128 bytes up: a list page (~54 KB) grew it nine times, and
//! each of the many small pieces serde_json writes was a `put_slice` call of its own. In the
//! PostgreSQL list scenario that was about a tenth of the server's CPU.
//!
//! The writer is sonic-rs: the same text as serde_json (a test holds it to that), but it
//! scans strings for characters to escape many bytes at a time, where serde_json looks at
//! each byte. Escaping was ~20 % of the server's instructions for a list page.

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// A JSON response body (the drop-in for `axum::Json` on the way out).
pub struct Json<T>(pub T);

/// The buffer's first size: most responses fit, and a full list page grows it three times.
const FIRST_BUFFER: usize = 8 * 1024;

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        let mut buf = Vec::with_capacity(FIRST_BUFFER);
        match sonic_rs::to_writer(&mut buf, &self.0) {
            Ok(()) => (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                Body::from(buf),
            )
                .into_response(),
            Err(e) => {
                crate::error::Error::Internal(anyhow::anyhow!("JSON response: {e}")).into_response()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writes_the_value_as_json_with_its_content_type() {
        let value = serde_json::json!({"data": [{"id": 1, "subject": "Größe \"quoted\""}], "next_cursor": null});
        let res = Json(&value).into_response();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
        let body = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .expect("body");
        let back: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(back, value);
    }

    #[tokio::test]
    async fn bodies_are_byte_for_byte_what_serde_json_writes() {
        // Clients and tests compare bodies with serde_json's text: escapes, numbers and key
        // order must not change with the writer.
        let value = serde_json::json!({
            "text": "tab\t \"q\" \\ </script> \u{1}\u{1f}\u{7f} \u{2028} ünï 🎉 \r\n",
            "numbers": [0, -1, i64::MAX, u64::MAX, 0.1, 1.5, -2.5e-8, 1e21, 123456789.125],
            "empty": {}, "none": null, "flags": [true, false],
            "nested": {"z": [{"b": 1, "a": 2}], "a": ""},
        });
        #[derive(Serialize)]
        struct View<'a> {
            id: i64,
            subject: &'a str,
            due: Option<String>,
            score: f64,
            tags: Vec<&'a str>,
        }
        let view = View {
            id: 7,
            subject: "Größe \"x\"\u{0}",
            due: None,
            score: 4.25,
            tags: vec!["a", "b\nc"],
        };
        for (got, want) in [
            (Json(&value).into_response(), serde_json::to_vec(&value)),
            (Json(&view).into_response(), serde_json::to_vec(&view)),
        ] {
            let body = axum::body::to_bytes(got.into_body(), usize::MAX)
                .await
                .expect("body");
            let want = want.expect("serde_json");
            assert_eq!(
                String::from_utf8_lossy(&body),
                String::from_utf8_lossy(&want)
            );
        }
    }

    #[tokio::test]
    async fn a_value_that_cannot_be_written_is_the_api_error_shape() {
        // JSON object keys must be strings: a map keyed by pairs cannot be written.
        let bad: std::collections::BTreeMap<(i32, i32), i32> = [((1, 2), 3)].into();
        let res = Json(bad).into_response();
        assert_eq!(res.status(), 500);
        let body = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .expect("body");
        let err: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(err["status"], "error");
        assert_eq!(err["code"], "INTERNAL_ERROR");
    }
}
