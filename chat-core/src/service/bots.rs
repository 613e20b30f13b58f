//! Bots: service accounts an event's owner or admins make, each limited to the rooms it is
//! put in, whose messages are marked as written by a bot or model.

use super::ChatService;
use crate::error::{Error, Result};
use crate::event::EventRole;
use crate::id::{EventId, RoomId, UserId};
use crate::permission::require_event_admin;
use crate::user::{ProfileInput, User};

impl ChatService {
    /// Makes a bot in `event` (owners and admins), a member of the event and of `rooms`
    /// only: it cannot join rooms itself, so it reads and writes exactly where it was put
    /// (admins may invite it to more later). Every message it sends is marked
    /// `is_ai_generated`. The host issues its token (chat-http's `POST
    /// /v1/events/{id}/bots` does, with the JWT authenticator).
    ///
    /// # Errors
    /// [`Error::NotFound`] for a hidden event, and (`room`) for a room not in it;
    /// [`Error::Forbidden`] for a plain member; [`Error::Validation`] on `display_name` or
    /// `avatar_url`. Nothing is made when any room is refused.
    pub async fn create_bot(
        &self,
        actor: UserId,
        event: EventId,
        profile: ProfileInput,
        rooms: &[RoomId],
    ) -> Result<User> {
        require_event_admin(self.event_role(actor, event).await?)?;
        let display_name = self.validated_display_name(&profile)?;
        for &room in rooms {
            let found = self.store.get_room(room).await?;
            if found.is_none_or(|r| r.event_id != event) {
                return Err(Error::NotFound { what: "room" });
            }
        }
        let now = self.clock.now();
        let bot = self
            .store
            .upsert_user(User {
                id: UserId::new(),
                display_name,
                avatar_url: profile.avatar_url,
                created_at: now,
                updated_at: now,
                is_bot: true,
            })
            .await?;
        self.add_event_member(actor, event, bot.id, EventRole::Member)
            .await?;
        for &room in rooms {
            self.invite(actor, room, bot.id).await?;
        }
        Ok(bot)
    }

    /// Refuses a bot joining a room by itself (see [`create_bot`](Self::create_bot)).
    pub(super) async fn require_not_bot(&self, actor: UserId) -> Result<()> {
        match self.store.get_user(actor).await? {
            Some(user) if user.is_bot => Err(Error::Forbidden {
                reason: "a bot is only in the rooms it is put in",
            }),
            _ => Ok(()),
        }
    }
}
