//! [`ChatService`]: every use case in one place, for every transport.
//!
//! Each method takes the authenticated caller (`actor`) first. Transports authenticate; the
//! service authorises, validates, rate-limits, stores and fans out, in that order (the send
//! pipeline of the design).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::account::{self, Account};
use crate::change::{ChangePage, RoomChange};
use crate::clock::{Clock, SystemClock, Timestamp};
use crate::error::{Error, Result};
use crate::event::{Event, EventMember, EventRole, EventSummary, NewEvent};
use crate::fanout::{Broker, InProcessBroker, Subscription, TypingSignal};
use crate::id::{AttachmentId, EventId, MessageId, RoomId, UserId};
use crate::limits::Limits;
use crate::mention;
use crate::message::{Attachment, HistoryCursor, HistoryPage, Message, SendMessage, Sent};
use crate::metrics::SystemMetrics;
use crate::permission::{RoomAccess, require_event_admin};
use crate::rate_limit::{RateLimitPolicy, TypingThrottle, default_policy};
use crate::room::{
    NewRoom, Room, RoomFilter, RoomKind, RoomMember, RoomPatch, RoomRole, RoomSeq, RoomView,
};
use crate::search::SearchRequest;
use crate::store::{Admission, Appended, NewMessage, Store};
use crate::user::{MemberMatch, ProfileInput, User};
use crate::validation;

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
}

impl ChatServiceBuilder {
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

    /// Grants a user server-admin rights (system metrics).
    #[must_use]
    pub fn server_admin(mut self, user: UserId) -> Self {
        self.server_admins.insert(user);
        self
    }

    /// The service.
    #[must_use]
    pub fn build(self) -> ChatService {
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
        }
    }
}

/// A room with the caller's standing in it.
struct RoomContext {
    room: Room,
    event_role: Option<EventRole>,
    member: Option<RoomMember>,
    now: Timestamp,
}

impl RoomContext {
    fn access(&self) -> RoomAccess<'_> {
        RoomAccess {
            room: &self.room,
            event_role: self.event_role,
            member: self.member.as_ref(),
            now: self.now,
        }
    }
}

