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

    /// The chat user of the host's user number `n` (an integer primary key), which
    /// [`host_number`](Self::host_number) reads back: a host's
    /// [`ProfileProvider`](crate::ProfileProvider) asked about a user then knows which row to
    /// read, with no table of UUIDs on either side.
    ///
    /// The id is a UUID of version 8 (custom): 48 bits name `namespace` (the first bits of a
    /// name-based UUID of it), and the 64 bits of `n` fill the bits a version 8 UUID leaves
    /// free beside the version and variant. Anyone who knows the namespace can read the
    /// number from the id, which is no secret: the host's ids are as visible as chat's.
    ///
    /// ```
    /// use chat_core::UserId;
    /// let ada = UserId::from_host_number("my-app", 42);
    /// assert_eq!(ada.host_number("my-app"), Some(42));
    /// assert_eq!(ada.host_number("other-app"), None);
    /// assert_eq!(UserId::from_host_id("my-app", 42).host_number("my-app"), None);
    /// ```
    #[must_use]
    pub fn from_host_number(namespace: &str, n: i64) -> Self {
        let n = u128::from(n.cast_unsigned());
        let id = namespace_bits(namespace)
            | (0x8 << 76)
            | (0b10 << 62)
            | ((n >> 62) << 64)
            | (n & LOW_62);
        Self(Uuid::from_u128(id))
    }

    /// The host's user number this id was made from by
    /// [`from_host_number`](Self::from_host_number) under `namespace`; `None` for any other id.
    #[must_use]
    pub fn host_number(&self, namespace: &str) -> Option<i64> {
        let id = self.0.as_u128();
        let layout = namespace_bits(namespace) | (0x8 << 76) | (0b10 << 62);
        // Namespace, version, variant, and the unused high bits of the number's part.
        let fixed = (u128::MAX << 80) | (0xF << 76) | (0b11 << 62) | (0x3FF << 66);
        if id & fixed != layout {
            return None;
        }
        let n = (((id >> 64) & 0b11) << 62) | (id & LOW_62);
        Some(u64::try_from(n).ok()?.cast_signed())
    }
}

/// The low 62 bits of a u128.
const LOW_62: u128 = (1 << 62) - 1;

/// The 48 leading bits that name a host's namespace in [`UserId::from_host_number`].
fn namespace_bits(namespace: &str) -> u128 {
    let named = Uuid::new_v5(
        &Uuid::NAMESPACE_URL,
        format!("chat-engine:host-numbers:{namespace}").as_bytes(),
    );
    (named.as_u128() >> 80) << 80
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
    fn host_numbers_round_trip_and_stay_in_their_namespace() {
        for n in [0, 1, 42, -1, i64::MAX, i64::MIN, 1 << 62, (1 << 62) - 1] {
            let id = UserId::from_host_number("app", n);
            assert_eq!(id.as_uuid().get_version_num(), 8, "{n}");
            assert_eq!(id.as_uuid().get_variant(), uuid::Variant::RFC4122, "{n}");
            assert_eq!(id.host_number("app"), Some(n), "{n}");
            assert_eq!(id.host_number("other"), None, "{n}");
        }
        assert_ne!(
            UserId::from_host_number("app", 1),
            UserId::from_host_number("app", 2)
        );
        assert_eq!(UserId::new().host_number("app"), None);
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
