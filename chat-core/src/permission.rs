//! Who may do what in a room. Pure functions of the caller's event role, room membership, the
//! room and the time: no store access, so every transport and store shares one rule book.
//!
//! | action | needs |
//! |---|---|
//! | see the room | event membership, and for a private room a (non-banned) room membership |
//! | read messages, search | room membership, not banned |
//! | post, edit own, react | read, room not archived, not muted; announcement rooms: moderators only |
//! | moderate (delete any, rename, archive, roles, mute, ban, invite) | room moderator or event owner/admin, and seeing the room |
//! | change another member's role, mute or ban | moderating, and a higher [`Standing`] than theirs: owner > admin > moderator > member |
//! | change one's own role, mute or ban | moderating; only stepping down: no one lifts their own mute or ban or raises their own role |
//! | restrict (mute, ban) an event owner or admin | nobody |
//! | see a user's profile | sharing an event with them (or being them) |
//!
//! Whoever cannot see a room gets [`Error::NotFound`], never [`Error::Forbidden`], so a private
//! room's existence does not leak.

use crate::clock::Timestamp;
use crate::error::{Error, Result};
use crate::event::EventRole;
use crate::room::{Room, RoomKind, RoomMember, RoomRole, Visibility};

const ROOM_NOT_FOUND: Error = Error::NotFound { what: "room" };

/// The caller's standing in one room, from which every permission follows.
#[derive(Debug, Clone, Copy)]
pub struct RoomAccess<'a> {
    /// The room.
    pub room: &'a Room,
    /// The caller's role in the room's event, if a member of it.
    pub event_role: Option<EventRole>,
    /// The caller's room membership, if any.
    pub member: Option<&'a RoomMember>,
    /// The time the action happens.
    pub now: Timestamp,
}

impl RoomAccess<'_> {
    fn banned(&self) -> bool {
        self.member.is_some_and(|m| m.banned)
    }

    /// Whether the caller may know the room exists.
    #[must_use]
    pub fn can_see(&self) -> bool {
        self.event_role.is_some()
            && match self.room.visibility {
                Visibility::Public => true,
                Visibility::Private => self.member.is_some() && !self.banned(),
            }
    }

    /// Whether the caller moderates the room (a room moderator or an event owner/admin).
    #[must_use]
    pub fn is_moderator(&self) -> bool {
        self.can_see()
            && (self.event_role.is_some_and(EventRole::is_admin)
                || self
                    .member
                    .is_some_and(|m| m.role == RoomRole::Moderator && !m.banned))
    }

    /// # Errors
    /// [`Error::NotFound`] when the caller may not know the room exists.
    pub fn require_see(&self) -> Result<()> {
        if self.can_see() {
            Ok(())
        } else {
            Err(ROOM_NOT_FOUND)
        }
    }

    /// Reading messages, the change log and search.
    ///
    /// # Errors
    /// [`Error::NotFound`] if the room is hidden; [`Error::Forbidden`] for a non-member of a
    /// public room or a banned member.
    pub fn require_read(&self) -> Result<()> {
        self.require_see()?;
        match self.member {
            None => Err(Error::Forbidden {
                reason: "not a member of this room",
            }),
            Some(m) if m.banned => Err(Error::Forbidden {
                reason: "banned from this room",
            }),
            Some(_) => Ok(()),
        }
    }

    /// Posting, editing one's own messages, reacting and typing.
    ///
    /// # Errors
    /// As [`require_read`](Self::require_read), then [`Error::Forbidden`] for an archived room,
    /// a muted member, or a non-moderator in an announcement room.
    pub fn require_post(&self) -> Result<()> {
        self.require_read()?;
        if self.room.archived {
            return Err(Error::Forbidden {
                reason: "room is archived",
            });
        }
        if self.member.is_some_and(|m| m.is_muted(self.now)) {
            return Err(Error::Forbidden {
                reason: "muted in this room",
            });
        }
        if self.room.kind == RoomKind::Announcement && !self.is_moderator() {
            return Err(Error::Forbidden {
                reason: "only moderators post in announcement rooms",
            });
        }
        Ok(())
    }

    /// Moderating: deleting others' messages, changing settings and members.
    ///
    /// # Errors
    /// [`Error::NotFound`] if the room is hidden; [`Error::Forbidden`] for a non-moderator.
    pub fn require_moderate(&self) -> Result<()> {
        self.require_see()?;
        if self.is_moderator() {
            Ok(())
        } else {
            Err(Error::Forbidden {
                reason: "moderator role required",
            })
        }
    }

    /// Changing anything in the room (as opposed to reading it): archived rooms are read-only
    /// except for restoring them.
    ///
    /// # Errors
    /// [`Error::Forbidden`] when the room is archived.
    pub fn require_writable(&self) -> Result<()> {
        if self.room.archived {
            Err(Error::Forbidden {
                reason: "room is archived",
            })
        } else {
            Ok(())
        }
    }

    /// Acting on a message as its author or as a moderator (deleting it, closing a poll):
    /// authors act on their own while they can read the room; moderators (event admins
    /// included, who need not join public rooms) on any; never in an archived room.
    ///
    /// # Errors
    /// [`Error::Forbidden`] for someone else's message without the moderator role, or an
    /// archived room; [`Error::NotFound`] when an author can no longer read the room.
    pub fn require_author_or_moderator(&self, is_author: bool) -> Result<()> {
        if is_author {
            self.require_read()?;
        } else {
            self.require_moderate()?;
        }
        self.require_writable()
    }
}

