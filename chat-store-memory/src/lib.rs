//! # chat-store-memory
//!
//! [`MemoryStore`]: chat-engine's embedded default store. It keeps everything in process memory,
//! indexed for the access paths the [`ChatService`](chat_core::ChatService) uses.
//!
//! **It is not durable.** Data lives exactly as long as the process: an acknowledged message
//! survives anything but a restart. Use `chat-store-postgres` when data must outlive the
//! process.
//!
//! ```
//! use std::sync::Arc;
//! use chat_core::ChatService;
//! use chat_store_memory::MemoryStore;
//!
//! let chat = ChatService::new(Arc::new(MemoryStore::new()));
//! # let _ = chat;
//! ```
//!
//! # Costs
//!
//! - A history page, a change-log catch-up and a member prefix lookup cost O(log n + page):
//!   messages sit in a per-room `BTreeMap` by seq, the change log in a per-room vector indexed
//!   by seq, and member names in a per-room ordered set.
//! - Search walks per-room posting lists from the newest message and stops at the page size.
//! - System metrics walk only the last day's sends, through a time-ordered index.
//!
//! # Concurrency
//!
//! One `RwLock` guards the whole state. Every write is a short, synchronous critical section
//! (no await inside), which is what makes seq assignment gap-free, `client_msg_id`
//! deduplication race-free and rate-limit admission exact: the check and the insert happen
//! under the same lock.

mod bot_tokens;
mod profiles;
mod state;
mod webhooks;

use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use async_trait::async_trait;
use chat_core::store::{AttachmentStore, NewDirectRoom};
use chat_core::{
    Admission, Appended, AttachmentId, ChangeKind, Error, Event, EventId, EventMember, EventStore,
    EventSummary, HistoryCursor, MemberMatch, Message, MessageId, MessageStore, NewMessage, Result,
    Room, RoomChange, RoomId, RoomMember, RoomPatch, RoomSeq, RoomStanding, RoomStore, SendHistory,
    SystemMetrics, Timestamp, Upload, UserId,
};
use chat_core::{EventRole, PayloadUpdate, RoomRole, SearchTerms, Unread};

use crate::state::{RoomState, State};

/// The in-memory store. See the [crate docs](crate) for what it keeps and for how long.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: RwLock<State>,
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    // A panic while holding the lock cannot leave the state half-written in a way that matters
    // more than losing the whole store would, so poisoning is ignored rather than propagated.
    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }
}

const ROOM_NOT_FOUND: Error = Error::NotFound { what: "room" };
const MESSAGE_NOT_FOUND: Error = Error::NotFound { what: "message" };

#[async_trait]
impl EventStore for MemoryStore {
    async fn create_event(&self, event: Event, owner: EventMember) -> Result<()> {
        let mut s = self.write();
        if s.events.contains_key(&event.id) {
            return Err(Error::conflict("event id already exists"));
        }
        s.events.insert(event.id, event);
        s.insert_event_member(owner);
        Ok(())
    }

    async fn get_event(&self, id: EventId) -> Result<Option<Event>> {
        Ok(self.read().events.get(&id).cloned())
    }

    async fn events_of_user(&self, user: UserId) -> Result<Vec<EventSummary>> {
        let s = self.read();
        let Some(ids) = s.user_events.get(&user) else {
            return Ok(Vec::new());
        };
        Ok(ids
            .iter()
            .filter_map(|id| {
                let event = s.events.get(id)?.clone();
                let role = s.event_members.get(id)?.get(&user)?.role;
                Some(EventSummary { event, role })
            })
            .collect())
    }

    async fn get_event_member(&self, event: EventId, user: UserId) -> Result<Option<EventMember>> {
        Ok(self
            .read()
            .event_members
            .get(&event)
            .and_then(|m| m.get(&user))
            .cloned())
    }

    async fn event_members(&self, event: EventId) -> Result<Vec<EventMember>> {
        let s = self.read();
        let mut members: Vec<EventMember> = s
            .event_members
            .get(&event)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default();
        members.sort_by_key(|m| (m.joined_at, m.user_id));
        Ok(members)
    }

