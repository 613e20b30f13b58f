//! The change feed: every change of every readable room, from a cursor, across restarts.

use super::*;
use crate::{FeedCursor, RoomChange, RoomId};

/// The (room, seq) of each change, to compare pages with the logs.
fn keys(changes: &[RoomChange]) -> Vec<(RoomId, RoomSeq)> {
    changes.iter().map(|c| (c.room_id, c.seq)).collect()
}

/// Reads pages of `limit` from `cursor` until one comes back empty.
async fn drain(
    h: &Harness,
    user: UserId,
    mut cursor: FeedCursor,
    limit: u32,
) -> (Vec<RoomChange>, FeedCursor) {
    let mut all = Vec::new();
    for _ in 0..100 {
        let page = h.chat.read_feed(user, &cursor, limit).await.unwrap();
        assert!(page.changes.len() <= usize::try_from(limit).unwrap());
        cursor = page.cursor;
        if page.changes.is_empty() {
            assert!(!page.has_more);
            return (all, cursor);
        }
        all.extend(page.changes);
    }
    panic!("the feed never ran dry");
}

/// The feed: every kind of change in every room the reader can read, in order per room and
/// gap-free, nothing from other rooms; small pages shared fairly; a cursor read again after a
/// "restart" (a new service on the same store) goes on exactly where it was; a room that
/// becomes readable is read from its start, one no longer readable stops; a cursor past a
/// room's last seq is refused.
pub async fn feed_reads_every_readable_change_from_a_cursor(store: Arc<dyn Store>) {
    let h = Harness::with_limits(Arc::clone(&store), relaxed()).await;
    let (owner, event, a) = h.owner_event_room().await;
    let reader = h.joined("Reader", owner, event, a).await;
    let b = h.room(owner, event, "B", Visibility::Public).await;
    h.chat.join_room(reader, b).await.unwrap();
    let hidden = h.room(owner, event, "Hidden", Visibility::Private).await;
    let start = h.chat.feed_cursor(reader).await.unwrap();
    assert_eq!(start.positions.len(), 2, "the two rooms the reader is in");
    // The store's readable rooms are the rooms of the unread counts, with their last seqs.
    let mut readable = h.store.readable_rooms(reader).await.unwrap();
    let mut counted: Vec<_> = h
        .store
        .unread_counts(reader, None)
        .await
        .unwrap()
        .into_iter()
        .map(|u| (u.room_id, u.last_seq))
        .collect();
    readable.sort();
    counted.sort();
    assert_eq!(readable, counted);

    // Every kind of change: posts, an edit, a reaction, a join, a deletion, a room update.
    let first = h.send(owner, a, "one").await;
    let second = h.send(owner, b, "two").await;
    h.chat
        .edit_message(owner, first.id, "one, edited".into())
        .await
        .unwrap();
    h.chat.react(reader, second.id, "👍", true).await.unwrap();
    h.joined("Late", owner, event, a).await;
    h.chat.delete_message(owner, second.id).await.unwrap();
    h.chat
        .update_room(
            owner,
            b,
            RoomPatch {
                name: Some("B2".into()),
                ..RoomPatch::default()
            },
        )
        .await
        .unwrap();
    h.send(owner, hidden, "not for the reader").await;
    for i in 0..10 {
        h.send(owner, a, &format!("busy {i}")).await;
    }

    // What the logs hold after the start, room by room.
    let mut expected = Vec::new();
    for room in [a, b] {
        let log = h
            .store
            .changes_after(room, start.position(room), 1000)
            .await
            .unwrap();
        expected.extend(keys(&log));
    }
    let (read, cursor) = drain(&h, reader, start.clone(), 3).await;
    let mut got = keys(&read);
    for room in [a, b] {
        let in_room: Vec<RoomSeq> = got
            .iter()
            .filter(|(r, _)| *r == room)
            .map(|(_, s)| *s)
            .collect();
        let mut sorted = in_room.clone();
        sorted.sort();
        assert_eq!(in_room, sorted, "in seq order within a room");
    }
    got.sort();
    expected.sort();
    assert_eq!(
        got, expected,
        "every change of both rooms, once, none of the hidden room"
    );
    assert!(read.iter().all(|c| c.room_id != hidden));
    // Message changes show the message as it is now (the deleted one as a tombstone).
    assert!(read.iter().any(|c| matches!(&c.kind, ChangeKind::MessageDeleted(m) if m.id == second.id && m.text.is_empty())));

    // Fair: with ten changes waiting in A and one in B, a page of 4 has B's.
    let before = h.chat.feed_cursor(reader).await.unwrap();
    for i in 0..10 {
        h.send(owner, a, &format!("more {i}")).await;
    }
    let in_b = h.send(owner, b, "b again").await;
    let page = h.chat.read_feed(reader, &before, Some(4)).await.unwrap();
    assert_eq!(page.changes.len(), 4);
    assert!(page.has_more);
    assert!(keys(&page.changes).contains(&(b, in_b.seq)));

    // A restart of the service: the saved cursor goes on exactly where it was.
    let restarted = Harness::with_limits(Arc::clone(&store), relaxed()).await;
    let (after_restart, cursor) = drain(&restarted, reader, cursor, 50).await;
    assert_eq!(
        after_restart.len(),
        11,
        "the ten in A and the one in B, nothing again"
    );
    let (nothing, cursor) = drain(&restarted, reader, cursor, 50).await;
    assert!(nothing.is_empty());

    // The hidden room becomes readable: its whole log, from the start.
    h.chat.invite(owner, hidden, reader).await.unwrap();
    let (joined, cursor) = drain(&h, reader, cursor, 50).await;
    let hidden_log = h
        .store
        .changes_after(hidden, RoomSeq::ZERO, 1000)
        .await
        .unwrap();
    assert_eq!(
        keys(
            &joined
                .iter()
                .filter(|c| c.room_id == hidden)
                .cloned()
                .collect::<Vec<_>>()
        ),
        keys(&hidden_log)
    );
    // Banned from A: A's changes stop.
    h.chat.ban_member(owner, a, reader, true).await.unwrap();
    let (_, cursor) = drain(&h, reader, cursor, 50).await;
    h.send(owner, a, "after the ban").await;
    let (after_ban, _) = drain(&h, reader, cursor.clone(), 50).await;
    assert!(after_ban.iter().all(|c| c.room_id != a), "{after_ban:?}");

    // A cursor ahead of a room's log is refused, not silently skipped.
    let mut ahead = cursor;
    ahead.positions.insert(b, RoomSeq(1_000_000));
    assert_err!(
        h.chat.read_feed(reader, &ahead, None).await,
        Error::Validation { ref field, .. } if field == "cursor"
    );
    assert_err!(
        h.chat.read_feed(reader, &FeedCursor::default(), Some(0)).await,
        Error::Validation { ref field, .. } if field == "limit"
    );
}

