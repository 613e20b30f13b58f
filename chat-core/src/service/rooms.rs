//! Rooms: creation, listing, settings, joining, inviting and leaving.

use std::collections::HashMap;

use super::ChatService;
use crate::clock::Timestamp;
use crate::error::{Error, Result};
use crate::id::{EventId, MessageId, RoomId, UserId};
use crate::page::PageSize;
use crate::permission::RoomAccess;
use crate::room::{
    NewRoom, Room, RoomFilter, RoomKind, RoomMember, RoomPatch, RoomRole, RoomSeq, RoomView, Unread,
};
use crate::validation;

impl ChatService {
    /// Creates a room in an event; the caller becomes its moderator. Any event member may
    /// create a topic room; main and announcement rooms need an event owner or admin.
    ///
    /// # Errors
    /// [`Error::Validation`] on `name`, or on `kind` for a direct room;
    /// [`Error::NotFound`] for a hidden event; [`Error::Forbidden`] for a plain member
    /// creating a main or announcement room, or for any room in a direct room's event;
    /// [`Error::Conflict`] when the name is taken in the event.
    pub async fn create_room(&self, actor: UserId, event: EventId, input: NewRoom) -> Result<Room> {
        let name = validation::validate_name("name", &input.name, self.limits.max_name_chars)?;
        if input.kind == RoomKind::Direct {
            return Err(Error::validation(
                "kind",
                "direct rooms are not created: they are opened between their members",
            ));
        }
        let role = self
            .event_role(actor, event)
            .await?
            .ok_or(Error::NotFound { what: "event" })?;
        if self
            .store
            .get_event(event)
            .await?
            .is_some_and(|e| e.is_direct())
        {
            return Err(Error::Forbidden {
                reason: "a direct conversation has exactly one room",
            });
        }
        Self::host_allows(self.host_policy.may_create_room(actor, event).await?)?;
        if input.kind != RoomKind::Topic && !role.is_admin() {
            return Err(Error::Forbidden {
                reason: "event admin role required for this room kind",
            });
        }
        let now = self.clock.now();
        let room = Room {
            id: RoomId::new(),
            event_id: event,
            name,
            kind: input.kind,
            visibility: input.visibility,
            archived: false,
            slow_mode_secs: 0,
            read_receipts: true,
            created_by: actor,
            created_at: now,
            last_message_at: None,
            last_seq: RoomSeq::ZERO,
        };
        let creator = RoomMember::new(room.id, actor, RoomRole::Moderator, now);
        let room = self.store.create_room(room, creator).await?;
        self.rooms_changed(actor);
        Ok(room)
    }

    /// The rooms the caller can see: every public room of their events and the private rooms
    /// they belong to (direct rooms included), with their membership and, where they are a
    /// member, what they have not read; optionally filtered.
    ///
    /// # Errors
    /// [`Error::Validation`] on `name_contains` (same rules as a search query's length).
    pub async fn list_rooms(&self, actor: UserId, filter: RoomFilter) -> Result<Vec<RoomView>> {
        let needle = match &filter.name_contains {
            Some(n) if n.chars().count() > self.limits.max_search_query_chars => {
                return Err(Error::validation("name_contains", "too long"));
            }
            Some(n) => Some(n.to_lowercase()),
            None => None,
        };
        let now = self.clock.now();
        let memberships: HashMap<RoomId, RoomMember> = self
            .store
            .memberships_of_user(actor)
            .await?
            .into_iter()
            .map(|m| (m.room_id, m))
            .collect();
        let unread: HashMap<RoomId, Unread> = self
            .store
            .unread_counts(actor, None)
            .await?
            .into_iter()
            .map(|u| (u.room_id, u))
            .collect();
        let mut out = Vec::new();
        for summary in self.store.events_of_user(actor).await? {
            if filter.event_id.is_some_and(|e| e != summary.event.id) {
                continue;
            }
            for room in self.store.rooms_of_event(summary.event.id).await? {
                let member = memberships.get(&room.id);
                let access = RoomAccess {
                    room: &room,
                    event_role: Some(summary.role),
                    member,
                    now,
                };
                let name_ok = needle
                    .as_ref()
                    .is_none_or(|n| room.name.to_lowercase().contains(n));
                if access.can_see() && name_ok {
                    // The store lists every room the caller is a readable member of.
                    let unread = member
                        .filter(|m| !m.banned)
                        .and_then(|_| unread.get(&room.id).copied());
                    out.push(RoomView {
                        membership: member.cloned(),
                        room,
                        unread,
                    });
                }
            }
        }
        Ok(out)
    }

