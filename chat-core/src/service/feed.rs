//! The change feed ([`FeedCursor`], [`FeedPage`], [`FeedFollower`]): every committed change in
//! every room a user can read, from a cursor the reader keeps. What hosts and bots build on.
//!
//! # Guarantees
//!
//! - **Durable and exact.** A page is read from the rooms' change logs (the store), never from
//!   the live fan-out, so a reader that saved its cursor misses nothing across restarts of
//!   either side: it reads on from the cursor, on any instance.
//! - **At least once, in order per room.** A reader that crashes after handling a page but
//!   before saving its cursor reads that page again; within a room, changes come in seq order
//!   with no gap. Rooms are independent: their changes interleave.
//! - **Only what the reader may read**, checked on every page: rooms the reader left or was
//!   banned from stop; rooms that become readable (joined, invited, a direct room opened) are
//!   read from the start of their log, as their history is readable to a member.
//! - **Fair.** A page shares its `limit` among the rooms with news, so one busy room cannot
//!   hold back the others.
//!
//! The cursor is one seq per room, a JSON object `{room_id: seq}`. [`ChatService::feed_cursor`]
//! gives the position "now"; [`ChatService::read_feed`] reads a page after a cursor;
//! [`ChatService::follow_feed`] waits for pages as changes commit.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use futures::StreamExt;
use futures::stream::{AbortHandle, Abortable, BoxStream, SelectAll};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use super::ChatService;
use crate::change::RoomChange;
use crate::error::{Error, Result};
use crate::fanout::{Delivery, UserSignal, UserSignalKind};
use crate::id::{RoomId, UserId};
use crate::page::PageSize;
use crate::room::RoomSeq;
use crate::validation;

/// Where a feed reader is: the last seq it has of each room. Rooms it has not met are read
/// from the start of their log. On the wire it is the map itself, `{"<room id>": seq, …}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FeedCursor {
    /// Room → the last seq read there.
    pub positions: BTreeMap<RoomId, RoomSeq>,
}

// By hand: the derive would describe the struct (`{"positions": …}`), not the map that
// `serde(transparent)` puts on the wire.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for FeedCursor {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        let seq = ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(Some(0));
        let room_id = ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)));
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "Room id → the last seq read in that room. Rooms not named are read from their \
                 start.",
            ))
            .property_names(Some(room_id))
            .additional_properties(Some(seq))
            .examples([serde_json::json!({"0192f0c1-7d2a-7c11-9a4e-2f3b9c1d0e5f": 42})])
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for FeedCursor {}

impl FeedCursor {
    /// The last seq read in `room` (zero when the room is new to the reader).
    #[must_use]
    pub fn position(&self, room: RoomId) -> RoomSeq {
        self.positions.get(&room).copied().unwrap_or(RoomSeq::ZERO)
    }
}

/// A page of the feed: changes in order per room, and the cursor after them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FeedPage {
    /// The changes, in seq order within each room; rooms interleave.
    pub changes: Vec<RoomChange>,
    /// Where the next page starts. Save it after handling the changes.
    pub cursor: FeedCursor,
    /// Whether more changes were waiting when the page was read.
    pub has_more: bool,
}

impl ChatService {
    /// The feed position "now": the last seq of every room the caller can read. Reading from
    /// it returns only what commits from here on (and the logs of rooms that become readable).
    ///
    /// # Errors
    /// Only store failures.
    pub async fn feed_cursor(&self, actor: UserId) -> Result<FeedCursor> {
        let rooms = self.store.readable_rooms(actor).await?;
        Ok(FeedCursor {
            positions: rooms.into_iter().collect(),
        })
    }

    /// Up to `limit` changes after `cursor` (default and bounds as for history pages), in the
    /// rooms the caller can read now, shared fairly among the rooms with news.
    ///
    /// # Errors
    /// [`Error::Validation`] on `limit`, and on `cursor` when it claims a seq a readable room
    /// has not reached (a cursor from elsewhere would otherwise skip changes); store failures.
    pub async fn read_feed(
        &self,
        actor: UserId,
        cursor: &FeedCursor,
        limit: impl Into<PageSize>,
    ) -> Result<FeedPage> {
        let limit = validation::validate_page_size(limit.into(), &self.limits)? as usize;
        let readable = self.store.readable_rooms(actor).await?;
        let mut behind = Vec::new();
        for &(room, last) in &readable {
            let at = cursor.position(room);
            if at > last {
                return Err(Error::validation(
                    "cursor",
                    format!("room {room} has no seq {at} yet (its last is {last})"),
                ));
            }
            if at < last {
                behind.push((room, at, last));
            }
        }
        let mut page = FeedPage {
            changes: Vec::new(),
            cursor: cursor.clone(),
            has_more: false,
        };
        // Rooms new to the cursor enter it at zero, so a reader sees which rooms it follows.
        for &(room, _) in &readable {
            page.cursor.positions.entry(room).or_insert(RoomSeq::ZERO);
        }
        if behind.is_empty() {
            return Ok(page);
        }
        // Rounds: each room with news takes an equal share of what is left of the page (one
        // batched read per round); rooms with less to give leave the rest to the others in the
        // next round.
        let mut budget = limit;
        let mut pending = behind;
        while budget > 0 && !pending.is_empty() {
            let share = budget.div_ceil(pending.len()).max(1);
            let mut allotted = budget;
            let mut reads = Vec::new();
            let mut next = Vec::new();
            for (room, after, last) in pending {
                if allotted == 0 {
                    // The page is full: the room waits for the next one.
                    next.push((room, after, last));
                    continue;
                }
                let take = share.min(allotted);
                allotted -= take;
                reads.push((room, after, u32::try_from(take).unwrap_or(u32::MAX)));
                next.push((room, after, last));
            }
            let changes = self.store.changes_after_each(&reads).await?;
            budget -= changes.len().min(budget);
            let mut newest: HashMap<RoomId, RoomSeq> = HashMap::new();
            for change in &changes {
                newest.insert(change.room_id, change.seq);
            }
            page.changes.extend(changes);
            let read: HashSet<RoomId> = reads.iter().map(|r| r.0).collect();
            pending = next
                .into_iter()
                .filter_map(|(room, after, last)| {
                    if !read.contains(&room) {
                        return Some((room, after, last));
                    }
                    let seq = newest.get(&room).copied()?;
                    page.cursor.positions.insert(room, seq);
                    // Read up to the last seq the page started from: done for this page.
                    (seq < last).then_some((room, seq, last))
                })
                .collect();
        }
        page.has_more = !pending.is_empty();
        Ok(page)
    }

