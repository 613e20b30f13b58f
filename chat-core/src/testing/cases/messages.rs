//! Edits, deletions and reactions.

use super::*;

/// Editing: own messages only, not deleted ones, validated like a send.
pub async fn edit_rules(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, event, room) = h.owner_event_room().await;
    let alice = h.joined("Alice", owner, event, room).await;
    let bob = h.user("Bob").await;
    h.chat
        .add_event_member(owner, event, bob, EventRole::Member)
        .await
        .unwrap();
    let msg = h.send(alice, room, "helo").await;
    h.advance_secs(1);
    let edited = h
        .chat
        .edit_message(
            alice,
            msg.id,
            format!("hello @[Bob]({bob}) @[Owner]({owner})"),
        )
        .await
        .unwrap();
    assert!(edited.is_edited);
    assert_eq!(edited.edited_at, Some(h.chat.now()));
    assert_eq!(edited.seq, msg.seq, "a message keeps its seq");
    assert_eq!(edited.mentions, vec![owner], "bob is not in the room");
    assert_err!(
        h.chat.edit_message(owner, msg.id, "hijack".into()).await,
        Error::Forbidden { .. }
    );
    assert_err!(
        h.chat.edit_message(alice, msg.id, " ".into()).await,
        Error::Validation { .. }
    );
    assert_err!(
        h.chat.edit_message(alice, msg.id, "a".repeat(5001)).await,
        Error::Validation { .. }
    );
    assert_err!(
        h.chat
            .edit_message(alice, crate::MessageId::new(), "x".into())
            .await,
        Error::NotFound { .. }
    );
    assert_err!(
        h.chat.edit_message(bob, msg.id, "x".into()).await,
        Error::Forbidden { .. }
    );
    h.chat.delete_message(alice, msg.id).await.unwrap();
    assert_err!(
        h.chat.edit_message(alice, msg.id, "undead".into()).await,
        Error::Conflict { .. }
    );
    let history = h
        .chat
        .history(alice, room, HistoryCursor::LATEST, None)
        .await
        .unwrap();
    assert!(history.messages[0].is_deleted);
}

/// Deleting: own or as moderator; tombstones stay in history; repeat deletes are harmless.
pub async fn delete_rules_and_tombstones(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, event, room) = h.owner_event_room().await;
    let alice = h.joined("Alice", owner, event, room).await;
    let bob = h.joined("Bob", owner, event, room).await;
    let admin = h.user("Admin").await;
    h.chat
        .add_event_member(owner, event, admin, EventRole::Admin)
        .await
        .unwrap();
    let secret = h.room(owner, event, "Secret", Visibility::Private).await;
    let hidden = h.send(owner, secret, "private").await;

    let a = h.send(alice, room, "mine").await;
    let b = h.send(alice, room, "also mine").await;
    assert_err!(
        h.chat.delete_message(bob, a.id).await,
        Error::Forbidden { .. }
    );
    let tomb = h.chat.delete_message(alice, a.id).await.unwrap();
    assert!(tomb.is_deleted && tomb.text.is_empty() && tomb.deleted_at.is_some());
    assert_eq!(h.chat.delete_message(alice, a.id).await.unwrap(), tomb);
    // Event admins moderate public rooms without joining them.
    assert!(h.chat.delete_message(admin, b.id).await.unwrap().is_deleted);
    assert_err!(
        h.chat.delete_message(alice, hidden.id).await,
        Error::NotFound { .. }
    );
    assert_err!(
        h.chat.delete_message(admin, hidden.id).await,
        Error::NotFound { .. }
    );
    assert_err!(
        h.chat.delete_message(alice, crate::MessageId::new()).await,
        Error::NotFound { .. }
    );
    let page = h
        .chat
        .history(alice, room, HistoryCursor::LATEST, None)
        .await
        .unwrap();
    assert_eq!(page.messages.len(), 2);
    assert!(
        page.messages
            .iter()
            .all(|m| m.is_deleted && m.text.is_empty())
    );
    let log = h
        .chat
        .changes(alice, room, RoomSeq::ZERO, None)
        .await
        .unwrap();
    assert_eq!(
        log.changes
            .iter()
            .filter(|c| c.kind.name() == "message_deleted")
            .count(),
        2
    );
}

/// Reactions toggle per user and key; only real changes are logged.
pub async fn reactions(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, event, room) = h.owner_event_room().await;
    let alice = h.joined("Alice", owner, event, room).await;
    let msg = h.send(owner, room, "party!").await;
    let seq0 = h.chat.get_room(owner, room).await.unwrap().room.last_seq;
    let m = h.chat.react(alice, msg.id, "🎉", true).await.unwrap();
    assert_eq!(m.reactions["🎉"], vec![alice]);
    let m = h.chat.react(owner, msg.id, "🎉", true).await.unwrap();
    assert_eq!(m.reactions["🎉"], vec![alice, owner]);
    let same = h.chat.react(owner, msg.id, "🎉", true).await.unwrap();
    assert_eq!(same.reactions["🎉"], vec![alice, owner]);
    let m = h.chat.react(alice, msg.id, "🎉", false).await.unwrap();
    assert_eq!(m.reactions["🎉"], vec![owner]);
    let m = h.chat.react(owner, msg.id, "🎉", false).await.unwrap();
    assert!(m.reactions.is_empty());
    assert_eq!(
        h.chat.get_room(owner, room).await.unwrap().room.last_seq,
        RoomSeq(seq0.get() + 4)
    );
    assert_err!(
        h.chat.react(alice, msg.id, "", true).await,
        Error::Validation { .. }
    );
    assert_err!(
        h.chat.react(alice, msg.id, &"x".repeat(33), true).await,
        Error::Validation { .. }
    );
    assert_err!(
        h.chat.react(alice, msg.id, "a b", true).await,
        Error::Validation { .. }
    );
    h.chat.delete_message(owner, msg.id).await.unwrap();
    assert_err!(
        h.chat.react(alice, msg.id, "🎉", true).await,
        Error::Conflict { .. }
    );
}
