//! A connection's room subscriptions, driven by the connection's own task: the live ones
//! merged into one stream, and catch-ups from the store paced by the client's reading.
//!
//! A live subscription is a stream in one `SelectAll`, which polls only the rooms whose hub
//! receiver was woken, so a connection in a hundred quiet rooms costs nothing per message in
//! one busy room. A subscription that must load from the store (a `subscribe` with
//! `since_seq`, or a subscriber that fell behind) leaves the live set for the catch-up queue,
//! and comes back once it has caught up: the store's changes and the live ones of a room never
//! interleave, and the subscription drops whatever the replay covered.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::task::Poll;

use chat_core::{
    ChangePage, ChatService, Delivery, Result, RoomChange, RoomId, RoomSeq, Subscription, UserId,
};
use futures::future::{AbortHandle, Abortable, BoxFuture};
use futures::stream::{BoxStream, SelectAll};
use futures::{FutureExt, StreamExt};

use super::REPLAY_PAGE;
use super::frames::ServerFrame;
use super::outbox::Outbox;

/// What the rooms have for the connection.
pub(super) enum RoomEvent {
    /// A live delivery of a room (never a resync: see `FellBehind`).
    Delivery(RoomId, Delivery),
    /// The subscription fell behind the hub; it catches up from the store after `from`.
    FellBehind(Subscription, RoomSeq),
    /// The broker is gone; the room's subscription ended.
    Ended(RoomId),
    /// A page of the catch-up at the front, or why it failed (the subscription is dropped).
    Page(RoomId, Result<ChangePage>),
}

/// A subscription loading from the store before it goes (back) live.
struct CatchUp {
    sub: Subscription,
    /// The last seq queued for the client.
    after: RoomSeq,
    /// The rest of the page read last.
    page: std::vec::IntoIter<RoomChange>,
    /// The store has nothing after the page.
    read_all: bool,
    /// Send `subscribed` once caught up (a new subscription, not a resync).
    announce: bool,
}

/// Every room subscription of one connection.
#[derive(Default)]
pub(super) struct Rooms {
    live: SelectAll<Abortable<BoxStream<'static, RoomEvent>>>,
    /// How to stop each live room's stream.
    live_rooms: HashMap<RoomId, AbortHandle>,
    /// Served one at a time, in order; rare, so the queue is usually empty and unallocated.
    catch_ups: VecDeque<CatchUp>,
    /// The store read of the front catch-up.
    reading: Option<(RoomId, BoxFuture<'static, Result<ChangePage>>)>,
}

impl Rooms {
    /// How many rooms are followed, live or catching up.
    pub(super) fn len(&self) -> usize {
        self.live_rooms.len() + self.catch_ups.len()
    }

    /// Whether [`Self::next`] can yield anything.
    pub(super) fn active(&self) -> bool {
        !self.live.is_empty() || self.reading.is_some()
    }

    /// Stops following `room`, live or catching up.
    pub(super) fn remove(&mut self, room: RoomId) {
        if let Some(handle) = self.live_rooms.remove(&room) {
            // Aborting wakes the stream, which ends and leaves the set.
            handle.abort();
        }
        if let Some(index) = self.catch_ups.iter().position(|c| c.sub.room_id() == room) {
            if index == 0 {
                self.reading = None;
            }
            self.catch_ups.remove(index);
        }
    }

    /// Forgets a live room whose stream ended by itself.
    pub(super) fn ended(&mut self, room: RoomId) {
        self.live_rooms.remove(&room);
    }

    /// Follows `sub` live.
    pub(super) fn go_live(&mut self, sub: Subscription) {
        let room = sub.room_id();
        let stream = futures::stream::unfold(Some(sub), move |sub| async move {
            let mut sub = sub?;
            match sub.recv().await {
                Some(Delivery::Resync { from_seq, .. }) => {
                    Some((RoomEvent::FellBehind(sub, from_seq), None))
                }
                Some(delivery) => Some((RoomEvent::Delivery(room, delivery), Some(sub))),
                None => Some((RoomEvent::Ended(room), None)),
            }
        });
        let (handle, registration) = AbortHandle::new_pair();
        self.live.push(Abortable::new(stream.boxed(), registration));
        if let Some(old) = self.live_rooms.insert(room, handle) {
            old.abort();
        }
    }

    /// Loads `sub`'s room from the store after `after`, then follows it live.
    pub(super) fn catch_up(&mut self, sub: Subscription, after: RoomSeq, announce: bool) {
        if let Some(handle) = self.live_rooms.remove(&sub.room_id()) {
            handle.abort();
        }
        self.catch_ups.push_back(CatchUp {
            sub,
            after,
            page: Vec::new().into_iter(),
            read_all: false,
            announce,
        });
    }

    /// The next live delivery or catch-up page. Cancel-safe.
    pub(super) async fn next(&mut self) -> RoomEvent {
        std::future::poll_fn(|cx| {
            if let Some((room, read)) = &mut self.reading
                && let Poll::Ready(page) = read.poll_unpin(cx)
            {
                let room = *room;
                self.reading = None;
                return Poll::Ready(RoomEvent::Page(room, page));
            }
            match self.live.poll_next_unpin(cx) {
                Poll::Ready(Some(event)) => Poll::Ready(event),
                // An empty set is ready with `None`; the connection only asks when active.
                Poll::Ready(None) | Poll::Pending => Poll::Pending,
            }
        })
        .await
    }

    /// Takes a page read for the front catch-up. A failed read drops that subscription and
    /// hands back the error for the client.
    pub(super) fn page(&mut self, room: RoomId, page: Result<ChangePage>) -> Result<()> {
        let Some(front) = self.catch_ups.front_mut() else {
            return Ok(());
        };
        if front.sub.room_id() != room {
            return Ok(());
        }
        match page {
            Ok(page) => {
                metrics::counter!("chat_ws_replayed_total").increment(page.changes.len() as u64);
                front.read_all = !page.has_more;
                front.page = page.changes.into_iter();
                Ok(())
            }
            Err(e) => {
                self.catch_ups.pop_front();
                Err(e)
            }
        }
    }

    /// Moves catch-up frames into the outbox as far as the replay window allows, starts the
    /// next store read where a page is used up, and sends caught-up subscriptions live.
    pub(super) fn pump(
        &mut self,
        outbox: &mut Outbox,
        chat: &Arc<ChatService>,
        user: UserId,
    ) -> Result<(), super::outbox::Full> {
        while let Some(front) = self.catch_ups.front_mut() {
            while outbox.replay_room() > 0 {
                let Some(change) = front.page.next() else {
                    break;
                };
                front.after = change.seq;
                outbox.push_replayed(ServerFrame::Event(&change).encode());
            }
            if front.page.len() > 0 {
                // The window is full: the client reads the rest first.
                return Ok(());
            }
            if !front.read_all {
                if self.reading.is_none() {
                    let room = front.sub.room_id();
                    let after = front.after;
                    let chat = Arc::clone(chat);
                    let read =
                        async move { chat.changes(user, room, after, Some(REPLAY_PAGE)).await };
                    self.reading = Some((room, read.boxed()));
                }
                return Ok(());
            }
            let Some(CatchUp {
                mut sub,
                after,
                announce,
                ..
            }) = self.catch_ups.pop_front()
            else {
                break;
            };
            sub.advance_to(after);
            if announce {
                outbox.push(
                    ServerFrame::Subscribed {
                        room_id: sub.room_id(),
                        last_seq: sub.last_seq(),
                    }
                    .encode(),
                )?;
            }
            self.go_live(sub);
        }
        Ok(())
    }
}