    /// Follows the feed from `cursor`: [`FeedFollower::next`] returns the next page as soon
    /// as there is one, waiting for changes to commit (on any instance).
    ///
    /// # Errors
    /// Only store failures.
    pub async fn follow_feed(
        self: Arc<Self>,
        actor: UserId,
        cursor: FeedCursor,
        limit: impl Into<PageSize>,
    ) -> Result<FeedFollower> {
        let limit = limit.into();
        validation::validate_page_size(limit, &self.limits)?;
        // Listen before reading anything, so that no change is missed in between.
        let signals = self.broker.user_signals(actor);
        let mut follower = FeedFollower {
            chat: self,
            actor,
            cursor,
            limit,
            signals,
            rooms: HashMap::new(),
            wakes: SelectAll::new(),
            relist: true,
        };
        follower.listen_to_rooms().await?;
        Ok(follower)
    }
}

/// A reader of the feed that waits for changes (see [`ChatService::follow_feed`]).
pub struct FeedFollower {
    chat: Arc<ChatService>,
    actor: UserId,
    cursor: FeedCursor,
    limit: PageSize,
    signals: broadcast::Receiver<UserSignal>,
    /// The rooms listened to, each with the handle that stops listening.
    rooms: HashMap<RoomId, AbortHandle>,
    /// One stream per room that yields when the room's log moves.
    wakes: SelectAll<BoxStream<'static, ()>>,
    /// Whether the set of readable rooms may have changed since it was listed.
    relist: bool,
}

impl std::fmt::Debug for FeedFollower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedFollower")
            .field("actor", &self.actor)
            .field("rooms", &self.rooms.len())
            .finish_non_exhaustive()
    }
}

impl FeedFollower {
    /// Where the follower is: save it to resume after a restart.
    #[must_use]
    pub fn cursor(&self) -> &FeedCursor {
        &self.cursor
    }

    /// The next page with at least one change, waiting for one. `None` once the broker is
    /// gone. Cancel-safe: the cursor moves only when a page is returned.
    ///
    /// # Errors
    /// Store failures; the follower stays usable.
    pub async fn next(&mut self) -> Option<Result<FeedPage>> {
        loop {
            if self.relist
                && let Err(e) = self.listen_to_rooms().await
            {
                return Some(Err(e));
            }
            // Read after listening: a change committed from here on wakes the wait below.
            match self
                .chat
                .read_feed(self.actor, &self.cursor, self.limit)
                .await
            {
                Ok(page) if !page.changes.is_empty() => {
                    self.cursor = page.cursor.clone();
                    return Some(Ok(page));
                }
                Ok(page) => self.cursor = page.cursor,
                Err(e) => return Some(Err(e)),
            }
            tokio::select! {
                signal = self.signals.recv() => match signal {
                    Ok(UserSignal { kind: UserSignalKind::RoomsChanged, .. })
                    | Err(broadcast::error::RecvError::Lagged(_)) => self.relist = true,
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                Some(()) = self.wakes.next(), if !self.wakes.is_empty() => {}
            }
        }
    }

    /// Listens to every readable room not listened to yet, and stops listening to the rooms
    /// no longer readable.
    async fn listen_to_rooms(&mut self) -> Result<()> {
        let broker = Arc::clone(self.chat.broker());
        let store = Arc::clone(self.chat.store());
        let readable: HashSet<RoomId> = store
            .readable_rooms(self.actor)
            .await?
            .into_iter()
            .map(|(room, _)| room)
            .collect();
        self.rooms.retain(|room, abort| {
            let keep = readable.contains(room);
            if !keep {
                abort.abort();
            }
            keep
        });
        for room in readable {
            if self.rooms.contains_key(&room) {
                continue;
            }
            // Any change past the cursor wakes the follower (a gap too: it reads the store).
            let sub = broker.subscribe(room, self.cursor.position(room));
            let stream = futures::stream::unfold(sub, |mut sub| async move {
                loop {
                    match sub.recv().await? {
                        Delivery::Change(_) | Delivery::Resync { .. } => return Some(((), sub)),
                        Delivery::Typing(_) | Delivery::Read(_) => {}
                    }
                }
            });
            let (abort, registration) = AbortHandle::new_pair();
            self.wakes
                .push(Abortable::new(stream, registration).boxed());
            self.rooms.insert(room, abort);
        }
        self.relist = false;
        Ok(())
    }
}
