//! Rooms, their members and read positions, direct rooms.

use async_trait::async_trait;
use chat_core::store::NewDirectRoom;
use chat_core::{
    ChangeKind, Error, EventId, EventMember, MemberMatch, Result, Room, RoomChange, RoomId,
    RoomMember, RoomPatch, RoomSeq, RoomStanding, RoomStore, Timestamp, UserId,
};
use chat_core::{EventRole, RoomRole};

use crate::state::RoomState;
use crate::{MemoryStore, ROOM_NOT_FOUND};

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