    /// What the caller has not read, in every room they belong to that has something unread
    /// (see [`Unread`]).
    ///
    /// # Errors
    /// Only store failures.
    pub async fn unread_counts(&self, actor: UserId) -> Result<Vec<Unread>> {
        let mut counts = self.store.unread_counts(actor, None).await?;
        counts.retain(|u| u.messages > 0 || u.mentions > 0);
        Ok(counts)
    }

    /// The messages that mention the caller, newest first, from rooms they can still read
    /// (members, not banned, whose event they still belong to); `before` is the id of the
    /// last message of the previous page.
    ///
    /// # Errors
    /// [`Error::Validation`] on `limit`.
    pub async fn mention_feed(
        &self,
        actor: UserId,
        before: Option<MessageId>,
        limit: impl Into<PageSize>,
    ) -> Result<crate::message::MentionPage> {
        let limit = validation::validate_page_size(limit.into(), &self.limits)?;
        let readable: Vec<RoomId> = self
            .readable_rooms(actor)
            .await?
            .into_iter()
            .map(|r| r.id)
            .collect();
        let mut messages = self
            .store
            .mentions_of(actor, &readable, before, limit + 1)
            .await?;
        let has_more = messages.len() > limit as usize;
        messages.truncate(limit as usize);
        Ok(crate::message::MentionPage { messages, has_more })
    }

    /// One room the caller can see.
    ///
    /// # Errors
    /// [`Error::NotFound`] when it does not exist or is hidden from the caller.
    pub async fn get_room(&self, actor: UserId, room: RoomId) -> Result<RoomView> {
        let ctx = self.room_context(actor, room).await?;
        ctx.access().require_see()?;
        Ok(RoomView {
            membership: ctx.member,
            room: ctx.room,
            unread: None,
        })
    }

    /// Changes a room's settings (moderators). Archived rooms accept only being restored.
    ///
    /// # Errors
    /// [`Error::Validation`] on `name` or `slow_mode_secs`; [`Error::NotFound`] for a hidden
    /// room; [`Error::Forbidden`] for a non-moderator or an archived room;
    /// [`Error::Conflict`] for a taken name.
    pub async fn update_room(
        &self,
        actor: UserId,
        room: RoomId,
        mut patch: RoomPatch,
    ) -> Result<Room> {
        if let Some(name) = &patch.name {
            patch.name = Some(validation::validate_name(
                "name",
                name,
                self.limits.max_name_chars,
            )?);
        }
        if patch
            .slow_mode_secs
            .is_some_and(|s| u64::from(s) > self.limits.max_slow_mode.as_secs())
        {
            return Err(Error::validation(
                "slow_mode_secs",
                format!("at most {}", self.limits.max_slow_mode.as_secs()),
            ));
        }
        let ctx = self.room_context(actor, room).await?;
        ctx.access().require_moderate()?;
        let only_restores =
            patch.name.is_none() && patch.slow_mode_secs.is_none() && patch.read_receipts.is_none();
        if !only_restores {
            ctx.access().require_writable()?;
        }
        let change = self
            .store
            .update_room(room, patch, self.clock.now())
            .await?;
        let change = self.publish(change);
        match &change.kind {
            crate::ChangeKind::RoomUpdated(room) => Ok(room.clone()),
            _ => Err(Error::internal(
                "update_room returned a change of another kind",
            )),
        }
    }

    /// Renames a room (moderators).
    ///
    /// # Errors
    /// As [`update_room`](Self::update_room).
    pub async fn rename_room(&self, actor: UserId, room: RoomId, name: String) -> Result<Room> {
        self.update_room(
            actor,
            room,
            RoomPatch {
                name: Some(name),
                ..RoomPatch::default()
            },
        )
        .await
    }

