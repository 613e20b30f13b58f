//! The send pipeline: idempotency, exact rate limits, validation, attachments and replies, and the original design's cases.

use super::*;

/// A resent `client_msg_id` returns the original: no second message, fan-out or quota charge.
pub async fn idempotent_client_msg_id(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, event, room) = h.owner_event_room().await;
    let alice = h.joined("Alice", owner, event, room).await;
    let mut sub = h.chat.subscribe(owner, room, None).await.unwrap();
    let with_id = |t: &str, id: &str| SendMessage {
        client_msg_id: Some(id.into()),
        ..text(t)
    };
    let first = h
        .chat
        .send_message(alice, room, with_id("hello", "c-1"))
        .await
        .unwrap();
    assert!(!first.replayed);
    let again = h
        .chat
        .send_message(alice, room, with_id("different text", "c-1"))
        .await
        .unwrap();
    assert!(again.replayed);
    assert_eq!(again.message, first.message);
    // Another author may use the same key.
    let other = h
        .chat
        .send_message(owner, room, with_id("mine", "c-1"))
        .await
        .unwrap();
    assert!(!other.replayed);
    assert_ne!(other.message.id, first.message.id);
    // Only two changes were fanned out.
    for expected in [first.message.id, other.message.id] {
        match sub.recv().await {
            Some(Delivery::Change(c)) => assert_eq!(c.kind.message().unwrap().id, expected),
            other => panic!("expected a change, got {other:?}"),
        }
    }
    // Quota: nine more fill alice's window; replaying still works; the next new one is refused.
    for i in 0..9 {
        h.chat
            .send_message(alice, room, with_id("fill", &format!("f-{i}")))
            .await
            .unwrap();
    }
    assert!(
        h.chat
            .send_message(alice, room, with_id("hello", "c-1"))
            .await
            .unwrap()
            .replayed
    );
    assert_err!(
        h.chat
            .send_message(alice, room, with_id("new", "c-2"))
            .await,
        Error::RateLimited { .. }
    );
    let history = h
        .chat
        .history(owner, room, HistoryCursor::LATEST, None)
        .await
        .unwrap();
    assert_eq!(history.messages.len(), 11);
    assert_err!(
        h.chat
            .send_message(alice, room, with_id("x", &"k".repeat(65)))
            .await,
        Error::Validation { .. }
    );
    assert_err!(
        h.chat
            .send_message(alice, room, with_id("x", "has space"))
            .await,
        Error::Validation { .. }
    );
}

/// Sixteen racing sends with one `client_msg_id` store one message; all callers get it.
pub async fn racing_duplicate_client_msg_ids_store_one_message(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, _event, room) = h.owner_event_room().await;
    let sends = (0..16).map(|_| {
        let h = h.clone();
        tokio::spawn(async move {
            let msg = SendMessage {
                client_msg_id: Some("race-1".into()),
                ..text("once")
            };
            h.chat.send_message(owner, room, msg).await
        })
    });
    let results: Vec<_> = join_all(sends)
        .await
        .into_iter()
        .map(|r| r.unwrap().unwrap())
        .collect();
    let ids: HashSet<_> = results.iter().map(|s| s.message.id).collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(results.iter().filter(|s| !s.replayed).count(), 1);
    let history = h
        .chat
        .history(owner, room, HistoryCursor::LATEST, None)
        .await
        .unwrap();
    assert_eq!(history.messages.len(), 1);
}

/// 100 concurrent sends from one user admit exactly 10.
pub async fn rate_limit_exact_under_100_concurrent_sends(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, _event, room) = h.owner_event_room().await;
    let sends = (0..100).map(|i| {
        let h = h.clone();
        tokio::spawn(async move {
            h.chat
                .send_message(owner, room, text(&format!("burst {i}")))
                .await
        })
    });
    let results: Vec<_> = join_all(sends)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 10, "exactly the limit is admitted");
    for r in results.iter().filter(|r| r.is_err()) {
        match r {
            Err(Error::RateLimited { retry_after }) => {
                assert!(*retry_after > Duration::ZERO && *retry_after <= Duration::from_secs(60));
            }
            other => panic!("expected RateLimited, got {other:?}"),
        }
    }
    let history = h
        .chat
        .history(owner, room, HistoryCursor::LATEST, None)
        .await
        .unwrap();
    assert_eq!(history.messages.len(), 10);
    h.advance_secs(60);
    h.send(owner, room, "window passed").await;
}

