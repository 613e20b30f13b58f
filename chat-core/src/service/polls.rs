//! Polls and other structured messages after sending: votes, closing, and a host's updates
//! of its own kinds (see [`crate::payload`] and [`crate::poll`]).

use super::ChatService;
use crate::change::RoomChange;
use crate::error::{Error, Result};
use crate::id::{MessageId, UserId};
use crate::message::Message;
use crate::payload::Payload;
use crate::poll::{POLL_KIND, Poll};

impl ChatService {
    /// Records the caller's vote in a poll, replacing their earlier one, or withdraws it
    /// (`option: None`). Voting as before changes nothing and logs nothing. Returns the
    /// message with the poll's new tallies; members see the change live.
    ///
    /// # Errors
    /// [`Error::NotFound`] for a hidden message; [`Error::Forbidden`] when the caller may not
    /// post (muted, banned, archived room); [`Error::Conflict`] when the message is not a
    /// poll, is deleted, or the poll is closed; [`Error::Validation`] (`option`) for an
    /// option the poll does not have.
    pub async fn vote_in_poll(
        &self,
        actor: UserId,
        id: MessageId,
        option: Option<u32>,
    ) -> Result<Message> {
        let (message, ctx) = self.message_context(actor, id).await?;
        ctx.access().require_post()?;
        // Read again under the store's lock: racing votes each count.
        let update = |current: &Message| {
            let mut poll = poll_of(current)?;
            Ok(if poll.vote(actor, option)? {
                Some(poll.to_payload()?)
            } else {
                None
            })
        };
        self.apply_payload_update(message, &update).await
    }

    /// Closes a poll: its author or a room moderator may. Closing a closed poll returns it as
    /// it is.
    ///
    /// # Errors
    /// [`Error::NotFound`] for a hidden message; [`Error::Forbidden`] for someone else's poll
    /// without the moderator role, or an archived room; [`Error::Conflict`] when the message
    /// is not a poll or is deleted.
    pub async fn close_poll(&self, actor: UserId, id: MessageId) -> Result<Message> {
        let (message, ctx) = self.message_context(actor, id).await?;
        ctx.access()
            .require_author_or_moderator(message.author_id == actor)?;
        let update = |current: &Message| {
            let mut poll = poll_of(current)?;
            Ok(if poll.close() {
                Some(poll.to_payload()?)
            } else {
                None
            })
        };
        self.apply_payload_update(message, &update).await
    }

    /// Replaces the data of the caller's own message's payload, of a kind the host
    /// registered; the kind's validator checks it as it checks new messages. For hosts and
    /// bots that keep a card up to date (a task done, an expense settled). Polls change only
    /// by [`vote_in_poll`](Self::vote_in_poll) and [`close_poll`](Self::close_poll).
    ///
    /// # Errors
    /// [`Error::NotFound`] for a hidden message; [`Error::Forbidden`] for someone else's
    /// message, a poll, or when the caller may not post; [`Error::Conflict`] when the message
    /// has no payload or is deleted; [`Error::Validation`] for data its kind refuses.
    pub async fn update_payload(
        &self,
        actor: UserId,
        id: MessageId,
        data: serde_json::Value,
    ) -> Result<Message> {
        let (message, ctx) = self.message_context(actor, id).await?;
        if message.author_id != actor {
            return Err(Error::Forbidden {
                reason: "only the author may update a message's payload",
            });
        }
        ctx.access().require_post()?;
        let Some(kind) = message.payload.as_ref().map(|p| p.kind.clone()) else {
            return Err(Error::conflict("the message has no payload"));
        };
        if kind == POLL_KIND {
            return Err(Error::Forbidden {
                reason: "polls change only by votes and closing",
            });
        }
        let validated = self.payload_kinds.validate(
            Payload {
                kind: kind.clone(),
                data,
            },
            &message.text,
        )?;
        let update = |current: &Message| {
            Ok((current.payload.as_ref() != Some(&validated)).then(|| validated.clone()))
        };
        self.apply_payload_update(message, &update).await
    }

    /// Runs `update` in the store, publishes the change, and returns the message as it is
    /// after it.
    async fn apply_payload_update(
        &self,
        message: Message,
        update: &crate::store::PayloadUpdate<'_>,
    ) -> Result<Message> {
        if message.is_deleted {
            return Err(Error::conflict("message is deleted"));
        }
        let changed: Option<RoomChange> = self
            .store
            .update_payload(message.id, update, self.clock.now())
            .await?;
        match changed {
            Some(change) => self
                .publish(change)
                .kind
                .message()
                .cloned()
                .ok_or_else(|| Error::internal("update_payload returned no message")),
            // Nothing changed: the stored message, which may be newer than the one read first.
            None => self
                .store
                .get_message(message.id)
                .await?
                .ok_or(Error::NotFound { what: "message" }),
        }
    }
}

/// The poll `message` carries.
fn poll_of(message: &Message) -> Result<Poll> {
    Poll::of(message).ok_or_else(|| Error::conflict("the message is not a poll"))
}
