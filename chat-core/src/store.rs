//! The storage traits. A store keeps the data and the guarantees that need atomicity; the
//! [`ChatService`](crate::ChatService) does everything else (permissions, validation, fan-out).
//!
//! The traits are object-safe (`Arc<dyn Store>` is how the service holds a store), use
//! `async-trait`, and return [`Error`](crate::Error) with backend errors kept as sources:
//! a lost connection is [`Error::Unavailable`](crate::Error::Unavailable), a unique violation
//! [`Error::Conflict`](crate::Error::Conflict).
//!
//! # Guarantees every store keeps
//!
//! 1. **Gap-free seq.** Every method that returns a [`RoomChange`] assigns it the room's next
//!    seq atomically with the change itself, and updates [`Room::last_seq`]. Seqs of a room are
//!    1, 2, 3, … with no gap and no duplicate, however many writers race.
//! 2. **Idempotent sends.** [`MessageStore::append_message`] with a `client_msg_id` the author
//!    already used returns [`Appended::Replayed`] with the original message, whatever the new
//!    content, and stores nothing. Two racing sends with the same id produce one message.
//! 3. **Exact rate limits.** `append_message` reads the author's [`SendHistory`] and asks the
//!    policy in the same critical section that inserts the message, serialised per author, so
//!    N concurrent sends admit exactly as many as the policy allows. A refused send stores
//!    nothing and so costs nothing. The author's right to post is read and judged in that
//!    same section ([`Admission::authorize`]), so no message lands after a ban, mute or
//!    archiving that committed before it.
//! 4. **Permission-filtered search.** [`MessageStore::search_messages`] returns only messages of
//!    the rooms it is given (the service passes the rooms the caller may read), never deleted
//!    ones.
//! 5. **Complete change log.** [`MessageStore::changes_after`] returns every change after a
//!    seq, in order.
//! 6. **No deleted or replaced text.** A message change read from the log carries the message
//!    as it is now (see [`crate::change`]): after a deletion no entry returns its text,
//!    mentions or attachments, and after an edit no entry returns the replaced text.
//! 7. **Attachments claimed once.** [`MessageStore::append_message`] attaches the uploads a
//!    message names in the same transaction that stores it, only if each is still
//!    unattached and not discarded; otherwise it stores nothing and answers
//!    [`Error::Conflict`](crate::Error::Conflict). Two racing sends naming one upload attach
//!    it to one message. [`MessageStore::delete_message`] discards the message's uploads in
//!    the same transaction.
//!
//! # Implementing a store
//!
//! Implement the six area traits; [`Store`] then comes for free. Run the conformance suite
//! (`chat_core::conformance_tests!`, feature `testing`) to prove it.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::account::Account;
use crate::attachment::Upload;
use crate::change::RoomChange;
use crate::clock::Timestamp;
use crate::error::Result;
use crate::event::{Event, EventMember, EventRole, EventSummary};
use crate::id::{AttachmentId, EventId, MessageId, RoomId, UserId};
use crate::message::{Attachment, HistoryCursor, Message};
use crate::metrics::SystemMetrics;
use crate::payload::Payload;
use crate::permission::RoomAccess;
use crate::rate_limit::{RateLimitPolicy, SendHistory};
use crate::room::{Room, RoomMember, RoomPatch, RoomSeq};
use crate::user::{MemberMatch, User};

/// User profiles.
#[async_trait]
pub trait ProfileStore: fmt::Debug + Send + Sync + 'static {
    /// Inserts a profile, or updates the display name, avatar and `updated_at` of an existing
    /// one (keeping its `created_at`). Returns the stored profile.
    async fn upsert_user(&self, user: User) -> Result<User>;

    /// A profile, if stored.
    async fn get_user(&self, id: UserId) -> Result<Option<User>>;

    /// Sets only the picture of a stored profile (and its `updated_at`), leaving the rest as
    /// it is at that moment: a rename that commits while a picture is being processed is kept.
    /// Returns the stored profile, or `None` when there is none.
    async fn set_avatar_url(
        &self,
        id: UserId,
        avatar_url: Option<String>,
        updated_at: Timestamp,
    ) -> Result<Option<User>>;
}

