//! Extractors whose rejections are [`ApiError`]s, so bad input gets the same JSON error body as
//! everything else, and [`Caller`], the authenticated user.

use axum::extract::{FromRequest, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use chat_core::{Error, UserId};
use serde::Serialize;

use crate::error::ApiError;
use crate::state::AppState;

/// A JSON body (rejections: 400 malformed, 413 too large, 415 wrong content type).
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

impl<T: Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Path parameters (rejection: 400 on field `path`).
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// Query parameters (rejection: 400 on field `query`).
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// The authenticated caller, from `Authorization: Bearer <token>`. The scheme is matched
/// ignoring case (RFC 9110, section 11.1), so `bearer` and `BEARER` work too.
#[derive(Debug, Clone, Copy)]
pub struct Caller(pub UserId);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        caller_from_headers(&parts.headers, state).await.map(Self)
    }
}

/// The user a request's bearer token names, for handlers that authenticate only on some
/// paths (a signed link needs no token) or that take the whole request.
pub(crate) async fn caller_from_headers(
    headers: &axum::http::HeaderMap,
    state: &AppState,
) -> Result<UserId, ApiError> {
    let token = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token)
        .ok_or(ApiError(Error::Unauthenticated))?;
    Ok(state.auth.authenticate(token.trim()).await?)
}

/// The token of a `Bearer` credential: the scheme ignoring case, then one or more spaces.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim_start_matches(' '))
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::bearer_token;

    #[test]
    fn the_bearer_scheme_ignores_case() {
        for value in ["Bearer abc", "bearer abc", "BEARER abc", "bEaReR   abc"] {
            assert_eq!(bearer_token(value), Some("abc"), "{value}");
        }
        for value in ["Basic abc", "Bearer", "Bearer ", "Bearerabc", "abc"] {
            assert_eq!(bearer_token(value), None, "{value}");
        }
    }
}
