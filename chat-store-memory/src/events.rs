//! Events and their members.

use async_trait::async_trait;
use chat_core::{Error, Event, EventId, EventMember, EventStore, EventSummary, Result, UserId};

use crate::MemoryStore;

#[async_trait]
impl EventStore for MemoryStore {
    async fn create_event(&self, event: Event, owner: EventMember) -> Result<()> {
        let mut s = self.write();
        if s.events.contains_key(&event.id) {
            return Err(Error::conflict("event id already exists"));
        }
        s.events.insert(event.id, event);
        s.insert_event_member(owner);
        Ok(())
    }

    async fn get_event(&self, id: EventId) -> Result<Option<Event>> {
        Ok(self.read().events.get(&id).cloned())
    }

    async fn events_of_user(&self, user: UserId) -> Result<Vec<EventSummary>> {
        let s = self.read();
        let Some(ids) = s.user_events.get(&user) else {
            return Ok(Vec::new());
        };
        Ok(ids
            .iter()
            .filter_map(|id| {
                let event = s.events.get(id)?.clone();
                let role = s.event_members.get(id)?.get(&user)?.role;
                Some(EventSummary { event, role })
            })
            .collect())
    }

    async fn get_event_member(&self, event: EventId, user: UserId) -> Result<Option<EventMember>> {
        Ok(self
            .read()
            .event_members
            .get(&event)
            .and_then(|m| m.get(&user))
            .cloned())
    }

    async fn event_members(&self, event: EventId) -> Result<Vec<EventMember>> {
        let s = self.read();
        let mut members: Vec<EventMember> = s
            .event_members
            .get(&event)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default();
        members.sort_by_key(|m| (m.joined_at, m.user_id));
        Ok(members)
    }

    async fn put_event_member(&self, member: EventMember) -> Result<EventMember> {
        let mut s = self.write();
        if !s.events.contains_key(&member.event_id) {
            return Err(Error::NotFound { what: "event" });
        }
        if !s.users.contains_key(&member.user_id) {
            return Err(Error::NotFound { what: "user" });
        }
        Ok(s.insert_event_member(member))
    }

    async fn remove_event_member(&self, event: EventId, user: UserId) -> Result<bool> {
        let mut s = self.write();
        let removed = s
            .event_members
            .get_mut(&event)
            .and_then(|m| m.remove(&user))
            .is_some();
        if let Some(events) = s.user_events.get_mut(&user) {
            events.remove(&event);
        }
        Ok(removed)
    }
}