/// Sign-in accounts (see [`crate::account`]).
#[async_trait]
pub trait AccountStore: fmt::Debug + Send + Sync + 'static {
    /// Stores a new account together with its user's profile, atomically: either both are
    /// stored or neither is. Returns the stored profile.
    ///
    /// # Errors
    /// [`Error::Conflict`](crate::Error::Conflict) when the email (already normalized) or the
    /// user already has an account; nothing is stored then. Two racing creations of one email
    /// store one account.
    async fn create_account(&self, account: Account, profile: User) -> Result<User>;

    /// The account with this (normalized) email, if any.
    async fn account_by_email(&self, email: &str) -> Result<Option<Account>>;
}

/// Events and their members.
#[async_trait]
pub trait EventStore: fmt::Debug + Send + Sync + 'static {
    /// Stores a new event together with its first (owner) member, atomically.
    async fn create_event(&self, event: Event, owner: EventMember) -> Result<()>;

    /// An event, if stored.
    async fn get_event(&self, id: EventId) -> Result<Option<Event>>;

    /// The events `user` belongs to, with their role, oldest first.
    async fn events_of_user(&self, user: UserId) -> Result<Vec<EventSummary>>;

    /// One membership, if it exists.
    async fn get_event_member(&self, event: EventId, user: UserId) -> Result<Option<EventMember>>;

    /// An event's members, in join order.
    async fn event_members(&self, event: EventId) -> Result<Vec<EventMember>>;

    /// Inserts a membership or changes the role of an existing one (keeping `joined_at`).
    ///
    /// # Errors
    /// [`Error::NotFound`](crate::Error::NotFound) when the event or the user does not exist.
    async fn put_event_member(&self, member: EventMember) -> Result<EventMember>;

    /// Removes a membership; `false` if there was none.
    async fn remove_event_member(&self, event: EventId, user: UserId) -> Result<bool>;
}

/// Rooms and room members.
#[async_trait]
pub trait RoomStore: EventStore {
    /// Stores a new room (at seq 0) with its creator as first member.
    ///
    /// # Errors
    /// [`Error::Conflict`](crate::Error::Conflict) when the event already has a room of that
    /// name, ignoring case; [`Error::NotFound`](crate::Error::NotFound) for a missing event.
    async fn create_room(&self, room: Room, creator: RoomMember) -> Result<Room>;

    /// A room, if stored.
    async fn get_room(&self, id: RoomId) -> Result<Option<Room>>;

    /// The direct room of the set of people `direct.key` names, creating it (with its event
    /// and every person as a member of both) if there is none yet. Atomic: racing calls with
    /// one key create one room, and every caller gets it. Returns the room and whether this
    /// call created it.
    async fn open_direct_room(&self, direct: NewDirectRoom) -> Result<(Room, bool)>;

    /// An event's rooms, oldest first.
    async fn rooms_of_event(&self, event: EventId) -> Result<Vec<Room>>;

    /// Applies a patch and logs a [`ChangeKind::RoomUpdated`](crate::ChangeKind::RoomUpdated).
    ///
    /// # Errors
    /// [`Error::NotFound`](crate::Error::NotFound); [`Error::Conflict`](crate::Error::Conflict)
    /// when the new name is taken in the event.
    async fn update_room(&self, id: RoomId, patch: RoomPatch, at: Timestamp) -> Result<RoomChange>;

    /// One membership, if it exists.
    async fn get_room_member(&self, room: RoomId, user: UserId) -> Result<Option<RoomMember>>;

    /// The room with `user`'s standing in it: what every permission check reads. Stores that
    /// can answer in one round trip should override this; the default makes three calls.
    async fn room_standing(&self, room: RoomId, user: UserId) -> Result<Option<RoomStanding>> {
        let Some(room) = self.get_room(room).await? else {
            return Ok(None);
        };
        let event_role = self
            .get_event_member(room.event_id, user)
            .await?
            .map(|m| m.role);
        let member = self.get_room_member(room.id, user).await?;
        Ok(Some(RoomStanding {
            room,
            event_role,
            member,
        }))
    }

    /// A room's members, in join order.
    async fn room_members(&self, room: RoomId) -> Result<Vec<RoomMember>>;

    /// Every room membership of `user`.
    async fn memberships_of_user(&self, user: UserId) -> Result<Vec<RoomMember>>;

