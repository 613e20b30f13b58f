//! Presence: who is online, for the people who share an event with them (see
//! [`crate::presence`] for the model).

use std::collections::HashSet;

use tokio::sync::watch;

use super::ChatService;
use crate::error::{Error, Result};
use crate::id::UserId;
use crate::presence::{Presence, PresenceSession};

impl ChatService {
    /// A live connection of `actor`: they count as online until the session says away or is
    /// dropped. Transports hold one per authenticated connection.
    #[must_use]
    pub fn connect_presence(&self, actor: UserId) -> PresenceSession {
        self.broker.presence().connect(actor, self.clock.now())
    }

    /// The presence of each of `users`, in the order asked.
    ///
    /// # Errors
    /// [`Error::Validation`] on `user_ids` for none or more than
    /// [`Limits::max_presence_users`](crate::Limits::max_presence_users);
    /// [`Error::NotFound`] (`user`) for anyone who shares no event with the caller.
    pub async fn presence(&self, actor: UserId, users: &[UserId]) -> Result<Vec<Presence>> {
        let users = self.visible_people(actor, users).await?;
        let board = self.broker.presence();
        let now = self.clock.now();
        Ok(users.into_iter().map(|u| board.get(u, now)).collect())
    }

    /// Follows the presence of `users`: their presence now, then each change of status.
    ///
    /// # Errors
    /// As [`presence`](Self::presence).
    pub async fn watch_presence(&self, actor: UserId, users: &[UserId]) -> Result<PresenceWatch> {
        let users = self.visible_people(actor, users).await?;
        let board = self.broker.presence();
        let now = self.clock.now();
        Ok(PresenceWatch {
            receivers: users.into_iter().map(|u| board.watch(u, now)).collect(),
        })
    }

    /// `users` without repeats, each checked to share an event with the caller.
    async fn visible_people(&self, actor: UserId, users: &[UserId]) -> Result<Vec<UserId>> {
        let max = self.limits.max_presence_users;
        let mut seen = HashSet::new();
        let users: Vec<UserId> = users.iter().copied().filter(|u| seen.insert(*u)).collect();
        if users.is_empty() || users.len() > max {
            return Err(Error::validation(
                "user_ids",
                format!("name 1 to {max} people"),
            ));
        }
        self.require_contacts(actor, &users).await?;
        Ok(users)
    }
}

/// The presence of some people, as it changes (see [`ChatService::watch_presence`]).
#[derive(Debug)]
pub struct PresenceWatch {
    receivers: Vec<watch::Receiver<Presence>>,
}

impl PresenceWatch {
    /// Everyone's presence now, marking it seen.
    pub fn current(&mut self) -> Vec<Presence> {
        self.receivers
            .iter_mut()
            .map(|rx| *rx.borrow_and_update())
            .collect()
    }

    /// The next change of someone's status, or `None` once the broker is gone.
    ///
    /// Cancel-safe: dropping the future loses nothing.
    pub async fn changed(&mut self) -> Option<Presence> {
        if self.receivers.is_empty() {
            return std::future::pending().await;
        }
        let (result, index, _) =
            futures::future::select_all(self.receivers.iter_mut().map(|rx| Box::pin(rx.changed())))
                .await;
        result.ok()?;
        Some(*self.receivers[index].borrow_and_update())
    }
}
