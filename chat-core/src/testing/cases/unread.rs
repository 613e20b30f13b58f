//! Unread and mention counts, and the mention feed.

use super::*;
use std::collections::HashMap;

use crate::{MessageId, RoomId, UNREAD_CAP, Unread, mention};
use futures::future::join_all;

/// The caller's view of `room` in their room list.
async fn listed(h: &Harness, user: UserId, room: RoomId) -> crate::RoomView {
    h.chat
        .list_rooms(user, RoomFilter::default())
        .await
        .unwrap()
        .into_iter()
        .find(|v| v.room.id == room)
        .expect("listed")
}

async fn unread_in(h: &Harness, user: UserId, room: RoomId) -> (u32, u32) {
    h.chat
        .unread_counts(user)
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.room_id == room)
        .map_or((0, 0), |u| (u.messages, u.mentions))
}

/// Counts are of messages by others after the read position that are not deleted, and the
/// ones mentioning the member; edits, reactions and one's own messages do not count; reading
/// clears them; banned rooms drop out; past 999 the count says so.
pub async fn unread_counts_follow_the_rules(store: Arc<dyn Store>) {
    let h = Harness::with_limits(store, relaxed()).await;
    let (owner, event, room) = h.owner_event_room().await;
    let alice = h.joined("Alice", owner, event, room).await;
    let bob = h.joined("Bob", owner, event, room).await;
    let start = h.chat.get_room(alice, room).await.unwrap().room.last_seq;
    h.chat.mark_read(alice, room, start).await.unwrap();
    assert_eq!(unread_in(&h, alice, room).await, (0, 0));

    let plain = h.send(bob, room, "lunch?").await;
    let ping = h
        .send(
            bob,
            room,
            &format!("{} are you in?", mention::render("Alice", alice)),
        )
        .await;
    let doomed = h.send(bob, room, "typo").await;
    h.send(alice, room, "my own words").await;
    assert_eq!(unread_in(&h, alice, room).await, (3, 1));
    h.chat
        .edit_message(bob, plain.id, "lunch at 1?".into())
        .await
        .unwrap();
    h.chat.react(owner, ping.id, "👍", true).await.unwrap();
    assert_eq!(
        unread_in(&h, alice, room).await,
        (3, 1),
        "edits and reactions take seqs but are not messages"
    );
    h.chat.delete_message(bob, doomed.id).await.unwrap();
    assert_eq!(unread_in(&h, alice, room).await, (2, 1));
    assert_eq!(
        unread_in(&h, bob, room).await,
        (1, 0),
        "Alice's message, for Bob"
    );

    // The room list carries the same counts, and the seq they were counted at.
    let view = listed(&h, alice, room).await;
    let counted_at = view.room.last_seq;
    assert_eq!(
        view.unread,
        Some(Unread {
            room_id: room,
            last_read_seq: start,
            last_seq: counted_at,
            messages: 2,
            mentions: 1
        })
    );
    // The store can count one room alone, and lists rooms read to their end with zeros.
    let side = h.room(owner, event, "Side", Visibility::Public).await;
    h.chat.join_room(alice, side).await.unwrap();
    let one = h.store.unread_counts(alice, Some(room)).await.unwrap();
    assert_eq!(one, vec![view.unread.unwrap()]);
    let side_seq = h.chat.get_room(alice, side).await.unwrap().room.last_seq;
    h.chat.mark_read(alice, side, side_seq).await.unwrap();
    assert_eq!(
        h.store.unread_counts(alice, Some(side)).await.unwrap(),
        vec![Unread {
            room_id: side,
            last_read_seq: side_seq,
            last_seq: side_seq,
            messages: 0,
            mentions: 0
        }]
    );
    assert_eq!(h.store.unread_counts(alice, None).await.unwrap().len(), 2);

    // Reading to the end clears them.
    let last = h.chat.get_room(alice, room).await.unwrap().room.last_seq;
    h.chat.mark_read(alice, room, last).await.unwrap();
    assert_eq!(unread_in(&h, alice, room).await, (0, 0));
    assert!(h.chat.unread_counts(alice).await.unwrap().is_empty());
    let view = listed(&h, alice, room).await;
    assert_eq!(view.unread.map(|u| (u.messages, u.mentions)), Some((0, 0)));

    // A public room the caller has not joined has no counts.
    let other = h.room(owner, event, "Other", Visibility::Public).await;
    h.send(owner, other, "hello other").await;
    assert_eq!(listed(&h, alice, other).await.unread, None);

    // Past 999 the count is the cap ("999+"), and counting stops there.
    for i in 0..=UNREAD_CAP {
        h.send(bob, room, &format!("flood {i}")).await;
    }
    assert_eq!(unread_in(&h, alice, room).await, (UNREAD_CAP, 0));

    // A banned member's room drops out, and so does a room of an event one has left.
    h.chat.ban_member(owner, room, alice, true).await.unwrap();
    assert_eq!(unread_in(&h, alice, room).await, (0, 0));
    assert_eq!(
        unread_in(&h, bob, room).await.0,
        1,
        "Alice's message, unread by Bob"
    );
    h.chat.remove_event_member(owner, event, bob).await.unwrap();
    assert!(h.chat.unread_counts(bob).await.unwrap().is_empty());
}

