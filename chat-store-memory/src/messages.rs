//! Messages: sends, edits, reactions, history, the change log, search and counts.

use async_trait::async_trait;
use chat_core::{
    Admission, Appended, AttachmentId, ChangeKind, Error, HistoryCursor, Message, MessageId,
    MessageStore, NewMessage, Result, RoomChange, RoomId, RoomSeq, SendHistory, SystemMetrics,
    Timestamp, UserId,
};
use chat_core::{PayloadUpdate, SearchTerms, Unread};

use crate::{MESSAGE_NOT_FOUND, MemoryStore, ROOM_NOT_FOUND};

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
