//! Reading a room: history pages, the change log, live subscriptions and typing.

use super::ChatService;
use crate::change::ChangePage;
use crate::error::{Error, Result};
use crate::fanout::{Subscription, TypingSignal};
use crate::id::{MessageId, RoomId, UserId};
use crate::message::{HistoryCursor, HistoryPage, Message};
use crate::page::PageSize;
use crate::room::{Room, RoomSeq};
use crate::validation;

impl ChatService {
    /// A page of a room's history.
    ///
    /// # Errors
    /// As reading the room; [`Error::Validation`] on `limit`.
    pub async fn history(
        &self,
        actor: UserId,
        room: RoomId,
        cursor: HistoryCursor,
        limit: impl Into<PageSize>,
    ) -> Result<HistoryPage> {
        let limit = validation::validate_page_size(limit.into(), &self.limits)?;
        self.room_context(actor, room)
            .await?
            .access()
            .require_read()?;
        let messages = self.store.history(room, cursor, limit + 1).await?;
        Ok(page_of(messages, limit))
    }

    /// The page of history centred on `seq`, newest first: what opens a search result or a
    /// reply in context. It holds up to half the page at or before `seq` and the rest after
    /// it; `has_more` says whether older messages exist, `has_newer` whether newer ones do.
    /// `seq` may be any position in the log (an edit's seq too).
    ///
    /// # Errors
    /// As [`history`](Self::history); [`Error::Validation`] on `around` beyond the room's
    /// last seq.
    pub async fn history_around(
        &self,
        actor: UserId,
        room: RoomId,
        seq: RoomSeq,
        limit: impl Into<PageSize>,
    ) -> Result<HistoryPage> {
        let limit = validation::validate_page_size(limit.into(), &self.limits)?;
        let ctx = self.room_context(actor, room).await?;
        ctx.access().require_read()?;
        require_seen("around", seq, &ctx.room)?;
        let older_half = limit.div_ceil(2);
        let newer_half = limit - older_half;
        let mut older = self
            .store
            .history(room, HistoryCursor::Before(seq.next()), older_half + 1)
            .await?;
        let mut newer = self
            .store
            .history(room, HistoryCursor::After(seq), newer_half + 1)
            .await?;
        let has_more = older.len() > older_half as usize;
        let has_newer = newer.len() > newer_half as usize;
        older.truncate(older_half as usize);
        newer.truncate(newer_half as usize);
        newer.reverse();
        newer.append(&mut older);
        Ok(HistoryPage {
            messages: newer,
            has_more,
            has_newer: Some(has_newer),
        })
    }

    /// One message, for someone who may read its room.
    ///
    /// # Errors
    /// [`Error::NotFound`] (`message`) for anyone else, and for an unknown id.
    pub async fn get_message(&self, actor: UserId, id: MessageId) -> Result<Message> {
        let (message, ctx) = self.message_context(actor, id).await?;
        ctx.access()
            .require_read()
            .map_err(|_| Error::NotFound { what: "message" })?;
        Ok(message)
    }

    /// A page of the replies to a message (its thread), oldest first, after the reply with
    /// seq `after` (`RoomSeq::ZERO` for the first page); `has_more` says whether more follow.
    ///
    /// # Errors
    /// [`Error::NotFound`] (`message`) for a message the caller may not read;
    /// [`Error::Validation`] on `limit`.
    pub async fn replies(
        &self,
        actor: UserId,
        id: MessageId,
        after: RoomSeq,
        limit: impl Into<PageSize>,
    ) -> Result<HistoryPage> {
        let limit = validation::validate_page_size(limit.into(), &self.limits)?;
        self.get_message(actor, id).await?;
        let messages = self.store.replies(id, after, limit + 1).await?;
        Ok(page_of(messages, limit))
    }

    /// A page of the room's change log after `after`: what a reconnecting client replays.
    ///
    /// # Errors
    /// As reading the room; [`Error::Validation`] on `limit`, or on `after` beyond the room's
    /// last seq (a position no client can have seen).
    pub async fn changes(
        &self,
        actor: UserId,
        room: RoomId,
        after: RoomSeq,
        limit: impl Into<PageSize>,
    ) -> Result<ChangePage> {
        let limit = validation::validate_page_size(limit.into(), &self.limits)?;
        let ctx = self.room_context(actor, room).await?;
        ctx.access().require_read()?;
        require_seen("after", after, &ctx.room)?;
        let mut changes = self.store.changes_after(room, after, limit + 1).await?;
        let has_more = changes.len() > limit as usize;
        changes.truncate(limit as usize);
        let last_seq = changes
            .last()
            .map_or(ctx.room.last_seq, |c| c.seq.max(ctx.room.last_seq));
        Ok(ChangePage {
            changes,
            last_seq,
            has_more,
        })
    }

    /// Subscribes to a room's live changes after `since` (default: the room's current seq).
    ///
    /// To resume without loss: subscribe first, then replay [`changes`](Self::changes) after
    /// `since` page by page, call [`Subscription::advance_to`] with the last replayed seq, and
    /// only then read the subscription. Anything committed meanwhile arrives exactly once.
    ///
    /// # Errors
    /// As reading the room; [`Error::Validation`] on `since` beyond the room's last seq. Such a
    /// subscription would wait for seqs that were never its client's to wait for, and deliver
    /// nothing until the room caught up: refused, never silent.
    pub async fn subscribe(
        &self,
        actor: UserId,
        room: RoomId,
        since: Option<RoomSeq>,
    ) -> Result<Subscription> {
        let ctx = self.room_context(actor, room).await?;
        ctx.access().require_read()?;
        if let Some(since) = since {
            require_seen("since_seq", since, &ctx.room)?;
        }
        let mut sub = self.broker.subscribe(room, since.unwrap_or(RoomSeq::ZERO));
        if since.is_none() {
            // Read the position after subscribing, so a change committed in between is either
            // at or below it (dropped) or above it (delivered): never lost.
            let room = self
                .store
                .get_room(room)
                .await?
                .ok_or(Error::NotFound { what: "room" })?;
            sub.advance_to(room.last_seq);
        }
        Ok(sub)
    }

    /// Announces that the caller is typing; throttled and never stored.
    ///
    /// # Errors
    /// As posting; [`Error::RateLimited`] within the typing interval.
    pub async fn typing(&self, actor: UserId, room: RoomId) -> Result<()> {
        let ctx = self.room_context(actor, room).await?;
        ctx.access().require_post()?;
        self.typing
            .check(actor, room, ctx.now)
            .map_err(|retry_after| Error::RateLimited { retry_after })?;
        let display_name = self.require_profile(actor).await?.display_name;
        self.broker.publish_typing(TypingSignal {
            room_id: room,
            user_id: actor,
            display_name,
            at: ctx.now,
        });
        Ok(())
    }
}

/// A client's position in a room is a seq the room has reached. The room was read after the
/// client saw that seq (the store is the source of truth), so a larger one was never seen.
fn require_seen(field: &'static str, seq: RoomSeq, room: &Room) -> Result<()> {
    if seq > room.last_seq {
        return Err(Error::validation(
            field,
            format!(
                "beyond the room's last seq ({}); resume from a seq you received",
                room.last_seq
            ),
        ));
    }
    Ok(())
}

/// A page of at most `limit` messages from a read of `limit + 1`: the extra one only says
/// whether more follow.
fn page_of(mut messages: Vec<Message>, limit: u32) -> HistoryPage {
    let has_more = messages.len() > limit as usize;
    messages.truncate(limit as usize);
    HistoryPage {
        messages,
        has_more,
        has_newer: None,
    }
}