/// The counts by their definition, from the room's messages: what a store's counters must
/// always agree with.
async fn counted_by_hand(h: &Harness, user: UserId, room: RoomId) -> (u32, u32) {
    let read = h
        .store
        .get_room_member(room, user)
        .await
        .unwrap()
        .expect("a member")
        .last_read_seq;
    let mut messages = Vec::new();
    let mut cursor = HistoryCursor::After(read);
    loop {
        let page = h.store.history(room, cursor, 100).await.unwrap();
        let Some(last) = page.last().map(|m| m.seq) else {
            break;
        };
        messages.extend(page);
        cursor = HistoryCursor::After(last);
    }
    let unread: Vec<_> = messages
        .iter()
        .filter(|m| m.seq > read && m.author_id != user && !m.is_deleted)
        .collect();
    let mentions = unread.iter().filter(|m| m.mentions.contains(&user)).count();
    (unread.len() as u32, mentions as u32)
}

/// Asserts the store's counts for `user` in `room`, and that they match the definition.
async fn assert_counts(h: &Harness, user: UserId, room: RoomId, expected: (u32, u32), what: &str) {
    assert_eq!(unread_in(h, user, room).await, expected, "{what}");
    assert_eq!(
        counted_by_hand(h, user, room).await,
        expected,
        "{what}: by definition"
    );
}

