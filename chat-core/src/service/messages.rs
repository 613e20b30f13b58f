//! Messages: the send pipeline, edits, deletions and reactions.

use std::collections::HashMap;
use std::sync::Arc;

use super::{ChatService, RoomContext, hide_as_message};
use crate::change::ChangeKind;
use crate::error::{Error, Result};
use crate::id::{MessageId, RoomId, UserId};
use crate::mention;
use crate::message::{Message, SendMessage, Sent};
use crate::poll::POLL_KIND;
use crate::store::{Admission, Appended, NewMessage};
use crate::validation;

impl ChatService {
    /// Sends a message through the pipeline: authorise, validate, deduplicate, rate-limit,
    /// persist, fan out.
    ///
    /// The store authorises the send again in the step that writes it, with the standing it
    /// reads there ([`Admission::authorize`]), and deduplicates and rate-limits it there too:
    /// a ban or mute that commits before the send is always seen. A plain send (no mention,
    /// reply or attachment) reads nothing of the room before that, so the store's check is its
    /// only one, and input errors that need no read (text, `client_msg_id`, payload) come
    /// before it: a caller who may not see the room learns nothing from them.
    ///
    /// # Errors
    /// [`Error::NotFound`] for a hidden room or a reply target outside it;
    /// [`Error::Forbidden`] when the caller may not post; [`Error::Validation`] for bad input;
    /// [`Error::RateLimited`] with the wait. A payload: [`Error::Validation`] on
    /// `payload.kind` for an unregistered kind, on `payload.data…` (or `text`) for what its
    /// kind refuses. Attachments: [`Error::NotFound`] (`attachment`)
    /// for an id that is not the caller's upload, [`Error::Validation`] (`attachment_ids[i]`)
    /// for one uploaded to another room or named twice, [`Error::Conflict`] for one attached
    /// already.
    pub async fn send_message(
        &self,
        actor: UserId,
        room: RoomId,
        input: SendMessage,
    ) -> Result<Sent> {
        self.send_as(actor, room, input, false).await
    }

    /// As [`send_message`](Self::send_message), marking the message as written by a bot or model.
    ///
    /// # Errors
    /// As [`send_message`](Self::send_message).
    pub async fn send_ai_message(
        &self,
        actor: UserId,
        room: RoomId,
        input: SendMessage,
    ) -> Result<Sent> {
        self.send_as(actor, room, input, true).await
    }

    async fn send_as(
        &self,
        actor: UserId,
        room: RoomId,
        input: SendMessage,
        ai: bool,
    ) -> Result<Sent> {
        // Checks that read nothing come first, so that they cost no round trip.
        if let Some(id) = &input.client_msg_id {
            validation::validate_client_msg_id(id, &self.limits)?;
        }
        // A payload stands in for text as an attachment does; a kind may still ask for text
        // (a poll's question).
        let has_content = !input.attachment_ids.is_empty() || input.payload.is_some();
        let mentioned = self.mentions_in(&input.text, has_content)?;
        // The store authorises every send in the step that writes it (`Admission::authorize`),
        // so that nothing lands after a ban that committed first. A send that reads the room
        // before that (the members it mentions, the message it replies to, the uploads it
        // attaches) is authorised here first too, so that a caller who may not post learns
        // nothing from those reads; a plain send goes straight to the store, one round trip
        // less.
        let reads_room =
            !mentioned.is_empty() || input.reply_to.is_some() || !input.attachment_ids.is_empty();
        if reads_room {
            self.room_context(actor, room)
                .await?
                .access()
                .require_post()?;
        }
        let (text, mentions) = self
            .resolve_mentions(room, &input.text, mentioned, has_content)
            .await?;
        let payload = input
            .payload
            .map(|p| self.payload_kinds.validate(p, &text))
            .transpose()?;
        let attachments = self
            .attachments_for_send(actor, room, &input.attachment_ids)
            .await?;
        if let Some(reply_to) = input.reply_to {
            let target = self.store.get_message(reply_to).await?;
            if target.is_none_or(|m| m.room_id != room) {
                return Err(Error::NotFound {
                    what: "reply_to message",
                });
            }
        }
        let new = NewMessage {
            id: MessageId::new(),
            room_id: room,
            author_id: actor,
            text,
            mentions,
            attachments,
            payload,
            reply_to: input.reply_to,
            client_msg_id: input.client_msg_id,
            is_ai_generated: ai,
            created_at: self.clock.now(),
        };
        let admission = Admission {
            policy: Arc::clone(&self.policy),
        };
        match self.store.append_message(new, admission).await? {
            Appended::Replayed(message) => Ok(Sent {
                message,
                replayed: true,
            }),
            Appended::Created { posted, thread } => {
                let change = self.publish(posted);
                if let Some(thread) = thread {
                    self.publish(*thread);
                }
                let message = change.kind.message().cloned().ok_or_else(|| {
                    Error::internal("append_message returned a change without a message")
                })?;
                Ok(Sent {
                    message,
                    replayed: false,
                })
            }
        }
    }

    /// Validates a message text and returns the ids its mention tokens name (at most
    /// `max_mentions`), reading nothing.
    fn mentions_in(&self, text: &str, has_attachments: bool) -> Result<Vec<UserId>> {
        validation::validate_text(text, has_attachments, &self.limits)?;
        let mentioned = mention::mentioned_user_ids(text, self.limits.max_mentions + 1);
        if mentioned.len() > self.limits.max_mentions {
            return Err(Error::validation(
                "text",
                format!("too many mentions (max {})", self.limits.max_mentions),
            ));
        }
        Ok(mentioned)
    }

