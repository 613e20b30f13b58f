//! Search across the rooms a caller may read.

use std::collections::HashSet;

use super::ChatService;
use crate::error::Result;
use crate::id::{RoomId, UserId};
use crate::message::Message;
use crate::search::SearchRequest;
use crate::validation;

impl ChatService {
    /// Searches messages in one room or in every room the caller can read, newest first.
    /// Deleted messages never match.
    ///
    /// # Errors
    /// [`Error::Validation`](crate::Error::Validation) on `query` or `limit`; as reading the room when one is named.
    pub async fn search(&self, actor: UserId, request: SearchRequest) -> Result<Vec<Message>> {
        let tokens = validation::validate_search_query(&request.query, &self.limits)?;
        let limit = validation::validate_page_size(request.limit, &self.limits)?;
        let rooms = match request.room_id {
            Some(room) => {
                self.room_context(actor, room)
                    .await?
                    .access()
                    .require_read()?;
                vec![room]
            }
            None => self.readable_rooms(actor).await?,
        };
        if rooms.is_empty() {
            return Ok(Vec::new());
        }
        self.store.search_messages(&rooms, &tokens, limit).await
    }

    /// The rooms `actor` may read: non-banned memberships in rooms of events they belong to.
    pub(super) async fn readable_rooms(&self, actor: UserId) -> Result<Vec<RoomId>> {
        let readable: HashSet<RoomId> = self
            .store
            .memberships_of_user(actor)
            .await?
            .into_iter()
            .filter(|m| !m.banned)
            .map(|m| m.room_id)
            .collect();
        let mut rooms = Vec::new();
        // Walk the caller's events rather than their memberships: a room whose event the caller
        // left is not readable, even if a room membership outlived the event membership.
        for summary in self.store.events_of_user(actor).await? {
            for room in self.store.rooms_of_event(summary.event.id).await? {
                if readable.contains(&room.id) {
                    rooms.push(room.id);
                }
            }
        }
        Ok(rooms)
    }
}
