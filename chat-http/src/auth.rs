//! Authentication: the pluggable [`Authenticator`], and [`JwtAuthenticator`], the HS256
//! reference whose `sub` claim is the user id.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use chat_core::{Error, Result, UserId};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

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
/// [`JwtAuthenticator`], and by any host whose tokens its own [`Authenticator`] verifies.
pub trait TokenIssuer: fmt::Debug + Send + Sync + 'static {
    /// A token that authenticates `user` for `ttl`.
    ///
    /// # Errors
    /// Whatever stops the issuer (signing failed, say).
    fn issue(&self, user: UserId, ttl: Duration) -> Result<String>;
}

impl TokenIssuer for JwtAuthenticator {
    fn issue(&self, user: UserId, ttl: Duration) -> Result<String> {
        JwtAuthenticator::issue(self, user, ttl)
    }
}

/// The JWT claims chat-engine reads and writes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    /// Expiry, in seconds since the Unix epoch.
    pub exp: u64,
    /// Issue time, in seconds since the Unix epoch.
    pub iat: u64,
}

/// HS256 JWTs signed with a shared secret.
pub struct JwtAuthenticator {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl fmt::Debug for JwtAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the key.
        f.debug_struct("JwtAuthenticator").finish_non_exhaustive()
    }
}

impl JwtAuthenticator {
    /// Expiry is checked with 5 s of leeway: enough for clock skew between hosts, short
    /// enough that an expired token stops working almost at once.
    pub const LEEWAY: Duration = Duration::from_secs(5);

    /// An authenticator for tokens signed with `secret`.
    #[must_use]
    pub fn new(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = Self::LEEWAY.as_secs();
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    /// Issues a token for `user`, valid for `ttl`.
    ///
    /// # Errors
    /// [`Error::Internal`] if signing fails.
    pub fn issue(&self, user: UserId, ttl: Duration) -> Result<String> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let claims = Claims {
            sub: user.to_string(),
            iat: now,
            exp: now + ttl.as_secs(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(Error::internal)
    }
}

#[async_trait]
impl Authenticator for JwtAuthenticator {
    async fn authenticate(&self, token: &str) -> Result<UserId> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| Error::Unauthenticated)?;
        data.claims.sub.parse().map_err(|_| Error::Unauthenticated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tokens_round_trip_and_forgeries_fail() {
        let auth = JwtAuthenticator::new(b"secret-one");
        let user = UserId::new();
        let token = auth.issue(user, Duration::from_secs(60)).unwrap();
        assert_eq!(auth.authenticate(&token).await.unwrap(), user);
        let other = JwtAuthenticator::new(b"secret-two");
        assert!(matches!(
            other.authenticate(&token).await,
            Err(Error::Unauthenticated)
        ));
        assert!(matches!(
            auth.authenticate("not.a.jwt").await,
            Err(Error::Unauthenticated)
        ));
        let expired = {
            let claims = Claims {
                sub: user.to_string(),
                iat: 0,
                exp: 1,
            };
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &auth.encoding).unwrap()
        };
        assert!(matches!(
            auth.authenticate(&expired).await,
            Err(Error::Unauthenticated)
        ));
        assert!(!format!("{auth:?}").contains("secret"));
    }
}