    async fn put_event_member(&self, member: EventMember) -> Result<EventMember> {
        let mut s = self.write();
        if !s.events.contains_key(&member.event_id) {
            return Err(Error::NotFound { what: "event" });
        }
        if !s.users.contains_key(&member.user_id) {
            return Err(Error::NotFound { what: "user" });
        }
        Ok(s.insert_event_member(member))
    }

    async fn remove_event_member(&self, event: EventId, user: UserId) -> Result<bool> {
        let mut s = self.write();
        let removed = s
            .event_members
            .get_mut(&event)
            .and_then(|m| m.remove(&user))
            .is_some();
        if let Some(events) = s.user_events.get_mut(&user) {
            events.remove(&event);
        }
        Ok(removed)
    }
}

#[async_trait]
impl RoomStore for MemoryStore {
    async fn create_room(&self, room: Room, creator: RoomMember) -> Result<Room> {
        let mut s = self.write();
        if !s.events.contains_key(&room.event_id) {
            return Err(Error::NotFound { what: "event" });
        }
        if !s.users.contains_key(&creator.user_id) {
            return Err(Error::NotFound { what: "user" });
        }
        if s.room_name_taken(room.event_id, &room.name, None) {
            return Err(Error::conflict("a room with this name exists in the event"));
        }
        s.event_rooms
            .entry(room.event_id)
            .or_default()
            .insert(room.id);
        s.rooms.insert(room.id, RoomState::new(room.clone()));
        s.insert_room_member(creator);
        Ok(room)
    }

    async fn get_room(&self, id: RoomId) -> Result<Option<Room>> {
        Ok(self.read().rooms.get(&id).map(|r| r.room.clone()))
    }

    async fn open_direct_room(&self, direct: NewDirectRoom) -> Result<(Room, bool)> {
        let mut s = self.write();
        if let Some(existing) = s.direct_rooms.get(&direct.key) {
            let room = s.rooms.get(existing).map(|r| r.room.clone());
            return room.map(|r| (r, false)).ok_or(ROOM_NOT_FOUND);
        }
        if direct.members.iter().any(|u| !s.users.contains_key(u)) {
            return Err(Error::NotFound { what: "user" });
        }
        let at = direct.room.created_at;
        let (event, room) = (direct.event, direct.room);
        s.events.insert(event.id, event.clone());
        s.event_rooms.entry(event.id).or_default().insert(room.id);
        s.rooms.insert(room.id, RoomState::new(room.clone()));
        for user in direct.members {
            s.insert_event_member(EventMember {
                event_id: event.id,
                user_id: user,
                role: EventRole::Member,
                joined_at: at,
            });
            s.insert_room_member(RoomMember::new(room.id, user, RoomRole::Member, at));
        }
        s.direct_rooms.insert(direct.key, room.id);
        Ok((room, true))
    }

    async fn rooms_of_event(&self, event: EventId) -> Result<Vec<Room>> {
        let s = self.read();
        let Some(ids) = s.event_rooms.get(&event) else {
            return Ok(Vec::new());
        };
        Ok(ids
            .iter()
            .filter_map(|id| s.rooms.get(id).map(|r| r.room.clone()))
            .collect())
    }

    async fn update_room(&self, id: RoomId, patch: RoomPatch, at: Timestamp) -> Result<RoomChange> {
        let mut s = self.write();
        let event_id = s.rooms.get(&id).ok_or(ROOM_NOT_FOUND)?.room.event_id;
        if let Some(name) = &patch.name
            && s.room_name_taken(event_id, name, Some(id))
        {
            return Err(Error::conflict("a room with this name exists in the event"));
        }
        let r = s.rooms.get_mut(&id).ok_or(ROOM_NOT_FOUND)?;
        if let Some(name) = patch.name {
            r.room.name = name;
        }
        if let Some(archived) = patch.archived {
            r.room.archived = archived;
        }
        if let Some(on) = patch.read_receipts {
            r.room.read_receipts = on;
        }
        if let Some(secs) = patch.slow_mode_secs {
            r.room.slow_mode_secs = secs;
        }
        let seq = r.advance();
        r.room.last_seq = seq;
        let kind = ChangeKind::RoomUpdated(r.room.clone());
        Ok(r.push(seq, at, kind))
    }

