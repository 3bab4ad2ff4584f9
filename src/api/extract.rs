//! Request extractors that turn every rejection into the spec's JSON error.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use crate::app::AppState;
use crate::auth::Actor;
use crate::auth::caller::Caller;
use crate::error::Error;

/// The authenticated caller (401 when missing or invalid).
pub struct Auth(pub Actor);

impl FromRequestParts<AppState> for Auth {
    type Rejection = Error;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Bearer(caller) = Bearer::from_request_parts(parts, state).await?;
        crate::auth::caller::actor(&state.ctx, &caller)
            .await
            .map(Auth)
    }
}

/// A caller whose credential is valid on its face (401 otherwise) and whose account the
/// handler reads along with its data (`auth::caller::read_as`).
pub struct Bearer(pub Caller);

impl FromRequestParts<AppState> for Bearer {
    type Rejection = Error;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| Error::Unauthorized("missing Authorization: Bearer token".into()))?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                Error::Unauthorized("Authorization header must be 'Bearer <token>'".into())
            })?;
        crate::auth::caller::caller(&state.ctx, token).map(Bearer)
    }
}

/// A JSON body; wrong content type, syntax, shape and size each get their own clear error.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rej) => Err(json_rejection(rej)),
        }
    }
}

fn json_rejection(rej: JsonRejection) -> Error {
    match rej {
        JsonRejection::MissingJsonContentType(_) => Error::Request {
            status: 415,
            code: "UNSUPPORTED_MEDIA_TYPE",
            message: "expected Content-Type: application/json".into(),
        },
        JsonRejection::JsonSyntaxError(e) => {
            Error::bad_request(format!("malformed JSON: {}", e.body_text()))
        }
        JsonRejection::JsonDataError(e) => {
            Error::bad_request(format!("invalid request body: {}", e.body_text()))
        }
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            Error::PayloadTooLarge("request body is larger than the configured limit".into())
        }
        other => Error::bad_request(other.body_text()),
    }
}

/// Query-string parameters.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|e: QueryRejection| {
                Error::bad_request(format!("invalid query string: {}", e.body_text()))
            })
    }
}

/// Path parameters; an id that does not parse names nothing that exists.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|_: PathRejection| Error::NotFound("resource"))
    }
}

impl axum::extract::OptionalFromRequestParts<AppState> for Auth {
    type Rejection = Error;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, Self::Rejection> {
        if parts.headers.contains_key(header::AUTHORIZATION) {
            <Auth as FromRequestParts<AppState>>::from_request_parts(parts, state)
                .await
                .map(Some)
        } else {
            Ok(None)
        }
    }
}
