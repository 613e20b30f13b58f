//! The room change log: every change members can see, each under the room's next seq.
//! Replaying it from any seq brings a client exactly up to date.
//!
//! # What a message change carries
//!
//! A message change read from the log carries the message **as it is now**, not as it was
//! when the change was made. Stores log which message changed and how ([`MessageChange`]),
//! never a copy of its text, and render the entry from the stored message when it is read.
//! So once a message is deleted, every entry about it (its `message_posted` included) shows
//! the tombstone, and once it is edited, every entry shows the new text: no replay, REST or
//! WebSocket, can return deleted or replaced text, attachments or mentions, while the log
//! keeps one entry per seq and stays gap-free.
//!
//! A change delivered live carries the state at its commit, which is the current state then.

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::id::{RoomId, UserId};
use crate::message::Message;
use crate::room::{Room, RoomMember, RoomSeq};

/// One entry of a room's change log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RoomChange {
    /// The room.
    pub room_id: RoomId,
    /// Its position in the room's log.
    pub seq: RoomSeq,
    /// When it was committed.
    pub at: Timestamp,
    /// What changed. A message change carries the message as it is now (see the
    /// [module docs](self)); other changes carry the state after the change.
    #[serde(flatten)]
    pub kind: ChangeKind,
}

/// What a [`RoomChange`] changed. Each carries a snapshot of the thing after the change, so a
/// replay needs nothing else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum ChangeKind {
    /// A message was posted.
    MessagePosted(Message),
    /// A message's text was edited.
    MessageEdited(Message),
    /// A message was deleted; this is its tombstone.
    MessageDeleted(Message),
    /// A message's reactions changed.
    ReactionsChanged(Message),
    /// A reply to this message was posted or deleted: its `reply_count` and `last_reply_at`
    /// changed.
    ThreadUpdated(Message),
    /// A message's payload changed: a vote, a poll closed, a host's card updated.
    PayloadUpdated(Message),
    /// Someone joined or was invited.
    MemberJoined(RoomMember),
    /// A member's role, mute or ban changed.
    MemberUpdated(RoomMember),
    /// Someone left or was removed.
    MemberLeft {
        /// Who left.
        user_id: UserId,
    },
    /// The room's name, archive flag or slow mode changed.
    RoomUpdated(Room),
}

impl ChangeKind {
    /// The stable name of this kind, as serialized.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::MessagePosted(_) => "message_posted",
            Self::MessageEdited(_) => "message_edited",
            Self::MessageDeleted(_) => "message_deleted",
            Self::ReactionsChanged(_) => "reactions_changed",
            Self::ThreadUpdated(_) => "thread_updated",
            Self::PayloadUpdated(_) => "payload_updated",
            Self::MemberJoined(_) => "member_joined",
            Self::MemberUpdated(_) => "member_updated",
            Self::MemberLeft { .. } => "member_left",
            Self::RoomUpdated(_) => "room_updated",
        }
    }

    /// The message this change carries, if it is a message change.
    #[must_use]
    pub fn message(&self) -> Option<&Message> {
        match self {
            Self::MessagePosted(m)
            | Self::MessageEdited(m)
            | Self::MessageDeleted(m)
            | Self::ReactionsChanged(m)
            | Self::ThreadUpdated(m)
            | Self::PayloadUpdated(m) => Some(m),
            _ => None,
        }
    }
}

/// Which change a log entry about a message records, without the message: what stores keep
/// in the log (see the [module docs](self)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageChange {
    /// [`ChangeKind::MessagePosted`].
    Posted,
    /// [`ChangeKind::MessageEdited`].
    Edited,
    /// [`ChangeKind::MessageDeleted`].
    Deleted,
    /// [`ChangeKind::ReactionsChanged`].
    ReactionsChanged,
    /// [`ChangeKind::ThreadUpdated`].
    ThreadUpdated,
    /// [`ChangeKind::PayloadUpdated`].
    PayloadUpdated,
}

impl MessageChange {
    /// Every message change.
    pub const ALL: [Self; 6] = [
        Self::Posted,
        Self::Edited,
        Self::Deleted,
        Self::ReactionsChanged,
        Self::ThreadUpdated,
        Self::PayloadUpdated,
    ];

    /// The change with `message` as its payload.
    #[must_use]
    pub fn with(self, message: Message) -> ChangeKind {
        match self {
            Self::Posted => ChangeKind::MessagePosted(message),
            Self::Edited => ChangeKind::MessageEdited(message),
            Self::Deleted => ChangeKind::MessageDeleted(message),
            Self::ReactionsChanged => ChangeKind::ReactionsChanged(message),
            Self::ThreadUpdated => ChangeKind::ThreadUpdated(message),
            Self::PayloadUpdated => ChangeKind::PayloadUpdated(message),
        }
    }

    /// The stable name, the same as [`ChangeKind::name`] of the change it records.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Posted => "message_posted",
            Self::Edited => "message_edited",
            Self::Deleted => "message_deleted",
            Self::ReactionsChanged => "reactions_changed",
            Self::ThreadUpdated => "thread_updated",
            Self::PayloadUpdated => "payload_updated",
        }
    }

    /// The message change of this name, if it is one.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }
}

impl ChangeKind {
    /// Which message change this is, with its message; `None` for other changes.
    #[must_use]
    pub fn message_change(&self) -> Option<(MessageChange, &Message)> {
        match self {
            Self::MessagePosted(m) => Some((MessageChange::Posted, m)),
            Self::MessageEdited(m) => Some((MessageChange::Edited, m)),
            Self::MessageDeleted(m) => Some((MessageChange::Deleted, m)),
            Self::ReactionsChanged(m) => Some((MessageChange::ReactionsChanged, m)),
            Self::ThreadUpdated(m) => Some((MessageChange::ThreadUpdated, m)),
            Self::PayloadUpdated(m) => Some((MessageChange::PayloadUpdated, m)),
            _ => None,
        }
    }
}

/// A page of the change log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChangePage {
    /// Changes in seq order.
    pub changes: Vec<RoomChange>,
    /// The room's latest seq when the page was read.
    pub last_seq: RoomSeq,
    /// Whether changes remain after this page.
    pub has_more: bool,
}
