//! Direct rooms: one room per set of people, private, fixed, listed with the caller's rooms.

use super::*;
use crate::{DIRECT_EVENT_KIND, RoomId};

/// The same set of people gets the same room, whoever asks and in any order; a different set
/// a different room; the rules on who and how many hold, with exact errors.
pub async fn direct_rooms_are_one_per_set_of_people(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, event, room) = h.owner_event_room().await;
    let alice = h.joined("Alice", owner, event, room).await;
    let bob = h.joined("Bob", owner, event, room).await;
    let stranger = h.user("Stranger").await;

    let (first, created) = h.chat.open_direct_room(alice, &[bob]).await.unwrap();
    assert!(created);
    assert_eq!(first.room.kind, RoomKind::Direct);
    assert_eq!(first.room.visibility, Visibility::Private);
    assert!(first.membership.is_some());
    let (again, created) = h
        .chat
        .open_direct_room(bob, &[alice, bob, alice])
        .await
        .unwrap();
    assert!(!created, "the same two people, asked the other way round");
    assert_eq!(again.room.id, first.room.id);
    let (group, created) = h.chat.open_direct_room(alice, &[owner, bob]).await.unwrap();
    assert!(created);
    assert_ne!(group.room.id, first.room.id);

    assert_err!(
        h.chat.open_direct_room(alice, &[]).await,
        Error::Validation { field, .. } if field == "user_ids"
    );
    assert_err!(
        h.chat.open_direct_room(alice, &[alice]).await,
        Error::Validation { field, .. } if field == "user_ids"
    );
    let many: Vec<UserId> = futures::future::join_all((0..9).map(|i| {
        let h = h.clone();
        async move { h.joined(&format!("P{i}"), owner, event, room).await }
    }))
    .await;
    assert_err!(
        h.chat.open_direct_room(alice, &many).await,
        Error::Validation { field, .. } if field == "user_ids"
    );
    assert!(
        h.chat.open_direct_room(alice, &many[..8]).await.is_ok(),
        "8 others is the limit"
    );
    assert_err!(
        h.chat.open_direct_room(alice, &[stranger]).await,
        Error::NotFound { what: "user" }
    );
    assert_err!(
        h.chat.open_direct_room(alice, &[UserId::new()]).await,
        Error::NotFound { what: "user" }
    );

    // It is private to its people, listed with their rooms, and its event is not listed.
    let listed: Vec<RoomId> = h
        .chat
        .list_rooms(bob, RoomFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.room.id)
        .collect();
    assert!(listed.contains(&first.room.id) && listed.contains(&group.room.id));
    assert!(
        h.chat
            .list_my_events(bob)
            .await
            .unwrap()
            .iter()
            .all(|e| e.event.kind != DIRECT_EVENT_KIND)
    );
    assert_err!(
        h.chat.get_room(owner, first.room.id).await,
        Error::NotFound { what: "room" }
    );
    assert_err!(
        h.chat.join_room(owner, first.room.id).await,
        Error::NotFound { what: "room" }
    );
    h.send(alice, first.room.id, "just us").await;
    assert_err!(
        h.chat
            .send_message(owner, first.room.id, text("me too"))
            .await,
        Error::NotFound { .. }
    );

    // The set stays fixed: no one leaves, invites, or adds rooms or members to its event.
    assert_err!(
        h.chat.leave_room(alice, first.room.id).await,
        Error::Forbidden { .. }
    );
    assert_err!(
        h.chat.invite(alice, first.room.id, owner).await,
        Error::Forbidden { .. }
    );
    let dm_event = first.room.event_id;
    assert_err!(
        h.chat
            .add_event_member(alice, dm_event, owner, EventRole::Member)
            .await,
        Error::Forbidden { .. }
    );
    assert_err!(
        h.chat
            .create_room(
                alice,
                dm_event,
                NewRoom {
                    name: "side".into(),
                    kind: RoomKind::Topic,
                    visibility: Visibility::Public,
                },
            )
            .await,
        Error::Forbidden { .. }
    );
    // Nobody makes direct rooms or their events by hand.
    assert_err!(
        h.chat
            .create_room(
                owner,
                event,
                NewRoom {
                    name: "fake".into(),
                    kind: RoomKind::Direct,
                    visibility: Visibility::Private,
                },
            )
            .await,
        Error::Validation { field, .. } if field == "kind"
    );
    assert_err!(
        h.chat
            .create_event(
                owner,
                NewEvent {
                    name: "x".into(),
                    kind: DIRECT_EVENT_KIND.into(),
                },
            )
            .await,
        Error::Validation { field, .. } if field == "kind"
    );
}

/// Sixteen concurrent opens of one set of people, from both sides, make one room.
pub async fn direct_room_idempotent_under_16_concurrent_opens(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, event, room) = h.owner_event_room().await;
    let alice = h.joined("Alice", owner, event, room).await;
    let bob = h.joined("Bob", owner, event, room).await;
    let opens = (0..16).map(|i| {
        let chat = Arc::clone(&h.chat);
        let (me, other) = if i % 2 == 0 {
            (alice, bob)
        } else {
            (bob, alice)
        };
        async move { chat.open_direct_room(me, &[other]).await }
    });
    let results = join_all(opens).await;
    let ids: HashSet<RoomId> = results
        .iter()
        .map(|r| r.as_ref().expect("open").0.room.id)
        .collect();
    assert_eq!(ids.len(), 1, "one room for one set of people");
    let created = results
        .iter()
        .filter(|r| r.as_ref().is_ok_and(|(_, c)| *c))
        .count();
    assert_eq!(created, 1, "exactly one open created it");
    let direct_rooms = h
        .chat
        .list_rooms(alice, RoomFilter::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|v| v.room.kind == RoomKind::Direct)
        .count();
    assert_eq!(direct_rooms, 1);
}
