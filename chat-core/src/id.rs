//! Typed identifiers. Every id is a UUIDv7: time-ordered, so ids sort by creation time and can
//! serve as keyset cursors, and a user id can never be passed where a room id is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid))]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// The all-zero id: below every real id, for range bounds.
            pub const MIN: Self = Self(Uuid::nil());
            /// The all-ones id: above every real id, for range bounds.
            pub const MAX: Self = Self(Uuid::max());

            /// A fresh, time-ordered (UUIDv7) id.
            #[must_use]
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps an existing UUID, for stores that read ids back from storage.
            #[must_use]
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The underlying UUID.
            #[must_use]
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0.hyphenated())
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::try_parse(s).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }
    };
}

uuid_id!(
    /// Identifies a user. The host application owns identity; the engine keeps a profile per id.
    UserId
);
uuid_id!(
    /// Identifies an event (a party, a trip, a conference): the container of rooms.
    EventId
);
uuid_id!(
    /// Identifies a room inside an event.
    RoomId
);
uuid_id!(
    /// Identifies a message.
    MessageId
);
uuid_id!(
    /// Identifies an attachment's metadata record.
    AttachmentId
);
uuid_id!(
    /// Identifies an outgoing webhook.
    WebhookId
);
uuid_id!(
    /// Identifies a dead letter: a change a webhook gave up delivering.
    DeadLetterId
);
uuid_id!(
    /// Identifies a bot's token (not the token: it names it in lists and revocations).
    BotTokenId
);

impl UserId {
    /// The chat user of one of the host's own users, by the host's id for them (an integer, a
    /// username, an email): the same id on every call, on every instance, so the host keeps no
    /// table of UUIDs. It is a name-based UUID (version 5) of `host_id` under `namespace`, a
    /// name the host chooses for its user directory (its application's, say); the same host
    /// id under another namespace is another user.
    ///
    /// Unlike the ids chat-engine makes, these are not time-ordered; nothing orders users by
    /// id.
    ///
    /// ```
    /// use chat_core::UserId;
    /// let ada = UserId::from_host_id("my-app", 42);
    /// assert_eq!(ada, UserId::from_host_id("my-app", "42"));
    /// assert_ne!(ada, UserId::from_host_id("my-app", 43));
    /// assert_ne!(ada, UserId::from_host_id("other-app", 42));
    /// ```
    #[must_use]
    pub fn from_host_id(namespace: &str, host_id: impl fmt::Display) -> Self {
        // The namespace is itself named under the URL namespace, so any string will do.
        let space = Uuid::new_v5(
            &Uuid::NAMESPACE_URL,
            format!("chat-engine:host-users:{namespace}").as_bytes(),
        );
        Self(Uuid::new_v5(&space, host_id.to_string().as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_v7_and_time_ordered() {
        let a = MessageId::new();
        let b = MessageId::new();
        assert_eq!(a.as_uuid().get_version_num(), 7);
        assert!(a < b);
    }

    #[test]
    fn ids_round_trip_through_text_and_json() {
        let id = RoomId::new();
        assert_eq!(id.to_string().parse::<RoomId>().unwrap(), id);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{id}\""));
        assert_eq!(serde_json::from_str::<RoomId>(&json).unwrap(), id);
        assert!("not-a-uuid".parse::<RoomId>().is_err());
    }
}
