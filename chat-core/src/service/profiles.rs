//! Profiles and sign-in accounts.

use super::ChatService;
use crate::account::{self, Account};
use crate::error::{Error, Result};
use crate::id::UserId;
use crate::user::{ProfileInput, User};

impl ChatService {
    /// Creates or updates the caller's profile.
    ///
    /// # Errors
    /// [`Error::Validation`] on `display_name` or `avatar_url`.
    pub async fn upsert_profile(&self, actor: UserId, input: ProfileInput) -> Result<User> {
        let display_name = self.validated_display_name(&input)?;
        let now = self.clock.now();
        self.store
            .upsert_user(User {
                id: actor,
                display_name,
                avatar_url: input.avatar_url,
                created_at: now,
                updated_at: now,
                is_bot: false,
            })
            .await
    }

    /// A user's profile, for the user themself and for people who share an event with them.
    ///
    /// # Errors
    /// [`Error::NotFound`] when the user has no profile or shares no event with the caller:
    /// the two look the same, so profiles cannot be enumerated by id.
    pub async fn get_profile(&self, actor: UserId, user: UserId) -> Result<User> {
        if actor != user && !self.share_an_event(actor, user).await? {
            return Err(Error::NotFound { what: "user" });
        }
        self.require_profile(user).await
    }

    /// Whether two users belong to a common event.
    async fn share_an_event(&self, a: UserId, b: UserId) -> Result<bool> {
        for summary in self.store.events_of_user(a).await? {
            if self
                .store
                .get_event_member(summary.event.id, b)
                .await?
                .is_some()
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    // ----- accounts -----

    /// Creates a sign-in account and the user's profile together, under a new user id.
    /// `password_hash` must already be a hash (chat-http uses argon2); the core never sees a
    /// password.
    ///
    /// # Errors
    /// [`Error::Validation`] on `email`, `display_name` or `avatar_url`;
    /// [`Error::Conflict`] when the email already has an account (nothing is stored).
    pub async fn create_account(
        &self,
        email: &str,
        password_hash: String,
        profile: ProfileInput,
    ) -> Result<(Account, User)> {
        let email = account::normalize_email(email)?;
        let display_name = self.validated_display_name(&profile)?;
        let now = self.clock.now();
        let id = UserId::new();
        let account = Account {
            user_id: id,
            email,
            password_hash,
            created_at: now,
        };
        let user = self
            .store
            .create_account(
                account.clone(),
                User {
                    id,
                    display_name,
                    avatar_url: profile.avatar_url,
                    created_at: now,
                    updated_at: now,
                    is_bot: false,
                },
            )
            .await?;
        Ok((account, user))
    }

    /// The account an email signs in to. An email that is not a valid address has no
    /// account, so a sign-in with one fails like any other unknown email.
    ///
    /// # Errors
    /// The store's errors.
    pub async fn account_by_email(&self, email: &str) -> Result<Option<Account>> {
        match account::normalize_email(email) {
            Ok(email) => self.store.account_by_email(&email).await,
            Err(_) => Ok(None),
        }
    }
}
