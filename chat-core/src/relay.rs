//! Fan-out across server instances: a [`Relay`] feeds this instance's hub from a distributed
//! engine, reached through a small [`RelayLink`] (PostgreSQL LISTEN/NOTIFY in
//! `chat-store-postgres`, NATS in `chat-broker-nats`).
//!
//! # Who guarantees what
//!
//! - **The store is the source of truth.** A change exists once it is committed with its seq.
//!   A link only tells other instances, as fast as it can, that it exists.
//! - **Links may lose, repeat or reorder; the relay does not.** For each room it follows, the
//!   relay knows the highest seq it has put into the hub without a gap (its *head*). A change
//!   at or below the head is a repeat and is dropped; the next one is published; one further
//!   ahead means changes went missing, and the relay reads them from the store at once
//!   (never waiting out [`GAP_TIMEOUT`](crate::fanout::GAP_TIMEOUT)) and publishes them in
//!   order. This instance's own commit past the head is such a gap too (another instance's
//!   change never arrived, as while the engine is down), filled the same way. A change too
//!   large for the engine travels as a [`RelayMessage::WakeUp`] and is
//!   read from the store the same way.
//! - **One engine subscription per room per instance.** The relay joins a room on the engine
//!   when its first local subscriber arrives and leaves it when the last one is gone; clients
//!   never touch the engine.
//! - **Outages lose nothing.** Once a join is confirmed, and after every reconnect of the link,
//!   the relay reads each followed room's last seq from the store and fills what it missed;
//!   local subscribers behind it are told at once ([`Fanout::Head`](crate::fanout::Fanout)).
//! - **Exactness is the store's.** Seqs, rate limits and `client_msg_id` rely on the store's
//!   locks, never on the engine.
//!
//! Typing signals and read receipts cross instances through the link too, and are never
//! stored as changes.
//!
//! # Presence
//!
//! Presence belongs to users, not rooms, so it travels on one channel every instance follows
//! for as long as it runs, [`SIGNAL_CHANNEL`]. Each instance sends its users' transitions as
//! they happen and all of its users again every third of
//! [`PRESENCE_TTL`] (see [`crate::presence`]), and again at
//! once after a reconnect of the link, so other instances' boards never keep a dead instance's
//! users online for longer than the TTL. Signals addressed to one user
//! ([`UserSignal`]: their rooms changed, they read a room) take the same channel.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, Weak};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::change::RoomChange;
use crate::clock::{Clock, SystemClock};
use crate::error::Result;
use crate::fanout::{Broker, InProcessBroker, ReadSignal, Subscription, TypingSignal, UserSignal};
use crate::id::RoomId;
use crate::presence::{PRESENCE_TTL, PresenceBoard, PresenceSignal};
use crate::room::RoomSeq;
use crate::store::Store;

/// What travels between instances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RelayMessage {
    /// A committed change, whole (boxed: the other variants are small).
    Change(Box<RoomChange>),
    /// A committed change, by position only: receivers read it from the store. Links send
    /// this in place of a change too large for their engine's payload.
    WakeUp {
        /// The room.
        room_id: RoomId,
        /// The seq that now exists.
        seq: RoomSeq,
    },
    /// Someone is typing.
    Typing(TypingSignal),
    /// Someone read a room up to a seq.
    Read(ReadSignal),
    /// Presence reports of the sending instance; travels on [`SIGNAL_CHANNEL`].
    Presence(PresenceSignal),
    /// A signal for one user's listeners; travels on [`SIGNAL_CHANNEL`].
    User(UserSignal),
}

/// The channel of signals about users rather than rooms (presence), which every instance
/// follows. Links route it like a room; no room has the nil id (room ids are UUIDv7).
pub const SIGNAL_CHANNEL: RoomId = RoomId::MIN;

