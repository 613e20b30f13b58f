//! Outgoing webhooks: registering them (event owners and admins), and the dispatch pass that
//! delivers each event's changes through a [`WebhookSender`] (see [`crate::webhook`]).

use std::collections::HashMap;

use async_trait::async_trait;

use super::ChatService;
use crate::change::RoomChange;
use crate::error::{Error, Result};
use crate::id::{DeadLetterId, EventId, UserId, WebhookId};
use crate::page::PageSize;
use crate::permission::require_event_admin;
use crate::room::{RoomKind, RoomSeq};
use crate::webhook::{
    DeadLetter, DeliveryFailure, Webhook, WebhookPolicy, WebhookPosition, WebhookRegistration,
};

/// Posts one delivery; implemented by the HTTP adapter (signing and sending).
///
/// The dispatch pass checks the webhook's URL against the [`OutboundPolicy`] before calling
/// it; a sender that resolves names must also connect only to addresses the policy
/// [`permits`](crate::OutboundPolicy::permits) (see [`ChatService::outbound_policy`]), and follow no
/// redirects.
///
/// [`OutboundPolicy`]: crate::OutboundPolicy
#[async_trait]
pub trait WebhookSender: Send + Sync {
    /// Delivers `change` to `webhook`. `Err` says what class of failure it was, kept on a dead
    /// letter if it comes to that.
    async fn send(
        &self,
        webhook: &Webhook,
        change: &RoomChange,
    ) -> std::result::Result<(), DeliveryFailure>;
}

/// What one dispatch pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DispatchStats {
    /// Changes delivered.
    pub delivered: u64,
    /// Attempts that failed (each will be retried, or was dead-lettered).
    pub failed: u64,
    /// Changes given up as dead letters.
    pub dead: u64,
}

/// Most changes one room sends in one pass, so one busy room cannot hold the others long.
const PER_ROOM_PER_PASS: u32 = 100;

impl ChatService {
    /// Registers a webhook for `event` (owners and admins, as far as the host's
    /// [`WebhookRegistration`] allows). The answer carries the signing secret, which is shown
    /// this once. Deliveries start with the changes committed after it: each existing room's
    /// position is set to its last seq (rooms created later are delivered from their start).
    ///
    /// # Errors
    /// [`Error::NotFound`] for a hidden event; [`Error::Forbidden`] for a plain member, and
    /// for everyone when registration is off (or limited to server admins who are not);
    /// [`Error::Validation`] on `url` for a URL the
    /// [`OutboundPolicy`](crate::OutboundPolicy) refuses (credentials, control or
    /// direction-changing characters, loopback, private and reserved addresses).
    pub async fn create_webhook(
        &self,
        actor: UserId,
        event: EventId,
        url: &str,
    ) -> Result<Webhook> {
        require_event_admin(self.event_role(actor, event).await?)?;
        match self.webhook_registration {
            WebhookRegistration::EventAdmins => {}
            WebhookRegistration::ServerAdmins if self.server_admins.contains(&actor) => {}
            WebhookRegistration::ServerAdmins => {
                return Err(Error::Forbidden {
                    reason: "only accounts the server grants it may register webhooks",
                });
            }
            WebhookRegistration::Off => {
                return Err(Error::Forbidden {
                    reason: "webhooks are turned off on this server",
                });
            }
        }
        Self::host_allows(self.host_policy.may_register_webhook(actor, event).await?)?;
        let url = self.outbound.check_url(url)?.to_string();
        let secret = format!(
            "whsec_{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let hook = Webhook {
            id: WebhookId::new(),
            event_id: event,
            url,
            secret,
            created_by: actor,
            created_at: self.clock.now(),
        };
        self.store.insert_webhook(hook.clone()).await?;
        for room in self.store.rooms_of_event(event).await? {
            self.store
                .put_webhook_position(WebhookPosition {
                    webhook_id: hook.id,
                    room_id: room.id,
                    delivered: room.last_seq,
                    attempts: 0,
                    retry_at: None,
                })
                .await?;
        }
        Ok(hook)
    }

    /// The webhooks of an event, without their secrets (owners and admins).
    ///
    /// # Errors
    /// As [`create_webhook`](Self::create_webhook).
    pub async fn webhooks(&self, actor: UserId, event: EventId) -> Result<Vec<Webhook>> {
        require_event_admin(self.event_role(actor, event).await?)?;
        Ok(self
            .store
            .webhooks(Some(event))
            .await?
            .into_iter()
            .map(Webhook::redacted)
            .collect())
    }

