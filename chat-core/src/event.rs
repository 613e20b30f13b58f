//! Events (a party, a trip, a conference) and their members. An event holds rooms; event
//! membership is the precondition for seeing any of them.

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::id::{EventId, UserId};

/// An event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    /// The event.
    pub id: EventId,
    /// Its name, 1 to 100 characters.
    pub name: String,
    /// Free text such as "party" or "conference".
    pub kind: String,
    /// Who created it (its first owner).
    pub created_by: UserId,
    /// When it was created.
    pub created_at: Timestamp,
}

/// The `kind` of the event each direct room lives in. Such events are the engine's own: they
/// are left out of a user's event list, and no one can create one by hand.
pub const DIRECT_EVENT_KIND: &str = "chat-engine/direct";

impl Event {
    /// Whether this is the event of a direct room.
    #[must_use]
    pub fn is_direct(&self) -> bool {
        self.kind == DIRECT_EVENT_KIND
    }
}

/// A member's role in an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EventRole {
    /// Created the event. Cannot be removed or demoted.
    Owner,
    /// Manages members and moderates every room they can see.
    Admin,
    /// Takes part.
    Member,
}

impl EventRole {
    /// Owners and admins manage the event and moderate its rooms.
    #[must_use]
    pub fn is_admin(self) -> bool {
        matches!(self, Self::Owner | Self::Admin)
    }

    /// The role's stable name, as serialized.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Member => "member",
        }
    }
}

/// A user's membership in an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventMember {
    /// The event.
    pub event_id: EventId,
    /// The member.
    pub user_id: UserId,
    /// Their role.
    pub role: EventRole,
    /// When they joined.
    pub joined_at: Timestamp,
}

/// The input to create an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewEvent {
    /// 1 to 100 characters.
    pub name: String,
    /// Free text such as "party"; may be empty.
    #[serde(default)]
    pub kind: String,
}

/// An event as one of its members sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventSummary {
    /// The event.
    pub event: Event,
    /// The caller's role in it.
    pub role: EventRole,
}