/// Following the feed: a follower waiting on an empty feed wakes with the next change, in a
/// room it followed from the start and in one that became readable while it waited.
pub async fn feed_follower_wakes_for_new_changes(store: Arc<dyn Store>) {
    let h = Harness::with_limits(store, relaxed()).await;
    let (owner, event, a) = h.owner_event_room().await;
    let reader = h.joined("Reader", owner, event, a).await;
    let later = h.room(owner, event, "Later", Visibility::Private).await;
    let start = h.chat.feed_cursor(reader).await.unwrap();
    let mut follower = Arc::clone(&h.chat)
        .follow_feed(reader, start, None)
        .await
        .unwrap();

    let wait = tokio::spawn(async move {
        let page = follower.next().await.unwrap().unwrap();
        (page, follower)
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let sent = h.send(owner, a, "wake up").await;
    let (page, mut follower) = tokio::time::timeout(Duration::from_secs(5), wait)
        .await
        .expect("woken within 5 s")
        .unwrap();
    assert_eq!(keys(&page.changes), vec![(a, sent.seq)]);
    assert_eq!(follower.cursor().position(a), sent.seq);

    // A room that becomes readable while the follower waits: its log arrives.
    let wait = tokio::spawn(async move {
        let page = follower.next().await.unwrap().unwrap();
        (page, follower)
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    h.send(owner, later, "before the invite").await;
    h.chat.invite(owner, later, reader).await.unwrap();
    let (page, _) = tokio::time::timeout(Duration::from_secs(5), wait)
        .await
        .expect("woken within 5 s")
        .unwrap();
    assert!(
        page.changes.iter().any(|c| c.room_id == later),
        "{:?}",
        page.changes
    );
}
