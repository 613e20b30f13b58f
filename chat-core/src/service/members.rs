//! Room members: roles, mutes, bans, read state and mention lookup.

use super::ChatService;
use crate::clock::Timestamp;
use crate::error::{Error, Result};
use crate::fanout::{ReadSignal, UserSignal, UserSignalKind};
use crate::id::{RoomId, UserId};
use crate::page::PageSize;
use crate::permission::{Standing, require_member_change};
use crate::room::{Receipt, RoomMember, RoomRole, RoomSeq};
use crate::user::MemberMatch;
use crate::validation;

impl ChatService {
    async fn moderate_member(
        &self,
        actor: UserId,
        room: RoomId,
        user: UserId,
        change: impl FnOnce(&mut RoomMember),
        creates: bool,
    ) -> Result<RoomMember> {
        let ctx = self.room_context(actor, room).await?;
        ctx.access().require_moderate()?;
        ctx.access().require_writable()?;
        let target_role = self.event_role(user, ctx.room.event_id).await?;
        let Some(target_role) = target_role else {
            return Err(Error::NotFound { what: "member" });
        };
        let now = self.clock.now();
        let mut member = match self.store.get_room_member(room, user).await? {
            Some(m) => m,
            None if creates => RoomMember::new(room, user, RoomRole::Member, now),
            None => return Err(Error::NotFound { what: "member" }),
        };
        let before = member.clone();
        change(&mut member);
        // Permission first: a change that would do nothing is refused like any other.
        require_member_change(
            Standing::of(ctx.event_role, ctx.member.as_ref()),
            Standing::of(Some(target_role), Some(&before)),
            actor == user,
            &before,
            &member,
            now,
        )?;
        if member == before {
            return Ok(member);
        }
        self.put_member(member, now).await
    }

    /// Sets a member's room role (moderators).
    ///
    /// # Errors
    /// [`Error::NotFound`] for a hidden room or a non-member; [`Error::Forbidden`] for a
    /// non-moderator or an archived room.
    pub async fn set_member_role(
        &self,
        actor: UserId,
        room: RoomId,
        user: UserId,
        role: RoomRole,
    ) -> Result<RoomMember> {
        self.moderate_member(actor, room, user, |m| m.role = role, false)
            .await
    }

    /// Mutes a member until a time, or unmutes with `None` (moderators).
    ///
    /// # Errors
    /// As [`set_member_role`](Self::set_member_role), and [`Error::Forbidden`] for muting an
    /// event admin.
    pub async fn mute_member(
        &self,
        actor: UserId,
        room: RoomId,
        user: UserId,
        until: Option<Timestamp>,
    ) -> Result<RoomMember> {
        self.moderate_member(actor, room, user, |m| m.muted_until = until, false)
            .await
    }

    /// Bans or unbans an event member from a room (moderators). Banning a non-member records
    /// the ban so they cannot join.
    ///
    /// # Errors
    /// As [`mute_member`](Self::mute_member).
    pub async fn ban_member(
        &self,
        actor: UserId,
        room: RoomId,
        user: UserId,
        banned: bool,
    ) -> Result<RoomMember> {
        self.moderate_member(actor, room, user, |m| m.banned = banned, banned)
            .await
    }

    /// Marks the room read up to `seq` for the caller. The position only moves forward; when
    /// it moves and the room shows read receipts, the room's live subscribers hear of it.
    ///
    /// # Errors
    /// As reading the room; [`Error::Validation`] on `seq` beyond the room's last seq.
    pub async fn mark_read(&self, actor: UserId, room: RoomId, seq: RoomSeq) -> Result<RoomMember> {
        let ctx = self.room_context(actor, room).await?;
        ctx.access().require_read()?;
        if seq > ctx.room.last_seq {
            return Err(Error::validation("seq", "beyond the room's last seq"));
        }
        let before = ctx
            .member
            .as_ref()
            .map_or(RoomSeq::ZERO, |m| m.last_read_seq);
        let member = self.store.set_last_read(room, actor, seq).await?;
        if member.last_read_seq > before {
            // The reader's other devices, whether or not others see receipts.
            self.broker.publish_user(UserSignal {
                user_id: actor,
                kind: UserSignalKind::Read {
                    room_id: room,
                    seq: member.last_read_seq,
                },
            });
        }
        if ctx.room.read_receipts && member.last_read_seq > before {
            self.broker.publish_read(ReadSignal {
                room_id: room,
                user_id: actor,
                seq: member.last_read_seq,
                at: self.clock.now(),
            });
        }
        Ok(member)
    }

    /// How far each member has read the room (read receipts), in join order; banned members
    /// are left out.
    ///
    /// # Errors
    /// As reading the room; [`Error::Forbidden`] when the room has read receipts off.
    pub async fn receipts(&self, actor: UserId, room: RoomId) -> Result<Vec<Receipt>> {
        let ctx = self.room_context(actor, room).await?;
        ctx.access().require_read()?;
        if !ctx.room.read_receipts {
            return Err(Error::Forbidden {
                reason: "read receipts are off in this room",
            });
        }
        Ok(self
            .store
            .room_members(room)
            .await?
            .into_iter()
            .filter(|m| !m.banned)
            .map(|m| Receipt {
                user_id: m.user_id,
                last_read_seq: m.last_read_seq,
            })
            .collect())
    }

    /// Room members whose display name starts with `prefix` (mention autocomplete).
    ///
    /// # Errors
    /// As reading the room; [`Error::Validation`] on `prefix` or `limit`.
    pub async fn lookup_members(
        &self,
        actor: UserId,
        room: RoomId,
        prefix: &str,
        limit: impl Into<PageSize>,
    ) -> Result<Vec<MemberMatch>> {
        if prefix.chars().count() > self.limits.max_display_name_chars
            || prefix.contains(char::is_control)
        {
            return Err(Error::validation(
                "prefix",
                "too long or contains control characters",
            ));
        }
        let limit = validation::validate_page_size(limit.into(), &self.limits)?;
        self.room_context(actor, room)
            .await?
            .access()
            .require_read()?;
        self.store.members_by_name_prefix(room, prefix, limit).await
    }
}
