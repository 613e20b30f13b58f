//! Events and their members.

use super::ChatService;
use crate::error::{Error, Result};
use crate::event::{Event, EventMember, EventRole, EventSummary, NewEvent};
use crate::id::{EventId, UserId};
use crate::permission::require_event_admin;
use crate::validation;

impl ChatService {
    /// Creates an event; the caller becomes its owner.
    ///
    /// # Errors
    /// [`Error::Validation`] on `name` or `kind`; [`Error::NotFound`] when the caller has no
    /// profile.
    pub async fn create_event(&self, actor: UserId, input: NewEvent) -> Result<Event> {
        let name = validation::validate_name("name", &input.name, self.limits.max_name_chars)?;
        let kind = if input.kind.trim().is_empty() {
            // No kind; but not a blank longer than a kind may be.
            if input.kind.chars().count() > self.limits.max_event_kind_chars {
                return Err(Error::validation(
                    "kind",
                    format!(
                        "too long (max {} characters)",
                        self.limits.max_event_kind_chars
                    ),
                ));
            }
            String::new()
        } else {
            validation::validate_name("kind", &input.kind, self.limits.max_event_kind_chars)?
        };
        if kind == crate::event::DIRECT_EVENT_KIND {
            return Err(Error::validation(
                "kind",
                "is reserved for the events of direct rooms",
            ));
        }
        self.require_profile(actor).await?;
        Self::host_allows(self.host_policy.may_create_event(actor).await?)?;
        let now = self.clock.now();
        let event = Event {
            id: EventId::new(),
            name,
            kind,
            created_by: actor,
            created_at: now,
        };
        let owner = EventMember {
            event_id: event.id,
            user_id: actor,
            role: EventRole::Owner,
            joined_at: now,
        };
        self.store.create_event(event.clone(), owner).await?;
        Ok(event)
    }

    /// The caller's events with their role, oldest first.
    ///
    /// # Errors
    /// Only store failures.
    pub async fn list_my_events(&self, actor: UserId) -> Result<Vec<EventSummary>> {
        // The events of direct rooms are the engine's own; their rooms are listed with the
        // caller's other rooms.
        let mut events = self.store.events_of_user(actor).await?;
        events.retain(|s| !s.event.is_direct());
        Ok(events)
    }

    /// One event the caller belongs to.
    ///
    /// # Errors
    /// [`Error::NotFound`] when it does not exist or the caller is not a member.
    pub async fn get_event(&self, actor: UserId, event: EventId) -> Result<EventSummary> {
        let role = self
            .event_role(actor, event)
            .await?
            .ok_or(Error::NotFound { what: "event" })?;
        let event = self
            .store
            .get_event(event)
            .await?
            .ok_or(Error::NotFound { what: "event" })?;
        Ok(EventSummary { event, role })
    }

    /// The members of an event the caller belongs to.
    ///
    /// # Errors
    /// [`Error::NotFound`] when the caller is not a member.
    pub async fn event_members(&self, actor: UserId, event: EventId) -> Result<Vec<EventMember>> {
        self.event_role(actor, event)
            .await?
            .ok_or(Error::NotFound { what: "event" })?;
        self.store.event_members(event).await
    }

    /// Adds a user to an event (owners and admins only).
    ///
    /// # Errors
    /// [`Error::NotFound`] for a hidden event or a user without profile; [`Error::Forbidden`]
    /// for a plain member or when granting `owner`; [`Error::Conflict`] when already a member.
    pub async fn add_event_member(
        &self,
        actor: UserId,
        event: EventId,
        user: UserId,
        role: EventRole,
    ) -> Result<EventMember> {
        require_event_admin(self.event_role(actor, event).await?)?;
        if role == EventRole::Owner {
            return Err(Error::Forbidden {
                reason: "an event has exactly one owner",
            });
        }
        self.require_profile(user).await?;
        if self.store.get_event_member(event, user).await?.is_some() {
            return Err(Error::conflict("already a member of this event"));
        }
        self.put_event_member_now(event, user, role).await
    }

    /// Makes `user` a member of `event` with `role` from now.
    async fn put_event_member_now(
        &self,
        event: EventId,
        user: UserId,
        role: EventRole,
    ) -> Result<EventMember> {
        let member = EventMember {
            event_id: event,
            user_id: user,
            role,
            joined_at: self.clock.now(),
        };
        let member = self.store.put_event_member(member).await?;
        // Room memberships that outlived an earlier event membership are readable again.
        self.rooms_changed(user);
        Ok(member)
    }

