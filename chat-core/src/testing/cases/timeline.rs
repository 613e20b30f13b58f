//! History pages, the gap-free change log, live subscriptions, read state and typing.

use super::*;

/// History pages: newest-first `before`, oldest-first `after`, no gap, no overlap.
pub async fn history_pages_in_both_directions(store: Arc<dyn Store>) {
    let h = Harness::with_limits(store, relaxed()).await;
    let (owner, _event, room) = h.owner_event_room().await;
    let mut sent = Vec::new();
    for i in 0..120 {
        sent.push(h.send(owner, room, &format!("message {i}")).await.id);
    }
    let latest = h
        .chat
        .history(owner, room, HistoryCursor::LATEST, None)
        .await
        .unwrap();
    assert_eq!(latest.messages.len(), 50);
    assert!(latest.has_more);
    assert_eq!(latest.messages[0].id, sent[119]);

    let mut backwards = Vec::new();
    let mut cursor = HistoryCursor::LATEST;
    loop {
        let page = h.chat.history(owner, room, cursor, Some(7)).await.unwrap();
        let Some(last) = page.messages.last() else {
            break;
        };
        cursor = HistoryCursor::Before(last.seq);
        backwards.extend(page.messages.iter().map(|m| m.id));
        if !page.has_more {
            break;
        }
    }
    backwards.reverse();
    assert_eq!(backwards, sent);

    let mut forwards = Vec::new();
    let mut cursor = HistoryCursor::After(RoomSeq::ZERO);
    loop {
        let page = h
            .chat
            .history(owner, room, cursor, Some(100))
            .await
            .unwrap();
        forwards.extend(page.messages.iter().map(|m| m.id));
        match page.messages.last() {
            Some(last) if page.has_more => cursor = HistoryCursor::After(last.seq),
            _ => break,
        }
    }
    assert_eq!(forwards, sent);

    for bad in [0, -1, 101, i64::MAX] {
        assert_err!(
            h.chat
                .history(
                    owner,
                    room,
                    HistoryCursor::LATEST,
                    crate::PageSize::requested(bad)
                )
                .await,
            Error::Validation { .. }
        );
    }
    let empty = h
        .chat
        .history(owner, room, HistoryCursor::Before(RoomSeq(1)), None)
        .await
        .unwrap();
    assert!(empty.messages.is_empty() && !empty.has_more);
}

/// Paging backwards while others send: the pages cover exactly what existed, once each.
pub async fn keyset_pages_stable_under_concurrent_sends(store: Arc<dyn Store>) {
    let h = Harness::with_limits(store, relaxed()).await;
    let (owner, _event, room) = h.owner_event_room().await;
    for i in 0..200 {
        h.send(owner, room, &format!("old {i}")).await;
    }
    let start = h
        .chat
        .history(owner, room, HistoryCursor::LATEST, Some(1))
        .await
        .unwrap()
        .messages[0]
        .seq;
    let writer = {
        let h = h.clone();
        tokio::spawn(async move {
            for i in 0..200 {
                h.send(owner, room, &format!("new {i}")).await;
                tokio::task::yield_now().await;
            }
        })
    };
    let mut seen = Vec::new();
    let mut cursor = HistoryCursor::Before(start.next());
    loop {
        let page = h.chat.history(owner, room, cursor, Some(9)).await.unwrap();
        seen.extend(page.messages.iter().map(|m| m.seq));
        match page.messages.last() {
            Some(last) if page.has_more => cursor = HistoryCursor::Before(last.seq),
            _ => break,
        }
        tokio::task::yield_now().await;
    }
    writer.await.unwrap();
    assert_eq!(seen.len(), 200);
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "strictly descending, no duplicates"
    );
    assert_eq!(seen[0], start);
}