    async fn room_standing(&self, room: RoomId, user: UserId) -> Result<Option<RoomStanding>> {
        Ok(self.read().standing(room, user))
    }

    async fn get_room_member(&self, room: RoomId, user: UserId) -> Result<Option<RoomMember>> {
        Ok(self
            .read()
            .rooms
            .get(&room)
            .and_then(|r| r.members.get(&user))
            .cloned())
    }

    async fn room_members(&self, room: RoomId) -> Result<Vec<RoomMember>> {
        let s = self.read();
        let mut members: Vec<RoomMember> = s
            .rooms
            .get(&room)
            .map(|r| r.members.values().cloned().collect())
            .unwrap_or_default();
        members.sort_by_key(|m| (m.joined_at, m.user_id));
        Ok(members)
    }

    async fn memberships_of_user(&self, user: UserId) -> Result<Vec<RoomMember>> {
        let s = self.read();
        let Some(rooms) = s.user_rooms.get(&user) else {
            return Ok(Vec::new());
        };
        Ok(rooms
            .iter()
            .filter_map(|id| s.rooms.get(id)?.members.get(&user).cloned())
            .collect())
    }

    async fn put_room_member(&self, member: RoomMember, at: Timestamp) -> Result<RoomChange> {
        let mut s = self.write();
        if !s.rooms.contains_key(&member.room_id) {
            return Err(ROOM_NOT_FOUND);
        }
        if !s.users.contains_key(&member.user_id) {
            return Err(Error::NotFound { what: "user" });
        }
        let room_id = member.room_id;
        let (stored, existed) = s.insert_room_member(member);
        let r = s.rooms.get_mut(&room_id).ok_or(ROOM_NOT_FOUND)?;
        let seq = r.advance();
        let kind = if existed {
            ChangeKind::MemberUpdated(stored)
        } else {
            ChangeKind::MemberJoined(stored)
        };
        Ok(r.push(seq, at, kind))
    }

    async fn remove_room_member(
        &self,
        room: RoomId,
        user: UserId,
        at: Timestamp,
    ) -> Result<Option<RoomChange>> {
        let mut s = self.write();
        if !s.remove_room_member(room, user) {
            return Ok(None);
        }
        let r = s.rooms.get_mut(&room).ok_or(ROOM_NOT_FOUND)?;
        let seq = r.advance();
        Ok(Some(r.push(
            seq,
            at,
            ChangeKind::MemberLeft { user_id: user },
        )))
    }

    async fn set_last_read(&self, room: RoomId, user: UserId, seq: RoomSeq) -> Result<RoomMember> {
        let mut s = self.write();
        let member = s
            .rooms
            .get_mut(&room)
            .and_then(|r| r.members.get_mut(&user))
            .ok_or(Error::NotFound { what: "membership" })?;
        member.last_read_seq = member.last_read_seq.max(seq);
        Ok(member.clone())
    }

    async fn members_among(&self, room: RoomId, users: &[UserId]) -> Result<Vec<MemberMatch>> {
        let s = self.read();
        let Some(r) = s.rooms.get(&room) else {
            return Ok(Vec::new());
        };
        Ok(users
            .iter()
            .filter(|u| r.members.get(u).is_some_and(|m| !m.banned))
            .filter_map(|u| s.users.get(u))
            .map(|u| MemberMatch {
                user_id: u.id,
                display_name: u.display_name.clone(),
                avatar_url: u.avatar_url.clone(),
            })
            .collect())
    }