    /// Inserts a membership (logging `MemberJoined`) or replaces the role, mute and ban of an
    /// existing one (logging `MemberUpdated`; `joined_at` and `last_read_seq` are kept).
    ///
    /// # Errors
    /// [`Error::NotFound`](crate::Error::NotFound) when the room or the user does not exist.
    async fn put_room_member(&self, member: RoomMember, at: Timestamp) -> Result<RoomChange>;

    /// Removes a membership, logging `MemberLeft`; `None` if there was none.
    async fn remove_room_member(
        &self,
        room: RoomId,
        user: UserId,
        at: Timestamp,
    ) -> Result<Option<RoomChange>>;

    /// Raises the member's `last_read_seq` to `seq` (never lowers it). Not logged: read state
    /// is private.
    ///
    /// # Errors
    /// [`Error::NotFound`](crate::Error::NotFound) when there is no such membership.
    async fn set_last_read(&self, room: RoomId, user: UserId, seq: RoomSeq) -> Result<RoomMember>;

    /// Those of `users` that are members of `room` and not banned, in the given order, with
    /// their current display name and avatar: what a mention resolves to.
    async fn members_among(&self, room: RoomId, users: &[UserId]) -> Result<Vec<MemberMatch>>;

    /// Non-banned members whose display name starts with `prefix`, ignoring case, ordered by
    /// name, at most `limit`. The prefix is literal text: no wildcard in it has meaning.
    async fn members_by_name_prefix(
        &self,
        room: RoomId,
        prefix: &str,
        limit: u32,
    ) -> Result<Vec<MemberMatch>>;
}

/// A direct room to store, as [`RoomStore::open_direct_room`] takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDirectRoom {
    /// Names the set of people: their ids, sorted, joined by commas. Unique per store.
    pub key: String,
    /// Its event (kind [`DIRECT_EVENT_KIND`](crate::event::DIRECT_EVENT_KIND)).
    pub event: Event,
    /// The room (kind [`RoomKind::Direct`](crate::RoomKind::Direct), private).
    pub room: Room,
    /// Everyone in it, each a member of the event and of the room.
    pub members: Vec<UserId>,
}

/// A room and one user's standing in it, as [`RoomStore::room_standing`] reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomStanding {
    /// The room.
    pub room: Room,
    /// The user's role in the room's event, if a member of it.
    pub event_role: Option<EventRole>,
    /// The user's room membership, if any.
    pub member: Option<RoomMember>,
}

impl RoomStanding {
    /// What the user may do in the room at `now`. A room membership without the event's
    /// grants nothing: every rule starts from the event.
    #[must_use]
    pub fn access(&self, now: Timestamp) -> RoomAccess<'_> {
        RoomAccess {
            room: &self.room,
            event_role: self.event_role,
            member: self.event_role.and(self.member.as_ref()),
            now,
        }
    }
}

/// A message ready to be stored: validated, authorised, with its author snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// Its id.
    pub id: MessageId,
    /// The room.
    pub room_id: RoomId,
    /// The author. The store snapshots their display name and avatar as it stores the message.
    pub author_id: UserId,
    /// The text.
    pub text: String,
    /// Mentioned room members.
    pub mentions: Vec<UserId>,
    /// The uploads it attaches (guarantee 7), in the order the sender named them.
    pub attachments: Vec<Attachment>,
    /// Its typed content, validated.
    pub payload: Option<Payload>,
    /// The message replied to.
    pub reply_to: Option<MessageId>,
    /// The idempotency key.
    pub client_msg_id: Option<String>,
    /// Written by a bot or model.
    pub is_ai_generated: bool,
    /// The send time; also the "now" of rate-limit admission.
    pub created_at: Timestamp,
}

/// The author of a message as the store reads them when it stores it: their profile then (the
/// message keeps it), and whether they are a bot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorSnapshot {
    /// Their display name.
    pub display_name: String,
    /// Their picture.
    pub avatar_url: Option<String>,
    /// A bot's messages are marked AI-generated, whichever call sent them.
    pub is_bot: bool,
}