/// A missing message and a message in a room the caller cannot see look the same.
fn hide_as_message(err: Error) -> Error {
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
        }
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

    fn publish(&self, change: RoomChange) -> Arc<RoomChange> {
        let change = Arc::new(change);
        self.broker.publish(Arc::clone(&change));
        change
    }

    async fn room_context(&self, actor: UserId, room_id: RoomId) -> Result<RoomContext> {
        let standing = self
            .store
            .room_standing(room_id, actor)
            .await?
            .ok_or(Error::NotFound { what: "room" })?;
        // Room membership without event membership grants nothing: every rule starts from
        // the event.
        let member = standing.event_role.and(standing.member);
        Ok(RoomContext {
            room: standing.room,
            event_role: standing.event_role,
            member,
            now: self.clock.now(),
        })
    }

    async fn require_profile(&self, user: UserId) -> Result<User> {
        self.store
            .get_user(user)
            .await?
            .ok_or(Error::NotFound { what: "user" })
    }

    async fn event_role(&self, actor: UserId, event: EventId) -> Result<Option<EventRole>> {
        Ok(self
            .store
            .get_event_member(event, actor)
            .await?
            .map(|m| m.role))
    }

    /// Checks a profile's fields; returns the display name, trimmed.
    fn validated_display_name(&self, input: &ProfileInput) -> Result<String> {
        let name = validation::validate_name(
            "display_name",
            &input.display_name,
            self.limits.max_display_name_chars,
        )?;
        validation::validate_avatar_url(input.avatar_url.as_deref(), &self.limits)?;
        Ok(name)
    }

    // ----- profiles -----

    /// Creates or updates the caller's profile.
    ///
    /// # Errors
    /// [`Error::Validation`] on `display_name` or `avatar_url`.
    pub async fn upsert_profile(&self, actor: UserId, input: ProfileInput) -> Result<User> {
        let display_name = self.validated_display_name(&input)?;
        let now = self.clock.now();
        self.store
            .upsert_user(User {
                id: actor,
                display_name,
                avatar_url: input.avatar_url,
                created_at: now,
                updated_at: now,
            })
            .await
    }

    /// A user's profile.
    ///
    /// # Errors
    /// [`Error::NotFound`] when the user has no profile.
    pub async fn get_profile(&self, _actor: UserId, user: UserId) -> Result<User> {
        self.require_profile(user).await
    }

    // ----- accounts -----

    /// Creates a sign-in account and the user's profile together, under a new user id.
    /// `password_hash` must already be a hash (chat-http uses argon2); the core never sees a
    /// password.
    ///
    /// # Errors
    /// [`Error::Validation`] on `email`, `display_name` or `avatar_url`;
    /// [`Error::Conflict`] when the email already has an account (nothing is stored).
    pub async fn create_account(
        &self,
        email: &str,
        password_hash: String,
        profile: ProfileInput,
    ) -> Result<(Account, User)> {
        let email = account::normalize_email(email)?;
        let display_name = self.validated_display_name(&profile)?;
        let now = self.clock.now();
        let id = UserId::new();
        let account = Account {
            user_id: id,
            email,
            password_hash,
            created_at: now,
        };
        let user = self
            .store
            .create_account(
                account.clone(),
                User {
                    id,
                    display_name,
                    avatar_url: profile.avatar_url,
                    created_at: now,
                    updated_at: now,
                },
            )
            .await?;
        Ok((account, user))
    }

    /// The account an email signs in to. An email that is not a valid address has no
    /// account, so a sign-in with one fails like any other unknown email.
    ///
    /// # Errors
    /// The store's errors.
    pub async fn account_by_email(&self, email: &str) -> Result<Option<Account>> {
        match account::normalize_email(email) {
            Ok(email) => self.store.account_by_email(&email).await,
            Err(_) => Ok(None),
        }
    }

    // ----- events -----

    /// Creates an event; the caller becomes its owner.
    ///
    /// # Errors
    /// [`Error::Validation`] on `name` or `kind`; [`Error::NotFound`] when the caller has no
    /// profile.
    pub async fn create_event(&self, actor: UserId, input: NewEvent) -> Result<Event> {
        let name = validation::validate_name("name", &input.name, self.limits.max_name_chars)?;
        let kind = if input.kind.trim().is_empty() {
            String::new()
        } else {
            validation::validate_name("kind", &input.kind, self.limits.max_event_kind_chars)?
        };
        self.require_profile(actor).await?;
        let now = self.clock.now();
        let event = Event {
            id: EventId::new(),
            name,
            kind,
            created_by: actor,
            created_at: now,
        };
        let owner = EventMember {
            event_id: event.id,
            user_id: actor,
            role: EventRole::Owner,
            joined_at: now,
        };
        self.store.create_event(event.clone(), owner).await?;
        Ok(event)
    }

    /// The caller's events with their role, oldest first.
    ///
    /// # Errors
    /// Only store failures.
    pub async fn list_my_events(&self, actor: UserId) -> Result<Vec<EventSummary>> {
        self.store.events_of_user(actor).await
    }

    /// One event the caller belongs to.
    ///
    /// # Errors
    /// [`Error::NotFound`] when it does not exist or the caller is not a member.
    pub async fn get_event(&self, actor: UserId, event: EventId) -> Result<EventSummary> {
        let role = self
            .event_role(actor, event)
            .await?
            .ok_or(Error::NotFound { what: "event" })?;
        let event = self
            .store
            .get_event(event)
            .await?
            .ok_or(Error::NotFound { what: "event" })?;
        Ok(EventSummary { event, role })
    }

    /// The members of an event the caller belongs to.
    ///
    /// # Errors
    /// [`Error::NotFound`] when the caller is not a member.
    pub async fn event_members(&self, actor: UserId, event: EventId) -> Result<Vec<EventMember>> {
        self.event_role(actor, event)
            .await?
            .ok_or(Error::NotFound { what: "event" })?;
        self.store.event_members(event).await
    }

    /// Adds a user to an event (owners and admins only).
    ///
    /// # Errors
    /// [`Error::NotFound`] for a hidden event or a user without profile; [`Error::Forbidden`]
    /// for a plain member or when granting `owner`; [`Error::Conflict`] when already a member.
    pub async fn add_event_member(
        &self,
        actor: UserId,
        event: EventId,
        user: UserId,
        role: EventRole,
    ) -> Result<EventMember> {
        require_event_admin(self.event_role(actor, event).await?)?;
        if role == EventRole::Owner {
            return Err(Error::Forbidden {
                reason: "an event has exactly one owner",
            });
        }
        self.require_profile(user).await?;
        if self.store.get_event_member(event, user).await?.is_some() {
            return Err(Error::conflict("already a member of this event"));
        }
        let member = EventMember {
            event_id: event,
            user_id: user,
            role,
            joined_at: self.clock.now(),
        };
        self.store.put_event_member(member).await
    }

    /// Changes a member's event role (owners and admins only; the owner's role is fixed).
    ///
    /// # Errors
    /// [`Error::NotFound`] for a hidden event or a non-member; [`Error::Forbidden`] for a plain
    /// member, for the owner's role, or when granting `owner`.
    pub async fn set_event_role(
        &self,
        actor: UserId,
        event: EventId,
        user: UserId,
        role: EventRole,
    ) -> Result<EventMember> {
        require_event_admin(self.event_role(actor, event).await?)?;
        let mut member = self
            .store
            .get_event_member(event, user)
            .await?
            .ok_or(Error::NotFound { what: "member" })?;
        if member.role == EventRole::Owner || role == EventRole::Owner {
            return Err(Error::Forbidden {
                reason: "an event has exactly one owner",
            });
        }
        member.role = role;
        self.store.put_event_member(member).await
    }

    /// Removes a member from an event and from all its rooms. Admins remove anyone but the
    /// owner; any member may remove themselves (leave).
    ///
    /// # Errors
    /// [`Error::NotFound`] for a hidden event or a non-member; [`Error::Forbidden`] for a plain
    /// member removing someone else, or for removing the owner.
    pub async fn remove_event_member(
        &self,
        actor: UserId,
        event: EventId,
        user: UserId,
    ) -> Result<()> {
        let role = self.event_role(actor, event).await?;
        if actor != user {
            require_event_admin(role)?;
        } else if role.is_none() {
            return Err(Error::NotFound { what: "event" });
        }
        let member = self
            .store
            .get_event_member(event, user)
            .await?
            .ok_or(Error::NotFound { what: "member" })?;
        if member.role == EventRole::Owner {
            return Err(Error::Forbidden {
                reason: "the owner cannot leave or be removed",
            });
        }
        // Event membership goes first: every room check requires it, so access ends at once even
        // if removing the room memberships below is interrupted.
        self.store.remove_event_member(event, user).await?;
        let now = self.clock.now();
        for room in self.store.rooms_of_event(event).await? {
            if let Some(change) = self.store.remove_room_member(room.id, user, now).await? {
                self.publish(change);
            }
        }
        Ok(())
    }

    // ----- rooms -----

    /// Creates a room in an event; the caller becomes its moderator. Any event member may
    /// create a topic room; main and announcement rooms need an event owner or admin.
    ///
    /// # Errors
    /// [`Error::Validation`] on `name`; [`Error::NotFound`] for a hidden event;
    /// [`Error::Forbidden`] for a plain member creating a main or announcement room;
    /// [`Error::Conflict`] when the name is taken in the event.
    pub async fn create_room(&self, actor: UserId, event: EventId, input: NewRoom) -> Result<Room> {
        let name = validation::validate_name("name", &input.name, self.limits.max_name_chars)?;
        let role = self
            .event_role(actor, event)
            .await?
            .ok_or(Error::NotFound { what: "event" })?;
        if input.kind != RoomKind::Topic && !role.is_admin() {
            return Err(Error::Forbidden {
                reason: "event admin role required for this room kind",
            });
        }
        let now = self.clock.now();
        let room = Room {
            id: RoomId::new(),
            event_id: event,
            name,
            kind: input.kind,
            visibility: input.visibility,
            archived: false,
            slow_mode_secs: 0,
            created_by: actor,
            created_at: now,
            last_message_at: None,
            last_seq: RoomSeq::ZERO,
        };
        let creator = RoomMember::new(room.id, actor, RoomRole::Moderator, now);
        self.store.create_room(room, creator).await
    }

    /// The rooms the caller can see: every public room of their events and the private rooms
    /// they belong to, with their membership, optionally filtered.
    ///
    /// # Errors
    /// [`Error::Validation`] on `name_contains` (same rules as a search query's length).
    pub async fn list_rooms(&self, actor: UserId, filter: RoomFilter) -> Result<Vec<RoomView>> {
        let needle = match &filter.name_contains {
            Some(n) if n.chars().count() > self.limits.max_search_query_chars => {
                return Err(Error::validation("name_contains", "too long"));
            }
            Some(n) => Some(n.to_lowercase()),
            None => None,
        };
        let now = self.clock.now();
        let memberships: HashMap<RoomId, RoomMember> = self
            .store
            .memberships_of_user(actor)
            .await?
            .into_iter()
            .map(|m| (m.room_id, m))
            .collect();
        let mut out = Vec::new();
        for summary in self.store.events_of_user(actor).await? {
            if filter.event_id.is_some_and(|e| e != summary.event.id) {
                continue;
            }
            for room in self.store.rooms_of_event(summary.event.id).await? {
                let member = memberships.get(&room.id);
                let access = RoomAccess {
                    room: &room,
                    event_role: Some(summary.role),
                    member,
                    now,
                };
                let name_ok = needle
                    .as_ref()
                    .is_none_or(|n| room.name.to_lowercase().contains(n));
                if access.can_see() && name_ok {
                    out.push(RoomView {
                        membership: member.cloned(),
                        room,
                    });
                }
            }
        }
        Ok(out)
    }

    /// One room the caller can see.
    ///
    /// # Errors
    /// [`Error::NotFound`] when it does not exist or is hidden from the caller.
    pub async fn get_room(&self, actor: UserId, room: RoomId) -> Result<RoomView> {
        let ctx = self.room_context(actor, room).await?;
        ctx.access().require_see()?;
        Ok(RoomView {
            membership: ctx.member,
            room: ctx.room,
        })
    }

    /// Changes a room's settings (moderators). Archived rooms accept only being restored.
    ///
    /// # Errors
    /// [`Error::Validation`] on `name` or `slow_mode_secs`; [`Error::NotFound`] for a hidden
    /// room; [`Error::Forbidden`] for a non-moderator or an archived room;
    /// [`Error::Conflict`] for a taken name.
    pub async fn update_room(
        &self,
        actor: UserId,
        room: RoomId,
        mut patch: RoomPatch,
    ) -> Result<Room> {
        if let Some(name) = &patch.name {
            patch.name = Some(validation::validate_name(
                "name",
                name,
                self.limits.max_name_chars,
            )?);
        }
        if patch
            .slow_mode_secs
            .is_some_and(|s| u64::from(s) > self.limits.max_slow_mode.as_secs())
        {
            return Err(Error::validation(
                "slow_mode_secs",
                format!("at most {}", self.limits.max_slow_mode.as_secs()),
            ));
        }
        let ctx = self.room_context(actor, room).await?;
        ctx.access().require_moderate()?;
        let only_restores = patch.name.is_none() && patch.slow_mode_secs.is_none();
        if !only_restores {
            ctx.access().require_writable()?;
        }
        let change = self
            .store
            .update_room(room, patch, self.clock.now())
            .await?;
        let change = self.publish(change);
        match &change.kind {
            crate::ChangeKind::RoomUpdated(room) => Ok(room.clone()),
            _ => Err(Error::internal(
                "update_room returned a change of another kind",
            )),
        }
    }

    /// Renames a room (moderators).
    ///
    /// # Errors
    /// As [`update_room`](Self::update_room).
    pub async fn rename_room(&self, actor: UserId, room: RoomId, name: String) -> Result<Room> {
        self.update_room(
            actor,
            room,
            RoomPatch {
                name: Some(name),
                ..RoomPatch::default()
            },
        )
        .await
    }

    /// Archives (read-only) or restores a room (moderators).
    ///
    /// # Errors
    /// As [`update_room`](Self::update_room).
    pub async fn set_archived(&self, actor: UserId, room: RoomId, archived: bool) -> Result<Room> {
        self.update_room(
            actor,
            room,
            RoomPatch {
                archived: Some(archived),
                ..RoomPatch::default()
            },
        )
        .await
    }

    /// Joins a public room. Joining a room one already belongs to returns the membership.
    ///
    /// # Errors
    /// [`Error::NotFound`] for a hidden room; [`Error::Forbidden`] when banned or the room is
    /// archived.
    pub async fn join_room(&self, actor: UserId, room: RoomId) -> Result<RoomMember> {
        let ctx = self.room_context(actor, room).await?;
        ctx.access().require_see()?;
        match ctx.member {
            Some(m) if m.banned => Err(Error::Forbidden {
                reason: "banned from this room",
            }),
            Some(m) => Ok(m),
            None => {
                ctx.access().require_writable()?;
                let now = self.clock.now();
                let member = RoomMember::new(room, actor, RoomRole::Member, now);
                self.put_member(member, now).await
            }
        }
    }

    async fn put_member(&self, member: RoomMember, now: Timestamp) -> Result<RoomMember> {
        let change = self.store.put_room_member(member, now).await?;
        let change = self.publish(change);
        match &change.kind {
            crate::ChangeKind::MemberJoined(m) | crate::ChangeKind::MemberUpdated(m) => {
                Ok(m.clone())
            }
            _ => Err(Error::internal(
                "put_room_member returned a change of another kind",
            )),
        }
    }

    /// Adds an event member to a room (moderators); the way into a private room.
    ///
    /// # Errors
    /// [`Error::NotFound`] for a hidden room or a user outside the event; [`Error::Forbidden`]
    /// for a non-moderator or an archived room; [`Error::Conflict`] when already a member.
    pub async fn invite(&self, actor: UserId, room: RoomId, user: UserId) -> Result<RoomMember> {
        let ctx = self.room_context(actor, room).await?;
        ctx.access().require_moderate()?;
        ctx.access().require_writable()?;
        self.store
            .get_event_member(ctx.room.event_id, user)
            .await?
            .ok_or(Error::NotFound { what: "user" })?;
        if self.store.get_room_member(room, user).await?.is_some() {
            return Err(Error::conflict("already a member of this room"));
        }
        let now = self.clock.now();
        self.put_member(RoomMember::new(room, user, RoomRole::Member, now), now)
            .await
    }

    /// Leaves a room. A banned member cannot leave (the ban is kept in the membership).
    ///
    /// # Errors
    /// [`Error::NotFound`] for a hidden room or when not a member; [`Error::Forbidden`] when
    /// banned.
    pub async fn leave_room(&self, actor: UserId, room: RoomId) -> Result<()> {
        let ctx = self.room_context(actor, room).await?;
        ctx.access().require_see()?;
        match &ctx.member {
            None => Err(Error::NotFound { what: "membership" }),
            Some(m) if m.banned => Err(Error::Forbidden {
                reason: "banned from this room",
            }),
            Some(_) => {
                if let Some(change) = self
                    .store
                    .remove_room_member(room, actor, self.clock.now())
                    .await?
                {
                    self.publish(change);
                }
                Ok(())
            }
        }
    }

    /// The members of a room the caller can read.
    ///
    /// # Errors
    /// As reading the room.
    pub async fn room_members(&self, actor: UserId, room: RoomId) -> Result<Vec<RoomMember>> {
        self.room_context(actor, room)
            .await?
            .access()
            .require_read()?;
        self.store.room_members(room).await
    }

    async fn moderate_member(
        &self,
        actor: UserId,
        room: RoomId,
        user: UserId,
        change: impl FnOnce(&mut RoomMember),
        creates: bool,
    ) -> Result<RoomMember> {
        let ctx = self.room_context(actor, room).await?;
        ctx.access().require_moderate()?;
        ctx.access().require_writable()?;
        let target_role = self.event_role(user, ctx.room.event_id).await?;
        let Some(target_role) = target_role else {
            return Err(Error::NotFound { what: "member" });
        };
        let now = self.clock.now();
        let mut member = match self.store.get_room_member(room, user).await? {
            Some(m) => m,
            None if creates => RoomMember::new(room, user, RoomRole::Member, now),
            None => return Err(Error::NotFound { what: "member" }),
        };
        let before = member.clone();
        change(&mut member);
        let restricts = member.banned && !before.banned
            || member.muted_until.is_some_and(|t| t > now)
                && before.muted_until != member.muted_until;
        if restricts && target_role.is_admin() {
            return Err(Error::Forbidden {
                reason: "event admins cannot be muted or banned",
            });
        }
        if member == before {
            return Ok(member);
        }
        self.put_member(member, now).await
    }

    /// Sets a member's room role (moderators).
    ///
    /// # Errors
    /// [`Error::NotFound`] for a hidden room or a non-member; [`Error::Forbidden`] for a
    /// non-moderator or an archived room.
    pub async fn set_member_role(
        &self,
        actor: UserId,
        room: RoomId,
        user: UserId,
        role: RoomRole,
    ) -> Result<RoomMember> {
        self.moderate_member(actor, room, user, |m| m.role = role, false)
            .await
    }

    /// Mutes a member until a time, or unmutes with `None` (moderators).
    ///
    /// # Errors
    /// As [`set_member_role`](Self::set_member_role), and [`Error::Forbidden`] for muting an
    /// event admin.
    pub async fn mute_member(
        &self,
        actor: UserId,
        room: RoomId,
        user: UserId,
        until: Option<Timestamp>,
    ) -> Result<RoomMember> {
        self.moderate_member(actor, room, user, |m| m.muted_until = until, false)
            .await
    }

    /// Bans or unbans an event member from a room (moderators). Banning a non-member records
    /// the ban so they cannot join.
    ///
    /// # Errors
    /// As [`mute_member`](Self::mute_member).
    pub async fn ban_member(
        &self,
        actor: UserId,
        room: RoomId,
        user: UserId,
        banned: bool,
    ) -> Result<RoomMember> {
        self.moderate_member(actor, room, user, |m| m.banned = banned, banned)
            .await
    }

    /// Marks the room read up to `seq` for the caller.
    ///
    /// # Errors
    /// As reading the room; [`Error::Validation`] on `seq` beyond the room's last seq.
    pub async fn mark_read(&self, actor: UserId, room: RoomId, seq: RoomSeq) -> Result<RoomMember> {
        let ctx = self.room_context(actor, room).await?;
        ctx.access().require_read()?;
        if seq > ctx.room.last_seq {
            return Err(Error::validation("seq", "beyond the room's last seq"));
        }
        self.store.set_last_read(room, actor, seq).await
    }

    /// Room members whose display name starts with `prefix` (mention autocomplete).
    ///
    /// # Errors
    /// As reading the room; [`Error::Validation`] on `prefix` or `limit`.
    pub async fn lookup_members(
        &self,
        actor: UserId,
        room: RoomId,
        prefix: &str,
        limit: Option<i64>,
    ) -> Result<Vec<MemberMatch>> {
        if prefix.chars().count() > self.limits.max_display_name_chars
            || prefix.contains(char::is_control)
        {
            return Err(Error::validation(
                "prefix",
                "too long or contains control characters",
            ));
        }
        let limit = validation::validate_page_size(limit, &self.limits)?;
        self.room_context(actor, room)
            .await?
            .access()
            .require_read()?;
        self.store.members_by_name_prefix(room, prefix, limit).await
    }

    // ----- messages -----

    /// Sends a message through the pipeline: authorise, validate, deduplicate, rate-limit,
    /// persist, fan out.
    ///
    /// # Errors
    /// [`Error::NotFound`] for a hidden room or a reply target outside it;
    /// [`Error::Forbidden`] when the caller may not post; [`Error::Validation`] for bad input;
    /// [`Error::RateLimited`] with the wait.
    pub async fn send_message(
        &self,
        actor: UserId,
        room: RoomId,
        input: SendMessage,
    ) -> Result<Sent> {
        self.send_as(actor, room, input, false).await
    }

    /// As [`send_message`](Self::send_message), marking the message as written by a bot or model.
    ///
    /// # Errors
    /// As [`send_message`](Self::send_message).
    pub async fn send_ai_message(
        &self,
        actor: UserId,
        room: RoomId,
        input: SendMessage,
    ) -> Result<Sent> {
        self.send_as(actor, room, input, true).await
    }

    async fn send_as(
        &self,
        actor: UserId,
        room: RoomId,
        input: SendMessage,
        ai: bool,
    ) -> Result<Sent> {
        let ctx = self.room_context(actor, room).await?;
        let access = ctx.access();
        access.require_post()?;
        validation::validate_attachments(&input.attachments, &self.limits)?;
        validation::validate_text(&input.text, !input.attachments.is_empty(), &self.limits)?;
        if let Some(id) = &input.client_msg_id {
            validation::validate_client_msg_id(id, &self.limits)?;
        }
        let mentioned = mention::mentioned_user_ids(&input.text, self.limits.max_mentions + 1);
        if mentioned.len() > self.limits.max_mentions {
            return Err(Error::validation(
                "text",
                format!("too many mentions (max {})", self.limits.max_mentions),
            ));
        }
        if let Some(reply_to) = input.reply_to {
            let target = self.store.get_message(reply_to).await?;
            if target.is_none_or(|m| m.room_id != room) {
                return Err(Error::NotFound {
                    what: "reply_to message",
                });
            }
        }
        let mentions = if mentioned.is_empty() {
            mentioned
        } else {
            self.store.member_ids_among(room, &mentioned).await?
        };
        let attachments = input
            .attachments
            .into_iter()
            .map(|a| Attachment {
                id: AttachmentId::new(),
                uploader: actor,
                file_name: a.file_name.trim().to_owned(),
                content_type: a.content_type,
                size: a.size,
                checksum: a.checksum,
            })
            .collect();
        let new = NewMessage {
            id: MessageId::new(),
            room_id: room,
            author_id: actor,
            text: input.text,
            mentions,
            attachments,
            reply_to: input.reply_to,
            client_msg_id: input.client_msg_id,
            is_ai_generated: ai,
            created_at: self.clock.now(),
        };
        let admission = Admission {
            policy: self.policy.as_ref(),
            is_moderator: access.is_moderator(),
        };
        match self.store.append_message(new, admission).await? {
            Appended::Replayed(message) => Ok(Sent {
                message,
                replayed: true,
            }),
            Appended::Created(change) => {
                let change = self.publish(change);
                let message = change.kind.message().cloned().ok_or_else(|| {
                    Error::internal("append_message returned a change without a message")
                })?;
                Ok(Sent {
                    message,
                    replayed: false,
                })
            }
        }
    }

    async fn message_context(
        &self,
        actor: UserId,
        id: MessageId,
    ) -> Result<(Message, RoomContext)> {
        let message = self
            .store
            .get_message(id)
            .await?
            .ok_or(Error::NotFound { what: "message" })?;
        let ctx = self
            .room_context(actor, message.room_id)
            .await
            .map_err(hide_as_message)?;
        ctx.access().require_see().map_err(hide_as_message)?;
        Ok((message, ctx))
    }

    /// Edits the caller's own message.
    ///
    /// # Errors
    /// [`Error::NotFound`] for a hidden message; [`Error::Forbidden`] for someone else's
    /// message or when the caller may not post; [`Error::Conflict`] for a deleted message;
    /// [`Error::Validation`] for bad text.
    pub async fn edit_message(
        &self,
        actor: UserId,
        id: MessageId,
        text: String,
    ) -> Result<Message> {
        let (message, ctx) = self.message_context(actor, id).await?;
        if message.author_id != actor {
            return Err(Error::Forbidden {
                reason: "only the author may edit a message",
            });
        }
        ctx.access().require_post()?;
        if message.is_deleted {
            return Err(Error::conflict("message is deleted"));
        }
        validation::validate_text(&text, !message.attachments.is_empty(), &self.limits)?;
        let mentioned = mention::mentioned_user_ids(&text, self.limits.max_mentions + 1);
        if mentioned.len() > self.limits.max_mentions {
            return Err(Error::validation("text", "too many mentions"));
        }
        let mentions = if mentioned.is_empty() {
            mentioned
        } else {
            self.store
                .member_ids_among(message.room_id, &mentioned)
                .await?
        };
        let change = self
            .store
            .edit_message(id, text, mentions, self.clock.now())
            .await?;
        let change = self.publish(change);
        change
            .kind
            .message()
            .cloned()
            .ok_or_else(|| Error::internal("edit returned no message"))
    }

    /// Deletes a message, leaving a tombstone: the author deletes their own, moderators any.
    /// Deleting a deleted message returns its tombstone.
    ///
    /// # Errors
    /// [`Error::NotFound`] for a hidden message; [`Error::Forbidden`] for someone else's
    /// message without the moderator role, or an archived room.
    pub async fn delete_message(&self, actor: UserId, id: MessageId) -> Result<Message> {
        let (message, ctx) = self.message_context(actor, id).await?;
        // Authors delete their own messages while they can read the room; moderators (event
        // admins included, who need not join public rooms) delete any.
        if message.author_id == actor {
            ctx.access().require_read()?;
        } else {
            ctx.access().require_moderate()?;
        }
        ctx.access().require_writable()?;
        match self.store.delete_message(id, self.clock.now()).await? {
            Some(change) => {
                let change = self.publish(change);
                change
                    .kind
                    .message()
                    .cloned()
                    .ok_or_else(|| Error::internal("delete returned no message"))
            }
            None => self
                .store
                .get_message(id)
                .await?
                .ok_or(Error::NotFound { what: "message" }),
        }
    }

    /// Adds or removes the caller's reaction on a message.
    ///
    /// # Errors
    /// [`Error::NotFound`] for a hidden message; [`Error::Forbidden`] when the caller may not
    /// post; [`Error::Validation`] on the key; [`Error::Conflict`] for a deleted message.
    pub async fn react(
        &self,
        actor: UserId,
        id: MessageId,
        key: &str,
        present: bool,
    ) -> Result<Message> {
        validation::validate_reaction_key(key, &self.limits)?;
        let (message, ctx) = self.message_context(actor, id).await?;
        ctx.access().require_post()?;
        if message.is_deleted {
            return Err(Error::conflict("message is deleted"));
        }
        match self
            .store
            .set_reaction(id, actor, key, present, self.clock.now())
            .await?
        {
            Some(change) => {
                let change = self.publish(change);
                change
                    .kind
                    .message()
                    .cloned()
                    .ok_or_else(|| Error::internal("reaction returned no message"))
            }
            None => Ok(message),
        }
    }

    /// A page of a room's history.
    ///
    /// # Errors
    /// As reading the room; [`Error::Validation`] on `limit`.
    pub async fn history(
        &self,
        actor: UserId,
        room: RoomId,
        cursor: HistoryCursor,
        limit: Option<i64>,
    ) -> Result<HistoryPage> {
        let limit = validation::validate_page_size(limit, &self.limits)?;
        self.room_context(actor, room)
            .await?
            .access()
            .require_read()?;
        let mut messages = self.store.history(room, cursor, limit + 1).await?;
        let has_more = messages.len() > limit as usize;
        messages.truncate(limit as usize);
        Ok(HistoryPage { messages, has_more })
    }

    /// A page of the room's change log after `after`: what a reconnecting client replays.
    ///
    /// # Errors
    /// As reading the room; [`Error::Validation`] on `limit`.
    pub async fn changes(
        &self,
        actor: UserId,
        room: RoomId,
        after: RoomSeq,
        limit: Option<i64>,
    ) -> Result<ChangePage> {
        let limit = validation::validate_page_size(limit, &self.limits)?;
        let ctx = self.room_context(actor, room).await?;
        ctx.access().require_read()?;
        let mut changes = self.store.changes_after(room, after, limit + 1).await?;
        let has_more = changes.len() > limit as usize;
        changes.truncate(limit as usize);
        let last_seq = changes
            .last()
            .map_or(ctx.room.last_seq, |c| c.seq.max(ctx.room.last_seq));
        Ok(ChangePage {
            changes,
            last_seq,
            has_more,
        })
    }

    /// Subscribes to a room's live changes after `since` (default: the room's current seq).
    ///
    /// To resume without loss: subscribe first, then replay [`changes`](Self::changes) after
    /// `since` page by page, call [`Subscription::advance_to`] with the last replayed seq, and
    /// only then read the subscription. Anything committed meanwhile arrives exactly once.
    ///
    /// # Errors
    /// As reading the room.
    pub async fn subscribe(
        &self,
        actor: UserId,
        room: RoomId,
        since: Option<RoomSeq>,
    ) -> Result<Subscription> {
        let ctx = self.room_context(actor, room).await?;
        ctx.access().require_read()?;
        let mut sub = self.broker.subscribe(room, since.unwrap_or(RoomSeq::ZERO));
        if since.is_none() {
            // Read the position after subscribing, so a change committed in between is either
            // at or below it (dropped) or above it (delivered): never lost.
            let room = self
                .store
                .get_room(room)
                .await?
                .ok_or(Error::NotFound { what: "room" })?;
            sub.advance_to(room.last_seq);
        }
        Ok(sub)
    }

    /// Announces that the caller is typing; throttled and never stored.
    ///
    /// # Errors
    /// As posting; [`Error::RateLimited`] within the typing interval.
    pub async fn typing(&self, actor: UserId, room: RoomId) -> Result<()> {
        let ctx = self.room_context(actor, room).await?;
        ctx.access().require_post()?;
        self.typing
            .check(actor, room, ctx.now)
            .map_err(|retry_after| Error::RateLimited { retry_after })?;
        let display_name = self.require_profile(actor).await?.display_name;
        self.broker.publish_typing(TypingSignal {
            room_id: room,
            user_id: actor,
            display_name,
            at: ctx.now,
        });
        Ok(())
    }

    /// Searches messages in one room or in every room the caller can read, newest first.
    /// Deleted messages never match.
    ///
    /// # Errors
    /// [`Error::Validation`] on `query` or `limit`; as reading the room when one is named.
    pub async fn search(&self, actor: UserId, request: SearchRequest) -> Result<Vec<Message>> {
        let tokens = validation::validate_search_query(&request.query, &self.limits)?;
        let limit = validation::validate_page_size(request.limit, &self.limits)?;
        let rooms = match request.room_id {
            Some(room) => {
                self.room_context(actor, room)
                    .await?
                    .access()
                    .require_read()?;
                vec![room]
            }
            None => self.readable_rooms(actor).await?,
        };
        if rooms.is_empty() {
            return Ok(Vec::new());
        }
        self.store.search_messages(&rooms, &tokens, limit).await
    }

    /// The rooms `actor` may read: non-banned memberships in rooms of events they belong to.
    async fn readable_rooms(&self, actor: UserId) -> Result<Vec<RoomId>> {
        let readable: HashSet<RoomId> = self
            .store
            .memberships_of_user(actor)
            .await?
            .into_iter()
            .filter(|m| !m.banned)
            .map(|m| m.room_id)
            .collect();
        let mut rooms = Vec::new();
        // Walk the caller's events rather than their memberships: a room whose event the caller
        // left is not readable, even if a room membership outlived the event membership.
        for summary in self.store.events_of_user(actor).await? {
            for room in self.store.rooms_of_event(summary.event.id).await? {
                if readable.contains(&room.id) {
                    rooms.push(room.id);
                }
            }
        }
        Ok(rooms)
    }

    // ----- operations -----

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

    /// Whether `user` is a server admin.
    #[must_use]
    pub fn is_server_admin(&self, user: UserId) -> bool {
        self.server_admins.contains(&user)
    }
}