impl RelayMessage {
    /// The room it concerns.
    #[must_use]
    pub fn room_id(&self) -> RoomId {
        match self {
            Self::Change(c) => c.room_id,
            Self::WakeUp { room_id, .. } => *room_id,
            Self::Typing(t) => t.room_id,
            Self::Read(r) => r.room_id,
            Self::Presence(_) | Self::User(_) => SIGNAL_CHANNEL,
        }
    }

    /// The wake-up standing for this message: what a link sends when the whole message does
    /// not fit its engine's payload. A typing signal has none (it is dropped instead).
    #[must_use]
    pub fn wake_up(&self) -> Option<Self> {
        match self {
            Self::Change(c) => Some(Self::WakeUp {
                room_id: c.room_id,
                seq: c.seq,
            }),
            Self::WakeUp { .. } => Some(self.clone()),
            Self::Typing(_) | Self::Read(_) | Self::Presence(_) | Self::User(_) => None,
        }
    }
}

/// A message with the instance that sent it, so an instance can skip its own typing signals
/// when the engine echoes them back. (Changes need no such care: their seq deduplicates them.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayEnvelope {
    /// The sending relay's random id.
    pub origin: uuid::Uuid,
    /// The message.
    #[serde(flatten)]
    pub message: RelayMessage,
}

/// The seam to a distributed engine. A link carries envelopes between instances and reports
/// what it receives to its [`RelayHandler`]; ordering, deduplication and gap filling are the
/// relay's, so a link stays a thin adapter over the engine's own client.
#[async_trait]
pub trait RelayLink: fmt::Debug + Send + Sync + 'static {
    /// Hands the link the relay it reports to. Called once, by [`Relay::new`], before anything
    /// else; the link keeps it weakly (the relay owns the link).
    fn attach(&self, handler: Weak<dyn RelayHandler>);

    /// Sends to every instance following the room (this one may receive it too). Must not wait
    /// on the network: queue it and return.
    fn send(&self, envelope: RelayEnvelope);

    /// Starts receiving the room's envelopes; returns once the engine has confirmed, so that
    /// anything sent after it returns is received.
    ///
    /// # Errors
    /// [`Error::Unavailable`](crate::Error::Unavailable) when the engine cannot be reached;
    /// the relay then relies on the reconnect check.
    async fn join(&self, room: RoomId) -> Result<()>;

    /// Stops receiving the room's envelopes.
    async fn leave(&self, room: RoomId);

    /// Stops the link's own tasks (its connection's send and receive loops) and waits until
    /// each has; called by [`Relay::shutdown`]. Nothing is sent or received after it.
    async fn shutdown(&self) {}
}

/// What a [`RelayLink`] reports.
#[async_trait]
pub trait RelayHandler: Send + Sync + 'static {
    /// An envelope arrived. Links call this from one task, in the order they receive.
    async fn received(&self, envelope: RelayEnvelope);

    /// The engine connection was lost and is back: anything may have been missed meanwhile.
    async fn reconnected(&self);
}

/// What the relay knows of a room it follows.
#[derive(Debug, Default)]
struct Followed {
    /// The highest seq published into the hub with nothing missing below it; `None` until the
    /// join is confirmed and the store was read.
    head: Option<RoomSeq>,
}

/// A [`Broker`] for several instances: the local hub, fed by a [`RelayLink`] (see the
/// [module docs](self)).
pub struct Relay {
    id: uuid::Uuid,
    hub: InProcessBroker,
    link: Arc<dyn RelayLink>,
    store: Arc<dyn Store>,
    rooms: Mutex<HashMap<RoomId, Followed>>,
    me: Weak<Relay>,
    /// Every task the relay starts (joins, fills, leaves, the presence beat and expiry):
    /// cancelled by [`Relay::shutdown`] or when the relay is dropped.
    tasks: tokio_util::task::TaskTracker,
    stop: tokio_util::sync::CancellationToken,
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl fmt::Debug for Relay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Relay")
            .field("id", &self.id)
            .field("link", &self.link)
            .finish_non_exhaustive()
    }
}

/// Changes read from the store per page while filling a gap.
const FILL_PAGE: u32 = 100;

