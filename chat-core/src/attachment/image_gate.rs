//! Who may have image work running: at most [`ImageBudget::per_user`] images per user,
//! [`HEADER_READS`] headers being read, and
//! [`AttachmentPolicy::image_workers`](super::AttachmentPolicy::image_workers) decodes.
//!
//! A user's turn ([`ImageGate::user_turn`]) is taken first, so a user with many uploads queues
//! behind their own, never in front of everyone else's: one account holds at most `per_user`
//! of the workers, and its queued uploads hold no bytes. The turn then takes a header slot
//! (a few milliseconds: the bytes are read back and their header judged), and, for an image
//! that passed, a worker ([`ImageGate::worker`]). The [`ImagePass`] travels into the job and
//! is released when the work ends, not when the caller stops waiting for it (a decode past its
//! deadline still holds its worker).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::image_budget::ImageBudget;
use crate::error::{Error, Result};
use crate::id::UserId;

/// Headers read at once, across users. Reading one holds the whole file (up to the attachment
/// limit) for a few milliseconds; this bounds how many are in memory together.
pub(crate) const HEADER_READS: usize = 8;

/// The limits on image work in progress.
#[derive(Debug)]
pub(crate) struct ImageGate {
    total: Arc<Semaphore>,
    headers: Semaphore,
    per_user: usize,
    queue_timeout: Duration,
    users: Arc<Mutex<HashMap<UserId, Arc<Semaphore>>>>,
}

/// A user's turn at image work; dropping it hands the turn to their next upload.
#[derive(Debug)]
pub(crate) struct UserTurn {
    user: Option<OwnedSemaphorePermit>,
    owner: UserId,
    users: Arc<Mutex<HashMap<UserId, Arc<Semaphore>>>>,
}

/// The right to run one decode: a user's turn and a worker.
#[derive(Debug)]
pub(crate) struct ImagePass {
    _worker: OwnedSemaphorePermit,
    _turn: UserTurn,
}

impl Drop for UserTurn {
    fn drop(&mut self) {
        // Release the user's permit first, then forget their semaphore when nobody else holds
        // or waits on it, so the map holds only users with work in progress.
        drop(self.user.take());
        let mut users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        if users
            .get(&self.owner)
            .is_some_and(|s| Arc::strong_count(s) == 1)
        {
            users.remove(&self.owner);
        }
    }
}

impl ImageGate {
    pub(crate) fn new(workers: usize, budget: &ImageBudget) -> Self {
        Self {
            total: Arc::new(Semaphore::new(workers.max(1))),
            headers: Semaphore::new(HEADER_READS),
            per_user: budget.per_user.max(1),
            queue_timeout: budget.queue_timeout,
            users: Arc::default(),
        }
    }

    /// Waits for `user`'s turn: their earlier images go first.
    ///
    /// # Errors
    /// [`Error::RateLimited`] when the turn does not come within the budget's queue timeout.
    pub(crate) async fn user_turn(&self, user: UserId) -> Result<UserTurn> {
        let mine = Arc::clone(
            self.users
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(user)
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_user))),
        );
        let turn =
            tokio::time::timeout(self.queue_timeout, Arc::clone(&mine).acquire_owned()).await;
        // Whatever happened, this call's handle on the user's semaphore goes: the turn's
        // cleanup counts the handles left.
        drop(mine);
        match turn {
            Ok(permit) => Ok(UserTurn {
                user: Some(permit.map_err(Error::internal)?),
                owner: user,
                users: Arc::clone(&self.users),
            }),
            Err(_) => {
                self.forget_if_idle(user);
                Err(busy())
            }
        }
    }

    /// Waits for one of the [`HEADER_READS`] slots.
    ///
    /// # Errors
    /// [`Error::RateLimited`] when none frees up within the queue timeout.
    pub(crate) async fn header_slot(&self) -> Result<tokio::sync::SemaphorePermit<'_>> {
        match tokio::time::timeout(self.queue_timeout, self.headers.acquire()).await {
            Ok(permit) => permit.map_err(Error::internal),
            Err(_) => Err(busy()),
        }
    }

    /// Waits for a free worker for the user whose `turn` it is.
    ///
    /// # Errors
    /// [`Error::RateLimited`] when none frees up within the queue timeout.
    pub(crate) async fn worker(&self, turn: UserTurn) -> Result<ImagePass> {
        let worker = Arc::clone(&self.total).acquire_owned();
        match tokio::time::timeout(self.queue_timeout, worker).await {
            Ok(permit) => Ok(ImagePass {
                _worker: permit.map_err(Error::internal)?,
                _turn: turn,
            }),
            Err(_) => Err(busy()),
        }
    }

    fn forget_if_idle(&self, user: UserId) {
        let mut users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        if users.get(&user).is_some_and(|s| Arc::strong_count(s) == 1) {
            users.remove(&user);
        }
    }

    #[cfg(test)]
    async fn enter(&self, user: UserId) -> Result<ImagePass> {
        let turn = self.user_turn(user).await?;
        self.worker(turn).await
    }

    #[cfg(test)]
    fn users_tracked(&self) -> usize {
        self.users
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// The answer to an upload whose turn did not come: try again shortly.
fn busy() -> Error {
    Error::RateLimited {
        retry_after: Duration::from_secs(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(workers: usize, per_user: usize) -> ImageGate {
        let budget = ImageBudget {
            per_user,
            queue_timeout: Duration::from_millis(200),
            ..ImageBudget::default()
        };
        ImageGate::new(workers, &budget)
    }

    #[tokio::test]
    async fn one_user_cannot_hold_every_worker() {
        let gate = gate(2, 1);
        let (alice, bob) = (UserId::new(), UserId::new());
        let first = gate.enter(alice).await.unwrap();
        // Alice's second image waits for her first; Bob gets the other worker at once.
        let bob_pass = tokio::time::timeout(Duration::from_millis(50), gate.enter(bob))
            .await
            .expect("bob is not queued behind alice")
            .unwrap();
        let waited = gate.enter(alice).await;
        assert!(
            matches!(waited, Err(Error::RateLimited { .. })),
            "{waited:?}"
        );
        drop(first);
        let again = gate.enter(alice).await.unwrap();
        drop((again, bob_pass));
        assert_eq!(gate.users_tracked(), 0, "idle users are forgotten");
    }

    #[tokio::test]
    async fn the_total_bounds_everyone() {
        let gate = gate(1, 1);
        let held = gate.enter(UserId::new()).await.unwrap();
        let other = gate.enter(UserId::new()).await;
        assert!(matches!(other, Err(Error::RateLimited { .. })));
        drop(held);
        assert!(gate.enter(UserId::new()).await.is_ok());
        assert_eq!(gate.users_tracked(), 0);
    }
}
