//! [`ChatService`]: every use case in one place, for every transport.
//!
//! One file per use-case area: `profiles` (profiles and accounts), `events`, `rooms`,
//! `members` (roles, mutes, bans, read state), `messages` (the send pipeline, edits,
//! deletions, reactions), `polls` (votes, closing, and the host's payload updates), `direct` (direct rooms), `presence` (who is online), `unread_feed` (live counts), `attachments` (uploads, reading and collecting them), `timeline` (history, the change log, live subscriptions, typing) and
//! `search`. This file holds the service, its builder and the helpers every area shares.
//!
//! Each method takes the authenticated caller (`actor`) first. Transports authenticate; the
//! service authorises, validates, rate-limits, stores and fans out, in that order (the send
//! pipeline of the design).

use std::collections::HashSet;
use std::sync::Arc;

use crate::attachment::AttachmentPolicy;
use crate::blob::{BlobStore, MemoryBlobStore};
use crate::change::{ChangeKind, RoomChange};
use crate::clock::{Clock, SystemClock, Timestamp};
use crate::error::{Error, Result};
use crate::event::EventRole;
use crate::fanout::{Broker, InProcessBroker, UserSignal, UserSignalKind};
use crate::host::{AllowAll, HostPolicy, ProfileProvider};
use crate::id::{EventId, RoomId, UserId};
use crate::limits::Limits;
use crate::metrics::SystemMetrics;
use crate::outbound::OutboundPolicy;
use crate::payload::{PayloadKind, PayloadKinds};
use crate::permission::RoomAccess;
use crate::rate_limit::{RateLimitPolicy, TypingThrottle, default_policy};
use crate::room::{Room, RoomMember};
use crate::store::Store;
use crate::user::{ProfileInput, User};
use crate::validation;
use crate::webhook::WebhookRegistration;

mod attachments;
mod avatars;
mod bot_tokens;
mod bots;
mod direct;
mod events;
mod feed;
#[cfg(feature = "media")]
mod images;
pub use avatars::{AVATAR_PX, AvatarImage};
pub use bot_tokens::MAX_BOT_TOKEN_TTL;
pub use feed::{FeedCursor, FeedFollower, FeedPage};

pub use attachments::Collected;
mod members;
mod messages;
mod polls;
mod presence;

pub use presence::PresenceWatch;
mod profiles;
mod rooms;
mod search;
mod timeline;
mod unread_feed;
mod webhooks;
pub use webhooks::{DispatchStats, WebhookSender};

pub use unread_feed::{UnreadFeed, UnreadUpdate};

/// The chat use cases, over a [`Store`] and a [`Broker`].
///
/// Cheap to share: wrap it in an `Arc` and hand it to every transport.
#[derive(Debug)]
pub struct ChatService {
    store: Arc<dyn Store>,
    broker: Arc<dyn Broker>,
    clock: Arc<dyn Clock>,
    limits: Limits,
    policy: Arc<dyn RateLimitPolicy>,
    typing: TypingThrottle,
    server_admins: HashSet<UserId>,
    blobs: Arc<dyn BlobStore>,
    /// Whether a blob store keeps files (see [`ChatServiceBuilder::blobs`]).
    keeps_files: bool,
    attachments: AttachmentPolicy,
    /// Bounds the images in work at once, per user and in total (see
    /// [`AttachmentPolicy::image_workers`] and [`crate::ImageBudget::per_user`]).
    #[cfg(feature = "media")]
    image_gate: crate::attachment::image_gate::ImageGate,
    /// The threads images are decoded on.
    #[cfg(feature = "media")]
    image_workers: crate::attachment::workers::Workers,
    /// The structured-message kinds accepted: polls and the host's.
    payload_kinds: PayloadKinds,
    /// Where user-chosen URLs (webhooks) may point.
    outbound: OutboundPolicy,
    /// Who may register webhooks.
    webhook_registration: WebhookRegistration,
    /// Where profiles of users the service has not met come from, if the host says.
    profiles: Option<Arc<dyn ProfileProvider>>,
    /// The host's say on who creates events, rooms and webhooks.
    host_policy: Arc<dyn HostPolicy>,
}

/// The payload kinds every service accepts: polls.
fn built_in_kinds() -> PayloadKinds {
    let mut kinds = PayloadKinds::default();
    let poll: Arc<dyn crate::PayloadKind> = Arc::new(crate::poll::PollKind::default());
    // A valid name, registered first: this cannot fail.
    let _ = kinds.register(crate::poll::POLL_KIND, poll);
    kinds
}