    /// Puts `user` into `event` with `role`, and into its main rooms (public, not archived),
    /// for the host's own code: no member acts, the host decided (its sign-up, its team
    /// roster). The user's profile comes from the [`ProfileProvider`](crate::ProfileProvider)
    /// if the service has not met them. Calling it again changes nothing and answers the
    /// membership as it is; a main room the user is banned from stays so.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an event that does not exist (or is a direct room's), and
    /// (`user`) for a user without a profile; [`Error::Forbidden`] when granting `owner`.
    pub async fn admit_to_event(
        &self,
        event: EventId,
        user: UserId,
        role: EventRole,
    ) -> Result<EventMember> {
        if role == EventRole::Owner {
            return Err(Error::Forbidden {
                reason: "an event has exactly one owner",
            });
        }
        let found = self.store.get_event(event).await?;
        if found.is_none_or(|e| e.is_direct()) {
            return Err(Error::NotFound { what: "event" });
        }
        self.require_profile(user).await?;
        let member = match self.store.get_event_member(event, user).await? {
            Some(member) => member,
            None => self.put_event_member_now(event, user, role).await?,
        };
        for room in self.store.rooms_of_event(event).await? {
            let main = room.kind == crate::room::RoomKind::Main
                && room.visibility == crate::room::Visibility::Public
                && !room.archived;
            if !main {
                continue;
            }
            match self.join_room(user, room.id).await {
                Ok(_) | Err(Error::Forbidden { .. }) => {}
                Err(other) => return Err(other),
            }
        }
        Ok(member)
    }

    /// Adds the user who signs in with `email` to an event (owners and admins only): how people
    /// are invited when the inviter knows their address rather than their id.
    ///
    /// Only admins learn whether an address has an account, and only once their right to add
    /// members is checked: anyone else gets `Forbidden` whatever the address.
    ///
    /// # Errors
    /// [`Error::NotFound`] for a hidden event, and `user` for an address without an account;
    /// [`Error::Forbidden`] for a plain member or when granting `owner`;
    /// [`Error::Conflict`] when already a member.
    pub async fn add_event_member_by_email(
        &self,
        actor: UserId,
        event: EventId,
        email: &str,
        role: EventRole,
    ) -> Result<EventMember> {
        require_event_admin(self.event_role(actor, event).await?)?;
        let account = self
            .account_by_email(email)
            .await?
            .ok_or(Error::NotFound { what: "user" })?;
        self.add_event_member(actor, event, account.user_id, role)
            .await
    }

    /// Changes a member's event role (owners and admins only; the owner's role is fixed).
    ///
    /// # Errors
    /// [`Error::NotFound`] for a hidden event or a non-member; [`Error::Forbidden`] for a plain
    /// member, for the owner's role, or when granting `owner`.
    pub async fn set_event_role(
        &self,
        actor: UserId,
        event: EventId,
        user: UserId,
        role: EventRole,
    ) -> Result<EventMember> {
        require_event_admin(self.event_role(actor, event).await?)?;
        let mut member = self
            .store
            .get_event_member(event, user)
            .await?
            .ok_or(Error::NotFound { what: "member" })?;
        if member.role == EventRole::Owner || role == EventRole::Owner {
            return Err(Error::Forbidden {
                reason: "an event has exactly one owner",
            });
        }
        member.role = role;
        self.store.put_event_member(member).await
    }

    /// Removes a member from an event and from all its rooms. Admins remove anyone but the
    /// owner; any member may remove themselves (leave).
    ///
    /// # Errors
    /// [`Error::NotFound`] for a hidden event or a non-member; [`Error::Forbidden`] for a plain
    /// member removing someone else, or for removing the owner.
    pub async fn remove_event_member(
        &self,
        actor: UserId,
        event: EventId,
        user: UserId,
    ) -> Result<()> {
        let role = self.event_role(actor, event).await?;
        if actor != user {
            require_event_admin(role)?;
        } else if role.is_none() {
            return Err(Error::NotFound { what: "event" });
        }
        let member = self
            .store
            .get_event_member(event, user)
            .await?
            .ok_or(Error::NotFound { what: "member" })?;
        if member.role == EventRole::Owner {
            return Err(Error::Forbidden {
                reason: "the owner cannot leave or be removed",
            });
        }
        // Event membership goes first: every room check requires it, so access ends at once even
        // if removing the room memberships below is interrupted.
        self.store.remove_event_member(event, user).await?;
        let now = self.clock.now();
        for room in self.store.rooms_of_event(event).await? {
            if let Some(change) = self.store.remove_room_member(room.id, user, now).await? {
                self.publish(change);
            }
        }
        Ok(())
    }
}