/// Invalid and refused sends cost no quota.
pub async fn rejected_sends_cost_no_quota(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, _event, room) = h.owner_event_room().await;
    for _ in 0..20 {
        assert_err!(
            h.chat
                .send_message(owner, room, text(&"x".repeat(5001)))
                .await,
            Error::Validation { .. }
        );
    }
    for i in 0..10 {
        h.send(owner, room, &format!("{i}")).await;
    }
    for _ in 0..5 {
        assert_err!(
            h.chat.send_message(owner, room, text("more")).await,
            Error::RateLimited { .. }
        );
    }
    // Had the refused sends counted, the window would still be full after 60 s.
    h.advance_secs(60);
    for i in 0..10 {
        h.send(owner, room, &format!("again {i}")).await;
    }
}

/// Slow mode spaces one member's messages in one room; moderators are exempt.
pub async fn slow_mode_per_room(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, event, room) = h.owner_event_room().await;
    let alice = h.joined("Alice", owner, event, room).await;
    let other = h.room(owner, event, "Other", Visibility::Public).await;
    h.chat.join_room(alice, other).await.unwrap();
    h.chat
        .update_room(
            owner,
            room,
            RoomPatch {
                slow_mode_secs: Some(30),
                ..RoomPatch::default()
            },
        )
        .await
        .unwrap();
    h.send(alice, room, "one").await;
    match h.chat.send_message(alice, room, text("two")).await {
        Err(Error::RateLimited { retry_after }) => assert_eq!(retry_after, Duration::from_secs(30)),
        other => panic!("expected slow mode, got {other:?}"),
    }
    h.send(alice, other, "elsewhere is fine").await;
    h.send(owner, room, "moderator one").await;
    h.send(owner, room, "moderator two").await;
    h.advance_secs(30);
    h.send(alice, room, "two").await;
}

/// The original design's first unit test: the 11th message within a minute fails.
pub async fn original_rate_limit_11th_message_fails(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, _event, room) = h.owner_event_room().await;
    for i in 0..10 {
        h.send(owner, room, &format!("Message {i}")).await;
        h.advance_secs(1);
    }
    let err = h
        .chat
        .send_message(owner, room, text("Too many messages"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::RateLimited { .. }), "{err:?}");
    assert!(err.to_string().starts_with("rate limit exceeded"));
    // The first message leaves the window 60 s after it was sent: 50 s from now.
    match err {
        Error::RateLimited { retry_after } => assert_eq!(retry_after, Duration::from_secs(50)),
        other => panic!("expected RateLimited, got {other:?}"),
    }
}

/// The original design's second unit test: 5001 characters is too long; 5000 is fine.
pub async fn original_message_too_long(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, _event, room) = h.owner_event_room().await;
    match h
        .chat
        .send_message(owner, room, text(&"a".repeat(5001)))
        .await
    {
        Err(Error::Validation { field, reason }) => {
            assert_eq!(field, "text");
            assert!(reason.contains("too long"), "{reason}");
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
    h.send(owner, room, &"a".repeat(5000)).await;
    h.send(owner, room, &"é".repeat(5000)).await;
}

/// The original design's third unit test: a mention of User Two is stored.
pub async fn original_mentions_stored(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, event, room) = h.owner_event_room().await;
    let user1 = h.joined("User One", owner, event, room).await;
    let user2 = h.joined("User Two", owner, event, room).await;
    let stranger = h.user("Not Here").await;
    let sent = h
        .send(
            user1,
            room,
            &format!("Hey @[User Two]({user2}) check this out!"),
        )
        .await;
    assert_eq!(sent.mentions, vec![user2]);
    let stored = h
        .chat
        .history(user1, room, HistoryCursor::LATEST, None)
        .await
        .unwrap();
    assert!(
        stored
            .messages
            .iter()
            .find(|m| m.id == sent.id)
            .unwrap()
            .mentions
            .contains(&user2)
    );
    // Mentions of non-members are kept as text but not as mentions.
    let sent = h
        .send(
            user1,
            room,
            &format!("@[Not Here]({stranger}) and @[User Two]({user2})"),
        )
        .await;
    assert_eq!(sent.mentions, vec![user2]);
}

