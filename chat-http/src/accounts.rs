//! Sign-up and sign-in with email and password, for deployments without their own identity
//! provider (the example server is one). Both return the JWT that [`JwtAuthenticator`](crate::JwtAuthenticator)
//! verifies, so every other route works unchanged.
//!
//! - Passwords are hashed with argon2id (OWASP's parameters: 19 MiB, two passes) on the
//!   blocking pool, at most [`AccountsConfig::max_concurrent_hashes`] at a time, so a flood of
//!   sign-ins cannot take the server's memory. Only the hash is stored; request bodies are
//!   never logged, and the request types print no password.
//! - A wrong email and a wrong password get the same answer (401 `invalid_credentials`), in
//!   about the same time: an unknown email is checked against a dummy hash.
//! - Attempts are rate limited per email and per client address (429 with `Retry-After`).
//!
//! Enable with [`AppState::with_accounts`](crate::AppState::with_accounts); without it the
//! routes answer 404.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::Extension;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chat_core::{Error, EventId, EventRole, ProfileInput, User, UserId};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::TokenIssuer;
use crate::error::{ApiError, ErrorEnvelope, error_response};
use crate::extract::ApiJson;
use crate::state::AppState;

/// Shortest password accepted, in characters (NIST SP 800-63B's minimum).
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password accepted, in bytes: long enough for any passphrase, short enough that
/// hashing it costs nothing extra.
pub const MAX_PASSWORD_BYTES: usize = 256;

/// How accounts behave.
#[derive(Debug, Clone)]
pub struct AccountsConfig {
    /// How long an issued token stays valid.
    pub token_ttl: Duration,
    /// Sign-in attempts allowed per email in [`attempt_window`](Self::attempt_window).
    pub attempts_per_email: usize,
    /// Sign-in and sign-up attempts allowed per client IP address in the window.
    pub attempts_per_ip: usize,
    /// The window of the two limits above.
    pub attempt_window: Duration,
    /// Password hashes computed at once. Each takes 19 MiB and a core for tens of
    /// milliseconds; more than the core count only queues.
    pub max_concurrent_hashes: usize,
    /// An event every new account joins as a member, added by the given user (an admin of
    /// it). The example server uses this to put newcomers into its demo event.
    pub welcome_event: Option<(EventId, UserId)>,
}

impl Default for AccountsConfig {
    fn default() -> Self {
        Self {
            token_ttl: Duration::from_secs(24 * 3600),
            attempts_per_email: 10,
            attempts_per_ip: 30,
            attempt_window: Duration::from_secs(60),
            max_concurrent_hashes: std::thread::available_parallelism().map_or(2, |n| n.get()),
            welcome_event: None,
        }
    }
}

/// Sign-up and sign-in: the token issuer, the hasher and the attempt limits.
pub struct Accounts {
    issuer: Arc<dyn TokenIssuer>,
    config: AccountsConfig,
    hashing: Semaphore,
    /// A hash of a random password, verified when the email is unknown so that the answer
    /// takes as long as for a wrong password.
    dummy_hash: String,
    attempts: AttemptLimiter,
}

impl fmt::Debug for Accounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Accounts")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Accounts {
    /// Accounts that issue tokens with `issuer` (whose tokens the router's authenticator
    /// verifies: a [`JwtAuthenticator`](crate::JwtAuthenticator), or the host's own).
    ///
    /// # Errors
    /// [`Error::Internal`] if the dummy hash cannot be computed (it never fails in practice).
    pub fn new(issuer: Arc<dyn TokenIssuer>, config: AccountsConfig) -> chat_core::Result<Self> {
        let dummy_hash = hash_password(&uuid::Uuid::new_v4().to_string())?;
        Ok(Self {
            issuer,
            hashing: Semaphore::new(config.max_concurrent_hashes.max(1)),
            attempts: AttemptLimiter::new(config.attempt_window),
            config,
            dummy_hash,
        })
    }

    /// Runs a hashing job on the blocking pool, at most `max_concurrent_hashes` at a time.
    async fn hashing<T, F>(&self, job: F) -> chat_core::Result<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let _permit = self
            .hashing
            .acquire()
            .await
            .map_err(|_| Error::unavailable("the password hasher is shut down"))?;
        tokio::task::spawn_blocking(job)
            .await
            .map_err(Error::internal)
    }

    fn issue(&self, user: User) -> chat_core::Result<Session> {
        Ok(Session {
            token: self.issuer.issue(user.id, self.config.token_ttl)?,
            expires_in_secs: self.config.token_ttl.as_secs(),
            user,
        })
    }
}