impl Relay {
    /// A relay over `link`, reading missed changes from `store`. Needs a tokio runtime: joins
    /// and fills run as tasks.
    #[must_use]
    pub fn new(store: Arc<dyn Store>, link: Arc<dyn RelayLink>) -> Arc<Self> {
        let relay = Arc::new_cyclic(|me| Self {
            id: uuid::Uuid::now_v7(),
            hub: InProcessBroker::new(),
            link: Arc::clone(&link),
            store,
            rooms: Mutex::new(HashMap::new()),
            me: me.clone(),
            tasks: tokio_util::task::TaskTracker::new(),
            stop: tokio_util::sync::CancellationToken::new(),
        });
        let handler: Weak<dyn RelayHandler> = Arc::downgrade(&relay) as Weak<dyn RelayHandler>;
        link.attach(handler);
        relay.follow_signals();
        relay
    }

    /// Follows [`SIGNAL_CHANNEL`] for good, reports this instance's presence changes on it, and
    /// repeats every local user's presence every third of the TTL (expiring other instances'
    /// lapsed reports on the same beat).
    fn follow_signals(self: &Arc<Self>) {
        self.rooms_lock().insert(
            SIGNAL_CHANNEL,
            Followed {
                head: Some(RoomSeq::ZERO),
            },
        );
        let link = Arc::clone(&self.link);
        let origin = self.id;
        self.hub.presence().set_reporter(Box::new(move |signal| {
            link.send(RelayEnvelope {
                origin,
                message: RelayMessage::Presence(signal),
            });
        }));
        let link = Arc::clone(&self.link);
        self.spawn(async move {
            // Unconfirmed, it is retried by the link's reconnect; the beat below repeats all.
            let _ = link.join(SIGNAL_CHANNEL).await;
        });
        let me = Arc::downgrade(self);
        self.spawn(async move {
            let mut beat = tokio::time::interval(PRESENCE_TTL / 3);
            beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                beat.tick().await;
                let Some(relay) = me.upgrade() else { return };
                relay.report_all_presence();
            }
        });
        // Lapsed reports are expired the moment they lapse, not on the next beat: a watcher
        // (`presence_subscribe`) hears that an instance died when `GET /v1/presence` says it.
        let me = Arc::downgrade(self);
        self.spawn(async move {
            loop {
                let wait = {
                    let Some(relay) = me.upgrade() else { return };
                    let now = SystemClock.now();
                    relay.hub.presence().expire(now);
                    relay.hub.presence().next_expiry_in(now, PRESENCE_TTL / 3)
                };
                // A millisecond past the deadline: a report lapses once `until > now` fails.
                tokio::time::sleep(wait + std::time::Duration::from_millis(1)).await;
            }
        });
    }

    /// Runs `work` as one of the relay's tasks, until it ends or the relay shuts down.
    fn spawn(&self, work: impl std::future::Future<Output = ()> + Send + 'static) {
        // A relay that has shut down starts nothing (a subscription dropped afterwards would
        // otherwise start a leave that lingers until it is polled).
        if self.stop.is_cancelled() {
            return;
        }
        self.tasks
            .spawn(self.stop.clone().run_until_cancelled_owned(work));
    }

    /// How many of the relay's tasks are running (the presence beat and expiry among them).
    #[must_use]
    pub fn running_tasks(&self) -> usize {
        self.tasks.len()
    }

    /// Stops every task the relay started, then its link's ([`RelayLink::shutdown`]), and
    /// waits until each has. Dropping the relay's last `Arc` also cancels its own tasks.
    pub async fn shutdown(&self) {
        self.stop.cancel();
        self.tasks.close();
        self.tasks.wait().await;
        self.link.shutdown().await;
    }

    fn report_all_presence(&self) {
        for signal in self.hub.presence().local_signals() {
            self.link.send(RelayEnvelope {
                origin: self.id,
                message: RelayMessage::Presence(signal),
            });
        }
    }

    /// The local hub.
    #[must_use]
    pub fn hub(&self) -> &InProcessBroker {
        &self.hub
    }

    fn rooms_lock(&self) -> std::sync::MutexGuard<'_, HashMap<RoomId, Followed>> {
        self.rooms
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Publishes a change into the hub if it extends the head, or anything at all while the
    /// head is unknown; returns whether a gap before it remains.
    fn offer(&self, change: Arc<RoomChange>) -> bool {
        let mut rooms = self.rooms_lock();
        let Some(followed) = rooms.get_mut(&change.room_id) else {
            return false;
        };
        match followed.head {
            None => {
                self.hub.publish(change);
                false
            }
            Some(head) if change.seq <= head => false,
            Some(head) if change.seq == head.next() => {
                followed.head = Some(change.seq);
                self.hub.publish(change);
                false
            }
            Some(_) => true,
        }
    }

    /// Reads the room's changes after its head up to `through` (or to the end) from the store
    /// and publishes them in order.
    async fn fill(&self, room: RoomId, through: Option<RoomSeq>) -> Result<()> {
        loop {
            let Some(head) = self.rooms_lock().get(&room).and_then(|f| f.head) else {
                return Ok(());
            };
            if through.is_some_and(|t| t <= head) {
                return Ok(());
            }
            let page = self.store.changes_after(room, head, FILL_PAGE).await?;
            let full = page.len() == FILL_PAGE as usize;
            let mut progressed = false;
            for change in page {
                let seq = change.seq;
                if through.is_some_and(|t| seq > t) {
                    break;
                }
                // A concurrent fill may have published it already: offer drops repeats.
                if !self.offer(Arc::new(change)) {
                    progressed = true;
                }
            }
            if !full || !progressed {
                return Ok(());
            }
        }
    }

    /// Confirms a join: reads where the room is, tells local subscribers, and starts tracking.
    async fn joined(&self, room: RoomId) -> Result<()> {
        let last = self
            .store
            .get_room(room)
            .await?
            .map_or(RoomSeq::ZERO, |r| r.last_seq);
        if let Some(followed) = self.rooms_lock().get_mut(&room) {
            followed.head = Some(followed.head.map_or(last, |h| h.max(last)));
        }
        // Subscribers that started before the join was active may lack changes committed
        // elsewhere meanwhile; they reload from the store at once.
        self.hub.publish_head(room, last);
        Ok(())
    }

    fn spawn_join(&self, room: RoomId) {
        let Some(me) = self.me.upgrade() else { return };
        self.spawn(async move {
            let result = match me.link.join(room).await {
                Ok(()) => me.joined(room).await,
                Err(e) => Err(e),
            };
            // A failed join leaves the head unknown; the link's reconnect check completes it
            // once the engine is back, and the link logs the cause.
            drop(result);
        });
    }

    /// Leaves rooms nobody here follows any more.
    fn sweep(&self) {
        let gone: Vec<RoomId> = {
            let mut rooms = self.rooms_lock();
            let gone: Vec<RoomId> = rooms
                .keys()
                .copied()
                .filter(|r| *r != SIGNAL_CHANNEL && !self.hub.has_subscribers(*r))
                .collect();
            for room in &gone {
                rooms.remove(room);
            }
            gone
        };
        if gone.is_empty() {
            return;
        }
        let link = Arc::clone(&self.link);
        self.spawn(async move {
            for room in gone {
                link.leave(room).await;
            }
        });
    }
}