/// Every invalid send gets a validation error and stores nothing.
pub async fn send_validation_stores_nothing(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, event, room) = h.owner_event_room().await;
    let other_room = h.room(owner, event, "Other", Visibility::Public).await;
    let elsewhere = h.send(owner, other_room, "elsewhere").await;
    let many_mentions: String = (0..51)
        .map(|_| format!("@[U]({}) ", UserId::new()))
        .collect();
    let cases: Vec<(SendMessage, &str)> = vec![
        (text(""), "text"),
        (text(" \n\t "), "text"),
        (text("nul\0byte"), "text"),
        (text("escape\u{1b}[2J"), "text"),
        (text("del\u{7f}"), "text"),
        (text(&many_mentions), "text"),
    ];
    for (msg, field) in cases {
        match h.chat.send_message(owner, room, msg).await {
            Err(Error::Validation { field: f, .. }) => assert_eq!(f, field),
            other => panic!("expected validation error on {field}, got {other:?}"),
        }
    }
    let reply_elsewhere = SendMessage {
        reply_to: Some(elsewhere.id),
        ..text("reply")
    };
    assert_err!(
        h.chat.send_message(owner, room, reply_elsewhere).await,
        Error::NotFound { .. }
    );
    let reply_unknown = SendMessage {
        reply_to: Some(crate::MessageId::new()),
        ..text("reply")
    };
    assert_err!(
        h.chat.send_message(owner, room, reply_unknown).await,
        Error::NotFound { .. }
    );
    assert_err!(
        h.chat
            .send_message(owner, crate::RoomId::new(), text("x"))
            .await,
        Error::NotFound { .. }
    );
    let history = h
        .chat
        .history(owner, room, HistoryCursor::LATEST, None)
        .await
        .unwrap();
    assert!(history.messages.is_empty());
    assert_eq!(
        h.chat.get_room(owner, room).await.unwrap().room.last_seq,
        RoomSeq::ZERO
    );
}

/// Whitespace beside an attachment is fine; replies point into the same room.
pub async fn attachments_and_replies(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, _event, room) = h.owner_event_room().await;
    let file = h
        .upload(
            owner,
            room,
            "plan.pdf",
            crate::testing::fixtures::pdf(5 * 1024 * 1024),
        )
        .await;
    let photo = h
        .chat
        .send_message(
            owner,
            room,
            SendMessage {
                attachment_ids: vec![file.id],
                ..text("  ")
            },
        )
        .await
        .unwrap()
        .message;
    assert_eq!(photo.attachments.len(), 1);
    assert_eq!(photo.attachments[0], file);
    assert_eq!(photo.attachments[0].size, 5 * 1024 * 1024);
    let reply = h
        .chat
        .send_message(
            owner,
            room,
            SendMessage {
                reply_to: Some(photo.id),
                ..text("nice")
            },
        )
        .await
        .unwrap()
        .message;
    assert_eq!(reply.reply_to, Some(photo.id));
    let page = h
        .chat
        .history(owner, room, HistoryCursor::LATEST, None)
        .await
        .unwrap();
    // The photo now counts its reply; nothing else about it changed.
    assert_eq!(
        page.messages[1],
        crate::Message {
            reply_count: 1,
            last_reply_at: Some(reply.created_at),
            ..photo
        }
    );
    assert_eq!(page.messages[0].author_name, "Owner");
}

