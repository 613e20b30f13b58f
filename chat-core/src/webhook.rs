//! Outgoing webhooks: an event's changes, posted to a URL its owner or an admin registered.
//!
//! A webhook reads the change logs of its event's rooms (direct rooms are events of their own
//! and are not included) from a position stored per room, so the logs are its outbox: nothing
//! is copied at write time, and a restart resumes from the stored positions, losing nothing.
//! Delivery is at least once and in seq order within each room: a change is retried with
//! exponential backoff until the receiver answers 2xx, and after [`WebhookPolicy::max_attempts`]
//! failures it becomes a [`DeadLetter`] and the room moves on. The HTTP side (signing,
//! sending) lives in `chat-http`.

use std::fmt;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::error::Result;
use crate::id::{DeadLetterId, EventId, RoomId, UserId, WebhookId};
use crate::room::RoomSeq;

/// Longest webhook URL, in bytes.
pub use crate::outbound::MAX_URL_BYTES;

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
    /// What the last attempt got, as its coarse class ([`DeliveryFailure`]'s text): `address
    /// not allowed`, `name not resolved`, `connection failed`, `TLS failed`, `timed out`,
    /// `answered 3xx`, `answered 4xx`, `answered 5xx` or `request failed`.
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

/// Who may register webhooks. Webhooks make the server send requests to addresses users
/// choose, so this is the host's decision; the default is [`Off`](Self::Off).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebhookRegistration {
    /// Nobody: registering answers `Forbidden`. The default.
    #[default]
    Off,
    /// Event owners and admins who are also server admins
    /// ([`ChatServiceBuilder::server_admin`](crate::ChatServiceBuilder::server_admin)): the
    /// host grants the right to chosen accounts.
    ServerAdmins,
    /// Every event's owners and admins.
    EventAdmins,
}

/// Why a delivery failed, kept coarse: a dead letter tells its reader what class of failure
/// happened, never the text of a transport error (which, for an address inside a network,
/// would say what listens there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeliveryFailure {
    /// The outbound policy refused the URL or every address it resolved to; nothing was sent.
    Refused,
    /// The name did not resolve.
    Dns,
    /// No connection could be made.
    Connect,
    /// The TLS handshake failed.
    Tls,
    /// No answer within the timeout.
    Timeout,
    /// The receiver answered with a status outside 2xx: its class (3, 4 or 5).
    Status(u16),
    /// Anything else (the request could not be made, the connection broke).
    Other,
}

impl std::fmt::Display for DeliveryFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Refused => f.write_str("address not allowed"),
            Self::Dns => f.write_str("name not resolved"),
            Self::Connect => f.write_str("connection failed"),
            Self::Tls => f.write_str("TLS failed"),
            Self::Timeout => f.write_str("timed out"),
            Self::Status(class) => write!(f, "answered {class}xx"),
            Self::Other => f.write_str("request failed"),
        }
    }
}

impl DeliveryFailure {
    /// The failure of a delivery answered with HTTP `status` (outside 2xx).
    #[must_use]
    pub fn status(status: u16) -> Self {
        Self::Status(status / 100)
    }
}

/// Where webhooks, their delivery positions and dead letters are kept (part of
/// [`Store`](crate::Store)).
/// Removing a webhook removes its positions and dead letters; removing its event removes it.
#[async_trait]
pub trait WebhookStore: fmt::Debug + Send + Sync + 'static {
    /// Records a new webhook.
    ///
    /// # Errors
    /// [`Error::NotFound`](crate::Error::NotFound) (`event`) when its event does not exist.
    async fn insert_webhook(&self, webhook: Webhook) -> Result<()>;

    /// The webhooks of `event`, or of every event, oldest first.
    async fn webhooks(&self, event: Option<EventId>) -> Result<Vec<Webhook>>;

    /// Removes a webhook; false when there was none.
    async fn delete_webhook(&self, id: WebhookId) -> Result<bool>;

    /// The webhook's position in each room it has delivered to or tried.
    async fn webhook_positions(&self, id: WebhookId) -> Result<Vec<WebhookPosition>>;

    /// Records a position (replacing the room's previous one). Positions of a webhook that no
    /// longer exists are dropped silently: a delivery may finish after its removal.
    async fn put_webhook_position(&self, position: WebhookPosition) -> Result<()>;

    /// Records a dead letter and moves the room's position past it, in one step.
    async fn add_dead_letter(&self, letter: DeadLetter) -> Result<()>;

    /// The webhook's dead letters, newest first, up to `limit`.
    async fn dead_letters(&self, id: WebhookId, limit: u32) -> Result<Vec<DeadLetter>>;
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
    fn failures_are_coarse() {
        assert_eq!(DeliveryFailure::status(404).to_string(), "answered 4xx");
        assert_eq!(DeliveryFailure::status(503).to_string(), "answered 5xx");
        assert_eq!(DeliveryFailure::Refused.to_string(), "address not allowed");
    }
}