/// Builds a [`ChatService`]; see [`ChatService::builder`].
#[derive(Debug)]
pub struct ChatServiceBuilder {
    store: Arc<dyn Store>,
    broker: Option<Arc<dyn Broker>>,
    clock: Option<Arc<dyn Clock>>,
    limits: Limits,
    policy: Option<Arc<dyn RateLimitPolicy>>,
    server_admins: HashSet<UserId>,
    blobs: Option<Arc<dyn BlobStore>>,
    attachments: AttachmentPolicy,
    payload_kinds: PayloadKinds,
    outbound: OutboundPolicy,
    webhook_registration: WebhookRegistration,
    profiles: Option<Arc<dyn ProfileProvider>>,
    host_policy: Arc<dyn HostPolicy>,
}

impl ChatServiceBuilder {
    /// Asks `provider` for the profile of a user the service has not met, instead of failing
    /// with `NotFound` (see [`crate::host`]).
    #[must_use]
    pub fn profile_provider(mut self, provider: Arc<dyn ProfileProvider>) -> Self {
        self.profiles = Some(provider);
        self
    }

    /// The host's rules on who may create events, rooms and webhooks (default: [`AllowAll`],
    /// the engine's own rules only).
    #[must_use]
    pub fn host_policy(mut self, policy: Arc<dyn HostPolicy>) -> Self {
        self.host_policy = policy;
        self
    }

    /// Where URLs that users give (webhooks) may point (default:
    /// [`OutboundPolicy::public_only`]). Allow a network here for the host's own internal
    /// receivers.
    #[must_use]
    pub fn outbound_policy(mut self, policy: OutboundPolicy) -> Self {
        self.outbound = policy;
        self
    }

    /// Who may register webhooks (default: [`WebhookRegistration::Off`], nobody).
    #[must_use]
    pub fn webhook_registration(mut self, who: WebhookRegistration) -> Self {
        self.webhook_registration = who;
        self
    }

    /// Where attachment bytes and profile pictures live. Without one, a service over an
    /// in-memory store keeps them in a fresh [`MemoryBlobStore`] (both last as long as the
    /// process), and a service over a durable store keeps none: uploads and pictures are
    /// refused with [`Error::Forbidden`] saying so, never kept in memory beside durable
    /// records that would outlive them.
    #[must_use]
    pub fn blobs(mut self, blobs: Arc<dyn BlobStore>) -> Self {
        self.blobs = Some(blobs);
        self
    }

    /// What may be uploaded and how long unattached uploads are kept (default:
    /// [`AttachmentPolicy::default`]).
    #[must_use]
    pub fn attachment_policy(mut self, policy: AttachmentPolicy) -> Self {
        self.attachments = policy;
        self
    }

    /// The fan-out broker (default: a fresh [`InProcessBroker`]).
    #[must_use]
    pub fn broker(mut self, broker: Arc<dyn Broker>) -> Self {
        self.broker = Some(broker);
        self
    }

    /// The clock (default: [`SystemClock`]).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The limits (default: [`Limits::default`]).
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The send rate-limit policy (default: [`default_policy`] of the limits).
    #[must_use]
    pub fn rate_limit_policy(mut self, policy: Arc<dyn RateLimitPolicy>) -> Self {
        self.policy = Some(policy);
        self
    }

    /// Accepts messages carrying payloads of kind `name`, validated by `kind` (see
    /// [`crate::payload`]). Polls are built in.
    ///
    /// # Panics
    /// When `name` is not a valid kind name or is registered already (see
    /// [`PayloadKinds::register`]): a mistake in the host's set-up, found at start-up.
    #[must_use]
    pub fn payload_kind(mut self, name: &str, kind: Arc<dyn PayloadKind>) -> Self {
        if let Err(err) = self.payload_kinds.register(name, kind) {
            panic!("payload kind {name:?}: {err}");
        }
        self
    }

    /// Grants a user server-admin rights (system metrics).
    #[must_use]
    pub fn server_admin(mut self, user: UserId) -> Self {
        self.server_admins.insert(user);
        self
    }