    /// Archives (read-only) or restores a room (moderators).
    ///
    /// # Errors
    /// As [`update_room`](Self::update_room).
    pub async fn set_archived(&self, actor: UserId, room: RoomId, archived: bool) -> Result<Room> {
        self.update_room(
            actor,
            room,
            RoomPatch {
                archived: Some(archived),
                ..RoomPatch::default()
            },
        )
        .await
    }

    /// Joins a public room. Joining a room one already belongs to returns the membership.
    ///
    /// Rooms exist only for members of their event: a user who is not a member of the room's
    /// event gets [`Error::NotFound`] (`room`), as for a room that does not exist. A host that
    /// puts its users into rooms adds them to the event first
    /// ([`add_event_member`](Self::add_event_member)).
    ///
    /// # Errors
    /// [`Error::NotFound`] for a hidden room; [`Error::Forbidden`] when banned, when the room
    /// is archived, or for a bot (it is only in the rooms it is put in).
    pub async fn join_room(&self, actor: UserId, room: RoomId) -> Result<RoomMember> {
        let ctx = self.room_context(actor, room).await?;
        ctx.access().require_see()?;
        match ctx.member {
            Some(m) if m.banned => Err(Error::Forbidden {
                reason: "banned from this room",
            }),
            Some(m) => Ok(m),
            None => {
                ctx.access().require_writable()?;
                self.require_not_bot(actor).await?;
                let now = self.clock.now();
                let member = RoomMember::new(room, actor, RoomRole::Member, now);
                self.put_member(member, now).await
            }
        }
    }

    pub(super) async fn put_member(
        &self,
        member: RoomMember,
        now: Timestamp,
    ) -> Result<RoomMember> {
        let change = self.store.put_room_member(member, now).await?;
        let change = self.publish(change);
        match &change.kind {
            crate::ChangeKind::MemberJoined(m) | crate::ChangeKind::MemberUpdated(m) => {
                Ok(m.clone())
            }
            _ => Err(Error::internal(
                "put_room_member returned a change of another kind",
            )),
        }
    }

    /// Adds an event member to a room (moderators); the way into a private room.
    ///
    /// # Errors
    /// [`Error::NotFound`] for a hidden room or a user outside the event; [`Error::Forbidden`]
    /// for a non-moderator or an archived room; [`Error::Conflict`] when already a member.
    pub async fn invite(&self, actor: UserId, room: RoomId, user: UserId) -> Result<RoomMember> {
        let ctx = self.room_context(actor, room).await?;
        ctx.access().require_moderate()?;
        ctx.access().require_writable()?;
        self.store
            .get_event_member(ctx.room.event_id, user)
            .await?
            .ok_or(Error::NotFound { what: "user" })?;
        if self.store.get_room_member(room, user).await?.is_some() {
            return Err(Error::conflict("already a member of this room"));
        }
        let now = self.clock.now();
        self.put_member(RoomMember::new(room, user, RoomRole::Member, now), now)
            .await
    }

    /// Leaves a room. A banned member cannot leave (the ban is kept in the membership), and no
    /// one leaves a direct room (its set of people is what names it).
    ///
    /// # Errors
    /// [`Error::NotFound`] for a hidden room or when not a member; [`Error::Forbidden`] when
    /// banned, or in a direct room.
    pub async fn leave_room(&self, actor: UserId, room: RoomId) -> Result<()> {
        let ctx = self.room_context(actor, room).await?;
        ctx.access().require_see()?;
        if ctx.room.kind == RoomKind::Direct {
            return Err(Error::Forbidden {
                reason: "a direct room keeps its members",
            });
        }
        match &ctx.member {
            None => Err(Error::NotFound { what: "membership" }),
            Some(m) if m.banned => Err(Error::Forbidden {
                reason: "banned from this room",
            }),
            Some(_) => {
                if let Some(change) = self
                    .store
                    .remove_room_member(room, actor, self.clock.now())
                    .await?
                {
                    self.publish(change);
                }
                Ok(())
            }
        }
    }

    /// The members of a room the caller can read.
    ///
    /// # Errors
    /// As reading the room.
    pub async fn room_members(&self, actor: UserId, room: RoomId) -> Result<Vec<RoomMember>> {
        self.room_context(actor, room)
            .await?
            .access()
            .require_read()?;
        self.store.room_members(room).await
    }
}
