//! User profiles. The host application owns identity; the engine keeps a display name and an
//! avatar per user, and snapshots them onto each message at send time.

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::id::UserId;

/// A user's profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    /// The user.
    pub id: UserId,
    /// The name shown beside messages and in mentions.
    pub display_name: String,
    /// An http(s) URL of the avatar image.
    pub avatar_url: Option<String>,
    /// When the profile was first stored.
    pub created_at: Timestamp,
    /// When the profile last changed.
    pub updated_at: Timestamp,
    /// A service account (a bot), made by an event admin with
    /// [`ChatService::create_bot`](crate::ChatService::create_bot): its messages are marked as
    /// written by a bot or model, and it is only in the rooms it is put in. Fixed at creation;
    /// a profile update keeps it.
    #[serde(default)]
    pub is_bot: bool,
}

/// What a user may set on their profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProfileInput {
    /// 1 to 64 characters.
    pub display_name: String,
    /// An optional http(s) URL.
    #[serde(default)]
    pub avatar_url: Option<String>,
}

/// A room member matched by display-name prefix, for mention autocomplete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemberMatch {
    /// The member.
    pub user_id: UserId,
    /// Their current display name.
    pub display_name: String,
    /// Their avatar URL.
    pub avatar_url: Option<String>,
}