    /// The service.
    #[must_use]
    pub fn build(self) -> ChatService {
        // Read before the store moves into the service.
        let durable = self.store.durable();
        let policy = self
            .policy
            .unwrap_or_else(|| Arc::new(default_policy(&self.limits)));
        ChatService {
            store: self.store,
            broker: self
                .broker
                .unwrap_or_else(|| Arc::new(InProcessBroker::new())),
            clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
            typing: TypingThrottle::new(self.limits.typing_interval),
            limits: self.limits,
            policy,
            server_admins: self.server_admins,
            keeps_files: self.blobs.is_some() || !durable,
            blobs: match self.blobs {
                Some(blobs) => blobs,
                None if durable => Arc::new(crate::blob::NoBlobStore),
                None => Arc::new(MemoryBlobStore::new()),
            },
            #[cfg(feature = "media")]
            image_gate: crate::attachment::image_gate::ImageGate::new(
                self.attachments.image_workers,
                &self.attachments.images,
            ),
            #[cfg(feature = "media")]
            image_workers: crate::attachment::workers::Workers::new(self.attachments.image_workers),
            attachments: self.attachments,
            payload_kinds: self.payload_kinds,
            outbound: self.outbound,
            webhook_registration: self.webhook_registration,
            profiles: self.profiles,
            host_policy: self.host_policy,
        }
    }
}

/// A room with the caller's standing in it.
pub(super) struct RoomContext {
    pub(super) room: Room,
    pub(super) event_role: Option<EventRole>,
    pub(super) member: Option<RoomMember>,
    pub(super) now: Timestamp,
}

impl RoomContext {
    pub(super) fn access(&self) -> RoomAccess<'_> {
        RoomAccess {
            room: &self.room,
            event_role: self.event_role,
            member: self.member.as_ref(),
            now: self.now,
        }
    }
}

/// A missing message and a message in a room the caller cannot see look the same.
pub(super) fn hide_as_message(err: Error) -> Error {
    match err {
        Error::NotFound { .. } => Error::NotFound { what: "message" },
        other => other,
    }
}