impl NewMessage {
    /// The message this becomes once stored under `seq`, by `author` as they were at send
    /// time.
    #[must_use]
    pub fn into_message(self, seq: RoomSeq, author: AuthorSnapshot) -> Message {
        Message {
            id: self.id,
            room_id: self.room_id,
            seq,
            author_id: self.author_id,
            author_name: author.display_name,
            author_avatar: author.avatar_url,
            text: self.text,
            mentions: self.mentions,
            attachments: self.attachments,
            payload: self.payload,
            reply_to: self.reply_to,
            reply_count: 0,
            last_reply_at: None,
            reactions: std::collections::BTreeMap::new(),
            client_msg_id: self.client_msg_id,
            is_edited: false,
            edited_at: None,
            is_deleted: false,
            deleted_at: None,
            is_ai_generated: self.is_ai_generated || author.is_bot,
            created_at: self.created_at,
        }
    }
}

/// What [`MessageStore::append_message`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Appended {
    /// A new message, with its changes.
    Created {
        /// Its `MessagePosted` change.
        posted: RoomChange,
        /// For a reply, the `ThreadUpdated` change of the message it replies to, logged under
        /// the next seq in the same transaction. Boxed: most sends are not replies.
        thread: Option<Box<RoomChange>>,
    },
    /// The `client_msg_id` was used before: the original message; nothing was stored.
    Replayed(Message),
}

/// How a send is admitted: the room's rules for who may post, and the rate-limit policy.
///
/// The store asks both in the same critical section that writes the message, with facts it
/// read there: [`authorize`](Self::authorize) on the author's [`RoomStanding`], then
/// [`check`](Self::check) on their [`SendHistory`]. So a ban, a mute or an archiving that
/// commits before the send is always seen: no message lands after the change that forbade it.
/// It owns the policy (a shared handle), so a store may decide on a send away from the
/// caller's task, as PostgreSQL's group commit does.
#[derive(Debug, Clone)]
pub struct Admission {
    /// The rate-limit policy.
    pub policy: Arc<dyn RateLimitPolicy>,
}

impl Admission {
    /// Whether the author may post, by their standing read in the store's critical section
    /// (see [`RoomAccess::require_post`]). Returns whether
    /// they moderate the room, which the policy needs (slow mode exempts moderators).
    ///
    /// # Errors
    /// [`Error::NotFound`](crate::Error::NotFound) (`room`) when the room is hidden from the
    /// author; [`Error::Forbidden`](crate::Error::Forbidden) when they may see it but not post.
    pub fn authorize(&self, standing: &RoomStanding, now: Timestamp) -> Result<bool> {
        let access = standing.access(now);
        access.require_post()?;
        Ok(access.is_moderator())
    }

    /// Runs the policy on facts the store read.
    ///
    /// # Errors
    /// [`Error::RateLimited`](crate::Error::RateLimited) with the wait.
    pub fn check(&self, history: &SendHistory<'_>) -> Result<()> {
        self.policy
            .check(history)
            .map_err(|retry_after| crate::Error::RateLimited { retry_after })
    }
}

/// How [`MessageStore::update_payload`] changes a payload: given the message as stored, locked
/// against other writers until the change is committed, it returns the payload to store,
/// `None` to change nothing, or the error to answer with (nothing is stored then).
pub type PayloadUpdate<'a> = dyn Fn(&Message) -> Result<Option<Payload>> + Send + Sync + 'a;

