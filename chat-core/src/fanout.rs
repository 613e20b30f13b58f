//! Fan-out: delivering committed room changes to live subscribers.
//!
//! The [`Broker`] trait is the seam; [`InProcessBroker`] is the hub for one process. Several
//! instances share changes through a [`Relay`](crate::relay::Relay), which feeds each
//! instance's hub from a distributed engine (PostgreSQL LISTEN/NOTIFY, NATS).
//!
//! # Slow consumers
//!
//! Each room has one bounded ring ([`tokio::sync::broadcast`]) shared by its subscribers; a
//! subscriber can fall at most `capacity` changes behind. Publishing never waits: when a
//! subscriber has fallen further behind, the ring overwrites its oldest entries and the
//! subscriber's next [`Subscription::recv`] returns [`Delivery::Resync`] with the seq to
//! reload from. The publisher and the other subscribers never notice.
//!
//! # Order
//!
//! Sends commit concurrently and publish after commit, so the hub may see seq 7 before seq 6.
//! A [`Subscription`] therefore delivers changes strictly in seq order: it holds an early change
//! until the gap before it fills, drops anything at or below what it already delivered, and
//! when a gap does not fill (within [`GAP_TIMEOUT`], or [`REORDER_WINDOW`] later changes) it
//! says [`Delivery::Resync`] instead of skipping silently.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::change::RoomChange;
use crate::clock::Timestamp;
use crate::id::{RoomId, UserId};
use crate::presence::PresenceBoard;
use crate::room::RoomSeq;

/// The default ring size per room. A subscriber more than this many changes behind must
/// resync. 512 absorbs a burst of 50 messages a second for ten seconds of a stalled reader,
/// and costs about 16 KiB per room with subscribers (a slot holds an `Arc` and bookkeeping).
pub const DEFAULT_CAPACITY: usize = 512;

/// How long a subscription waits for a missing seq before asking for a resync. Commit-to-publish
/// reordering lasts microseconds; a gap this old means the publish was lost (for example, its
/// task was cancelled after the commit), and only a reload from the store can fill it.
pub const GAP_TIMEOUT: Duration = Duration::from_secs(1);

/// How many out-of-order changes a subscription holds before giving up on a gap.
pub const REORDER_WINDOW: usize = 256;

/// Someone is typing in a room. Ephemeral: never stored, no seq.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypingSignal {
    /// The room.
    pub room_id: RoomId,
    /// Who is typing.
    pub user_id: UserId,
    /// Their display name, so clients need not look it up.
    pub display_name: String,
    /// When the signal was sent.
    pub at: Timestamp,
}

/// A member read a room up to a seq (a read receipt). Ephemeral: the position is stored on
/// the membership; the signal only tells who is watching.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadSignal {
    /// The room.
    pub room_id: RoomId,
    /// Who read.
    pub user_id: UserId,
    /// Up to which seq.
    pub seq: RoomSeq,
    /// When.
    pub at: Timestamp,
}

/// Something addressed to one user rather than a room: what their own live views (the unread
/// feed) need to hear from their other devices and from other people's actions. Ephemeral.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSignal {
    /// Whom it is for.
    pub user_id: UserId,
    /// What happened.
    pub kind: UserSignalKind,
}

/// What a [`UserSignal`] says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum UserSignalKind {
    /// The set of rooms the user can read changed (joined, invited, removed, banned, a direct
    /// room opened): views of "all my rooms" should list them again.
    RoomsChanged,
    /// The user read a room up to a seq, on some device; sent whether or not the room shows
    /// read receipts to others.
    Read {
        /// The room.
        room_id: RoomId,
        /// Up to which seq.
        seq: RoomSeq,
    },
}

/// Signals one user's listeners may fall behind by before they are told to start over
/// ([`broadcast::error::RecvError::Lagged`]).
pub const USER_SIGNAL_CAPACITY: usize = 32;

/// What travels through a room's ring.
#[derive(Debug, Clone)]
pub enum Fanout {
    /// A committed change. Its seq travels beside it so subscribers can order deliveries
    /// without reading the shared allocation, whose cache line every subscriber's reference
    /// count update keeps moving between cores (measured: hub/bare deliveries rose from 0.70
    /// to 0.92 at 100 subscribers, 0.72 to 0.79 at 1,000).
    Change {
        /// `change.seq`.
        seq: RoomSeq,
        /// The change.
        change: Arc<RoomChange>,
    },
    /// A typing signal.
    Typing(Arc<TypingSignal>),
    /// A read receipt.
    Read(Arc<ReadSignal>),
    /// The room has reached this seq (committed in the store). A subscriber behind it whose
    /// missing changes are not on their way resyncs at once instead of waiting out
    /// [`GAP_TIMEOUT`]. Relays send it when they start following a room on another engine.
    Head(RoomSeq),
}

