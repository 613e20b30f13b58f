//! The unread feed ([`UnreadFeed`]): live unread counts in every room of a member.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::StreamExt;
use futures::stream::{AbortHandle, Abortable, BoxStream, SelectAll};
use tokio::sync::broadcast;

use super::ChatService;
use crate::change::ChangeKind;
use crate::error::Result;
use crate::fanout::{Delivery, Subscription, UserSignal, UserSignalKind};
use crate::id::{RoomId, UserId};
use crate::room::{RoomSeq, UNREAD_CAP, Unread};

/// What changed in a member's counts (see [`UnreadFeed::next`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnreadUpdate {
    /// Rooms whose counts changed (or, first, every room).
    pub rooms: Vec<Unread>,
    /// Rooms the member can no longer read.
    pub gone: Vec<RoomId>,
}

/// One followed room.
struct Followed {
    unread: Unread,
    /// Changes at or below this seq are already in `unread`; the room's stream drops them.
    floor: Arc<AtomicU64>,
    abort: AbortHandle,
}

/// The unread feed: a member's unread and mention counts in every room they can read, kept
/// current as messages arrive, without the client subscribing to each room.
///
/// # How the counts stay exact
///
/// The feed follows each room through the broker (one hub ring per room and instance, as any
/// subscriber) and starts from the store's counts, taken after it subscribed. Each count
/// carries the seq it was taken at ([`Unread::last_seq`]); changes at or below it are dropped,
/// so nothing is counted twice, and nothing committed after it is missed. Then:
///
/// - a message by someone else after the read position adds one (and one mention if it names
///   the member); counts stop at [`UNREAD_CAP`];
/// - an edit or deletion of such a message may remove a message or a mention that the feed
///   cannot see from the change alone, so the room is counted again (O(unread), one room);
/// - the member reading the room on any device (a [`UserSignalKind::Read`]) moves the read
///   position: read to the end clears the counts, part way counts the room again;
/// - a hub gap (the subscriber fell behind) counts the room again;
/// - the set of rooms changing (joined, invited, removed, banned, a direct room opened:
///   [`UserSignalKind::RoomsChanged`]) lists the rooms again, and rooms no longer readable are
///   reported gone.
pub struct UnreadFeed {
    chat: Arc<ChatService>,
    actor: UserId,
    rooms: HashMap<RoomId, Followed>,
    deliveries: SelectAll<BoxStream<'static, (RoomId, Delivery)>>,
    signals: broadcast::Receiver<UserSignal>,
    first: Option<Vec<Unread>>,
}

impl std::fmt::Debug for UnreadFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnreadFeed")
            .field("actor", &self.actor)
            .field("rooms", &self.rooms.len())
            .finish_non_exhaustive()
    }
}

impl ChatService {
    /// Follows the caller's unread and mention counts in every room they can read. The first
    /// [`UnreadFeed::next`] returns every room; later ones what changed.
    ///
    /// # Errors
    /// Only store failures.
    pub async fn unread_feed(self: Arc<Self>, actor: UserId) -> Result<UnreadFeed> {
        // Listen before reading anything, so that no change of the room set is missed.
        let signals = self.broker.user_signals(actor);
        let mut feed = UnreadFeed {
            chat: self,
            actor,
            rooms: HashMap::new(),
            deliveries: SelectAll::new(),
            signals,
            first: None,
        };
        let all = feed.relist().await?;
        feed.first = Some(all.rooms);
        Ok(feed)
    }
}