/// 32 concurrent senders: seqs are strictly increasing and gap-free.
pub async fn seq_gap_free_under_32_concurrent_senders(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, event, room) = h.owner_event_room().await;
    let mut users = Vec::new();
    for i in 0..32 {
        users.push(h.joined(&format!("Sender {i}"), owner, event, room).await);
    }
    let before = h.chat.get_room(owner, room).await.unwrap().room.last_seq;
    let tasks = users.iter().map(|&u| {
        let h = h.clone();
        tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..10 {
                seqs.push(h.send(u, room, &format!("{i}")).await.seq);
            }
            seqs
        })
    });
    let mut all: Vec<RoomSeq> = Vec::new();
    for seqs in join_all(tasks).await {
        let seqs = seqs.unwrap();
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "one sender's seqs increase"
        );
        all.extend(seqs);
    }
    all.sort();
    let expected: Vec<RoomSeq> = (before.get() + 1..=before.get() + 320)
        .map(RoomSeq)
        .collect();
    assert_eq!(all, expected);
    let log = h
        .chat
        .changes(owner, room, RoomSeq::ZERO, Some(100))
        .await
        .unwrap();
    assert_eq!(log.last_seq, RoomSeq(before.get() + 320));
    let mut seqs = Vec::new();
    let mut after = RoomSeq::ZERO;
    loop {
        let page = h.chat.changes(owner, room, after, Some(100)).await.unwrap();
        seqs.extend(page.changes.iter().map(|c| c.seq));
        match page.changes.last() {
            Some(c) if page.has_more => after = c.seq,
            _ => break,
        }
    }
    assert_eq!(
        seqs,
        (1..=before.get() + 320).map(RoomSeq).collect::<Vec<_>>()
    );
}

/// Catch-up from every seq returns exactly the rest of the log, edits and deletions included.
pub async fn catch_up_from_any_seq_includes_edits_and_deletes(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, event, room) = h.owner_event_room().await;
    let alice = h.joined("Alice", owner, event, room).await;
    let a = h.send(alice, room, "first").await;
    let b = h.send(owner, room, "second").await;
    h.chat
        .edit_message(alice, a.id, "first, edited".into())
        .await
        .unwrap();
    h.chat.react(owner, a.id, "👍", true).await.unwrap();
    h.chat.delete_message(owner, b.id).await.unwrap();
    let full = h
        .chat
        .changes(owner, room, RoomSeq::ZERO, None)
        .await
        .unwrap();
    let kinds: Vec<&str> = full.changes.iter().map(|c| c.kind.name()).collect();
    assert_eq!(
        kinds,
        [
            "member_joined",
            "message_posted",
            "message_posted",
            "message_edited",
            "reactions_changed",
            "message_deleted"
        ]
    );
    assert_eq!(full.last_seq, RoomSeq(6));
    for s in 0..=6 {
        let page = h.chat.changes(alice, room, RoomSeq(s), None).await.unwrap();
        assert_eq!(
            page.changes,
            full.changes[s as usize..],
            "catch-up after {s}"
        );
    }
    match &full.changes[3].kind {
        ChangeKind::MessageEdited(m) => assert!(m.is_edited && m.text == "first, edited"),
        other => panic!("expected an edit, got {other:?}"),
    }
    match &full.changes[5].kind {
        ChangeKind::MessageDeleted(m) => assert!(m.is_deleted && m.text.is_empty() && m.id == b.id),
        other => panic!("expected a deletion, got {other:?}"),
    }
    let outsider = h.user("Outsider").await;
    assert_err!(
        h.chat.changes(outsider, room, RoomSeq::ZERO, None).await,
        Error::NotFound { .. }
    );
    assert_err!(
        h.chat.changes(owner, room, RoomSeq::ZERO, Some(0)).await,
        Error::Validation { .. }
    );
    assert_err!(
        h.chat.changes(owner, room, RoomSeq(999), None).await,
        Error::Validation { .. }
    );
}

/// Membership and room changes take seqs too; `last_seq` always equals the log's length.
pub async fn room_log_records_every_visible_change(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, event, room) = h.owner_event_room().await;
    let alice = h.joined("Alice", owner, event, room).await;
    h.chat
        .rename_room(owner, room, "Lobby".into())
        .await
        .unwrap();
    h.chat
        .set_member_role(owner, room, alice, RoomRole::Moderator)
        .await
        .unwrap();
    h.chat.leave_room(alice, room).await.unwrap();
    let log = h
        .chat
        .changes(owner, room, RoomSeq::ZERO, None)
        .await
        .unwrap();
    let kinds: Vec<&str> = log.changes.iter().map(|c| c.kind.name()).collect();
    assert_eq!(
        kinds,
        [
            "member_joined",
            "room_updated",
            "member_updated",
            "member_left"
        ]
    );
    match &log.changes[1].kind {
        ChangeKind::RoomUpdated(r) => {
            assert_eq!((r.name.as_str(), r.last_seq), ("Lobby", RoomSeq(2)))
        }
        other => panic!("expected a room update, got {other:?}"),
    }
    assert_eq!(log.last_seq, RoomSeq(4));
    assert_eq!(
        h.chat.get_room(owner, room).await.unwrap().room.last_seq,
        RoomSeq(4)
    );
    // A no-op role change logs nothing.
    h.chat.join_room(alice, room).await.unwrap();
    h.chat
        .set_member_role(owner, room, alice, RoomRole::Member)
        .await
        .unwrap();
    assert_eq!(
        h.chat.get_room(owner, room).await.unwrap().room.last_seq,
        RoomSeq(5)
    );
}

