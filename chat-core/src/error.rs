//! The one error type of chat-engine. Every variant has a stable machine-readable
//! [`code`](Error::code) and an HTTP status, so every transport reports failures the same way.

use std::time::Duration;

/// A boxed error that keeps its source chain.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Shorthand for results in chat-engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong, from bad input to a lost database.
///
/// Match on the variant, not on the message: the variants and their [`code`](Error::code)s
/// are the contract; the messages are for people.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is invalid. `field` names the offending input; `reason` says why.
    #[error("invalid {field}: {reason}")]
    Validation {
        /// The input field, such as `text` or `attachment_ids[2]`.
        field: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The caller is not authenticated.
    #[error("authentication required")]
    Unauthenticated,
    /// The caller may see the thing but not do this to it.
    #[error("forbidden: {reason}")]
    Forbidden {
        /// What rule refused the action.
        reason: &'static str,
    },
    /// The thing does not exist, or the caller may not know that it does.
    #[error("{what} not found")]
    NotFound {
        /// What kind of thing was looked for, such as `room`.
        what: &'static str,
    },
    /// The request conflicts with the current state.
    #[error("conflict: {reason}")]
    Conflict {
        /// What it conflicts with.
        reason: String,
    },
    /// A body or frame exceeds its size limit.
    #[error("payload too large: {reason}")]
    PayloadTooLarge {
        /// Which limit was exceeded.
        reason: String,
    },
    /// The request's content type is not one this endpoint accepts.
    #[error("unsupported media type: {reason}")]
    UnsupportedMediaType {
        /// What was expected.
        reason: String,
    },
    /// Too many requests; try again after `retry_after`.
    #[error("rate limit exceeded; retry after {} ms", retry_after.as_millis())]
    RateLimited {
        /// How long to wait before the same request can succeed.
        retry_after: Duration,
    },
    /// A dependency (such as the database) is unavailable. Retrying later may succeed.
    #[error("service unavailable")]
    Unavailable {
        /// The underlying failure.
        #[source]
        source: BoxError,
    },
    /// A bug or an unexpected failure. Transports log the source and return no detail.
    #[error("internal error")]
    Internal {
        /// The underlying failure.
        #[source]
        source: BoxError,
    },
}

impl Error {
    /// A [`Error::Validation`] for `field`.
    pub fn validation(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Validation {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// A [`Error::Conflict`].
    pub fn conflict(reason: impl Into<String>) -> Self {
        Self::Conflict {
            reason: reason.into(),
        }
    }

    /// An [`Error::Internal`] wrapping `source`.
    pub fn internal(source: impl Into<BoxError>) -> Self {
        Self::Internal {
            source: source.into(),
        }
    }

    /// An [`Error::Unavailable`] wrapping `source`.
    pub fn unavailable(source: impl Into<BoxError>) -> Self {
        Self::Unavailable {
            source: source.into(),
        }
    }

    /// The stable, machine-readable code of this error.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Validation { .. } => "validation",
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden { .. } => "forbidden",
            Self::NotFound { .. } => "not_found",
            Self::Conflict { .. } => "conflict",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::UnsupportedMediaType { .. } => "unsupported_media_type",
            Self::RateLimited { .. } => "rate_limited",
            Self::Unavailable { .. } => "unavailable",
            Self::Internal { .. } => "internal",
        }
    }

    /// The HTTP status this error maps to.
    #[must_use]
    pub fn http_status(&self) -> u16 {
        match self {
            Self::Validation { .. } => 400,
            Self::Unauthenticated => 401,
            Self::Forbidden { .. } => 403,
            Self::NotFound { .. } => 404,
            Self::Conflict { .. } => 409,
            Self::PayloadTooLarge { .. } => 413,
            Self::UnsupportedMediaType { .. } => 415,
            Self::RateLimited { .. } => 429,
            Self::Unavailable { .. } => 503,
            Self::Internal { .. } => 500,
        }
    }

    /// Whether retrying the same request later may succeed.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::RateLimited { .. } | Self::Unavailable { .. })
    }
}

#[cfg(test)]
impl Error {
    /// The field a validation error names; any other error fails the test.
    pub(crate) fn validation_field(self) -> String {
        match self {
            Self::Validation { field, .. } => field,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses_follow_the_design_table() {
        let cases: Vec<(Error, &str, u16)> = vec![
            (Error::validation("text", "too long"), "validation", 400),
            (Error::Unauthenticated, "unauthenticated", 401),
            (Error::Forbidden { reason: "x" }, "forbidden", 403),
            (Error::NotFound { what: "room" }, "not_found", 404),
            (Error::conflict("x"), "conflict", 409),
            (
                Error::PayloadTooLarge { reason: "x".into() },
                "payload_too_large",
                413,
            ),
            (
                Error::UnsupportedMediaType { reason: "x".into() },
                "unsupported_media_type",
                415,
            ),
            (
                Error::RateLimited {
                    retry_after: Duration::from_secs(1),
                },
                "rate_limited",
                429,
            ),
            (
                Error::unavailable(std::io::Error::other("db")),
                "unavailable",
                503,
            ),
            (
                Error::internal(std::io::Error::other("bug")),
                "internal",
                500,
            ),
        ];
        for (err, code, status) in cases {
            assert_eq!(err.code(), code);
            assert_eq!(err.http_status(), status);
        }
    }

    #[test]
    fn backend_errors_keep_their_source() {
        let err = Error::internal(std::io::Error::other("disk on fire"));
        let source = std::error::Error::source(&err).expect("source kept");
        assert_eq!(source.to_string(), "disk on fire");
        assert_eq!(err.to_string(), "internal error");
    }
}