impl ChatService {
    /// A service over `store` with every default.
    #[must_use]
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self::builder(store).build()
    }

    /// A builder over `store`.
    #[must_use]
    pub fn builder(store: Arc<dyn Store>) -> ChatServiceBuilder {
        ChatServiceBuilder {
            store,
            broker: None,
            clock: None,
            limits: Limits::default(),
            policy: None,
            server_admins: HashSet::new(),
            blobs: None,
            attachments: AttachmentPolicy::default(),
            payload_kinds: built_in_kinds(),
            outbound: OutboundPolicy::default(),
            webhook_registration: WebhookRegistration::default(),
            profiles: None,
            host_policy: Arc::new(AllowAll),
        }
    }

    /// Where user-chosen URLs may point: transports that make the requests apply it to the
    /// addresses they connect to.
    #[must_use]
    pub fn outbound_policy(&self) -> &OutboundPolicy {
        &self.outbound
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The broker.
    #[must_use]
    pub fn broker(&self) -> &Arc<dyn Broker> {
        &self.broker
    }

    /// Stops the service's background work and waits until it has: the broker's (a relay,
    /// its link's loops, presence beat and gap fills) and then the store's (a committer of
    /// batched sends). Call it once the server has stopped taking requests; the host's
    /// background handle does (chat-http's `Background`). Nothing of the service runs after it,
    /// unless it is used again.
    pub async fn shutdown(&self) {
        self.broker.shutdown().await;
        self.store.shutdown().await;
    }

    /// Where attachment bytes live.
    #[must_use]
    pub fn blobs(&self) -> &Arc<dyn BlobStore> {
        &self.blobs
    }

    /// The attachment policy.
    #[must_use]
    pub fn attachment_policy(&self) -> &AttachmentPolicy {
        &self.attachments
    }

    /// The limits.
    #[must_use]
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The current time, by the service's clock.
    #[must_use]
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The service's clock, for the work a transport does on its behalf (signing webhook
    /// deliveries, expiring links) on the same time as the service.
    #[must_use]
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Fans a committed change out; a membership change also tells the member that their
    /// set of rooms changed.
    pub(super) fn publish(&self, change: RoomChange) -> Arc<RoomChange> {
        let change = Arc::new(change);
        self.broker.publish(Arc::clone(&change));
        let member = match &change.kind {
            ChangeKind::MemberJoined(m) | ChangeKind::MemberUpdated(m) => Some(m.user_id),
            ChangeKind::MemberLeft { user_id } => Some(*user_id),
            _ => None,
        };
        if let Some(user) = member {
            self.rooms_changed(user);
        }
        change
    }

    /// Tells `user`'s live views that the rooms they can read changed.
    pub(super) fn rooms_changed(&self, user: UserId) {
        self.broker.publish_user(UserSignal {
            user_id: user,
            kind: UserSignalKind::RoomsChanged,
        });
    }

    pub(super) async fn room_context(&self, actor: UserId, room_id: RoomId) -> Result<RoomContext> {
        let standing = self
            .store
            .room_standing(room_id, actor)
            .await?
            .ok_or(Error::NotFound { what: "room" })?;
        let now = self.clock.now();
        // The membership that counts (see `RoomStanding::access`).
        let member = standing.access(now).member.cloned();
        Ok(RoomContext {
            room: standing.room,
            event_role: standing.event_role,
            member,
            now,
        })
    }

    /// Refuses file work when no blob store keeps files (see [`ChatServiceBuilder::blobs`]).
    pub(super) fn require_blob_store(&self) -> Result<()> {
        if self.keeps_files {
            Ok(())
        } else {
            Err(Error::Forbidden {
                reason: "this server keeps no files: its durable store has no blob store \
                         configured (ChatServiceBuilder::blobs)",
            })
        }
    }

    /// The user's profile; one the service has not met is asked of the host's
    /// [`ProfileProvider`], if any, and kept.
    pub(super) async fn require_profile(&self, user: UserId) -> Result<User> {
        if let Some(found) = self.store.get_user(user).await? {
            return Ok(found);
        }
        let unknown = || Error::NotFound { what: "user" };
        let provider = self.profiles.as_ref().ok_or_else(unknown)?;
        let input = provider.profile(user).await?.ok_or_else(unknown)?;
        let display_name = self.validated_display_name(&input)?;
        let now = self.clock.now();
        // Two first calls at once both store it; the second keeps the first's creation time.
        self.store
            .upsert_user(User {
                id: user,
                display_name,
                avatar_url: input.avatar_url,
                created_at: now,
                updated_at: now,
                is_bot: false,
            })
            .await
    }

    /// Refuses what the host's policy does not allow.
    pub(super) fn host_allows(allowed: bool) -> Result<()> {
        if allowed {
            Ok(())
        } else {
            Err(Error::Forbidden {
                reason: "the host does not allow this",
            })
        }
    }

    /// Checks that each of `people` shares an event with `actor` (a direct room is an event
    /// of its own, so its members share it); `actor` themself always passes.
    ///
    /// # Errors
    /// [`Error::NotFound`] (`user`) for anyone else, so that nobody learns who exists.
    pub(super) async fn require_contacts(&self, actor: UserId, people: &[UserId]) -> Result<()> {
        let mine: HashSet<EventId> = self
            .store
            .events_of_user(actor)
            .await?
            .into_iter()
            .map(|s| s.event.id)
            .collect();
        for other in people.iter().filter(|p| **p != actor) {
            let shares = self
                .store
                .events_of_user(*other)
                .await?
                .iter()
                .any(|s| mine.contains(&s.event.id));
            if !shares {
                return Err(Error::NotFound { what: "user" });
            }
        }
        Ok(())
    }

    pub(super) async fn event_role(
        &self,
        actor: UserId,
        event: EventId,
    ) -> Result<Option<EventRole>> {
        Ok(self
            .store
            .get_event_member(event, actor)
            .await?
            .map(|m| m.role))
    }

    /// Checks a profile's fields; returns the display name, trimmed.
    pub(super) fn validated_display_name(&self, input: &ProfileInput) -> Result<String> {
        let name = validation::validate_name(
            "display_name",
            &input.display_name,
            self.limits.max_display_name_chars,
        )?;
        validation::validate_avatar_url(input.avatar_url.as_deref(), &self.limits)?;
        Ok(name)
    }

    /// Activity counts (server admins only).
    ///
    /// # Errors
    /// [`Error::Forbidden`] for anyone who is not a server admin.
    pub async fn system_metrics(&self, actor: UserId) -> Result<SystemMetrics> {
        if !self.server_admins.contains(&actor) {
            return Err(Error::Forbidden {
                reason: "server admin role required",
            });
        }
        self.store.system_metrics(self.clock.now()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polls_are_built_in_and_their_name_taken() {
        let mut kinds = built_in_kinds();
        assert!(kinds.contains(crate::poll::POLL_KIND));
        let again: Arc<dyn crate::PayloadKind> = Arc::new(crate::poll::PollKind::default());
        let taken = kinds.register(crate::poll::POLL_KIND, again).unwrap_err();
        assert_eq!(taken.validation_field(), "kind");
    }
}
