//! Threads, one message by id, and history around a seq.

use super::*;
use crate::{ChangeKind, MessageId};

fn reply(to: MessageId, t: &str) -> SendMessage {
    SendMessage {
        reply_to: Some(to),
        ..text(t)
    }
}

/// A reply raises its parent's `reply_count` and `last_reply_at` as a `thread_updated`
/// change right after its own; deleting a reply lowers them again; replies page in order;
/// only readers see a message or its thread.
pub async fn threads_count_replies_in_the_room_log(store: Arc<dyn Store>) {
    let h = Harness::with_limits(store, relaxed()).await;
    let (owner, event, room) = h.owner_event_room().await;
    let alice = h.joined("Alice", owner, event, room).await;
    let parent = h.send(owner, room, "where do we meet?").await;
    assert_eq!((parent.reply_count, parent.last_reply_at), (0, None));

    let mut live = h.chat.subscribe(alice, room, None).await.unwrap();
    let first = h
        .chat
        .send_message(alice, room, reply(parent.id, "at the pier"))
        .await
        .unwrap()
        .message;
    h.advance_secs(60);
    let second = h
        .chat
        .send_message(owner, room, reply(parent.id, "10 am"))
        .await
        .unwrap()
        .message;
    let now = h.chat.get_message(alice, parent.id).await.unwrap();
    assert_eq!(now.reply_count, 2);
    assert_eq!(now.last_reply_at, Some(second.created_at));

    // The log: each reply, then the parent's thread update under the next seq.
    let log = h
        .chat
        .changes(alice, room, RoomSeq(first.seq.get() - 1), Some(10))
        .await
        .unwrap()
        .changes;
    let kinds: Vec<(&str, MessageId)> = log
        .iter()
        .map(|c| (c.kind.name(), c.kind.message().unwrap().id))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("message_posted", first.id),
            ("thread_updated", parent.id),
            ("message_posted", second.id),
            ("thread_updated", parent.id),
        ]
    );
    assert_eq!(log[1].seq, first.seq.next());
    // Live subscribers get the same changes.
    for expected in &kinds {
        let delivered = tokio::time::timeout(Duration::from_secs(5), live.recv())
            .await
            .expect("a live change")
            .expect("open");
        let Delivery::Change(change) = delivered else {
            panic!("expected a change, got {delivered:?}");
        };
        assert_eq!(
            (change.kind.name(), change.kind.message().unwrap().id),
            *expected
        );
    }

    // Deleting the newer reply lowers the count and moves last_reply_at back.
    h.chat.delete_message(owner, second.id).await.unwrap();
    let now = h.chat.get_message(alice, parent.id).await.unwrap();
    assert_eq!(now.reply_count, 1);
    assert_eq!(now.last_reply_at, Some(first.created_at));
    let tail = h
        .chat
        .changes(alice, room, second.seq.next(), Some(10))
        .await
        .unwrap()
        .changes;
    assert!(
        matches!(&tail[..], [d, t] if matches!(d.kind, ChangeKind::MessageDeleted(_))
        && matches!(&t.kind, ChangeKind::ThreadUpdated(m) if m.id == parent.id && m.reply_count == 1))
    );

    // Replies page oldest first, tombstones included, with keyset cursors.
    for i in 0..5 {
        h.chat
            .send_message(alice, room, reply(parent.id, &format!("more {i}")))
            .await
            .unwrap();
    }
    let page = h
        .chat
        .replies(alice, parent.id, RoomSeq::ZERO, Some(4))
        .await
        .unwrap();
    assert!(page.has_more);
    assert_eq!(page.messages[0].id, first.id);
    assert!(page.messages[1].is_deleted);
    let rest = h
        .chat
        .replies(alice, parent.id, page.messages[3].seq, Some(4))
        .await
        .unwrap();
    assert!(!rest.has_more);
    assert_eq!(rest.messages.len(), 3);
    assert_eq!(rest.messages[2].text, "more 4");
    assert!(
        h.chat
            .replies(alice, first.id, RoomSeq::ZERO, None)
            .await
            .unwrap()
            .messages
            .is_empty()
    );

    // Non-readers see neither the message nor its thread.
    let outsider = h.user("Outsider").await;
    let bystander = h.user("Bystander").await;
    h.chat
        .add_event_member(owner, event, bystander, EventRole::Member)
        .await
        .unwrap();
    for who in [outsider, bystander] {
        assert_err!(
            h.chat.get_message(who, parent.id).await,
            Error::NotFound { what: "message" }
        );
        assert_err!(
            h.chat.replies(who, parent.id, RoomSeq::ZERO, None).await,
            Error::NotFound { what: "message" }
        );
    }
    assert_err!(
        h.chat.get_message(alice, MessageId::new()).await,
        Error::NotFound { what: "message" }
    );
}

/// `history_around` returns the page centred on a seq, newest first, saying whether older
/// and newer messages exist.
pub async fn history_around_centres_on_a_seq(store: Arc<dyn Store>) {
    let h = Harness::with_limits(store, relaxed()).await;
    let (owner, _event, room) = h.owner_event_room().await;
    let mut sent = Vec::new();
    for i in 1..=30 {
        sent.push(h.send(owner, room, &format!("m{i}")).await);
    }
    let target = &sent[14];
    let page = h
        .chat
        .history_around(owner, room, target.seq, Some(10))
        .await
        .unwrap();
    let texts: Vec<&str> = page.messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "m20", "m19", "m18", "m17", "m16", "m15", "m14", "m13", "m12", "m11"
        ]
    );
    assert!(page.has_more);
    assert_eq!(page.has_newer, Some(true));

    let start = h
        .chat
        .history_around(owner, room, sent[1].seq, Some(10))
        .await
        .unwrap();
    assert_eq!(start.messages.last().unwrap().text, "m1");
    assert!(!start.has_more);
    let end = h
        .chat
        .history_around(owner, room, sent[29].seq, Some(10))
        .await
        .unwrap();
    assert_eq!(end.messages[0].text, "m30");
    assert_eq!(end.has_newer, Some(false));
    let last = h.chat.get_room(owner, room).await.unwrap().room.last_seq;
    assert_err!(
        h.chat
            .history_around(owner, room, last.next(), None)
            .await,
        Error::Validation { field, .. } if field == "around"
    );
}
