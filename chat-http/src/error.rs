//! Errors as HTTP responses: `{"error": {"code", "message", "field"?, "retry_after_ms"?}}`.
//!
//! The status and code come from [`chat_core::Error`]. A 5xx body never carries detail: the
//! detail is logged with the request id, and the client gets a generic message.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chat_core::Error;
use serde::Serialize;

/// A [`chat_core::Error`] on its way to becoming a response.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        Self(e)
    }
}

/// The error body's inner object.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The stable code, such as `rate_limited`.
    #[schema(value_type = String)]
    pub code: &'static str,
    /// A message for people.
    pub message: String,
    /// The offending input, for validation errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// How long to wait, for rate-limit errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

impl ErrorBody {
    /// The body for an error, with internal detail removed.
    #[must_use]
    pub fn of(err: &Error) -> Self {
        let message = match err {
            Error::Internal { .. } => "internal error".to_owned(),
            Error::Unavailable { .. } => "service unavailable, retry later".to_owned(),
            other => other.to_string(),
        };
        Self {
            code: err.code(),
            message,
            field: match err {
                Error::Validation { field, .. } => Some(field.clone()),
                _ => None,
            },
            retry_after_ms: match err {
                Error::RateLimited { retry_after } => {
                    Some(u64::try_from(retry_after.as_millis()).unwrap_or(u64::MAX))
                }
                _ => None,
            },
        }
    }
}

/// Every error response: `{"error": {...}}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorEnvelope {
    /// What went wrong.
    pub error: ErrorBody,
}

/// A JSON error response with any status and code (for errors outside the core's taxonomy,
/// such as an unknown method).
pub(crate) fn error_response(status: StatusCode, code: &'static str, message: &str) -> Response {
    let body = ErrorBody {
        code,
        message: message.to_owned(),
        field: None,
        retry_after_ms: None,
    };
    (status, Json(ErrorEnvelope { error: body })).into_response()
}

/// The HTTP status of each error (the design's table). The core's errors are the transport's
/// to map: chat-core knows nothing of HTTP.
#[must_use]
pub fn status_of(err: &Error) -> StatusCode {
    match err {
        Error::Validation { .. } => StatusCode::BAD_REQUEST,
        Error::Unauthenticated => StatusCode::UNAUTHORIZED,
        Error::Forbidden { .. } => StatusCode::FORBIDDEN,
        Error::NotFound { .. } => StatusCode::NOT_FOUND,
        Error::Conflict { .. } => StatusCode::CONFLICT,
        Error::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        Error::UnsupportedType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Error::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        Error::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        // Internal, and any variant a later core adds before this table knows it.
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The `Retry-After` of a 503.
const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 1;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let err = self.0;
        let status = status_of(&err);
        if status.is_server_error() {
            // The request span carries the request id; the source chain goes to the log only.
            tracing::error!(error = %err, source = ?std::error::Error::source(&err), "request failed");
        }
        let retry_after = match &err {
            Error::RateLimited { retry_after } => Some(retry_after.as_secs_f64().ceil() as u64),
            // The store is down or overloaded: a retry in a second is cheap for everyone, and
            // sends are safe to retry with the same client_msg_id.
            Error::Unavailable { .. } => Some(UNAVAILABLE_RETRY_AFTER_SECS),
            _ => None,
        };
        let mut response = (
            status,
            Json(ErrorEnvelope {
                error: ErrorBody::of(&err),
            }),
        )
            .into_response();
        if let Some(secs) = retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        Self(match r {
            JsonRejection::MissingJsonContentType(_) => Error::UnsupportedType {
                reason: "expected Content-Type: application/json".into(),
            },
            JsonRejection::JsonSyntaxError(e) => {
                Error::validation("body", format!("malformed JSON: {}", e.body_text()))
            }
            JsonRejection::JsonDataError(e) => Error::validation("body", e.body_text()),
            JsonRejection::BytesRejection(e) => {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    Error::TooLarge {
                        reason: "request body exceeds the limit".into(),
                    }
                } else {
                    Error::validation("body", e.body_text())
                }
            }
            other => Error::validation("body", other.body_text()),
        })
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        Self(Error::validation("path", r.body_text()))
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        Self(Error::validation("query", r.body_text()))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn statuses_follow_the_design_table() {
        let cases = [
            (Error::validation("text", "too long"), 400),
            (Error::Unauthenticated, 401),
            (Error::Forbidden { reason: "x" }, 403),
            (Error::NotFound { what: "room" }, 404),
            (Error::conflict("x"), 409),
            (Error::TooLarge { reason: "x".into() }, 413),
            (Error::UnsupportedType { reason: "x".into() }, 415),
            (
                Error::RateLimited {
                    retry_after: Duration::from_secs(1),
                },
                429,
            ),
            (Error::unavailable(std::io::Error::other("db")), 503),
            (Error::internal(std::io::Error::other("bug")), 500),
        ];
        for (err, status) in cases {
            assert_eq!(status_of(&err).as_u16(), status, "{err:?}");
        }
    }
}
