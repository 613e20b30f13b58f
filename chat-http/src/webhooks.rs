//! Outgoing webhooks over HTTP: the routes that register them, the signed deliveries, and the
//! dispatcher task. What is delivered, in which order and how often is
//! [`chat_core::webhook`]'s; this module signs and sends.
//!
//! # A delivery
//!
//! `POST` to the webhook's URL with a JSON body `{"webhook_id", "event_id", "change"}` (the
//! change as the room's log has it, [`chat_core::RoomChange`]) and these headers:
//!
//! - `Chat-Webhook-Id`: the webhook;
//! - `Chat-Delivery`: `{room_id}:{seq}`, the same on every retry of one change: receivers
//!   deduplicate with it (delivery is at least once);
//! - `Chat-Signature`: `t={unix seconds},v1={hex}`, where `hex` is HMAC-SHA256 under the
//!   webhook's secret of `{t}.{body}`, as Stripe signs (GitHub signs the body alone; the
//!   timestamp here lets a receiver refuse replays). [`verify`] checks one.
//!
//! A 2xx answer is a delivery; anything else, or no answer within the timeout, is a failure
//! that is retried with exponential backoff.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::extract::State;
use axum::http::StatusCode;
use chat_core::webhook::{DeadLetter, Webhook, WebhookPolicy};
use chat_core::{
    Clock, DeliveryFailure, EventId, OutboundPolicy, RoomChange, WebhookId, WebhookSender,
};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::{ApiJson, ApiPath, ApiQuery, Caller};
use crate::outbound;
use crate::state::AppState;

/// The routes of this module, documented.
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(remove))
        .routes(routes!(dead_letters))
}

/// The body of a delivery.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Delivery {
    /// The webhook it is for.
    pub webhook_id: WebhookId,
    /// The event of the change.
    pub event_id: EventId,
    /// The change.
    pub change: RoomChange,
}

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `Chat-Signature` header of `body` sent at `timestamp` (unix seconds).
#[must_use]
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let digest = mac(secret, timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", hex::encode(digest))
}

/// Whether `header` is a valid `Chat-Signature` of `body` under `secret`, made within
/// `tolerance_secs` of `now` (unix seconds). The comparison takes constant time.
#[must_use]
pub fn verify(secret: &str, header: &str, body: &[u8], now: i64, tolerance_secs: i64) -> bool {
    let mut timestamp = None;
    let mut signature = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", v)) => signature = hex::decode(v).ok(),
            _ => {}
        }
    }
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        return false;
    };
    (now - timestamp).abs() <= tolerance_secs
        && mac(secret, timestamp, body)
            .verify_slice(&signature)
            .is_ok()
}

/// Sends deliveries over HTTP(S), signed.
#[derive(Debug, Clone)]
pub struct HttpWebhookSender {
    client: reqwest::Client,
    /// Signatures carry the service's time.
    clock: Arc<dyn Clock>,
}

impl HttpWebhookSender {
    /// A sender whose requests give up after `timeout` and connect only where `policy`
    /// permits (see [`crate::outbound`]), signing with `clock`'s time (the service's,
    /// [`ChatService::clock`](chat_core::ChatService::clock)). Redirects are not followed: a
    /// webhook URL is registered as it is meant.
    ///
    /// # Panics
    /// If the TLS backend cannot start (it does not, with the bundled roots).
    #[must_use]
    pub fn new(timeout: Duration, policy: &OutboundPolicy, clock: Arc<dyn Clock>) -> Self {
        Self {
            client: outbound::client(policy, timeout, "chat-engine-webhooks"),
            clock,
        }
    }
}

#[async_trait]
impl WebhookSender for HttpWebhookSender {
    async fn send(&self, webhook: &Webhook, change: &RoomChange) -> Result<(), DeliveryFailure> {
        let body = serde_json::to_vec(&Delivery {
            webhook_id: webhook.id,
            event_id: webhook.event_id,
            change: change.clone(),
        })
        .map_err(|_| DeliveryFailure::Other)?;
        let now = self.clock.now().unix_millis().div_euclid(1000);
        let signature = sign(&webhook.secret, now, &body);
        let response = self
            .client
            .post(&webhook.url)
            .header("content-type", "application/json")
            .header("chat-webhook-id", webhook.id.to_string())
            .header(
                "chat-delivery",
                format!("{}:{}", change.room_id, change.seq),
            )
            .header("chat-signature", signature)
            .body(body)
            .send()
            .await
            .map_err(|e| outbound::classify(&e))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(DeliveryFailure::status(status.as_u16()))
        }
    }
}

/// How the dispatcher runs.
#[derive(Debug, Clone, Copy)]
pub struct DispatcherConfig {
    /// How often it looks for changes to deliver.
    pub poll_every: Duration,
    /// How long one delivery may take.
    pub timeout: Duration,
    /// Retries and dead letters.
    pub policy: WebhookPolicy,
}