/// What a subscriber receives.
#[derive(Debug, Clone)]
pub enum Delivery {
    /// The next change, in seq order.
    Change(Arc<RoomChange>),
    /// Someone is typing.
    Typing(Arc<TypingSignal>),
    /// Someone read the room up to a seq.
    Read(Arc<ReadSignal>),
    /// The subscriber missed changes. Reload the room's changes after `from_seq` from the store
    /// (as a subscribe with `since_seq = from_seq` does), then call
    /// [`Subscription::advance_to`] with the last seq reloaded.
    Resync {
        /// The room.
        room_id: RoomId,
        /// The last seq delivered; everything after it must be reloaded.
        from_seq: RoomSeq,
    },
}

/// Delivers committed changes to live subscribers.
pub trait Broker: fmt::Debug + Send + Sync + 'static {
    /// Publishes a committed change. Never blocks and never waits for subscribers.
    fn publish(&self, change: Arc<RoomChange>);

    /// Publishes an ephemeral typing signal.
    fn publish_typing(&self, signal: TypingSignal);

    /// Publishes an ephemeral read receipt.
    fn publish_read(&self, signal: ReadSignal);

    /// Subscribes to a room's changes after `after`. Changes at or below `after` are dropped.
    fn subscribe(&self, room_id: RoomId, after: RoomSeq) -> Subscription;

    /// This instance's presence board; a broker spanning instances feeds it their reports
    /// and reports its changes to them.
    fn presence(&self) -> &Arc<PresenceBoard>;

    /// Publishes a signal to one user's listeners, on every instance. Never blocks.
    fn publish_user(&self, signal: UserSignal);

    /// Listens for signals addressed to `user`. A listener that lags is told so
    /// ([`broadcast::error::RecvError::Lagged`]) and should reload what it shows.
    fn user_signals(&self, user: UserId) -> broadcast::Receiver<UserSignal>;

    /// Stops the broker's own tasks (a relay's, and its link's) and waits until each has; see
    /// [`ChatService::shutdown`](crate::ChatService::shutdown). Default: it has none.
    fn shutdown(&self) -> futures::future::BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

/// The in-process fan-out hub: one bounded broadcast ring per room with subscribers.
#[derive(Debug)]
pub struct InProcessBroker {
    rooms: RwLock<HashMap<RoomId, broadcast::Sender<Fanout>>>,
    capacity: usize,
    presence: Arc<PresenceBoard>,
    users: RwLock<HashMap<UserId, broadcast::Sender<UserSignal>>>,
}

impl Default for InProcessBroker {
    fn default() -> Self {
        Self::new()
    }
}

impl InProcessBroker {
    /// A hub with [`DEFAULT_CAPACITY`] per room.
    #[must_use]
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }

    /// A hub whose subscribers may fall `capacity` changes behind before they must resync.
    #[must_use]
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            rooms: RwLock::new(HashMap::new()),
            capacity: capacity.max(1),
            presence: PresenceBoard::new(),
            users: RwLock::new(HashMap::new()),
        }
    }

    /// Tells the room's subscribers that it has reached `seq` (see [`Fanout::Head`]).
    pub fn publish_head(&self, room_id: RoomId, seq: RoomSeq) {
        self.send(room_id, Fanout::Head(seq));
    }

    /// Whether anyone follows the room here.
    #[must_use]
    pub fn has_subscribers(&self, room_id: RoomId) -> bool {
        self.rooms
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&room_id)
            .is_some_and(|tx| tx.receiver_count() > 0)
    }

    /// How many rooms currently have a ring.
    #[must_use]
    pub fn active_rooms(&self) -> usize {
        self.rooms
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    fn send(&self, room_id: RoomId, item: Fanout) {
        send_or_forget(&self.rooms, room_id, item);
    }
}

/// Sends `item` on `key`'s channel, if it has one; forgets the channel once nobody listens,
/// so idle rooms and users cost nothing.
fn send_or_forget<K: Eq + std::hash::Hash + Copy, T>(
    channels: &RwLock<HashMap<K, broadcast::Sender<T>>>,
    key: K,
    item: T,
) {
    let read = channels
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let Some(tx) = read.get(&key) else {
        return;
    };
    if tx.send(item).is_err() {
        drop(read);
        let mut write = channels
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if write.get(&key).is_some_and(|tx| tx.receiver_count() == 0) {
            write.remove(&key);
        }
    }
}