/// Hashes a password with argon2id and a random salt, as sign-up does (a PHC string for
/// [`ChatService::create_account`](chat_core::ChatService::create_account)). Blocking and
/// deliberately slow: call it off the async runtime's worker threads when serving requests.
///
/// # Errors
/// [`Error::Internal`] if hashing fails (it does not for passwords within the limits).
pub fn hash_password(password: &str) -> chat_core::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::internal(e.to_string()))
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

fn validate_password(password: &str) -> chat_core::Result<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(Error::validation(
            "password",
            format!("too short (min {MIN_PASSWORD_CHARS} characters)"),
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(Error::validation(
            "password",
            format!("too long (max {MAX_PASSWORD_BYTES} bytes)"),
        ));
    }
    if password.chars().any(char::is_control) {
        return Err(Error::validation(
            "password",
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// Sliding-window attempt counts per key (an email or an address).
#[derive(Debug)]
struct AttemptLimiter {
    window: Duration,
    attempts: Mutex<HashMap<String, VecDeque<Instant>>>,
}

/// Keys kept before expired ones are swept, so a spray of distinct emails cannot grow the map
/// without bound.
const SWEEP_ABOVE_KEYS: usize = 10_000;

impl AttemptLimiter {
    fn new(window: Duration) -> Self {
        Self {
            window,
            attempts: Mutex::default(),
        }
    }

    /// Counts an attempt under `key`, or refuses it with how long to wait when `max` attempts
    /// already fall inside the window.
    fn check(&self, key: String, max: usize, now: Instant) -> chat_core::Result<()> {
        let mut map = self.attempts.lock().unwrap_or_else(PoisonError::into_inner);
        let window = self.window;
        let expired = |t: &Instant| now.duration_since(*t) >= window;
        if map.len() > SWEEP_ABOVE_KEYS {
            map.retain(|_, times| times.back().is_some_and(|t| !expired(t)));
        }
        let times = map.entry(key).or_default();
        while times.front().is_some_and(expired) {
            times.pop_front();
        }
        if times.len() >= max {
            let oldest = times.front().copied().unwrap_or(now);
            let retry_after = window.saturating_sub(now.duration_since(oldest));
            return Err(Error::RateLimited {
                retry_after: retry_after.max(Duration::from_millis(1)),
            });
        }
        times.push_back(now);
        Ok(())
    }
}

/// The body of `POST /v1/auth/sign-up`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct SignUp {
    /// The email to sign in with; case and surrounding spaces do not matter.
    pub email: String,
    /// 8 or more characters (at most 256 bytes).
    pub password: String,
    /// The name shown to others, 1 to 64 characters.
    pub display_name: String,
}

/// The body of `POST /v1/auth/sign-in`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct SignIn {
    /// The account's email.
    pub email: String,
    /// Its password.
    pub password: String,
}

// Hand-written so that no log line or panic message can ever carry a password.
impl fmt::Debug for SignUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignUp")
            .field("email", &self.email)
            .field("display_name", &self.display_name)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for SignIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignIn")
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

/// A signed-in session: the bearer token and who it is for.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Session {
    /// The bearer token for `Authorization: Bearer …` and the WebSocket's `token`.
    pub token: String,
    /// Seconds until the token expires.
    pub expires_in_secs: u64,
    /// The signed-in user's profile.
    pub user: User,
}

/// Why an account request failed: a core error, or the one deliberately vague answer to bad
/// credentials.
enum AccountError {
    Api(ApiError),
    InvalidCredentials,
}

impl From<Error> for AccountError {
    fn from(e: Error) -> Self {
        Self::Api(ApiError(e))
    }
}

impl IntoResponse for AccountError {
    fn into_response(self) -> Response {
        match self {
            Self::Api(e) => e.into_response(),
            Self::InvalidCredentials => error_response(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "wrong email or password",
            ),
        }
    }
}

/// The enabled accounts, or 404 when this server does not offer them.
fn enabled(state: &AppState) -> Result<&Accounts, AccountError> {
    state
        .accounts
        .as_deref()
        .ok_or(AccountError::Api(ApiError(Error::NotFound {
            what: "accounts (not enabled on this server)",
        })))
}

/// The client's address, when the server was started with connect info (as
/// [`serve`](crate::serve) does). Behind a proxy this is the proxy: put the limit there.
fn client_ip(info: Option<Extension<ConnectInfo<SocketAddr>>>) -> Option<IpAddr> {
    info.map(|Extension(ConnectInfo(addr))| addr.ip())
}

fn check_ip(accounts: &Accounts, ip: Option<IpAddr>, now: Instant) -> chat_core::Result<()> {
    match ip {
        Some(ip) => {
            accounts
                .attempts
                .check(format!("ip:{ip}"), accounts.config.attempts_per_ip, now)
        }
        None => Ok(()),
    }
}

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(sign_up))
        .routes(routes!(sign_in))
}