    async fn members_by_name_prefix(
        &self,
        room: RoomId,
        prefix: &str,
        limit: u32,
    ) -> Result<Vec<MemberMatch>> {
        let s = self.read();
        let Some(r) = s.rooms.get(&room) else {
            return Ok(Vec::new());
        };
        let prefix = prefix.to_lowercase();
        Ok(r.name_index
            .range((prefix.clone(), UserId::MIN)..)
            .take_while(|(name, _)| name.starts_with(&prefix))
            .filter(|(_, user)| r.members.get(user).is_some_and(|m| !m.banned))
            .filter_map(|(_, user)| s.users.get(user))
            .take(limit as usize)
            .map(|u| MemberMatch {
                user_id: u.id,
                display_name: u.display_name.clone(),
                avatar_url: u.avatar_url.clone(),
            })
            .collect())
    }
}

#[async_trait]
impl MessageStore for MemoryStore {
    async fn append_message(&self, msg: NewMessage, admission: Admission) -> Result<Appended> {
        let mut s = self.write();
        if !s.users.contains_key(&msg.author_id) {
            return Err(Error::NotFound { what: "user" });
        }
        let standing = s
            .standing(msg.room_id, msg.author_id)
            .ok_or(ROOM_NOT_FOUND)?;
        let is_moderator = admission.authorize(&standing, msg.created_at)?;
        let r = s.rooms.get(&msg.room_id).ok_or(ROOM_NOT_FOUND)?;
        if let Some(cmid) = &msg.client_msg_id
            && let Some(id) = s.client_msg_ids.get(&(msg.author_id, cmid.clone()))
        {
            let original = s.message(*id).cloned().ok_or(MESSAGE_NOT_FOUND)?;
            return Ok(Appended::Replayed(original));
        }
        let now = msg.created_at;
        let recent = s.recent_sends(
            msg.author_id,
            now.saturating_sub(admission.policy.lookback()),
            admission.policy.history_limit(),
        );
        admission.check(&SendHistory {
            now,
            room: &r.room,
            is_moderator,
            recent_sends: &recent,
            last_send_in_room: r.last_send.get(&msg.author_id).copied(),
        })?;
        // Guarantee 7: every named upload must still be free, checked and claimed under the
        // same lock as the insert.
        let free = msg.attachments.iter().all(|a| {
            s.uploads
                .get(&a.id)
                .is_some_and(|u| u.message_id.is_none() && !u.discarded)
        });
        if !free {
            return Err(Error::conflict(
                "an attachment is already attached to a message",
            ));
        }
        for a in &msg.attachments {
            if let Some(u) = s.uploads.get_mut(&a.id) {
                u.message_id = Some(msg.id);
            }
        }
        let (parent, at) = (msg.reply_to, msg.created_at);
        let posted = s.insert_message(msg).ok_or(ROOM_NOT_FOUND)?;
        // A reply raises its parent's count under the next seq, in the same critical section.
        let thread = parent.and_then(|p| s.update_thread(p, at)).map(Box::new);
        Ok(Appended::Created { posted, thread })
    }

    async fn get_message(&self, id: MessageId) -> Result<Option<Message>> {
        Ok(self.read().message(id).cloned())
    }

    async fn edit_message(
        &self,
        id: MessageId,
        text: String,
        mentions: Vec<UserId>,
        at: Timestamp,
    ) -> Result<RoomChange> {
        let mut s = self.write();
        let old = s.message(id).ok_or(MESSAGE_NOT_FOUND)?;
        if old.is_deleted {
            return Err(Error::conflict("message is deleted"));
        }
        let old_text = old.text.clone();
        s.change_message(
            id,
            at,
            |m| {
                m.text = text;
                m.mentions = mentions;
                m.is_edited = true;
                m.edited_at = Some(at);
                ChangeKind::MessageEdited
            },
            Some(old_text),
        )
        .ok_or(MESSAGE_NOT_FOUND)
    }

