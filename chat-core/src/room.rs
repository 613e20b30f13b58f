//! Rooms inside events, their members, and the per-room sequence number.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::id::{EventId, RoomId, UserId};

/// A position in a room's change log. Every change members can see takes the next one, so the
/// numbers of a room are gap-free: 1, 2, 3, … A room with no changes is at [`RoomSeq::ZERO`].
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct RoomSeq(pub u64);

impl RoomSeq {
    /// Before the first change.
    pub const ZERO: Self = Self(0);
    /// After every change: `history before MAX` is the newest page.
    pub const MAX: Self = Self(u64::MAX);

    /// The number after this one.
    #[must_use]
    pub const fn next(self) -> Self {
        Self(self.0 + 1)
    }

    /// The number as an integer.
    #[must_use]
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for RoomSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for RoomSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// What a room is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RoomKind {
    /// The event's main room.
    Main,
    /// A room about one topic.
    Topic,
    /// Only moderators and event admins post; everyone reads.
    Announcement,
    /// A private conversation of a fixed set of people (see
    /// [`ChatService::open_direct_room`](crate::ChatService::open_direct_room)). Made only
    /// that way, never by `create_room`.
    Direct,
}

/// Who may join a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Any event member may see and join it.
    Public,
    /// Invite only. To anyone else it does not exist.
    Private,
}

/// A room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Room {
    /// The room.
    pub id: RoomId,
    /// The event it belongs to.
    pub event_id: EventId,
    /// Its name, 1 to 100 characters, unique (ignoring case) within the event.
    pub name: String,
    /// What it is for.
    pub kind: RoomKind,
    /// Who may join it.
    pub visibility: Visibility,
    /// An archived room is read-only.
    pub archived: bool,
    /// Slow mode: the least time, in seconds, between two messages of one member here
    /// (moderators are exempt). 0 is off.
    pub slow_mode_secs: u32,
    /// Whether members see how far the others have read (read receipts). Large rooms turn
    /// them off: then no one's position is shown or sent live.
    #[serde(default = "on")]
    pub read_receipts: bool,
    /// Who created it.
    pub created_by: UserId,
    /// When it was created.
    pub created_at: Timestamp,
    /// When the last message was posted.
    pub last_message_at: Option<Timestamp>,
    /// The seq of the latest change.
    pub last_seq: RoomSeq,
}

/// The input to create a room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewRoom {
    /// 1 to 100 characters.
    pub name: String,
    /// What it is for.
    pub kind: RoomKind,
    /// Who may join it.
    pub visibility: Visibility,
}

/// A change to a room's settings. `None` leaves a setting as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RoomPatch {
    /// A new name.
    pub name: Option<String>,
    /// Archive (true) or restore (false).
    pub archived: Option<bool>,
    /// A new slow-mode interval in seconds (0 turns it off).
    pub slow_mode_secs: Option<u32>,
    /// Turn read receipts on or off.
    #[serde(default)]
    pub read_receipts: Option<bool>,
}

fn on() -> bool {
    true
}

/// How far one member has read a room: a read receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Receipt {
    /// The member.
    pub user_id: UserId,
    /// The seq they have read up to.
    pub last_read_seq: RoomSeq,
}

/// A member's role in a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RoomRole {
    /// Manages the room: members, settings, anyone's messages.
    Moderator,
    /// Takes part.
    Member,
}

/// A user's membership in a room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RoomMember {
    /// The room.
    pub room_id: RoomId,
    /// The member.
    pub user_id: UserId,
    /// Their role.
    pub role: RoomRole,
    /// Muted members read but cannot post until this time.
    pub muted_until: Option<Timestamp>,
    /// Banned members can neither read nor post nor rejoin.
    pub banned: bool,
    /// The highest seq the member has marked as read.
    pub last_read_seq: RoomSeq,
    /// When they joined.
    pub joined_at: Timestamp,
}

impl RoomMember {
    /// A fresh membership with no restrictions.
    #[must_use]
    pub fn new(room_id: RoomId, user_id: UserId, role: RoomRole, joined_at: Timestamp) -> Self {
        Self {
            room_id,
            user_id,
            role,
            muted_until: None,
            banned: false,
            last_read_seq: RoomSeq::ZERO,
            joined_at,
        }
    }

    /// Whether the member is muted at `now`.
    #[must_use]
    pub fn is_muted(&self, now: Timestamp) -> bool {
        self.muted_until.is_some_and(|until| until > now)
    }
}

/// A room as the caller sees it in a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RoomView {
    /// The room.
    pub room: Room,
    /// The caller's membership, if they joined.
    pub membership: Option<RoomMember>,
    /// What the caller has not read yet, for a room they belong to (in room lists).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unread: Option<Unread>,
}

/// Counts beyond this are reported as this value, which clients show as "999+". Counting
/// stops there, so a count costs at most this many index entries whatever the history.
pub const UNREAD_CAP: u32 = 1000;

/// What one member has not read in one room: messages after their `last_read_seq`.
///
/// Counted from the room's messages by seq, through the index every history page uses:
/// messages by others that are not deleted, and of those, the ones that mention the member.
/// Edits and reactions take seqs too, so `last_seq - last_read_seq` would overcount; these
/// do not. The cost is O(unread), capped at [`UNREAD_CAP`], and O(1) for a room read to
/// its end: never a scan of history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Unread {
    /// The room.
    pub room_id: RoomId,
    /// The member's read position.
    pub last_read_seq: RoomSeq,
    /// The room's last seq when counted: the counts cover exactly the messages up to it, so a
    /// live client applies changes after it (and drops those at or below it).
    pub last_seq: RoomSeq,
    /// Unread messages by others, not deleted; [`UNREAD_CAP`] means "999+".
    pub messages: u32,
    /// Of those, the ones that mention the member; [`UNREAD_CAP`] means "999+".
    pub mentions: u32,
}

/// Which rooms to list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RoomFilter {
    /// Only rooms of this event.
    pub event_id: Option<EventId>,
    /// Only rooms whose name contains this text, ignoring case.
    pub name_contains: Option<String>,
}
