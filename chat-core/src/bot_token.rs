//! Bots' tokens: opaque, stored, listed and revocable.
//!
//! A bot (a service account, see [`ChatService::create_bot`](crate::ChatService::create_bot))
//! authenticates with a token the engine issues: `cbt_<token id>_<secret>`. The store keeps the
//! token's record and a SHA-256 of its secret, never the secret, so a token is shown once, when
//! it is issued. Every use is checked against the store
//! ([`ChatService::authenticate_bot_token`](crate::ChatService::authenticate_bot_token)), so a
//! revoked or expired token is refused at once, on every instance sharing the store. Unlike a
//! signed token (a JWT), nothing about it can outlive its record.

use std::fmt;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::clock::Timestamp;
use crate::error::Result;
use crate::id::{BotTokenId, EventId, UserId};

/// The prefix of every bot token, so a transport (or a secret scanner) can tell one at a
/// glance.
pub const PREFIX: &str = "cbt_";

/// A bot token's record, as stored and listed: everything but the secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BotToken {
    /// Its id.
    pub id: BotTokenId,
    /// The bot it authenticates.
    pub bot_id: UserId,
    /// The event whose owners and admins manage it.
    pub event_id: EventId,
    /// Who issued it.
    pub created_by: UserId,
    /// When.
    pub created_at: Timestamp,
    /// When it stops working.
    pub expires_at: Timestamp,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
    /// SHA-256 of its secret, hex; the store compares against it. Never serialized.
    #[serde(skip)]
    #[cfg_attr(feature = "openapi", schema(ignore))]
    pub secret_sha256: String,
}

impl fmt::Debug for BotToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BotToken")
            .field("id", &self.id)
            .field("bot_id", &self.bot_id)
            .field("event_id", &self.event_id)
            .field("expires_at", &self.expires_at)
            .field("revoked_at", &self.revoked_at)
            .finish_non_exhaustive()
    }
}

impl BotToken {
    /// Whether it authenticates at `now`: not revoked, not expired.
    #[must_use]
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

/// A freshly issued token: its record, and the token itself, shown this once.
#[derive(Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IssuedBotToken {
    /// The bearer token: `cbt_<id>_<secret>`.
    pub token: String,
    /// Its record.
    #[serde(flatten)]
    pub record: BotToken,
}

impl fmt::Debug for IssuedBotToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedBotToken")
            .field("record", &self.record)
            .finish_non_exhaustive()
    }
}

/// Where bot tokens are kept (part of [`Store`](crate::Store)).
#[async_trait]
pub trait BotTokenStore: fmt::Debug + Send + Sync + 'static {
    /// Records a new token.
    ///
    /// # Errors
    /// [`Error::Conflict`](crate::Error::Conflict) when its id is taken.
    async fn insert_bot_token(&self, token: BotToken) -> Result<()>;

    /// A token's record, if stored.
    async fn get_bot_token(&self, id: BotTokenId) -> Result<Option<BotToken>>;

    /// A bot's tokens, newest first, revoked and expired ones included.
    async fn bot_tokens(&self, bot: UserId) -> Result<Vec<BotToken>>;

    /// Marks a token revoked at `at`; a token revoked already keeps its first time. Returns
    /// the record, or `None` when there is no such token.
    async fn revoke_bot_token(&self, id: BotTokenId, at: Timestamp) -> Result<Option<BotToken>>;
}

/// A new token's text and the SHA-256 its record keeps.
pub(crate) fn mint(id: BotTokenId) -> (String, String) {
    let secret = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let token = format!("{PREFIX}{}_{secret}", id.as_uuid().simple());
    (token, digest(&secret))
}

/// The id and secret of a token's text, if it has the shape of one.
pub(crate) fn parse(token: &str) -> Option<(BotTokenId, &str)> {
    let rest = token.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let id = uuid::Uuid::try_parse(id).ok()?;
    let well_formed = secret.len() == 64 && secret.bytes().all(|b| b.is_ascii_hexdigit());
    well_formed.then_some((BotTokenId::from_uuid(id), secret))
}

/// SHA-256 of a secret, hex.
pub(crate) fn digest(secret: &str) -> String {
    format!("{:x}", Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_parse_back_and_forgeries_do_not() {
        let id = BotTokenId::new();
        let (token, sha) = mint(id);
        let (parsed, secret) = parse(&token).unwrap();
        assert_eq!(parsed, id);
        assert_eq!(digest(secret), sha);
        for bad in [
            "",
            "cbt_",
            "cbt_x_y",
            &token.replace("cbt_", "cbx_"),
            &token[..token.len() - 1],
            &format!("{token}0"),
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }
}