/// Counts stay exact through what a store may keep counters for: mentions edited in and out
/// before and after the read position, deleted mentions, reads part way, one's own messages,
/// leaving and coming back, and sends racing reads.
pub async fn unread_counts_stay_exact_through_edits_reads_and_races(store: Arc<dyn Store>) {
    let h = Harness::with_limits(store, relaxed()).await;
    let (owner, event, room) = h.owner_event_room().await;
    let alice = h.joined("Alice", owner, event, room).await;
    let bob = h.joined("Bob", owner, event, room).await;
    let at_alice = |t: &str| format!("{} {t}", mention::render("Alice", alice));
    let start = h.chat.get_room(alice, room).await.unwrap().room.last_seq;
    h.chat.mark_read(alice, room, start).await.unwrap();

    let m1 = h.send(bob, room, "plain").await;
    let m2 = h.send(bob, room, &at_alice("hi")).await;
    let m3 = h.send(bob, room, "three").await;
    assert_counts(&h, alice, room, (3, 1), "three messages, one mention").await;
    let edit = |id, text: String| {
        let h = h.clone();
        async move { h.chat.edit_message(bob, id, text).await.unwrap() }
    };
    edit(m1.id, at_alice("plain")).await;
    assert_counts(&h, alice, room, (3, 2), "a mention edited in").await;
    edit(m2.id, "hi".into()).await;
    assert_counts(&h, alice, room, (3, 1), "a mention edited out").await;
    edit(m1.id, at_alice("again")).await;
    assert_counts(&h, alice, room, (3, 1), "an edit keeping the mention").await;
    h.chat.delete_message(bob, m1.id).await.unwrap();
    assert_counts(&h, alice, room, (2, 0), "a mentioning message deleted").await;

    let own = h
        .send(
            alice,
            room,
            &format!("{} mine", mention::render("Alice", alice)),
        )
        .await;
    let m5 = h.send(bob, room, &at_alice("five")).await;
    assert_counts(&h, alice, room, (3, 1), "own messages never count").await;
    h.chat.mark_read(alice, room, m2.seq).await.unwrap();
    assert_counts(&h, alice, room, (2, 1), "read part way: three and five").await;
    edit(m2.id, at_alice("read already")).await;
    assert_counts(&h, alice, room, (2, 1), "an edit before the read position").await;
    h.chat.delete_message(alice, own.id).await.unwrap();
    h.chat.delete_message(bob, m3.id).await.unwrap();
    assert_counts(&h, alice, room, (1, 1), "deletions after the read position").await;
    assert_counts(&h, bob, room, (0, 0), "Bob, whose own messages these are").await;

    // Leaving and coming back starts from the beginning of the room.
    h.chat.leave_room(alice, room).await.unwrap();
    h.chat.join_room(alice, room).await.unwrap();
    assert_counts(
        &h,
        alice,
        room,
        (2, 2),
        "back: two and five, both mention Alice",
    )
    .await;
    let _ = m5;

    // Sends that mention Alice racing her reads: counts end where the definition says.
    let last = h.chat.get_room(alice, room).await.unwrap().room.last_seq;
    h.chat.mark_read(alice, room, last).await.unwrap();
    let sends = join_all((0..16).map(|i| {
        let h = h.clone();
        let text = at_alice(&format!("race {i}"));
        async move { h.send(bob, room, &text).await.seq }
    }));
    let reads = join_all((0..8).map(|_| {
        let h = h.clone();
        async move {
            let seq = h.chat.get_room(alice, room).await.unwrap().room.last_seq;
            h.chat.mark_read(alice, room, seq).await.unwrap();
        }
    }));
    let (seqs, _) = futures::join!(sends, reads);
    let by_hand = counted_by_hand(&h, alice, room).await;
    assert_eq!(unread_in(&h, alice, room).await, by_hand, "after the race");
    assert!(by_hand.0 <= 16 && by_hand.0 == by_hand.1, "{by_hand:?}");
    let newest = seqs.into_iter().max().unwrap();
    h.chat.mark_read(alice, room, newest).await.unwrap();
    assert_counts(&h, alice, room, (0, 0), "read to the newest").await;
}

/// The mention feed: newest first, paged by id, without deleted messages, and only from rooms
/// the caller can still read.
pub async fn mention_feed_newest_first_from_readable_rooms(store: Arc<dyn Store>) {
    let h = Harness::with_limits(store, relaxed()).await;
    let (owner, event, room) = h.owner_event_room().await;
    let side = h.room(owner, event, "Side", Visibility::Public).await;
    let alice = h.joined("Alice", owner, event, room).await;
    h.chat.join_room(alice, side).await.unwrap();
    let at = |t: &str| format!("{} {t}", mention::render("Alice", alice));
    let mut mentions: Vec<MessageId> = Vec::new();
    for i in 0..4 {
        mentions.push(h.send(owner, room, &at(&format!("main {i}"))).await.id);
        h.send(owner, room, "no mention").await;
    }
    let in_side = h.send(owner, side, &at("side")).await.id;
    let deleted = h.send(owner, room, &at("gone")).await.id;
    h.chat.delete_message(owner, deleted).await.unwrap();

    let page = h.chat.mention_feed(alice, None, Some(3)).await.unwrap();
    let ids: Vec<MessageId> = page.messages.iter().map(|m| m.id).collect();
    assert_eq!(ids, vec![in_side, mentions[3], mentions[2]]);
    assert!(page.has_more);
    let rest = h
        .chat
        .mention_feed(alice, Some(mentions[2]), Some(3))
        .await
        .unwrap();
    let ids: Vec<MessageId> = rest.messages.iter().map(|m| m.id).collect();
    assert_eq!(ids, vec![mentions[1], mentions[0]]);
    assert!(!rest.has_more);

    // Leaving a room takes its mentions out of the feed; so does being banned.
    h.chat.leave_room(alice, side).await.unwrap();
    let page = h.chat.mention_feed(alice, None, Some(10)).await.unwrap();
    assert!(page.messages.iter().all(|m| m.id != in_side));
    assert_eq!(page.messages.len(), 4);
    h.chat.ban_member(owner, room, alice, true).await.unwrap();
    let page = h.chat.mention_feed(alice, None, Some(10)).await.unwrap();
    assert!(page.messages.is_empty());
    assert_err!(
        h.chat.mention_feed(alice, None, Some(0)).await,
        Error::Validation { field, .. } if field == "limit"
    );
}

