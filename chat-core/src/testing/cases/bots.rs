//! Bots: service accounts limited to their rooms, whose messages are marked.

use super::*;

/// Bots: only owners and admins make them; a bot is a member of the event and of the rooms it
/// was given only, cannot join others itself (public ones included); every message it sends
/// is marked `is_ai_generated`, by either send call; a profile update keeps it a bot; a room of
/// another event is refused and makes nothing.
pub async fn bots_are_marked_and_stay_in_their_rooms(store: Arc<dyn Store>) {
    let h = Harness::with_limits(store, relaxed()).await;
    let (owner, event, main) = h.owner_event_room().await;
    let member = h.joined("Member", owner, event, main).await;
    let side = h.room(owner, event, "Side", Visibility::Public).await;
    let other_owner = h.user("Elsewhere").await;
    let other_event = h.event(other_owner).await;
    let foreign = h
        .room(other_owner, other_event, "Theirs", Visibility::Public)
        .await;
    let profile = |name: &str| ProfileInput {
        display_name: name.into(),
        avatar_url: None,
    };

    assert_err!(
        h.chat
            .create_bot(member, event, profile("Helper"), &[main])
            .await,
        Error::Forbidden { .. }
    );
    assert_err!(
        h.chat
            .create_bot(owner, event, profile("Helper"), &[foreign])
            .await,
        Error::NotFound { what: "room" }
    );
    assert_err!(
        h.chat.create_bot(owner, event, profile("  "), &[main]).await,
        Error::Validation { ref field, .. } if field == "display_name"
    );
    assert_eq!(
        h.chat.event_members(owner, event).await.unwrap().len(),
        2,
        "nothing made"
    );

    let made = h
        .chat
        .create_bot(owner, event, profile("Helper"), &[main])
        .await
        .unwrap();
    assert!(made.is_bot);
    let bot = made.id;
    assert!(h.chat.get_profile(member, bot).await.unwrap().is_bot);
    let rooms: Vec<_> = h
        .chat
        .list_rooms(bot, RoomFilter::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|v| v.membership.is_some())
        .map(|v| v.room.id)
        .collect();
    assert_eq!(rooms, vec![main]);
    assert_err!(h.chat.join_room(bot, side).await, Error::Forbidden { .. });

    let sent = h
        .chat
        .send_message(bot, main, text("beep"))
        .await
        .unwrap()
        .message;
    assert!(sent.is_ai_generated, "marked though sent with send_message");
    let stored = h.chat.get_message(member, sent.id).await.unwrap();
    assert!(stored.is_ai_generated);
    assert!(!h.send(member, main, "a person").await.is_ai_generated);

    // Still a bot after a profile update; admins may put it in more rooms.
    h.chat
        .upsert_profile(bot, profile("Helper v2"))
        .await
        .unwrap();
    assert!(h.chat.get_profile(owner, bot).await.unwrap().is_bot);
    h.chat.invite(owner, side, bot).await.unwrap();
    assert!(
        h.chat
            .send_message(bot, side, text("hi"))
            .await
            .unwrap()
            .message
            .is_ai_generated
    );
}