    /// Resolves the mentions of a text that [`mentions_in`](Self::mentions_in) passed (see
    /// [`mention::resolve`]): the text to store, with every member's token carrying their
    /// current display name and every other token turned into plain text, and the mentioned
    /// members.
    async fn resolve_mentions(
        &self,
        room: RoomId,
        text: &str,
        mentioned: Vec<UserId>,
        has_attachments: bool,
    ) -> Result<(String, Vec<UserId>)> {
        if mentioned.is_empty() {
            return Ok((text.to_owned(), mentioned));
        }
        let members: HashMap<UserId, String> = self
            .store
            .members_among(room, &mentioned)
            .await?
            .into_iter()
            .map(|m| (m.user_id, m.display_name))
            .collect();
        let resolved = mention::resolve(text, |id| members.get(&id).map(String::as_str))
            .ok_or_else(|| Error::validation("text", "mentions nested inside mentions"))?;
        // Current names may be longer than the typed ones: the stored text obeys the limits too.
        validation::validate_text(&resolved, has_attachments, &self.limits)?;
        let mentions = mention::mentioned_user_ids(&resolved, self.limits.max_mentions)
            .into_iter()
            .filter(|id| members.contains_key(id))
            .collect();
        Ok((resolved, mentions))
    }

    pub(super) async fn message_context(
        &self,
        actor: UserId,
        id: MessageId,
    ) -> Result<(Message, RoomContext)> {
        let message = self
            .store
            .get_message(id)
            .await?
            .ok_or(Error::NotFound { what: "message" })?;
        let ctx = self
            .room_context(actor, message.room_id)
            .await
            .map_err(hide_as_message)?;
        ctx.access().require_see().map_err(hide_as_message)?;
        Ok((message, ctx))
    }

    /// Edits the caller's own message.
    ///
    /// # Errors
    /// [`Error::NotFound`] for a hidden message; [`Error::Forbidden`] for someone else's
    /// message or when the caller may not post; [`Error::Conflict`] for a deleted message;
    /// [`Error::Validation`] for bad text.
    pub async fn edit_message(
        &self,
        actor: UserId,
        id: MessageId,
        text: String,
    ) -> Result<Message> {
        let (message, ctx) = self.message_context(actor, id).await?;
        if message.author_id != actor {
            return Err(Error::Forbidden {
                reason: "only the author may edit a message",
            });
        }
        ctx.access().require_post()?;
        if message.is_deleted {
            return Err(Error::conflict("message is deleted"));
        }
        // A poll's text is its question, which stays required.
        let has_content = !message.attachments.is_empty()
            || message
                .payload
                .as_ref()
                .is_some_and(|p| p.kind != POLL_KIND);
        let mentioned = self.mentions_in(&text, has_content)?;
        let (text, mentions) = self
            .resolve_mentions(message.room_id, &text, mentioned, has_content)
            .await?;
        let change = self
            .store
            .edit_message(id, text, mentions, self.clock.now())
            .await?;
        let change = self.publish(change);
        change
            .kind
            .message()
            .cloned()
            .ok_or_else(|| Error::internal("edit returned no message"))
    }

    /// Deletes a message, leaving a tombstone: the author deletes their own, moderators any.
    /// Deleting a deleted message returns its tombstone.
    ///
    /// # Errors
    /// [`Error::NotFound`] for a hidden message; [`Error::Forbidden`] for someone else's
    /// message without the moderator role, or an archived room.
    pub async fn delete_message(&self, actor: UserId, id: MessageId) -> Result<Message> {
        let (message, ctx) = self.message_context(actor, id).await?;
        ctx.access()
            .require_author_or_moderator(message.author_id == actor)?;
        let changes = self.store.delete_message(id, self.clock.now()).await?;
        let mut tombstone = None;
        for change in changes {
            let change = self.publish(change);
            if let ChangeKind::MessageDeleted(m) = &change.kind {
                tombstone = Some(m.clone());
            }
        }
        match tombstone {
            Some(tombstone) => Ok(tombstone),
            None => self
                .store
                .get_message(id)
                .await?
                .ok_or(Error::NotFound { what: "message" }),
        }
    }

    /// Adds or removes the caller's reaction on a message.
    ///
    /// # Errors
    /// [`Error::NotFound`] for a hidden message; [`Error::Forbidden`] when the caller may not
    /// post; [`Error::Validation`] on the key; [`Error::Conflict`] for a deleted message.
    pub async fn react(
        &self,
        actor: UserId,
        id: MessageId,
        key: &str,
        present: bool,
    ) -> Result<Message> {
        validation::validate_reaction_key(key, &self.limits)?;
        let (message, ctx) = self.message_context(actor, id).await?;
        ctx.access().require_post()?;
        if message.is_deleted {
            return Err(Error::conflict("message is deleted"));
        }
        match self
            .store
            .set_reaction(id, actor, key, present, self.clock.now())
            .await?
        {
            Some(change) => {
                let change = self.publish(change);
                change
                    .kind
                    .message()
                    .cloned()
                    .ok_or_else(|| Error::internal("reaction returned no message"))
            }
            None => Ok(message),
        }
    }
}