/// A receiver of `key`'s channel, made with `capacity` slots if it has none. Channels whose
/// listeners all left and that saw nothing since are swept whenever the map doubles, so the
/// cost is amortised and the map stays bounded.
fn listen<K: Eq + std::hash::Hash + Copy, T: Clone>(
    channels: &RwLock<HashMap<K, broadcast::Sender<T>>>,
    key: K,
    capacity: usize,
) -> broadcast::Receiver<T> {
    if let Some(tx) = channels
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(&key)
    {
        return tx.subscribe();
    }
    let mut write = channels
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if write.len() >= 64 && write.len().is_power_of_two() {
        write.retain(|_, tx| tx.receiver_count() > 0);
    }
    write
        .entry(key)
        .or_insert_with(|| broadcast::channel(capacity).0)
        .subscribe()
}

impl Broker for InProcessBroker {
    fn publish(&self, change: Arc<RoomChange>) {
        self.send(
            change.room_id,
            Fanout::Change {
                seq: change.seq,
                change,
            },
        );
    }

    fn publish_typing(&self, signal: TypingSignal) {
        self.send(signal.room_id, Fanout::Typing(Arc::new(signal)));
    }

    fn publish_read(&self, signal: ReadSignal) {
        self.send(signal.room_id, Fanout::Read(Arc::new(signal)));
    }

    fn subscribe(&self, room_id: RoomId, after: RoomSeq) -> Subscription {
        let rx = listen(&self.rooms, room_id, self.capacity);
        Subscription::new(room_id, rx, after)
    }

    fn presence(&self) -> &Arc<PresenceBoard> {
        &self.presence
    }

    fn publish_user(&self, signal: UserSignal) {
        send_or_forget(&self.users, signal.user_id, signal);
    }

    fn user_signals(&self, user: UserId) -> broadcast::Receiver<UserSignal> {
        listen(&self.users, user, USER_SIGNAL_CAPACITY)
    }
}

/// One subscriber's view of a room: changes in strict seq order, typing signals, and resync
/// requests in place of any gap.
#[derive(Debug)]
pub struct Subscription {
    room_id: RoomId,
    rx: broadcast::Receiver<Fanout>,
    last: RoomSeq,
    pending: BTreeMap<RoomSeq, Arc<RoomChange>>,
}

impl Subscription {
    /// Wraps a ring receiver; deliveries start after `after`. Brokers call this.
    #[must_use]
    pub fn new(room_id: RoomId, rx: broadcast::Receiver<Fanout>, after: RoomSeq) -> Self {
        Self {
            room_id,
            rx,
            last: after,
            pending: BTreeMap::new(),
        }
    }

    /// The room.
    #[must_use]
    pub fn room_id(&self) -> RoomId {
        self.room_id
    }

    /// The last seq delivered (or caught up to).
    #[must_use]
    pub fn last_seq(&self) -> RoomSeq {
        self.last
    }

    /// Records that the subscriber has loaded everything up to `seq` from the store, so live
    /// changes at or below it are dropped as duplicates.
    pub fn advance_to(&mut self, seq: RoomSeq) {
        if seq > self.last {
            self.last = seq;
            self.pending = self.pending.split_off(&seq.next());
        }
    }

    /// The next delivery, or `None` once the broker is gone.
    ///
    /// Cancel-safe: dropping the future loses nothing.
    pub async fn recv(&mut self) -> Option<Delivery> {
        loop {
            if let Some(entry) = self.pending.first_entry()
                && *entry.key() == self.last.next()
            {
                let change = entry.remove();
                self.last = change.seq;
                return Some(Delivery::Change(change));
            }
            // Under load the ring usually has the next item ready: take it without building
            // the receive future. Waiting out a gap is rare, so its timer lives in a boxed
            // future instead of inflating every subscriber task's state.
            let item = match self.rx.try_recv() {
                Ok(item) => Ok(item),
                Err(broadcast::error::TryRecvError::Lagged(n)) => {
                    Err(broadcast::error::RecvError::Lagged(n))
                }
                Err(broadcast::error::TryRecvError::Closed) => {
                    Err(broadcast::error::RecvError::Closed)
                }
                Err(broadcast::error::TryRecvError::Empty) if self.pending.is_empty() => {
                    self.rx.recv().await
                }
                Err(broadcast::error::TryRecvError::Empty) => {
                    let rx = &mut self.rx;
                    match Box::pin(tokio::time::timeout(GAP_TIMEOUT, rx.recv())).await {
                        Ok(item) => item,
                        Err(_elapsed) => return Some(self.resync()),
                    }
                }
            };
            if let Some(delivery) = self.accept(item) {
                return delivery;
            }
        }
    }