impl Default for DispatcherConfig {
    fn default() -> Self {
        Self {
            poll_every: Duration::from_millis(250),
            timeout: Duration::from_secs(10),
            policy: WebhookPolicy::default(),
        }
    }
}

/// Body of `POST /v1/events/{id}/webhooks`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewWebhook {
    /// Where to post deliveries: an `http://` or `https://` URL of at most 2048 bytes, without
    /// a user name or password, spaces, control or direction-changing characters, pointing at
    /// a public address: loopback, private, link-local (cloud metadata), shared (CGNAT),
    /// multicast, reserved and unspecified addresses, in any notation, and `localhost` names
    /// are refused unless the server's allow-list opens them. Names are resolved and judged
    /// again at each delivery.
    #[schema(max_length = 2048)]
    pub url: String,
}

#[utoipa::path(post, path = "/events/{event_id}/webhooks", tag = "webhooks", params(("event_id" = EventId, Path)), request_body = NewWebhook, responses((status = 201, body = Webhook, description = "the webhook, with its signing secret (shown this once); it receives the changes committed from now on"), (status = "default", body = ErrorEnvelope, description = "an error; forbidden for members who are not owner or admin, and for everyone when the server has webhooks turned off (its default); validation on `url`")), security(("bearer" = [])))]
async fn create(
    State(s): State<AppState>,
    Caller(me): Caller,
    ApiPath(event): ApiPath<EventId>,
    ApiJson(body): ApiJson<NewWebhook>,
) -> Result<(StatusCode, ApiJson<Webhook>), ApiError> {
    let hook = s.chat.create_webhook(me, event, &body.url).await?;
    Ok((StatusCode::CREATED, ApiJson(hook)))
}

#[utoipa::path(get, path = "/events/{event_id}/webhooks", tag = "webhooks", params(("event_id" = EventId, Path)), responses((status = 200, body = Vec<Webhook>, description = "the event's webhooks, without their secrets"), (status = "default", body = ErrorEnvelope, description = "an error; see the error codes")), security(("bearer" = [])))]
async fn list(
    State(s): State<AppState>,
    Caller(me): Caller,
    ApiPath(event): ApiPath<EventId>,
) -> Result<ApiJson<Vec<Webhook>>, ApiError> {
    Ok(ApiJson(s.chat.webhooks(me, event).await?))
}

#[utoipa::path(delete, path = "/events/{event_id}/webhooks/{webhook_id}", tag = "webhooks", params(("event_id" = EventId, Path), ("webhook_id" = WebhookId, Path)), responses((status = 204, description = "removed, with its dead letters"), (status = "default", body = ErrorEnvelope, description = "an error; see the error codes")), security(("bearer" = [])))]
async fn remove(
    State(s): State<AppState>,
    Caller(me): Caller,
    ApiPath((event, hook)): ApiPath<(EventId, WebhookId)>,
) -> Result<StatusCode, ApiError> {
    s.chat.delete_webhook(me, event, hook).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Query of the dead letters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeadLetterQuery {
    /// Most letters (default 50, at most 100).
    pub limit: Option<i64>,
}

#[utoipa::path(get, path = "/events/{event_id}/webhooks/{webhook_id}/dead-letters", tag = "webhooks", params(("event_id" = EventId, Path), ("webhook_id" = WebhookId, Path), DeadLetterQuery), responses((status = 200, body = Vec<DeadLetter>, description = "changes given up after the last attempt, newest first; read one with `GET /v1/rooms/{room_id}/changes?after={seq - 1}&limit=1`"), (status = "default", body = ErrorEnvelope, description = "an error; see the error codes")), security(("bearer" = [])))]
async fn dead_letters(
    State(s): State<AppState>,
    Caller(me): Caller,
    ApiPath((event, hook)): ApiPath<(EventId, WebhookId)>,
    ApiQuery(q): ApiQuery<DeadLetterQuery>,
) -> Result<ApiJson<Vec<DeadLetter>>, ApiError> {
    Ok(ApiJson(
        s.chat
            .dead_letters(me, event, hook, crate::extract::page_size(q.limit))
            .await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_only_what_they_sign() {
        let body = br#"{"change":1}"#;
        let header = sign("whsec_key", 1_700_000_000, body);
        assert!(header.starts_with("t=1700000000,v1="));
        assert!(verify("whsec_key", &header, body, 1_700_000_100, 300));
        assert!(
            !verify("whsec_other", &header, body, 1_700_000_100, 300),
            "another key"
        );
        assert!(
            !verify("whsec_key", &header, br#"{"change":2}"#, 1_700_000_100, 300),
            "another body"
        );
        assert!(
            !verify("whsec_key", &header, body, 1_700_001_000, 300),
            "too old"
        );
        let moved = header.replace("t=1700000000", "t=1700000900");
        assert!(
            !verify("whsec_key", &moved, body, 1_700_001_000, 300),
            "a replayed body under a new time"
        );
        assert!(!verify("whsec_key", "v1=00", body, 1_700_000_000, 300));
        assert!(!verify("whsec_key", "", body, 1_700_000_000, 300));
    }
}