    async fn delete_message(&self, id: MessageId, at: Timestamp) -> Result<Vec<RoomChange>> {
        let mut s = self.write();
        let old = s.message(id).ok_or(MESSAGE_NOT_FOUND)?;
        if old.is_deleted {
            return Ok(Vec::new());
        }
        let old_text = old.text.clone();
        let parent = old.reply_to;
        let attached: Vec<AttachmentId> = old.attachments.iter().map(|a| a.id).collect();
        for a in attached {
            if let Some(u) = s.uploads.get_mut(&a) {
                u.discarded = true;
            }
        }
        let change = s.change_message(
            id,
            at,
            |m| {
                m.text.clear();
                m.mentions.clear();
                m.attachments.clear();
                m.payload = None;
                m.reactions.clear();
                m.is_deleted = true;
                m.deleted_at = Some(at);
                ChangeKind::MessageDeleted
            },
            Some(old_text),
        );
        let mut changes = vec![change.ok_or(MESSAGE_NOT_FOUND)?];
        changes.extend(parent.and_then(|p| s.update_thread(p, at)));
        Ok(changes)
    }

    async fn replies(&self, parent: MessageId, after: RoomSeq, limit: u32) -> Result<Vec<Message>> {
        Ok(self.read().replies(parent, after, limit as usize))
    }

    async fn unread_counts(&self, user: UserId, room: Option<RoomId>) -> Result<Vec<Unread>> {
        Ok(self.read().unread(user, room))
    }

    async fn mentions_of(
        &self,
        user: UserId,
        rooms: &[RoomId],
        before: Option<MessageId>,
        limit: u32,
    ) -> Result<Vec<Message>> {
        let rooms = rooms.iter().copied().collect();
        Ok(self
            .read()
            .mentions_of(user, &rooms, before, limit as usize))
    }

    async fn set_reaction(
        &self,
        id: MessageId,
        user: UserId,
        key: &str,
        present: bool,
        at: Timestamp,
    ) -> Result<Option<RoomChange>> {
        let mut s = self.write();
        let mut updated = s.message(id).ok_or(MESSAGE_NOT_FOUND)?.clone();
        if updated.is_deleted {
            return Err(Error::conflict("message is deleted"));
        }
        if !updated.set_reaction(user, key, present) {
            return Ok(None);
        }
        let change = s.change_message(
            id,
            at,
            |m| {
                m.reactions = updated.reactions;
                ChangeKind::ReactionsChanged
            },
            None,
        );
        change.map(Some).ok_or(MESSAGE_NOT_FOUND)
    }

    async fn update_payload(
        &self,
        id: MessageId,
        update: &PayloadUpdate<'_>,
        at: Timestamp,
    ) -> Result<Option<RoomChange>> {
        // The write lock is the message's lock: `update` sees every earlier update.
        let mut s = self.write();
        let current = s.message(id).ok_or(MESSAGE_NOT_FOUND)?;
        if current.is_deleted {
            return Err(Error::conflict("message is deleted"));
        }
        let Some(payload) = update(current)? else {
            return Ok(None);
        };
        let change = s.change_message(
            id,
            at,
            |m| {
                m.payload = Some(payload);
                ChangeKind::PayloadUpdated
            },
            None,
        );
        change.map(Some).ok_or(MESSAGE_NOT_FOUND)
    }

    async fn history(
        &self,
        room: RoomId,
        cursor: HistoryCursor,
        limit: u32,
    ) -> Result<Vec<Message>> {
        let s = self.read();
        let Some(r) = s.rooms.get(&room) else {
            return Ok(Vec::new());
        };
        let limit = limit as usize;
        Ok(match cursor {
            HistoryCursor::Before(seq) => r
                .messages
                .range(..seq)
                .rev()
                .take(limit)
                .map(|(_, m)| m.clone())
                .collect(),
            HistoryCursor::After(seq) => r
                .messages
                .range((std::ops::Bound::Excluded(seq), std::ops::Bound::Unbounded))
                .take(limit)
                .map(|(_, m)| m.clone())
                .collect(),
        })
    }