    /// Files one ring item: `Some` when it yields a delivery (or the end), `None` to go on.
    fn accept(
        &mut self,
        item: Result<Fanout, broadcast::error::RecvError>,
    ) -> Option<Option<Delivery>> {
        match item {
            Ok(Fanout::Typing(signal)) => Some(Some(Delivery::Typing(signal))),
            Ok(Fanout::Read(signal)) => Some(Some(Delivery::Read(signal))),
            Ok(Fanout::Head(seq)) => {
                let missing = seq.get().saturating_sub(self.last.get());
                let on_their_way = self.pending.range(self.last.next()..=seq).count() as u64;
                (missing > on_their_way).then(|| Some(self.resync()))
            }
            Ok(Fanout::Change { seq, change }) => {
                if seq <= self.last {
                    return None;
                }
                if seq == self.last.next() {
                    self.last = seq;
                    return Some(Some(Delivery::Change(change)));
                }
                self.pending.insert(seq, change);
                (self.pending.len() > REORDER_WINDOW).then(|| Some(self.resync()))
            }
            Err(broadcast::error::RecvError::Lagged(_)) => Some(Some(self.resync())),
            Err(broadcast::error::RecvError::Closed) => Some(None),
        }
    }

    fn resync(&mut self) -> Delivery {
        self.pending.clear();
        // Skip whatever is still queued: the reload from the store covers it, and starting at
        // the live tail gives the reload the whole ring of slack.
        self.rx = self.rx.resubscribe();
        Delivery::Resync {
            room_id: self.room_id,
            from_seq: self.last,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::ChangeKind;

    fn change(room_id: RoomId, seq: u64) -> Arc<RoomChange> {
        Arc::new(RoomChange {
            room_id,
            seq: RoomSeq(seq),
            at: Timestamp::UNIX_EPOCH,
            kind: ChangeKind::MemberLeft {
                user_id: UserId::MIN,
            },
        })
    }

    #[tokio::test]
    async fn a_stalled_subscriber_is_told_to_resync_and_slows_nobody() {
        let hub = InProcessBroker::with_capacity(8);
        let room = RoomId::new();
        let mut stalled = hub.subscribe(room, RoomSeq::ZERO);
        let mut live = hub.subscribe(room, RoomSeq::ZERO);
        for seq in 1..=100 {
            // The publisher never waits: it runs to the end while `stalled` reads nothing.
            hub.publish(change(room, seq));
            match live.recv().await {
                Some(Delivery::Change(c)) => assert_eq!(c.seq, RoomSeq(seq)),
                other => panic!("live subscriber got {other:?}"),
            }
        }
        match stalled.recv().await {
            Some(Delivery::Resync { room_id, from_seq }) => {
                assert_eq!((room_id, from_seq), (room, RoomSeq::ZERO));
            }
            other => panic!("expected a resync, got {other:?}"),
        }
        // After reloading up to 100 from the store, the stalled subscriber continues live.
        stalled.advance_to(RoomSeq(100));
        hub.publish(change(room, 101));
        assert!(matches!(stalled.recv().await, Some(Delivery::Change(c)) if c.seq == RoomSeq(101)));
    }

    #[tokio::test]
    async fn idle_rooms_release_their_ring() {
        let hub = InProcessBroker::new();
        let room = RoomId::new();
        let sub = hub.subscribe(room, RoomSeq::ZERO);
        assert_eq!(hub.active_rooms(), 1);
        drop(sub);
        hub.publish(change(room, 1));
        assert_eq!(hub.active_rooms(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_head_beyond_what_is_delivered_resyncs_at_once() {
        let hub = InProcessBroker::new();
        let room = RoomId::new();
        let mut sub = hub.subscribe(room, RoomSeq(4));
        // The room is at 4: nothing is missing, so nothing happens.
        hub.publish_head(room, RoomSeq(4));
        hub.publish(change(room, 5));
        assert!(matches!(sub.recv().await, Some(Delivery::Change(c)) if c.seq == RoomSeq(5)));
        // The room reached 7 elsewhere: the subscriber reloads now, not after GAP_TIMEOUT.
        let started = tokio::time::Instant::now();
        hub.publish_head(room, RoomSeq(7));
        match sub.recv().await {
            Some(Delivery::Resync { from_seq, .. }) => assert_eq!(from_seq, RoomSeq(5)),
            other => panic!("expected a resync, got {other:?}"),
        }
        assert_eq!(started.elapsed(), Duration::ZERO, "no waiting");
    }

    #[tokio::test(start_paused = true)]
    async fn a_gap_that_never_fills_becomes_a_resync() {
        let hub = InProcessBroker::new();
        let room = RoomId::new();
        let mut sub = hub.subscribe(room, RoomSeq(4));
        hub.publish(change(room, 6));
        match sub.recv().await {
            Some(Delivery::Resync { from_seq, .. }) => assert_eq!(from_seq, RoomSeq(4)),
            other => panic!("expected a resync after the gap timeout, got {other:?}"),
        }
    }
}
