//! Direct rooms: private conversations of a fixed set of people, without an event made by
//! hand.
//!
//! Each direct room lives in an event of its own (kind [`DIRECT_EVENT_KIND`]) whose members
//! are exactly the room's, all with the plain member role: no one can add people, so the set
//! stays fixed. Such events are left out of the caller's event list; the rooms are listed with
//! the caller's other rooms.

use std::collections::HashSet;

use super::ChatService;
use crate::error::{Error, Result};
use crate::event::{DIRECT_EVENT_KIND, Event};
use crate::id::{EventId, RoomId, UserId};
use crate::room::{Room, RoomKind, RoomSeq, RoomView, Visibility};
use crate::store::NewDirectRoom;

impl ChatService {
    /// The direct room of the caller and `others` (1 to [`Limits::max_direct_others`](crate::Limits::max_direct_others) people who each
    /// share an event with the caller), created on first use. The same set of people, in any
    /// order and asked by any of them, always gets the same room, however many ask at once.
    /// The caller in `others` and repeated ids are ignored. Returns the room and whether this
    /// call created it.
    ///
    /// # Errors
    /// [`Error::Validation`] on `user_ids` for no one or too many people;
    /// [`Error::NotFound`] (`user`) for someone who does not share an event with the caller,
    /// so that nobody learns who exists.
    pub async fn open_direct_room(
        &self,
        actor: UserId,
        others: &[UserId],
    ) -> Result<(RoomView, bool)> {
        let mut people: Vec<UserId> = others
            .iter()
            .copied()
            .filter(|u| *u != actor)
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        if people.is_empty() {
            return Err(Error::validation(
                "user_ids",
                "name at least one other person",
            ));
        }
        if people.len() > self.limits.max_direct_others {
            return Err(Error::validation(
                "user_ids",
                format!("at most {} other people", self.limits.max_direct_others),
            ));
        }
        self.require_profile(actor).await?;
        self.require_contacts(actor, &people).await?;
        people.push(actor);
        people.sort();
        let key = people
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let now = self.clock.now();
        let event = Event {
            id: EventId::new(),
            name: "Direct messages".into(),
            kind: DIRECT_EVENT_KIND.into(),
            created_by: actor,
            created_at: now,
        };
        let room = Room {
            id: RoomId::new(),
            event_id: event.id,
            name: "Direct".into(),
            kind: RoomKind::Direct,
            visibility: Visibility::Private,
            archived: false,
            slow_mode_secs: 0,
            read_receipts: true,
            created_by: actor,
            created_at: now,
            last_message_at: None,
            last_seq: RoomSeq::ZERO,
        };
        let (room, created) = self
            .store
            .open_direct_room(NewDirectRoom {
                key,
                event,
                room,
                members: people.clone(),
            })
            .await?;
        if created {
            for person in people {
                self.rooms_changed(person);
            }
        }
        let membership = self
            .store
            .get_room_member(room.id, actor)
            .await?
            .ok_or_else(|| Error::internal("the store made a direct room without its members"))?;
        Ok((
            RoomView {
                room,
                membership: Some(membership),
                unread: None,
            },
            created,
        ))
    }
}
