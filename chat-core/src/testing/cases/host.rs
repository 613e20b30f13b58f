//! A host's users, profiles and rules: ids from the host's own, profiles asked of the host's
//! provider the first time, one call to admit a user to an event and its main room, and the
//! host's say on who creates events, rooms and webhooks.

use std::collections::HashMap;

use async_trait::async_trait;

use super::*;
use crate::{ChatService, EventId, HostPolicy, ProfileProvider, WebhookRegistration};

const HOST: &str = "conformance-host";

/// The host's user directory: integer ids and names.
#[derive(Debug)]
struct Directory(HashMap<UserId, ProfileInput>);

#[async_trait]
impl ProfileProvider for Directory {
    async fn profile(&self, user: UserId) -> crate::Result<Option<ProfileInput>> {
        Ok(self.0.get(&user).cloned())
    }
}

/// The host's rules: user 3 may create nothing; nobody may create rooms in `closed`.
#[derive(Debug)]
struct Rules {
    restricted: UserId,
}

#[async_trait]
impl HostPolicy for Rules {
    async fn may_create_event(&self, user: UserId) -> crate::Result<bool> {
        Ok(user != self.restricted)
    }

    async fn may_create_room(&self, user: UserId, _: EventId) -> crate::Result<bool> {
        Ok(user != self.restricted)
    }

    async fn may_register_webhook(&self, user: UserId, _: EventId) -> crate::Result<bool> {
        Ok(user != self.restricted)
    }
}

fn host_user(id: u64) -> UserId {
    UserId::from_host_id(HOST, id)
}

/// A host with its own user ids and directory: a user the service never met creates an event
/// (their profile asked of the host, once), another is admitted to the event and its main room
/// by one call (again harmless), unknown users are `NotFound`, a bad profile from the host is
/// `Validation`; the host's rules refuse events, rooms and webhooks with `Forbidden`.
pub async fn a_host_provides_users_admits_them_and_sets_rules(store: Arc<dyn Store>) {
    let profile = |name: &str| ProfileInput {
        display_name: name.into(),
        avatar_url: None,
    };
    let directory = Directory(HashMap::from([
        (host_user(1), profile("Ada")),
        (host_user(2), profile("Grace")),
        (host_user(3), profile("Restricted")),
        (host_user(4), profile("   ")),
    ]));
    let chat = ChatService::builder(Arc::clone(&store))
        .profile_provider(Arc::new(directory))
        .host_policy(Arc::new(Rules {
            restricted: host_user(3),
        }))
        .webhook_registration(WebhookRegistration::EventAdmins)
        .build();
    let (ada, grace, restricted) = (host_user(1), host_user(2), host_user(3));
    assert_eq!(
        ada,
        UserId::from_host_id(HOST, "1"),
        "the same id every time"
    );

    // Met for the first time: the profile comes from the host.
    let event = chat
        .create_event(
            ada,
            NewEvent {
                name: "Team".into(),
                kind: "team".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        chat.get_profile(ada, ada).await.unwrap().display_name,
        "Ada"
    );
    let main = chat
        .create_room(
            ada,
            event.id,
            NewRoom {
                name: "Main".into(),
                kind: RoomKind::Main,
                visibility: Visibility::Public,
            },
        )
        .await
        .unwrap();

    // One call admits Grace to the event and its main room; a second changes nothing.
    let member = chat
        .admit_to_event(event.id, grace, EventRole::Member)
        .await
        .unwrap();
    assert_eq!(member.role, EventRole::Member);
    let again = chat
        .admit_to_event(event.id, grace, EventRole::Admin)
        .await
        .unwrap();
    assert_eq!(again, member, "already a member: unchanged");
    let members: Vec<UserId> = chat
        .room_members(ada, main.id)
        .await
        .unwrap()
        .iter()
        .map(|m| m.user_id)
        .collect();
    assert!(members.contains(&grace), "{members:?}");
    chat.send_message(grace, main.id, text("hello from the host's user"))
        .await
        .unwrap();

    // Unknown users, bad profiles, owners and missing events.
    assert_err!(
        chat.admit_to_event(event.id, host_user(99), EventRole::Member)
            .await,
        Error::NotFound { what: "user" }
    );
    assert_err!(
        chat.admit_to_event(event.id, host_user(4), EventRole::Member)
            .await,
        Error::Validation { ref field, .. } if field == "display_name"
    );
    assert_err!(
        chat.admit_to_event(event.id, host_user(1), EventRole::Owner)
            .await,
        Error::Forbidden { .. }
    );
    assert_err!(
        chat.admit_to_event(EventId::new(), grace, EventRole::Member)
            .await,
        Error::NotFound { what: "event" }
    );

    // The host's rules.
    assert_err!(
        chat.create_event(
            restricted,
            NewEvent {
                name: "Not allowed".into(),
                kind: String::new(),
            },
        )
        .await,
        Error::Forbidden { .. }
    );
    chat.admit_to_event(event.id, restricted, EventRole::Admin)
        .await
        .unwrap();
    assert_err!(
        chat.create_room(
            restricted,
            event.id,
            NewRoom {
                name: "Side".into(),
                kind: RoomKind::Topic,
                visibility: Visibility::Public,
            },
        )
        .await,
        Error::Forbidden { .. }
    );
    assert_err!(
        chat.create_webhook(restricted, event.id, "https://example.com/hook")
            .await,
        Error::Forbidden { .. }
    );
    assert!(
        chat.create_webhook(ada, event.id, "https://example.com/hook")
            .await
            .is_ok()
    );
}