impl Broker for Relay {
    fn publish(&self, change: Arc<RoomChange>) {
        // Local subscribers at once, without waiting on the engine; they drop repeats.
        self.hub.publish(Arc::clone(&change));
        let gap = match self.rooms_lock().get_mut(&change.room_id) {
            Some(followed) => match followed.head {
                Some(head) if change.seq == head.next() => {
                    followed.head = Some(change.seq);
                    false
                }
                Some(head) => change.seq > head.next(),
                None => false,
            },
            None => false,
        };
        // A local commit past the head means another instance's change never arrived (the
        // engine is down, or lost it): it is committed, so read it now rather than leave this
        // instance's subscribers to wait for an echo that may never come.
        if gap && let Some(me) = self.me.upgrade() {
            let (room, through) = (change.room_id, change.seq);
            self.spawn(async move {
                let _ = me.fill(room, Some(through)).await;
            });
        }
        self.link.send(RelayEnvelope {
            origin: self.id,
            message: RelayMessage::Change(Box::new(RoomChange::clone(&change))),
        });
    }

    fn publish_typing(&self, signal: TypingSignal) {
        self.hub.publish_typing(signal.clone());
        self.link.send(RelayEnvelope {
            origin: self.id,
            message: RelayMessage::Typing(signal),
        });
    }