/// Messages, the change log, search and counts.
#[async_trait]
pub trait MessageStore: fmt::Debug + Send + Sync + 'static {
    /// Stops the store's own background work (a committer of batched sends, say) and waits
    /// until it has; sends already queued are answered first. Called by
    /// [`ChatService::shutdown`](crate::ChatService::shutdown) once nothing more is sent; a
    /// later send starts the work again. Default: there is none.
    async fn shutdown(&self) {}

    /// Atomically: authorises the send through `admission` (reading the author's
    /// [`RoomStanding`] at `created_at`); replays a known `(author, client_msg_id)`; otherwise
    /// admits the send through `admission` (reading the author's newest
    /// `policy.history_limit()` sends after `created_at - policy.lookback()`, and their last
    /// send in the room), assigns the next
    /// seq, stores the message, updates the room's `last_seq` and `last_message_at`, and logs
    /// `MessagePosted`. For a reply it also raises the parent's `reply_count`, sets its
    /// `last_reply_at` and logs `ThreadUpdated` for it under the following seq.
    ///
    /// # Errors
    /// [`Error::RateLimited`](crate::Error::RateLimited) when refused;
    /// [`Error::NotFound`](crate::Error::NotFound) for a missing room or author profile, or a
    /// room hidden from the author; [`Error::Forbidden`](crate::Error::Forbidden) when the
    /// author may not post there (see [`Admission::authorize`]);
    /// [`Error::Conflict`](crate::Error::Conflict) when an upload it names is attached
    /// already or discarded (guarantee 7).
    async fn append_message(&self, msg: NewMessage, admission: Admission) -> Result<Appended>;

    /// A message (or tombstone), if stored.
    async fn get_message(&self, id: MessageId) -> Result<Option<Message>>;

    /// Replaces the text and mentions, marks the message edited and logs `MessageEdited`.
    ///
    /// # Errors
    /// [`Error::NotFound`](crate::Error::NotFound); [`Error::Conflict`](crate::Error::Conflict)
    /// when the message is deleted.
    async fn edit_message(
        &self,
        id: MessageId,
        text: String,
        mentions: Vec<UserId>,
        at: Timestamp,
    ) -> Result<RoomChange>;

    /// Changes a message's payload atomically: locks the message against other writers, asks
    /// `update` for its new payload, stores it and logs `PayloadUpdated`. `None` when `update`
    /// changes nothing (nothing is logged); `update`'s error is answered as it is, with
    /// nothing stored. Racing updates each see the other's result: none is lost.
    ///
    /// # Errors
    /// [`Error::NotFound`](crate::Error::NotFound) (`message`);
    /// [`Error::Conflict`](crate::Error::Conflict) when the message is deleted (`update` is not
    /// called then).
    async fn update_payload(
        &self,
        id: MessageId,
        update: &PayloadUpdate<'_>,
        at: Timestamp,
    ) -> Result<Option<RoomChange>>;

    /// Turns the message into a tombstone (text, mentions, attachments, payload and reactions cleared),
    /// discards its uploads and logs `MessageDeleted`; for a reply, also lowers the parent's
    /// `reply_count`, sets its `last_reply_at` to its newest remaining reply, and logs
    /// `ThreadUpdated` for it. Returns the changes in log order, none when the message was
    /// already deleted: deleting is idempotent.
    ///
    /// # Errors
    /// [`Error::NotFound`](crate::Error::NotFound).
    async fn delete_message(&self, id: MessageId, at: Timestamp) -> Result<Vec<RoomChange>>;

    /// Up to `limit` replies to `parent` (tombstones included) with seq above `after`,
    /// oldest first.
    async fn replies(&self, parent: MessageId, after: RoomSeq, limit: u32) -> Result<Vec<Message>>;

    /// Adds (`present`) or removes `user`'s reaction `key`, logging `ReactionsChanged`;
    /// `None` when nothing changed.
    ///
    /// # Errors
    /// [`Error::NotFound`](crate::Error::NotFound); [`Error::Conflict`](crate::Error::Conflict)
    /// when the message is deleted.
    async fn set_reaction(
        &self,
        id: MessageId,
        user: UserId,
        key: &str,
        present: bool,
        at: Timestamp,
    ) -> Result<Option<RoomChange>>;

    /// Up to `limit` messages (tombstones included) of a room: seq below `Before(s)` newest
    /// first, or above `After(s)` oldest first.
    async fn history(
        &self,
        room: RoomId,
        cursor: HistoryCursor,
        limit: u32,
    ) -> Result<Vec<Message>>;

    /// Up to `limit` changes with seq above `after`, in order. Message changes carry the
    /// message's current state (guarantee 6).
    async fn changes_after(
        &self,
        room: RoomId,
        after: RoomSeq,
        limit: u32,
    ) -> Result<Vec<RoomChange>>;

    /// [`changes_after`](Self::changes_after) of several rooms at once: for each
    /// `(room, after, limit)`, that room's changes, rooms in the order given. The change feed
    /// reads its pages with it; a store may answer in one round trip (PostgreSQL does).
    async fn changes_after_each(
        &self,
        reads: &[(RoomId, RoomSeq, u32)],
    ) -> Result<Vec<RoomChange>> {
        let mut all = Vec::new();
        for &(room, after, limit) in reads {
            all.extend(self.changes_after(room, after, limit).await?);
        }
        Ok(all)
    }

    /// Up to `limit` non-deleted messages of `rooms` that match `terms` (every word whole,
    /// and the prefix; see [`crate::search`]), newest first.
    async fn search_messages(
        &self,
        rooms: &[RoomId],
        terms: &crate::search::SearchTerms,
        limit: u32,
    ) -> Result<Vec<Message>>;

    /// The rooms [`unread_counts`](Self::unread_counts) lists for `user`, each with its last
    /// seq, without the counts: what the change feed checks on every page. A store may answer
    /// it more cheaply than the counts (PostgreSQL does).
    async fn readable_rooms(&self, user: UserId) -> Result<Vec<(RoomId, RoomSeq)>> {
        Ok(self
            .unread_counts(user, None)
            .await?
            .into_iter()
            .map(|u| (u.room_id, u.last_seq))
            .collect())
    }

    /// What `user` has not read in each room they belong to and are not banned from, in events
    /// they still belong to (see [`Unread`](crate::room::Unread) for what counts), each count
    /// stopping at [`UNREAD_CAP`](crate::room::UNREAD_CAP); only `room` when given. Every such
    /// room is listed, rooms read to the end with zero counts. Each entry's counts and
    /// `last_seq` come from one consistent view of the room, so that live changes after
    /// `last_seq` can be applied to them exactly.
    async fn unread_counts(
        &self,
        user: UserId,
        room: Option<RoomId>,
    ) -> Result<Vec<crate::room::Unread>>;

    /// Up to `limit` messages of `rooms` that mention `user`, not deleted, newest first
    /// (by id, which is time order across rooms), with an id below `before` if given.
    async fn mentions_of(
        &self,
        user: UserId,
        rooms: &[RoomId],
        before: Option<MessageId>,
        limit: u32,
    ) -> Result<Vec<Message>>;

    /// Counts for operators, as of `now`.
    async fn system_metrics(&self, now: Timestamp) -> Result<SystemMetrics>;
}