/// Subscribe, replay from `since`, then live: every change exactly once, in order.
pub async fn live_subscription_resumes_without_gap_or_duplicate(store: Arc<dyn Store>) {
    let h = Harness::with_limits(store, relaxed()).await;
    let (owner, event, room) = h.owner_event_room().await;
    let alice = h.joined("Alice", owner, event, room).await;
    for i in 0..5 {
        h.send(alice, room, &format!("before {i}")).await;
    }
    let since = RoomSeq(3);
    // Subscribe first, then replay: a change committed between the two arrives exactly once.
    let mut sub = h.chat.subscribe(alice, room, Some(since)).await.unwrap();
    let writer = {
        let h = h.clone();
        tokio::spawn(async move {
            for i in 0..50 {
                h.send(owner, room, &format!("during {i}")).await;
                tokio::task::yield_now().await;
            }
        })
    };
    let mut got: Vec<RoomSeq> = Vec::new();
    let mut after = since;
    loop {
        let page = h.chat.changes(alice, room, after, Some(10)).await.unwrap();
        got.extend(page.changes.iter().map(|c| c.seq));
        if let Some(last) = page.changes.last() {
            after = last.seq;
        }
        if !page.has_more {
            break;
        }
    }
    sub.advance_to(after);
    writer.await.unwrap();
    let last = h.chat.get_room(alice, room).await.unwrap().room.last_seq;
    while got.last().copied().unwrap_or(since) < last {
        match tokio::time::timeout(Duration::from_secs(5), sub.recv()).await {
            Ok(Some(Delivery::Change(c))) => got.push(c.seq),
            other => panic!("expected a live change, got {other:?}"),
        }
    }
    let expected: Vec<RoomSeq> = (since.get() + 1..=last.get()).map(RoomSeq).collect();
    assert_eq!(got, expected);
    let outsider = h.user("Outsider").await;
    assert_err!(
        h.chat.subscribe(outsider, room, None).await,
        Error::NotFound { .. }
    );
}

/// Read markers only move forward and never past the room's last seq.
pub async fn mark_read_only_moves_forward(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, event, room) = h.owner_event_room().await;
    let alice = h.joined("Alice", owner, event, room).await;
    h.send(owner, room, "one").await;
    h.send(owner, room, "two").await;
    assert_eq!(
        h.chat
            .mark_read(alice, room, RoomSeq(3))
            .await
            .unwrap()
            .last_read_seq,
        RoomSeq(3)
    );
    assert_eq!(
        h.chat
            .mark_read(alice, room, RoomSeq(2))
            .await
            .unwrap()
            .last_read_seq,
        RoomSeq(3)
    );
    assert_err!(
        h.chat.mark_read(alice, room, RoomSeq(4)).await,
        Error::Validation { .. }
    );
    let outsider = h.user("Outsider").await;
    assert_err!(
        h.chat.mark_read(outsider, room, RoomSeq(1)).await,
        Error::NotFound { .. }
    );
}

/// Typing: at most one signal per 2 s per user and room; fanned out, never stored.
pub async fn typing_is_throttled_and_fanned_out(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, event, room) = h.owner_event_room().await;
    let alice = h.joined("Alice", owner, event, room).await;
    let mut sub = h.chat.subscribe(owner, room, None).await.unwrap();
    let seq = h.chat.get_room(owner, room).await.unwrap().room.last_seq;
    h.chat.typing(alice, room).await.unwrap();
    assert_err!(h.chat.typing(alice, room).await, Error::RateLimited { .. });
    h.advance_secs(2);
    h.chat.typing(alice, room).await.unwrap();
    for _ in 0..2 {
        match sub.recv().await {
            Some(Delivery::Typing(t)) => {
                assert_eq!((t.user_id, t.display_name.as_str()), (alice, "Alice"))
            }
            other => panic!("expected typing, got {other:?}"),
        }
    }
    assert_eq!(
        h.chat.get_room(owner, room).await.unwrap().room.last_seq,
        seq,
        "typing is not stored"
    );
    h.chat
        .mute_member(
            owner,
            room,
            alice,
            Some(h.chat.now().saturating_add(Duration::from_secs(60))),
        )
        .await
        .unwrap();
    h.advance_secs(2);
    assert_err!(h.chat.typing(alice, room).await, Error::Forbidden { .. });
}