    async fn changes_after(
        &self,
        room: RoomId,
        after: RoomSeq,
        limit: u32,
    ) -> Result<Vec<RoomChange>> {
        let s = self.read();
        let Some(r) = s.rooms.get(&room) else {
            return Ok(Vec::new());
        };
        // The log is a vector where seq n sits at index n - 1.
        Ok((after.get().saturating_add(1)..)
            .take(limit as usize)
            .map_while(|seq| r.change(seq))
            .collect())
    }

    async fn search_messages(
        &self,
        rooms: &[RoomId],
        terms: &SearchTerms,
        limit: u32,
    ) -> Result<Vec<Message>> {
        let s = self.read();
        let mut ids = s.search(rooms, terms, limit as usize);
        ids.sort_unstable_by(|a, b| b.cmp(a));
        ids.truncate(limit as usize);
        Ok(ids
            .into_iter()
            .filter_map(|id| s.message(id).cloned())
            .collect())
    }

    async fn system_metrics(&self, now: Timestamp) -> Result<SystemMetrics> {
        Ok(self.read().metrics(now))
    }
}

#[async_trait]
impl AttachmentStore for MemoryStore {
    fn durable(&self) -> bool {
        false
    }

    async fn insert_upload(&self, upload: Upload) -> Result<()> {
        let mut s = self.write();
        if !s.rooms.contains_key(&upload.room_id) {
            return Err(ROOM_NOT_FOUND);
        }
        if !s.users.contains_key(&upload.attachment.uploader) {
            return Err(Error::NotFound { what: "user" });
        }
        if s.uploads.contains_key(&upload.attachment.id) {
            return Err(Error::conflict("the attachment id is taken"));
        }
        s.uploads.insert(upload.attachment.id, upload);
        Ok(())
    }

    async fn get_upload(&self, id: AttachmentId) -> Result<Option<Upload>> {
        Ok(self.read().uploads.get(&id).cloned())
    }

    async fn collectable_uploads(
        &self,
        unattached_before: Timestamp,
        limit: u32,
    ) -> Result<Vec<AttachmentId>> {
        // A walk over every upload: the memory store is for single processes whose uploads
        // are few next to their messages; the collector runs every few minutes.
        Ok(self
            .read()
            .uploads
            .values()
            .filter(|u| u.discarded || (u.message_id.is_none() && u.created_at < unattached_before))
            .take(limit as usize)
            .map(|u| u.attachment.id)
            .collect())
    }

    async fn remove_uploads(&self, ids: &[AttachmentId]) -> Result<()> {
        let mut s = self.write();
        for id in ids {
            let live = s
                .uploads
                .get(id)
                .is_some_and(|u| u.message_id.is_some() && !u.discarded);
            if !live {
                s.uploads.remove(id);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod conformance {
    use std::sync::Arc;

    use chat_core::Store;

    use super::MemoryStore;

    async fn store() -> Arc<dyn Store> {
        Arc::new(MemoryStore::new())
    }

    chat_core::conformance_tests!(store);
}

/// The broker suite on one process: every "instance" is a service over the same store and
/// the same in-process hub.
#[cfg(test)]
mod brokers {
    use std::sync::Arc;

    use async_trait::async_trait;
    use chat_core::testing::brokers::BrokerCluster;
    use chat_core::{Broker, InProcessBroker, Store};

    use super::MemoryStore;

    struct OneProcess {
        store: Arc<dyn Store>,
        hub: Arc<InProcessBroker>,
    }

    #[async_trait]
    impl BrokerCluster for OneProcess {
        fn store(&self) -> Arc<dyn Store> {
            Arc::clone(&self.store)
        }

        async fn broker(&self) -> Arc<dyn Broker> {
            self.hub.clone()
        }

        async fn cut_connections(&self) {}

        fn distributed(&self) -> bool {
            false
        }
    }

    macro_rules! hub_cases {
        ([] $($case:ident)*) => {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let cluster = OneProcess {
                        store: Arc::new(MemoryStore::new()),
                        hub: Arc::new(InProcessBroker::new()),
                    };
                    chat_core::testing::brokers::$case(&cluster).await;
                }
            )*
        };
    }

    chat_core::for_each_broker_case!([hub_cases]);
}