/// Read receipts: everyone's position on request and live to subscribers, only forward, and
/// neither once a moderator turns them off.
pub async fn read_receipts_follow_the_room_setting(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, event, room) = h.owner_event_room().await;
    let alice = h.joined("Alice", owner, event, room).await;
    let bob = h.joined("Bob", owner, event, room).await;
    let m = h.send(bob, room, "hello").await;
    let mut live = h.chat.subscribe(bob, room, None).await.unwrap();

    h.chat.mark_read(alice, room, m.seq).await.unwrap();
    let next = tokio::time::timeout(Duration::from_secs(5), live.recv())
        .await
        .expect("a live receipt")
        .expect("open");
    let Delivery::Read(signal) = next else {
        panic!("expected a read receipt, got {next:?}");
    };
    assert_eq!((signal.user_id, signal.seq), (alice, m.seq));
    // Moving back is no move: no signal, the position stays.
    h.chat.mark_read(alice, room, RoomSeq::ZERO).await.unwrap();
    let receipts = h.chat.receipts(bob, room).await.unwrap();
    let of = |u: UserId| {
        receipts
            .iter()
            .find(|r| r.user_id == u)
            .map(|r| r.last_read_seq)
    };
    assert_eq!(of(alice), Some(m.seq));
    assert_eq!(of(bob), Some(RoomSeq::ZERO));
    assert_eq!(of(owner), Some(RoomSeq::ZERO));
    let outsider = h.user("Outsider").await;
    assert_err!(
        h.chat.receipts(outsider, room).await,
        Error::NotFound { what: "room" }
    );

    // Only moderators change the setting; off, nothing is shown or sent.
    let off = RoomPatch {
        read_receipts: Some(false),
        ..RoomPatch::default()
    };
    assert_err!(
        h.chat.update_room(alice, room, off.clone()).await,
        Error::Forbidden { .. }
    );
    let updated = h.chat.update_room(owner, room, off).await.unwrap();
    assert!(!updated.read_receipts);
    assert_err!(h.chat.receipts(bob, room).await, Error::Forbidden { .. });
    let later = h.send(bob, room, "again").await;
    let mut live = h.chat.subscribe(bob, room, Some(later.seq)).await.unwrap();
    h.chat.mark_read(alice, room, later.seq).await.unwrap();
    h.send(owner, room, "marker").await;
    loop {
        match tokio::time::timeout(Duration::from_secs(5), live.recv()).await {
            Ok(Some(Delivery::Read(r))) => panic!("a receipt was sent with receipts off: {r:?}"),
            Ok(Some(Delivery::Change(c)))
                if c.kind.message().is_some_and(|m| m.text == "marker") =>
            {
                break;
            }
            Ok(Some(_)) => {}
            other => panic!("expected the marker, got {other:?}"),
        }
    }
}

/// Follows an unread feed, keeping what it says, until `done` holds (or panics after 5 s).
pub(crate) struct FeedView {
    feed: crate::UnreadFeed,
    /// The latest counts per room.
    pub rooms: HashMap<RoomId, Unread>,
    /// Rooms reported gone.
    pub gone: HashSet<RoomId>,
    /// Updates received.
    pub updates: usize,
}

impl FeedView {
    pub(crate) async fn start(chat: &Arc<crate::ChatService>, user: UserId) -> Self {
        let feed = Arc::clone(chat).unread_feed(user).await.unwrap();
        let mut view = Self {
            feed,
            rooms: HashMap::new(),
            gone: HashSet::new(),
            updates: 0,
        };
        view.take().await;
        view
    }

    async fn take(&mut self) {
        let update = tokio::time::timeout(Duration::from_secs(5), self.feed.next())
            .await
            .expect("an update within 5 s")
            .expect("the feed is open")
            .expect("no store error");
        self.updates += 1;
        for u in update.rooms {
            self.gone.remove(&u.room_id);
            self.rooms.insert(u.room_id, u);
        }
        for room in update.gone {
            self.rooms.remove(&room);
            self.gone.insert(room);
        }
    }

    pub(crate) fn counts(&self, room: RoomId) -> Option<(u32, u32)> {
        self.rooms.get(&room).map(|u| (u.messages, u.mentions))
    }

