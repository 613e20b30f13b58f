//! Outgoing webhooks: an event's changes, posted to a URL its owner or an admin registered.
//!
//! A webhook reads the change logs of its event's rooms (direct rooms are events of their own
//! and are not included) from a position stored per room, so the logs are its outbox: nothing
//! is copied at write time, and a restart resumes from the stored positions, losing nothing.
//! Delivery is at least once and in seq order within each room: a change is retried with
//! exponential backoff until the receiver answers 2xx, and after [`WebhookPolicy::max_attempts`]
//! failures it becomes a [`DeadLetter`] and the room moves on. The HTTP side (signing,
//! sending) lives in `chat-http`.

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::error::{Error, Result};
use crate::id::{DeadLetterId, EventId, RoomId, UserId, WebhookId};
use crate::room::RoomSeq;

/// Longest webhook URL, in bytes.
pub const MAX_URL_BYTES: usize = 2048;

/// A registered webhook.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Webhook {
    /// Its id.
    pub id: WebhookId,
    /// The event whose changes it receives.
    pub event_id: EventId,
    /// Where deliveries are posted (`http` or `https`).
    pub url: String,
    /// The key deliveries are signed with (HMAC-SHA256). Shown once, when it is created.
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub secret: String,
    /// Who registered it.
    pub created_by: UserId,
    /// When.
    pub created_at: Timestamp,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret stays out of logs.
        f.debug_struct("Webhook")
            .field("id", &self.id)
            .field("event_id", &self.event_id)
            .field("url", &self.url)
            .field("created_by", &self.created_by)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

impl Webhook {
    /// The webhook as listed: without its secret.
    #[must_use]
    pub fn redacted(mut self) -> Self {
        self.secret.clear();
        self
    }
}

/// How far a webhook has delivered one room, and the state of the change it is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookPosition {
    /// The webhook.
    pub webhook_id: WebhookId,
    /// The room.
    pub room_id: RoomId,
    /// Every change up to this seq was delivered (or dead-lettered).
    pub delivered: RoomSeq,
    /// Failed attempts at the next change.
    pub attempts: u32,
    /// No attempt before this time (the backoff after a failure).
    pub retry_at: Option<Timestamp>,
}

/// A change a webhook gave up on after [`WebhookPolicy::max_attempts`] failures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeadLetter {
    /// Its id.
    pub id: DeadLetterId,
    /// The webhook.
    pub webhook_id: WebhookId,
    /// The room of the change.
    pub room_id: RoomId,
    /// The change's seq in its room (read it with `GET /v1/rooms/{id}/changes`).
    pub seq: RoomSeq,
    /// How many times it was tried.
    pub attempts: u32,
    /// What the last attempt got: a status or a transport error.
    pub last_error: String,
    /// When it was given up.
    pub failed_at: Timestamp,
}

/// When to retry and when to give up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookPolicy {
    /// Attempts at one change before it becomes a dead letter.
    pub max_attempts: u32,
    /// The wait after the first failure; each further failure doubles it.
    pub first_backoff: std::time::Duration,
    /// The longest wait between two attempts.
    pub max_backoff: std::time::Duration,
}

impl Default for WebhookPolicy {
    /// 8 attempts over about 4 minutes (1 s, 2 s, 4 s, … capped at 5 minutes).
    fn default() -> Self {
        Self {
            max_attempts: 8,
            first_backoff: std::time::Duration::from_secs(1),
            max_backoff: std::time::Duration::from_secs(300),
        }
    }
}

impl WebhookPolicy {
    /// The wait after `failures` failed attempts (1 for the first).
    #[must_use]
    pub fn backoff(&self, failures: u32) -> std::time::Duration {
        let doublings = failures.saturating_sub(1).min(30);
        self.first_backoff
            .saturating_mul(1 << doublings)
            .min(self.max_backoff)
    }
}

/// Checks a webhook URL: `http://` or `https://` with a host, at most [`MAX_URL_BYTES`], no
/// whitespace or control characters.
///
/// # Errors
/// [`Error::Validation`] on `url`.
pub fn validate_url(url: &str) -> Result<()> {
    let bad = |why: &str| Err(Error::validation("url", why.to_owned()));
    if url.len() > MAX_URL_BYTES {
        return bad("longer than 2048 bytes");
    }
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return bad("must not contain spaces or control characters");
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(rest) if !rest.is_empty() && !rest.starts_with('/') => Ok(()),
        _ => bad("must be an http:// or https:// URL with a host"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = WebhookPolicy::default();
        assert_eq!(p.backoff(1).as_secs(), 1);
        assert_eq!(p.backoff(2).as_secs(), 2);
        assert_eq!(p.backoff(4).as_secs(), 8);
        assert_eq!(p.backoff(40).as_secs(), 300);
    }

    #[test]
    fn urls() {
        assert!(validate_url("https://example.com/hook").is_ok());
        assert!(validate_url("http://127.0.0.1:8080/h?x=1").is_ok());
        for bad in [
            "ftp://x",
            "https://",
            "https:///path",
            "http://a b",
            "javascript:alert(1)",
            "http://x\u{0}",
        ] {
            assert!(validate_url(bad).is_err(), "{bad}");
        }
        assert!(validate_url(&format!("https://x/{}", "a".repeat(2048))).is_err());
    }
}
