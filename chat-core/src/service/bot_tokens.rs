//! Bots' tokens: issued, listed and revoked by the owners and admins of the bot's event, and
//! checked against the store on every use (see [`crate::bot_token`]).

use std::time::Duration;

use super::ChatService;
use crate::bot_token::{self, BotToken, IssuedBotToken};
use crate::error::{Error, Result};
use crate::id::{BotTokenId, EventId, UserId};
use crate::permission::require_event_admin;

/// The longest a bot token may live: a year. A token is a standing credential; hosts rotate
/// them by issuing a new one and revoking the old.
pub const MAX_BOT_TOKEN_TTL: Duration = Duration::from_secs(365 * 24 * 3600);

impl ChatService {
    /// Issues a token for `bot`, a bot of `event`, valid for `ttl` (owners and admins of the
    /// event). The answer carries the token, shown this once.
    ///
    /// # Errors
    /// [`Error::NotFound`] for a hidden event, and (`bot`) for a user that is not a bot of
    /// the event; [`Error::Forbidden`] for a plain member; [`Error::Validation`] on `ttl` for
    /// zero or more than [`MAX_BOT_TOKEN_TTL`].
    pub async fn issue_bot_token(
        &self,
        actor: UserId,
        event: EventId,
        bot: UserId,
        ttl: Duration,
    ) -> Result<IssuedBotToken> {
        self.require_bot_of_event(actor, event, bot).await?;
        if ttl.is_zero() || ttl > MAX_BOT_TOKEN_TTL {
            return Err(Error::validation(
                "ttl",
                format!("from 1 s to {} days", MAX_BOT_TOKEN_TTL.as_secs() / 86_400),
            ));
        }
        let id = BotTokenId::new();
        let (token, secret_sha256) = bot_token::mint(id);
        let now = self.clock.now();
        let record = BotToken {
            id,
            bot_id: bot,
            event_id: event,
            created_by: actor,
            created_at: now,
            expires_at: now.saturating_add(ttl),
            revoked_at: None,
            secret_sha256,
        };
        self.store.insert_bot_token(record.clone()).await?;
        Ok(IssuedBotToken { token, record })
    }

    /// A bot's tokens, newest first, revoked and expired ones included (owners and admins).
    ///
    /// # Errors
    /// As [`issue_bot_token`](Self::issue_bot_token).
    pub async fn bot_tokens(
        &self,
        actor: UserId,
        event: EventId,
        bot: UserId,
    ) -> Result<Vec<BotToken>> {
        self.require_bot_of_event(actor, event, bot).await?;
        self.store.bot_tokens(bot).await
    }

    /// Revokes one of a bot's tokens (owners and admins): from now on, on every instance
    /// sharing the store, it authenticates nobody. Revoking twice keeps the first time.
    ///
    /// # Errors
    /// As [`issue_bot_token`](Self::issue_bot_token), and [`Error::NotFound`]
    /// (`bot token`) for a token that is not this bot's.
    pub async fn revoke_bot_token(
        &self,
        actor: UserId,
        event: EventId,
        bot: UserId,
        token: BotTokenId,
    ) -> Result<BotToken> {
        self.require_bot_of_event(actor, event, bot).await?;
        let hidden = || Error::NotFound { what: "bot token" };
        let found = self.store.get_bot_token(token).await?.ok_or_else(hidden)?;
        if found.bot_id != bot || found.event_id != event {
            return Err(hidden());
        }
        self.store
            .revoke_bot_token(token, self.clock.now())
            .await?
            .ok_or_else(hidden)
    }

    /// The bot a bearer token names, for transports: the token must be one this engine
    /// issued, live (neither revoked nor expired) and its secret must match.
    ///
    /// # Errors
    /// [`Error::Unauthenticated`] for anything else, without saying which.
    pub async fn authenticate_bot_token(&self, token: &str) -> Result<UserId> {
        let (id, secret) = bot_token::parse(token).ok_or(Error::Unauthenticated)?;
        let record = self
            .store
            .get_bot_token(id)
            .await?
            .ok_or(Error::Unauthenticated)?;
        let matches = bot_token::digest(secret) == record.secret_sha256;
        if matches && record.is_live(self.clock.now()) {
            Ok(record.bot_id)
        } else {
            Err(Error::Unauthenticated)
        }
    }

    async fn require_bot_of_event(&self, actor: UserId, event: EventId, bot: UserId) -> Result<()> {
        require_event_admin(self.event_role(actor, event).await?)?;
        let is_bot = self.store.get_user(bot).await?.is_some_and(|u| u.is_bot);
        let in_event = self.store.get_event_member(event, bot).await?.is_some();
        if is_bot && in_event {
            Ok(())
        } else {
            Err(Error::NotFound { what: "bot" })
        }
    }
}
