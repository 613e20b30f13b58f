//! The one error type of chat-engine. Every variant has a stable machine-readable
//! [`code`](Error::code), so every transport reports failures the same way; each transport maps
//! the variants to its own terms (chat-http to HTTP statuses).

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
    /// An input (a message, a file, an image's pixels) exceeds its size limit.
    #[error("too large: {reason}")]
    TooLarge {
        /// Which limit was exceeded.
        reason: String,
    },
    /// The input's type (a file's, as its bytes show it) is not one accepted here.
    #[error("unsupported type: {reason}")]
    UnsupportedType {
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
            Self::TooLarge { .. } => "payload_too_large",
            Self::UnsupportedType { .. } => "unsupported_media_type",
            Self::RateLimited { .. } => "rate_limited",
            Self::Unavailable { .. } => "unavailable",
            Self::Internal { .. } => "internal",
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
    fn codes_follow_the_design_table() {
        let cases: Vec<(Error, &str)> = vec![
            (Error::validation("text", "too long"), "validation"),
            (Error::Unauthenticated, "unauthenticated"),
            (Error::Forbidden { reason: "x" }, "forbidden"),
            (Error::NotFound { what: "room" }, "not_found"),
            (Error::conflict("x"), "conflict"),
            (Error::TooLarge { reason: "x".into() }, "payload_too_large"),
            (
                Error::UnsupportedType { reason: "x".into() },
                "unsupported_media_type",
            ),
            (
                Error::RateLimited {
                    retry_after: Duration::from_secs(1),
                },
                "rate_limited",
            ),
            (
                Error::unavailable(std::io::Error::other("db")),
                "unavailable",
            ),
            (Error::internal(std::io::Error::other("bug")), "internal"),
        ];
        for (err, code) in cases {
            assert_eq!(err.code(), code);
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