/// The store judges the author's right to post in the same step that writes the send
/// (`Admission::authorize`), with the standing it reads there: a send handed to the store by
/// someone who may not post is refused with the exact error and stores nothing, a ban or mute
/// is seen by the very next send, and refused sends racing admitted ones (one group commit on
/// PostgreSQL) fail alone.
pub async fn the_store_authorises_each_send(store: Arc<dyn Store>) {
    use crate::{Admission, Appended, MessageId, NewMessage, RateLimitPolicy, RoomId};

    let h = Harness::with_limits(Arc::clone(&store), relaxed()).await;
    let (owner, event, room) = h.owner_event_room().await;
    let alice = h.joined("Alice", owner, event, room).await;
    let bob = h.joined("Bob", owner, event, room).await;
    let outsider = h.user("Outsider").await;
    let private = h.room(owner, event, "Private", Visibility::Private).await;
    let policy: Arc<dyn RateLimitPolicy> = Arc::new(crate::SlidingWindow {
        max: 1_000,
        window: Duration::from_secs(60),
    });
    let append = |author: UserId, room: RoomId, t: &str| {
        let (store, policy) = (Arc::clone(&store), Arc::clone(&policy));
        let msg = NewMessage {
            id: MessageId::new(),
            room_id: room,
            author_id: author,
            text: t.to_owned(),
            mentions: Vec::new(),
            attachments: Vec::new(),
            payload: None,
            reply_to: None,
            client_msg_id: None,
            is_ai_generated: false,
            created_at: h.chat.now(),
        };
        async move { store.append_message(msg, Admission { policy }).await }
    };
    let stored = |room: RoomId| {
        let h = h.clone();
        async move {
            h.chat
                .history(owner, room, HistoryCursor::LATEST, None)
                .await
                .unwrap()
                .messages
                .len()
        }
    };

    // Hidden rooms look missing; rooms one may see but not post in say why.
    assert_err!(
        append(outsider, room, "not in the event").await,
        Error::NotFound { what: "room" }
    );
    assert_err!(
        append(alice, private, "not invited").await,
        Error::NotFound { what: "room" }
    );
    let carol = h.user("Carol").await;
    h.chat
        .add_event_member(owner, event, carol, EventRole::Member)
        .await
        .unwrap();
    assert_err!(
        append(carol, room, "not joined").await,
        Error::Forbidden {
            reason: "not a member of this room"
        }
    );

    // A ban and a mute are seen by the very next send; lifting them is too.
    assert!(matches!(
        append(bob, room, "before the ban").await,
        Ok(Appended::Created { .. })
    ));
    h.chat.ban_member(owner, room, bob, true).await.unwrap();
    assert_err!(
        append(bob, room, "after the ban").await,
        Error::Forbidden {
            reason: "banned from this room"
        }
    );
    h.chat.ban_member(owner, room, bob, false).await.unwrap();
    let until = h.chat.now().saturating_add(Duration::from_secs(600));
    h.chat
        .mute_member(owner, room, alice, Some(until))
        .await
        .unwrap();
    assert_err!(
        append(alice, room, "muted").await,
        Error::Forbidden {
            reason: "muted in this room"
        }
    );
    h.advance_secs(601);
    assert!(matches!(
        append(alice, room, "the mute ran out").await,
        Ok(Appended::Created { .. })
    ));

    // Announcement rooms take moderators' posts only; archived rooms nobody's.
    let news = h
        .chat
        .create_room(
            owner,
            event,
            NewRoom {
                name: "News".into(),
                kind: RoomKind::Announcement,
                visibility: Visibility::Public,
            },
        )
        .await
        .unwrap()
        .id;
    h.chat.join_room(alice, news).await.unwrap();
    assert_err!(
        append(alice, news, "not a moderator").await,
        Error::Forbidden {
            reason: "only moderators post in announcement rooms"
        }
    );
    assert!(matches!(
        append(owner, news, "from the owner").await,
        Ok(Appended::Created { .. })
    ));
    h.chat
        .update_room(
            owner,
            news,
            RoomPatch {
                archived: Some(true),
                ..RoomPatch::default()
            },
        )
        .await
        .unwrap();
    assert_err!(
        append(owner, news, "archived").await,
        Error::Forbidden {
            reason: "room is archived"
        }
    );
    assert_eq!(
        stored(room).await,
        2,
        "only the two allowed sends are stored"
    );
    assert_eq!(stored(news).await, 1);

    // Refused sends queued among admitted ones fail alone.
    h.chat.ban_member(owner, room, bob, true).await.unwrap();
    let racing: Vec<_> = (0..16)
        .map(|i| {
            let author = if i % 2 == 0 { alice } else { bob };
            tokio::spawn(append(author, room, &format!("race {i}")))
        })
        .collect();
    for (i, result) in join_all(racing).await.into_iter().enumerate() {
        match (i % 2, result.unwrap()) {
            (0, Ok(Appended::Created { .. })) => {}
            (
                1,
                Err(Error::Forbidden {
                    reason: "banned from this room",
                }),
            ) => {}
            (_, other) => panic!("send {i}: {other:?}"),
        }
    }
    assert_eq!(stored(room).await, 2 + 8);
    let log = h
        .chat
        .history(owner, room, HistoryCursor::LATEST, None)
        .await
        .unwrap();
    assert!(
        log.messages
            .iter()
            .all(|m| m.author_id != bob || m.text == "before the ban")
    );
}