    /// Removes a webhook, its positions and its dead letters (owners and admins).
    ///
    /// # Errors
    /// As [`create_webhook`](Self::create_webhook), and [`Error::NotFound`] (`webhook`) when
    /// the event has no such webhook.
    pub async fn delete_webhook(&self, actor: UserId, event: EventId, id: WebhookId) -> Result<()> {
        self.event_webhook(actor, event, id).await?;
        self.store.delete_webhook(id).await?;
        Ok(())
    }

    /// A webhook's dead letters, newest first (owners and admins).
    ///
    /// # Errors
    /// As [`delete_webhook`](Self::delete_webhook), and [`Error::Validation`] on `limit`.
    pub async fn dead_letters(
        &self,
        actor: UserId,
        event: EventId,
        id: WebhookId,
        limit: impl Into<PageSize>,
    ) -> Result<Vec<DeadLetter>> {
        let limit = crate::validation::validate_page_size(limit.into(), &self.limits)?;
        self.event_webhook(actor, event, id).await?;
        self.store.dead_letters(id, limit).await
    }

    async fn event_webhook(&self, actor: UserId, event: EventId, id: WebhookId) -> Result<Webhook> {
        require_event_admin(self.event_role(actor, event).await?)?;
        self.store
            .webhooks(Some(event))
            .await?
            .into_iter()
            .find(|w| w.id == id)
            .ok_or(Error::NotFound { what: "webhook" })
    }

    /// One dispatch pass over every webhook: in each room of its event, the changes after
    /// its position, in order, until one fails. A failure waits out its backoff (the room's
    /// later changes wait behind it, keeping the order); after `policy.max_attempts` failures
    /// the change becomes a dead letter and the room moves on. Positions are stored after
    /// every delivery, so a pass cut short (a crash) repeats at most the change in flight.
    ///
    /// Run it from one instance (the example server does, every 250 ms): two dispatchers would
    /// each deliver every change.
    ///
    /// # Errors
    /// Store failures (the next pass resumes).
    pub async fn dispatch_webhooks(
        &self,
        sender: &dyn WebhookSender,
        policy: &WebhookPolicy,
    ) -> Result<DispatchStats> {
        let mut stats = DispatchStats::default();
        for hook in self.store.webhooks(None).await? {
            let positions: HashMap<_, _> = self
                .store
                .webhook_positions(hook.id)
                .await?
                .into_iter()
                .map(|p| (p.room_id, p))
                .collect();
            for room in self.store.rooms_of_event(hook.event_id).await? {
                if room.kind == RoomKind::Direct {
                    continue;
                }
                let mut position = positions.get(&room.id).copied().unwrap_or(WebhookPosition {
                    webhook_id: hook.id,
                    room_id: room.id,
                    delivered: RoomSeq::ZERO,
                    attempts: 0,
                    retry_at: None,
                });
                if room.last_seq <= position.delivered
                    || position.retry_at.is_some_and(|at| at > self.clock.now())
                {
                    continue;
                }
                let changes = self
                    .store
                    .changes_after(room.id, position.delivered, PER_ROOM_PER_PASS)
                    .await?;
                // Checked again at each delivery: the policy may have changed since it was
                // registered (a host that narrowed its allow-list).
                let allowed = self.outbound.check_url(&hook.url).is_ok();
                for change in changes {
                    let sent = if allowed {
                        sender.send(&hook, &change).await
                    } else {
                        Err(DeliveryFailure::Refused)
                    };
                    match sent {
                        Ok(()) => {
                            stats.delivered += 1;
                            position.delivered = change.seq;
                            position.attempts = 0;
                            position.retry_at = None;
                            self.store.put_webhook_position(position).await?;
                        }
                        Err(error) => {
                            stats.failed += 1;
                            position.attempts += 1;
                            if position.attempts >= policy.max_attempts {
                                stats.dead += 1;
                                self.store
                                    .add_dead_letter(DeadLetter {
                                        id: DeadLetterId::new(),
                                        webhook_id: hook.id,
                                        room_id: room.id,
                                        seq: change.seq,
                                        attempts: position.attempts,
                                        last_error: error.to_string(),
                                        failed_at: self.clock.now(),
                                    })
                                    .await?;
                            } else {
                                position.retry_at = Some(
                                    self.clock
                                        .now()
                                        .saturating_add(policy.backoff(position.attempts)),
                                );
                                self.store.put_webhook_position(position).await?;
                            }
                            // The room's next changes wait behind this one.
                            break;
                        }
                    }
                }
            }
        }
        Ok(stats)
    }
}