/// Upload records: attachment metadata before and after it is attached (see
/// [`crate::attachment`]). Attaching and discarding happen inside
/// [`MessageStore::append_message`] and [`MessageStore::delete_message`] (guarantee 7).
#[async_trait]
pub trait AttachmentStore: fmt::Debug + Send + Sync + 'static {
    /// Whether what this store keeps outlives the process (default `true`). A service over a
    /// durable store never pairs it with an in-memory blob store by default: files would vanish
    /// on restart while their records remain (see
    /// [`ChatServiceBuilder::blobs`](crate::ChatServiceBuilder::blobs)).
    fn durable(&self) -> bool {
        true
    }

    /// Records a new, unattached upload.
    ///
    /// # Errors
    /// [`Error::NotFound`](crate::Error::NotFound) when its room or uploader does not exist;
    /// [`Error::Conflict`](crate::Error::Conflict) when the id is taken.
    async fn insert_upload(&self, upload: Upload) -> Result<()>;

    /// An upload, if recorded.
    async fn get_upload(&self, id: AttachmentId) -> Result<Option<Upload>>;

    /// Up to `limit` uploads whose bytes may go: discarded ones, and unattached ones uploaded
    /// before `unattached_before`.
    async fn collectable_uploads(
        &self,
        unattached_before: Timestamp,
        limit: u32,
    ) -> Result<Vec<AttachmentId>>;

    /// Forgets uploads whose bytes are gone. Attached, live uploads are never removed: an id
    /// among `ids` that is attached to a message not deleted is skipped.
    async fn remove_uploads(&self, ids: &[AttachmentId]) -> Result<()>;
}

pub use crate::bot_token::BotTokenStore;
pub use crate::webhook::WebhookStore;

/// Everything the [`ChatService`](crate::ChatService) needs. Implemented for every type that
/// implements the eight area traits.
pub trait Store:
    ProfileStore
    + AccountStore
    + EventStore
    + RoomStore
    + MessageStore
    + AttachmentStore
    + WebhookStore
    + BotTokenStore
{
}

impl<T> Store for T where
    T: ProfileStore
        + AccountStore
        + EventStore
        + RoomStore
        + MessageStore
        + AttachmentStore
        + WebhookStore
        + BotTokenStore
        + ?Sized
{
}
