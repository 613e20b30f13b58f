//! Search across the rooms a caller may read.

use std::collections::{HashMap, HashSet};

use super::ChatService;
use crate::error::Result;
use crate::id::{RoomId, UserId};
use crate::room::Room;
use crate::search::{SearchHit, SearchRequest, SearchTerms, snippet};
use crate::validation;

impl ChatService {
    /// Searches messages in one room or in every room the caller can read, newest first, each
    /// with its room's name and a snippet of the match. Every word of the query must appear;
    /// the last may be the start of a word (see [`crate::search`]). Deleted messages never
    /// match.
    ///
    /// # Errors
    /// [`Error::Validation`](crate::Error::Validation) on `query` or `limit`; as reading the room when one is named.
    pub async fn search(&self, actor: UserId, request: SearchRequest) -> Result<Vec<SearchHit>> {
        let tokens = validation::validate_search_query(&request.query, &self.limits)?;
        let terms = SearchTerms::from_tokens(tokens);
        let limit = validation::validate_page_size(request.limit, &self.limits)?;
        let rooms = match request.room_id {
            Some(room) => {
                let ctx = self.room_context(actor, room).await?;
                ctx.access().require_read()?;
                vec![ctx.room]
            }
            None => self.readable_rooms(actor).await?,
        };
        if rooms.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<RoomId> = rooms.iter().map(|r| r.id).collect();
        let names: HashMap<RoomId, String> = rooms.into_iter().map(|r| (r.id, r.name)).collect();
        let messages = self.store.search_messages(&ids, &terms, limit).await?;
        Ok(messages
            .into_iter()
            .map(|message| SearchHit {
                room_name: names.get(&message.room_id).cloned().unwrap_or_default(),
                snippet: snippet(&message.text, &terms),
                message,
            })
            .collect())
    }

    /// The rooms `actor` may read: non-banned memberships in rooms of events they belong to.
    pub(super) async fn readable_rooms(&self, actor: UserId) -> Result<Vec<Room>> {
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
                    rooms.push(room);
                }
            }
        }
        Ok(rooms)
    }
}