    fn publish_read(&self, signal: ReadSignal) {
        self.hub.publish_read(signal.clone());
        self.link.send(RelayEnvelope {
            origin: self.id,
            message: RelayMessage::Read(signal),
        });
    }

    fn subscribe(&self, room_id: RoomId, after: RoomSeq) -> Subscription {
        let subscription = self.hub.subscribe(room_id, after);
        let new = {
            let mut rooms = self.rooms_lock();
            match rooms.entry(room_id) {
                std::collections::hash_map::Entry::Occupied(_) => false,
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(Followed::default());
                    true
                }
            }
        };
        if new {
            self.sweep();
            self.spawn_join(room_id);
        }
        subscription
    }

    fn presence(&self) -> &Arc<PresenceBoard> {
        self.hub.presence()
    }

    fn publish_user(&self, signal: UserSignal) {
        self.hub.publish_user(signal.clone());
        self.link.send(RelayEnvelope {
            origin: self.id,
            message: RelayMessage::User(signal),
        });
    }

    fn user_signals(
        &self,
        user: crate::id::UserId,
    ) -> tokio::sync::broadcast::Receiver<UserSignal> {
        self.hub.user_signals(user)
    }

    fn shutdown(&self) -> futures::future::BoxFuture<'_, ()> {
        // The inherent method: the relay's tasks, then its link's.
        Box::pin(Relay::shutdown(self))
    }
}

#[async_trait]
impl RelayHandler for Relay {
    async fn received(&self, envelope: RelayEnvelope) {
        let room = envelope.message.room_id();
        if !self.rooms_lock().contains_key(&room) {
            return;
        }
        match envelope.message {
            RelayMessage::Typing(signal) => {
                if envelope.origin != self.id {
                    self.hub.publish_typing(signal);
                }
            }
            RelayMessage::Read(signal) => {
                if envelope.origin != self.id {
                    self.hub.publish_read(signal);
                }
            }
            RelayMessage::Presence(signal) => {
                if envelope.origin != self.id {
                    self.hub
                        .presence()
                        .apply(envelope.origin, &signal, SystemClock.now());
                }
                return;
            }
            RelayMessage::User(signal) => {
                if envelope.origin != self.id {
                    self.hub.publish_user(signal);
                }
                return;
            }
            RelayMessage::Change(change) => {
                let seq = change.seq;
                if self.offer(Arc::new(*change)) {
                    let _ = self.fill(room, Some(seq)).await;
                }
            }
            RelayMessage::WakeUp { seq, .. } => {
                let _ = self.fill(room, Some(seq)).await;
            }
        }
        if !self.hub.has_subscribers(room) {
            self.sweep();
        }
    }

    async fn reconnected(&self) {
        // Others may have expired this instance's users meanwhile.
        self.report_all_presence();
        let rooms: Vec<RoomId> = self
            .rooms_lock()
            .keys()
            .copied()
            .filter(|r| *r != SIGNAL_CHANNEL)
            .collect();
        for room in rooms {
            let known = self.rooms_lock().get(&room).and_then(|f| f.head);
            if known.is_none() {
                // The join never completed: finish it now.
                let _ = self.joined(room).await;
                continue;
            }
            let _ = self.fill(room, None).await;
        }
    }
}
