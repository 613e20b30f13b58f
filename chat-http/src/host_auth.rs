//! Callers the host authenticates: from its session cookie, or from what its own middleware
//! put in the request's extensions, beside (or instead of) bearer tokens.
//!
//! A host with its own sign-in (tower-sessions, axum-login, anything) gives
//! [`AppState::with_request_auth`](crate::AppState::with_request_auth) a
//! [`RequestAuthenticator`]. Each request is then authenticated in this order:
//!
//! 1. an `Authorization: Bearer` token, as before (bots' tokens, and the bearer
//!    [`Authenticator`](crate::Authenticator));
//! 2. otherwise the host's [`RequestAuthenticator`], which reads the request's cookies or
//!    extensions. The simplest is [`FromExtensions`]: the host's middleware inserts a
//!    [`HostUser`] and chat takes it as the caller. WebSocket upgrades go the same way (cookies
//!    arrive with the upgrade), so the browser needs no token at all.
//!
//! # Cross-site requests
//!
//! A cookie goes with every request the browser makes to the host, including those another
//! site's page starts. So a caller authenticated by the host (never by a bearer token) is
//! refused with 403 when the request changes something (any method but `GET`, `HEAD` and
//! `OPTIONS`) or opens a WebSocket, and comes from another origin: its `Origin` header is
//! neither the request's own `Host` nor one of [`HttpConfig::allowed_origins`]; or it has no
//! `Origin` and `Sec-Fetch-Site: cross-site`. (A request with neither header does not come
//! from a browser page.)
//!
//! Because the host is asked on every request, its logout ends chat access at once.
//!
//! [`HttpConfig::allowed_origins`]: crate::HttpConfig::allowed_origins

use std::fmt;

use async_trait::async_trait;
use axum::http::header::{HOST, ORIGIN};
use axum::http::{Extensions, HeaderMap, Method};
use chat_core::{Error, Result, UserId};

/// Finds the user a request comes from, by the host's own means.
#[async_trait]
pub trait RequestAuthenticator: fmt::Debug + Send + Sync + 'static {
    /// The caller, from the request's `headers` (its cookies) or the `extensions` the host's
    /// middleware set; `None` when the request is not signed in.
    ///
    /// # Errors
    /// Whatever stops the host from telling (its session store is down, say).
    async fn caller(&self, headers: &HeaderMap, extensions: &Extensions) -> Result<Option<UserId>>;
}

/// The user the host's middleware authenticated, as it puts it in a request's extensions for
/// [`FromExtensions`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostUser(pub UserId);

/// Takes the caller from the [`HostUser`] the host's middleware inserted.
#[derive(Debug, Clone, Copy, Default)]
pub struct FromExtensions;

#[async_trait]
impl RequestAuthenticator for FromExtensions {
    async fn caller(&self, _: &HeaderMap, extensions: &Extensions) -> Result<Option<UserId>> {
        Ok(extensions.get::<HostUser>().map(|u| u.0))
    }
}

/// Refuses a request authenticated by ambient credentials (cookies) that changes something or
/// opens a WebSocket from another site (see the module docs).
///
/// # Errors
/// [`Error::Forbidden`] for a cross-site request.
pub(crate) fn same_site(
    method: &Method,
    headers: &HeaderMap,
    websocket: bool,
    allowed: &[String],
) -> Result<()> {
    let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    if safe && !websocket {
        return Ok(());
    }
    let refused = || Error::Forbidden {
        reason: "a cross-site request; this origin is not allowed",
    };
    match headers.get(ORIGIN).and_then(|v| v.to_str().ok()) {
        Some(origin) => {
            let own = headers
                .get(HOST)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|host| authority(origin) == Some(host));
            if own || allowed.iter().any(|a| a == origin) {
                Ok(())
            } else {
                Err(refused())
            }
        }
        None => {
            let cross = headers
                .get("sec-fetch-site")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.eq_ignore_ascii_case("cross-site"));
            if cross { Err(refused()) } else { Ok(()) }
        }
    }
}

/// The `host[:port]` of an origin such as `https://chat.example:8443`.
fn authority(origin: &str) -> Option<&str> {
    let (_, rest) = origin.split_once("://")?;
    Some(rest.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn only_cross_site_changes_are_refused() {
        let allowed = ["https://app.example".to_owned()];
        let check = |method: Method, ws: bool, pairs: &[(&'static str, &str)]| {
            same_site(&method, &headers(pairs), ws, &allowed).is_ok()
        };
        let evil = [("host", "chat.example"), ("origin", "https://evil.example")];
        assert!(check(Method::GET, false, &evil), "a read changes nothing");
        assert!(!check(Method::POST, false, &evil));
        assert!(!check(Method::DELETE, false, &evil));
        assert!(
            !check(Method::GET, true, &evil),
            "a WebSocket from another site"
        );
        let own = [("host", "chat.example"), ("origin", "https://chat.example")];
        assert!(check(Method::POST, false, &own));
        assert!(check(Method::GET, true, &own));
        let listed = [("host", "internal:8080"), ("origin", "https://app.example")];
        assert!(check(Method::POST, false, &listed));
        assert!(!check(
            Method::POST,
            false,
            &[("host", "chat.example"), ("sec-fetch-site", "cross-site")]
        ));
        assert!(check(
            Method::POST,
            false,
            &[("host", "chat.example"), ("sec-fetch-site", "same-origin")]
        ));
        assert!(
            check(Method::POST, false, &[("host", "chat.example")]),
            "not a browser page"
        );
    }
}