impl UnreadFeed {
    /// The next change of the counts: every room on the first call, then each change as it
    /// happens (waiting for one). `None` once the broker is gone.
    ///
    /// Cancel-safe between changes: a change being applied when the future is dropped may be
    /// lost, so call it from one loop, as a connection does.
    ///
    /// # Errors
    /// Store failures while counting a room again; the feed stays usable.
    pub async fn next(&mut self) -> Option<Result<UnreadUpdate>> {
        if let Some(rooms) = self.first.take() {
            return Some(Ok(UnreadUpdate {
                rooms,
                gone: Vec::new(),
            }));
        }
        loop {
            let result = tokio::select! {
                signal = self.signals.recv() => match signal {
                    Ok(UserSignal { kind: UserSignalKind::Read { room_id, seq }, .. }) => {
                        self.read(room_id, seq).await
                    }
                    Ok(UserSignal { kind: UserSignalKind::RoomsChanged, .. })
                    | Err(broadcast::error::RecvError::Lagged(_)) => self.relist().await,
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                Some((room, delivery)) = self.deliveries.next(), if !self.deliveries.is_empty() => {
                    self.deliver(room, delivery).await
                }
            };
            match result {
                Ok(update) if update.rooms.is_empty() && update.gone.is_empty() => {}
                other => return Some(other),
            }
        }
    }

    /// Lists the readable rooms again: follows new ones, recounts all, drops the unreadable.
    async fn relist(&mut self) -> Result<UnreadUpdate> {
        let store = Arc::clone(self.chat.store());
        let broker = Arc::clone(self.chat.broker());
        // Subscribe to new rooms before counting, so the counts' seqs bound what they missed.
        let mut fresh: HashMap<RoomId, Subscription> = store
            .memberships_of_user(self.actor)
            .await?
            .into_iter()
            .filter(|m| !m.banned && !self.rooms.contains_key(&m.room_id))
            .map(|m| (m.room_id, broker.subscribe(m.room_id, RoomSeq::ZERO)))
            .collect();
        let counts = store.unread_counts(self.actor, None).await?;
        let mut update = UnreadUpdate::default();
        let mut readable = std::collections::HashSet::new();
        for unread in counts {
            readable.insert(unread.room_id);
            if let Some(followed) = self.rooms.get_mut(&unread.room_id) {
                followed
                    .floor
                    .fetch_max(unread.last_seq.get(), Ordering::Relaxed);
                if followed.unread != unread {
                    followed.unread = unread;
                    update.rooms.push(unread);
                }
                continue;
            }
            // A membership that appeared between the two reads is followed from its count;
            // a change in that instant shows up as a gap, which counts the room again.
            let sub = fresh
                .remove(&unread.room_id)
                .unwrap_or_else(|| broker.subscribe(unread.room_id, unread.last_seq));
            self.follow(sub, unread);
            update.rooms.push(unread);
        }
        self.rooms.retain(|room, followed| {
            let keep = readable.contains(room);
            if !keep {
                followed.abort.abort();
                update.gone.push(*room);
            }
            keep
        });
        Ok(update)
    }

    fn follow(&mut self, mut sub: Subscription, unread: Unread) {
        let room = unread.room_id;
        sub.advance_to(unread.last_seq);
        let floor = Arc::new(AtomicU64::new(unread.last_seq.get()));
        let stream_floor = Arc::clone(&floor);
        let stream = futures::stream::unfold(sub, move |mut sub| {
            let floor = Arc::clone(&stream_floor);
            async move {
                sub.advance_to(RoomSeq(floor.load(Ordering::Relaxed)));
                let delivery = sub.recv().await?;
                Some(((room, delivery), sub))
            }
        });
        let (abort, registration) = AbortHandle::new_pair();
        self.deliveries
            .push(Abortable::new(stream, registration).boxed());
        self.rooms.insert(
            room,
            Followed {
                unread,
                floor,
                abort,
            },
        );
    }

    /// Applies one room delivery.
    async fn deliver(&mut self, room: RoomId, delivery: Delivery) -> Result<UnreadUpdate> {
        let me = self.actor;
        let Some(followed) = self.rooms.get_mut(&room) else {
            return Ok(UnreadUpdate::default());
        };
        let change = match delivery {
            Delivery::Change(change) => change,
            Delivery::Resync { .. } => return self.recount(room).await,
            Delivery::Typing(_) | Delivery::Read(_) => return Ok(UnreadUpdate::default()),
        };
        let unread = &mut followed.unread;
        unread.last_seq = unread.last_seq.max(change.seq);
        let after_read = |seq: RoomSeq| seq > unread.last_read_seq;
        match &change.kind {
            ChangeKind::MessagePosted(m)
                if m.author_id != me && !m.is_deleted && after_read(m.seq) =>
            {
                unread.messages = (unread.messages + 1).min(UNREAD_CAP);
                if m.mentions.contains(&me) {
                    unread.mentions = (unread.mentions + 1).min(UNREAD_CAP);
                }
                Ok(UnreadUpdate {
                    rooms: vec![*unread],
                    gone: Vec::new(),
                })
            }
            ChangeKind::MessageEdited(m) | ChangeKind::MessageDeleted(m)
                if m.author_id != me && after_read(m.seq) =>
            {
                self.recount(room).await
            }
            ChangeKind::MemberLeft { user_id } if *user_id == me => self.relist().await,
            ChangeKind::MemberUpdated(m) if m.user_id == me && m.banned => self.relist().await,
            _ => Ok(UnreadUpdate::default()),
        }
    }

    /// The member read `room` up to `seq` on some device.
    async fn read(&mut self, room: RoomId, seq: RoomSeq) -> Result<UnreadUpdate> {
        let Some(followed) = self.rooms.get_mut(&room) else {
            return Ok(UnreadUpdate::default());
        };
        let unread = &mut followed.unread;
        if seq <= unread.last_read_seq {
            return Ok(UnreadUpdate::default());
        }
        unread.last_read_seq = seq;
        if seq < unread.last_seq {
            return self.recount(room).await;
        }
        // Read to the end of what the feed has seen: later messages arrive after this.
        unread.messages = 0;
        unread.mentions = 0;
        Ok(UnreadUpdate {
            rooms: vec![*unread],
            gone: Vec::new(),
        })
    }

    /// Counts one room again from the store.
    async fn recount(&mut self, room: RoomId) -> Result<UnreadUpdate> {
        let counted = self
            .chat
            .store()
            .unread_counts(self.actor, Some(room))
            .await?;
        let Some(unread) = counted.into_iter().next() else {
            // No longer readable: the room set changed.
            return self.relist().await;
        };
        let Some(followed) = self.rooms.get_mut(&room) else {
            return Ok(UnreadUpdate::default());
        };
        followed
            .floor
            .fetch_max(unread.last_seq.get(), Ordering::Relaxed);
        if followed.unread == unread {
            return Ok(UnreadUpdate::default());
        }
        followed.unread = unread;
        Ok(UnreadUpdate {
            rooms: vec![unread],
            gone: Vec::new(),
        })
    }
}
