//! What a host application plugs into the service: where profiles come from
//! ([`ProfileProvider`]) and who may create what ([`HostPolicy`]).
//!
//! A host owns identity. With a provider, it never mirrors its users in by hand: the first
//! time the service meets a user id it has no profile for (the user creates an event, is added
//! to one, opens a direct room…), it asks the provider and keeps the answer. Ids come from
//! [`UserId::from_host_id`](crate::UserId::from_host_id), so the host stores nothing either.
//! [`ChatService::admit_to_event`](crate::ChatService::admit_to_event) then puts a host user
//! into an event and its main room in one call, with no chat admin acting for the host.

use std::fmt;

use async_trait::async_trait;

use crate::error::Result;
use crate::id::{EventId, UserId};
use crate::user::ProfileInput;

/// The host's directory of users.
#[async_trait]
pub trait ProfileProvider: fmt::Debug + Send + Sync + 'static {
    /// The profile of `user`, whom the engine has not met: `None` when the host knows no such
    /// user (the call then fails with `NotFound`, as without a provider).
    ///
    /// # Errors
    /// Whatever stops the host from telling (its database is down, say).
    async fn profile(&self, user: UserId) -> Result<Option<ProfileInput>>;
}

/// The host's say on who may create events, rooms and webhooks, on top of the engine's own
/// rules (a room still needs an event admin, a webhook an event admin and
/// [`WebhookRegistration`](crate::WebhookRegistration)). Every method allows by default; a
/// refusal answers `Forbidden`.
#[async_trait]
pub trait HostPolicy: fmt::Debug + Send + Sync + 'static {
    /// Whether `user` may create an event.
    ///
    /// # Errors
    /// Whatever stops the host from deciding.
    async fn may_create_event(&self, user: UserId) -> Result<bool> {
        let _ = user;
        Ok(true)
    }

    /// Whether `user` may create a room in `event`.
    ///
    /// # Errors
    /// Whatever stops the host from deciding.
    async fn may_create_room(&self, user: UserId, event: EventId) -> Result<bool> {
        let _ = (user, event);
        Ok(true)
    }

    /// Whether `user` may register a webhook for `event`.
    ///
    /// # Errors
    /// Whatever stops the host from deciding.
    async fn may_register_webhook(&self, user: UserId, event: EventId) -> Result<bool> {
        let _ = (user, event);
        Ok(true)
    }
}

/// The policy of a host that adds no rules of its own.
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAll;

impl HostPolicy for AllowAll {}
