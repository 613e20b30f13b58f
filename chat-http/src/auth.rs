//! Authentication: the pluggable [`Authenticator`] of bearer tokens, the [`TokenIssuer`] that
//! sign-in uses, and [`NoBearerTokens`] for hosts whose people never carry one. The HS256 JWT
//! reference is [`crate::jwt`] (feature `jwt`).

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use chat_core::{Error, Result, UserId};

/// Turns a bearer token into a user id.
///
/// A host with its own identity provider implements it with the re-exported
/// [`async_trait`](crate::async_trait) (the trait is used as `dyn Authenticator`, which native
/// `async fn` in traits does not allow), so it needs no dependency of its own:
///
/// ```
/// use chat_core::{Error, Result, UserId};
///
/// /// Accepts the tokens of a session table the host keeps.
/// #[derive(Debug)]
/// struct Sessions(std::collections::HashMap<String, UserId>);
///
/// #[chat_http::async_trait]
/// impl chat_http::Authenticator for Sessions {
///     async fn authenticate(&self, token: &str) -> Result<UserId> {
///         self.0.get(token).copied().ok_or(Error::Unauthenticated)
///     }
/// }
///
/// # let auth: std::sync::Arc<dyn chat_http::Authenticator> = std::sync::Arc::new(Sessions(Default::default()));
/// # let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # let user = runtime.block_on(auth.authenticate("nope"));
/// # assert!(matches!(user, Err(Error::Unauthenticated)));
/// ```
#[async_trait]
pub trait Authenticator: fmt::Debug + Send + Sync + 'static {
    /// The user the token belongs to.
    ///
    /// # Errors
    /// [`Error::Unauthenticated`] for a missing, malformed, expired or forged token.
    async fn authenticate(&self, token: &str) -> Result<UserId>;
}

/// Accepts no bearer token of its own: for a host whose people sign in through its session
/// ([`RequestAuthenticator`](crate::RequestAuthenticator)) and never carry a token. Bots'
/// tokens still work (every [`AppState`](crate::AppState) checks them first).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoBearerTokens;

#[async_trait]
impl Authenticator for NoBearerTokens {
    async fn authenticate(&self, _token: &str) -> Result<UserId> {
        Err(Error::Unauthenticated)
    }
}

/// The router's authenticator: bots' tokens (`cbt_…`, see [`chat_core::bot_token`]) are
/// checked against the store, everything else goes to the host's authenticator. Every
/// [`AppState`](crate::AppState) wraps its authenticator in one, so bots work whatever the
/// host authenticates people with.
#[derive(Debug)]
pub(crate) struct WithBotTokens {
    pub(crate) chat: std::sync::Arc<chat_core::ChatService>,
    pub(crate) people: std::sync::Arc<dyn Authenticator>,
}

#[async_trait]
impl Authenticator for WithBotTokens {
    async fn authenticate(&self, token: &str) -> Result<UserId> {
        if token.starts_with(chat_core::bot_token::PREFIX) {
            self.chat.authenticate_bot_token(token).await
        } else {
            self.people.authenticate(token).await
        }
    }
}

/// Issues bearer tokens for users, for sign-in ([`crate::accounts`]): implemented by
/// `JwtAuthenticator` (feature `jwt`), and by any host whose tokens its own [`Authenticator`] verifies.
pub trait TokenIssuer: fmt::Debug + Send + Sync + 'static {
    /// A token that authenticates `user` for `ttl`.
    ///
    /// # Errors
    /// Whatever stops the issuer (signing failed, say).
    fn issue(&self, user: UserId, ttl: Duration) -> Result<String>;
}