    pub(crate) async fn until(&mut self, what: &str, done: impl Fn(&Self) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !done(self) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{what}: rooms {:?}, gone {:?}",
                self.rooms,
                self.gone
            );
            self.take().await;
        }
    }
}

/// The unread feed: every readable room first, then each count as it changes, live, with no
/// subscription per room by the client: others' messages and mentions count, one's own do
/// not, edits and deletions are recounted, reading on any device clears, new rooms appear
/// and lost ones go.
pub async fn unread_feed_follows_every_room_live(store: Arc<dyn Store>) {
    let h = Harness::with_limits(store, relaxed()).await;
    let (owner, event, room) = h.owner_event_room().await;
    let alice = h.joined("Alice", owner, event, room).await;
    let bob = h.joined("Bob", owner, event, room).await;
    let side = h.room(owner, event, "Side", Visibility::Public).await;
    h.chat.join_room(alice, side).await.unwrap();
    h.chat.join_room(bob, side).await.unwrap();
    let before = h.send(bob, room, "before the feed").await;

    let mut feed = FeedView::start(&h.chat, alice).await;
    assert_eq!(feed.counts(room), Some((1, 0)), "counted at the start");
    assert_eq!(feed.counts(side), Some((0, 0)));
    assert_eq!(feed.rooms.len(), 2);
    let at_start = feed.rooms[&room].last_seq;
    assert!(at_start >= before.seq);

    // Others' messages count, live; mentions too; one's own do not.
    h.send(alice, room, "mine").await;
    h.send(bob, room, "second").await;
    feed.until("bob's second message", |f| f.counts(room) == Some((2, 0)))
        .await;
    let ping = h
        .send(
            bob,
            side,
            &format!("{} look", mention::render("Alice", alice)),
        )
        .await;
    feed.until("a mention in Side", |f| f.counts(side) == Some((1, 1)))
        .await;

    // An edit that drops the mention, and a deletion, are counted again.
    h.chat
        .edit_message(bob, ping.id, "look".into())
        .await
        .unwrap();
    feed.until("the mention edited away", |f| {
        f.counts(side) == Some((1, 0))
    })
    .await;
    h.chat.delete_message(bob, ping.id).await.unwrap();
    feed.until("the message deleted", |f| f.counts(side) == Some((0, 0)))
        .await;

    // Reading (from any device: here the service, not the feed) clears the room.
    let last = h.chat.get_room(alice, room).await.unwrap().room.last_seq;
    h.chat.mark_read(alice, room, last).await.unwrap();
    feed.until("read to the end", |f| f.counts(room) == Some((0, 0)))
        .await;
    assert_eq!(feed.rooms[&room].last_read_seq, last);

    // Rooms that become readable appear; rooms that stop being readable go.
    let secret = h.room(owner, event, "Secret", Visibility::Private).await;
    h.chat.invite(owner, secret, alice).await.unwrap();
    h.send(owner, secret, "welcome").await;
    feed.until("the room invited to", |f| f.counts(secret) == Some((1, 0)))
        .await;
    let (dm, _) = h.chat.open_direct_room(bob, &[alice]).await.unwrap();
    h.send(bob, dm.room.id, "psst").await;
    feed.until("the direct room", |f| f.counts(dm.room.id) == Some((1, 0)))
        .await;
    h.chat.ban_member(owner, side, alice, true).await.unwrap();
    feed.until("the banned room gone", |f| f.gone.contains(&side))
        .await;
    h.chat.leave_room(alice, secret).await.unwrap();
    feed.until("the room left gone", |f| f.gone.contains(&secret))
        .await;

    // After all of it, the feed agrees with a fresh count of every room.
    h.send(bob, room, "last word").await;
    feed.until("the last word", |f| f.counts(room) == Some((1, 0)))
        .await;
    let fresh: HashMap<RoomId, Unread> = h
        .store
        .unread_counts(alice, None)
        .await
        .unwrap()
        .into_iter()
        .map(|u| (u.room_id, u))
        .collect();
    assert_eq!(
        fresh.keys().collect::<HashSet<_>>(),
        feed.rooms.keys().collect::<HashSet<_>>()
    );
    for (id, u) in &fresh {
        assert_eq!(
            (u.messages, u.mentions),
            (feed.rooms[id].messages, feed.rooms[id].mentions),
            "room {id}"
        );
    }
}
