//! [`JwtAuthenticator`]: HS256 JWTs whose `sub` claim is the user id, signed with a shared
//! secret. The reference [`Authenticator`] and [`TokenIssuer`]; behind the feature `jwt`, so a
//! host that authenticates its own way compiles no JWT code.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use chat_core::{Error, Result, UserId};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::auth::{Authenticator, TokenIssuer};

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
