//! The room change log: every change members can see, each under the room's next seq.
//! Replaying it from any seq brings a client exactly up to date.

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
    /// What changed, with the state after the change.
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
            | Self::ReactionsChanged(m) => Some(m),
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