/// How far someone's word reaches in a room. Acting on another member needs a higher standing
/// than theirs, so a moderator cannot demote the event owner or unmute a fellow moderator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Standing {
    /// A plain member (or someone with no room membership).
    Member,
    /// A room moderator.
    Moderator,
    /// An event admin.
    Admin,
    /// The event owner.
    Owner,
}

impl Standing {
    /// The standing of someone with this event role and room membership. A banned room
    /// moderator stands as a member.
    #[must_use]
    pub fn of(event_role: Option<EventRole>, member: Option<&RoomMember>) -> Self {
        match event_role {
            Some(EventRole::Owner) => Self::Owner,
            Some(EventRole::Admin) => Self::Admin,
            _ if member.is_some_and(|m| m.role == RoomRole::Moderator && !m.banned) => {
                Self::Moderator
            }
            _ => Self::Member,
        }
    }
}

/// Whether `actor` (standing `actor_standing`) may turn the membership `before` into `after`.
/// `target_standing` is the standing of the member changed; `now` decides whether a mute is in
/// force.
///
/// # Errors
/// [`Error::Forbidden`] when acting on another member without a higher standing, when lifting
/// one's own mute or ban or raising one's own role, or when restricting an event admin.
pub fn require_member_change(
    actor_standing: Standing,
    target_standing: Standing,
    is_self: bool,
    before: &RoomMember,
    after: &RoomMember,
    now: Timestamp,
) -> Result<()> {
    let restricts = after.banned && !before.banned
        || after.muted_until.is_some_and(|t| t > now) && before.muted_until != after.muted_until;
    if restricts && target_standing >= Standing::Admin {
        return Err(Error::Forbidden {
            reason: "event admins cannot be muted or banned",
        });
    }
    if is_self {
        let lifts_ban = before.banned && !after.banned;
        let lifts_mute = before.is_muted(now) && !after.is_muted(now)
            || before
                .muted_until
                .is_some_and(|b| after.muted_until.is_none_or(|a| a < b));
        if lifts_ban || lifts_mute {
            return Err(Error::Forbidden {
                reason: "no one may lift their own mute or ban",
            });
        }
        if before.role == RoomRole::Member && after.role == RoomRole::Moderator {
            return Err(Error::Forbidden {
                reason: "no one may raise their own role",
            });
        }
        return Ok(());
    }
    if actor_standing <= target_standing {
        return Err(Error::Forbidden {
            reason: "acting on a member needs a higher standing (owner > admin > moderator > member)",
        });
    }
    Ok(())
}

/// Who may manage an event's membership.
///
/// # Errors
/// [`Error::NotFound`] for a non-member (the event stays hidden); [`Error::Forbidden`] for a
/// plain member.
pub fn require_event_admin(role: Option<EventRole>) -> Result<EventRole> {
    match role {
        None => Err(Error::NotFound { what: "event" }),
        Some(r) if r.is_admin() => Ok(r),
        Some(_) => Err(Error::Forbidden {
            reason: "event admin role required",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::{EventId, RoomId, UserId};

    fn room(kind: RoomKind, visibility: Visibility) -> Room {
        Room {
            id: RoomId::new(),
            event_id: EventId::new(),
            name: "r".into(),
            kind,
            visibility,
            archived: false,
            slow_mode_secs: 0,
            read_receipts: true,
            created_by: UserId::new(),
            created_at: Timestamp::UNIX_EPOCH,
            last_message_at: None,
            last_seq: crate::room::RoomSeq::ZERO,
        }
    }

    #[test]
    fn private_rooms_are_invisible_to_outsiders() {
        let r = room(RoomKind::Topic, Visibility::Private);
        let now = Timestamp::UNIX_EPOCH;
        for role in [None, Some(EventRole::Member), Some(EventRole::Admin)] {
            let a = RoomAccess {
                room: &r,
                event_role: role,
                member: None,
                now,
            };
            assert!(matches!(a.require_read(), Err(Error::NotFound { .. })));
            assert!(matches!(a.require_moderate(), Err(Error::NotFound { .. })));
        }
    }

    #[test]
    fn announcement_rooms_take_posts_from_moderators_only() {
        let r = room(RoomKind::Announcement, Visibility::Public);
        let now = Timestamp::UNIX_EPOCH;
        let member = RoomMember::new(r.id, UserId::new(), RoomRole::Member, now);
        let plain = RoomAccess {
            room: &r,
            event_role: Some(EventRole::Member),
            member: Some(&member),
            now,
        };
        assert!(matches!(plain.require_post(), Err(Error::Forbidden { .. })));
        assert!(plain.require_read().is_ok());
        let admin = RoomAccess {
            event_role: Some(EventRole::Admin),
            ..plain
        };
        assert!(admin.require_post().is_ok());
    }

    #[test]
    fn mutes_expire() {
        let r = room(RoomKind::Topic, Visibility::Public);
        let now = Timestamp::UNIX_EPOCH;
        let mut m = RoomMember::new(r.id, UserId::new(), RoomRole::Member, now);
        m.muted_until = Some(now.saturating_add(std::time::Duration::from_secs(60)));
        let a = RoomAccess {
            room: &r,
            event_role: Some(EventRole::Member),
            member: Some(&m),
            now,
        };
        assert!(a.require_post().is_err());
        let later = RoomAccess {
            now: now.saturating_add(std::time::Duration::from_secs(60)),
            ..a
        };
        assert!(later.require_post().is_ok());
    }
}