/// Creates an account and its profile, and signs it in.
#[utoipa::path(post, path = "/auth/sign-up", tag = "accounts", request_body = SignUp, responses((status = 201, body = Session, description = "the new account's session"), (status = 409, body = ErrorEnvelope, description = "the email already has an account"), (status = "default", body = ErrorEnvelope, description = "an error; see the error codes")))]
async fn sign_up(
    State(s): State<AppState>,
    info: Option<Extension<ConnectInfo<SocketAddr>>>,
    ApiJson(body): ApiJson<SignUp>,
) -> Result<(StatusCode, ApiJson<Session>), AccountError> {
    let accounts = enabled(&s)?;
    check_ip(accounts, client_ip(info), Instant::now())?;
    // Everything that can be refused is checked before the (deliberately slow) hash.
    chat_core::account::normalize_email(&body.email)?;
    validate_password(&body.password)?;
    let password = body.password;
    let hash = accounts.hashing(move || hash_password(&password)).await??;
    let profile = ProfileInput {
        display_name: body.display_name,
        avatar_url: None,
    };
    let (_, user) = s.chat.create_account(&body.email, hash, profile).await?;
    tracing::info!(user = %user.id, "account created");
    if let Some((event, added_by)) = accounts.config.welcome_event {
        // The account exists either way; a failed welcome only costs the newcomer an invite.
        if let Err(e) = s
            .chat
            .add_event_member(added_by, event, user.id, EventRole::Member)
            .await
        {
            tracing::warn!(user = %user.id, error = %e, "could not add the new account to the welcome event");
        }
    }
    Ok((StatusCode::CREATED, ApiJson(accounts.issue(user)?)))
}

/// Signs in with email and password. A wrong email and a wrong password get the same 401.
#[utoipa::path(post, path = "/auth/sign-in", tag = "accounts", request_body = SignIn, responses((status = 200, body = Session, description = "a session"), (status = 401, body = ErrorEnvelope, description = "wrong email or password (`invalid_credentials`)"), (status = 429, body = ErrorEnvelope, description = "too many attempts for this email or address"), (status = "default", body = ErrorEnvelope, description = "an error; see the error codes")))]
async fn sign_in(
    State(s): State<AppState>,
    info: Option<Extension<ConnectInfo<SocketAddr>>>,
    ApiJson(body): ApiJson<SignIn>,
) -> Result<ApiJson<Session>, AccountError> {
    let accounts = enabled(&s)?;
    let now = Instant::now();
    check_ip(accounts, client_ip(info), now)?;
    let email = chat_core::account::normalize_email(&body.email)
        .unwrap_or_else(|_| body.email.trim().to_lowercase());
    accounts.attempts.check(
        format!("email:{email}"),
        accounts.config.attempts_per_email,
        now,
    )?;
    let account = s.chat.account_by_email(&body.email).await?;
    let hash = account
        .as_ref()
        .map_or_else(|| accounts.dummy_hash.clone(), |a| a.password_hash.clone());
    let password = body.password;
    let matches = accounts
        .hashing(move || verify_password(&password, &hash))
        .await?;
    match account {
        Some(account) if matches => {
            let user = s.chat.get_profile(account.user_id, account.user_id).await?;
            Ok(ApiJson(accounts.issue(user)?))
        }
        _ => Err(AccountError::InvalidCredentials),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ_per_salt() {
        let a = hash_password("correct horse").unwrap();
        let b = hash_password("correct horse").unwrap();
        assert_ne!(a, b, "each hash has its own salt");
        assert!(a.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &a));
        assert!(!verify_password("correct hors", &a));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn attempt_limiter_refuses_past_max_and_recovers_after_the_window() {
        let limiter = AttemptLimiter::new(Duration::from_secs(60));
        let t0 = Instant::now();
        for i in 0..3 {
            limiter
                .check("k".into(), 3, t0 + Duration::from_secs(i))
                .unwrap();
        }
        match limiter.check("k".into(), 3, t0 + Duration::from_secs(10)) {
            Err(Error::RateLimited { retry_after }) => {
                assert_eq!(retry_after, Duration::from_secs(50));
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        limiter
            .check("other".into(), 3, t0 + Duration::from_secs(10))
            .unwrap();
        limiter
            .check("k".into(), 3, t0 + Duration::from_secs(60))
            .unwrap();
    }

    #[test]
    fn password_rules() {
        assert!(validate_password("short").is_err());
        assert!(validate_password("long enough").is_ok());
        assert!(validate_password("with\u{0}nul!").is_err());
        assert!(validate_password(&"x".repeat(257)).is_err());
    }
}
