//! Extractors whose rejections are [`ApiError`]s, so bad input gets the same JSON error body as
//! everything else, and [`Caller`], the authenticated user.

use axum::extract::{FromRequest, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use chat_core::{Error, UserId};
use serde::de::value::MapAccessDeserializer;
use serde::de::{DeserializeOwned, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::ApiError;
use crate::state::AppState;

/// A JSON object body (rejections: 400 malformed or not an object, 413 too large, 415 wrong
/// content type).
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        let axum::Json(JsonObject(body)) =
            axum::Json::<JsonObject<serde_json::Value>>::from_request(req, state).await?;
        serde_path_to_error::deserialize(integral(body))
            .map(Self)
            .map_err(|e| Error::validation("body", e.to_string()).into())
    }
}

/// `body` with every integral number written as a float (`195.0`) made an integer: JSON
/// Schema, and so the OpenAPI document, counts `195.0` as an integer, while serde refuses it
/// for an integer field. Fractions and numbers beyond 64 bits stay as they are (and are
/// refused where an integer is expected).
fn integral(body: serde_json::Value) -> serde_json::Value {
    use serde_json::{Number, Value};
    match body {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            // 2^63 and 2^64 are exact as floats; anything at or beyond them does not fit.
            let whole = f.fract() == 0.0;
            let number =
                if whole && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f) {
                    Number::from(f as i64)
                } else if whole && (0.0..1.844_674_407_370_955_2e19).contains(&f) {
                    Number::from(f as u64)
                } else {
                    n
                };
            Value::Number(number)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(integral).collect()),
        Value::Object(fields) => {
            Value::Object(fields.into_iter().map(|(k, v)| (k, integral(v))).collect())
        }
        other => other,
    }
}

/// A `T` read only from a JSON object. serde's derived structs also accept an array of their
/// fields in order (`[null, null]` would be a request with every field absent); every request
/// body of this API is an object, so anything else is refused as the wrong type.
struct JsonObject<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for JsonObject<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectOnly<T>(std::marker::PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectOnly<T> {
            type Value = T;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map))
            }
        }

        deserializer
            .deserialize_map(ObjectOnly(std::marker::PhantomData))
            .map(JsonObject)
    }
}

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

/// The authenticated caller: from `Authorization: Bearer <token>` (the scheme matched
/// ignoring case, RFC 9110 section 11.1), or else from the host's
/// [`RequestAuthenticator`](crate::RequestAuthenticator) (see [`crate::host_auth`]).
#[derive(Debug, Clone, Copy)]
pub struct Caller(pub UserId);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        caller_of(&parts.method, &parts.headers, &parts.extensions, state)
            .await
            .map(Self)
    }
}

/// The caller of a request, for handlers that authenticate only on some paths (a signed link
/// needs no token) or that take the whole request: its bearer token, or else the host's
/// request authenticator, whose callers are refused on cross-site changes.
pub(crate) async fn caller_of(
    method: &Method,
    headers: &HeaderMap,
    extensions: &Extensions,
    state: &AppState,
) -> Result<UserId, ApiError> {
    if let Some(token) = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token)
    {
        return Ok(state.auth.authenticate(token.trim()).await?);
    }
    let Some(host) = &state.request_auth else {
        return Err(ApiError(Error::Unauthenticated));
    };
    let user = host
        .caller(headers, extensions)
        .await?
        .ok_or(ApiError(Error::Unauthenticated))?;
    crate::host_auth::same_site(method, headers, false, &state.config.allowed_origins)?;
    Ok(user)
}

/// The token of a `Bearer` credential: the scheme ignoring case, then one or more spaces.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim_start_matches(' '))
        .filter(|t| !t.is_empty())
}

/// The page size of a request's `limit` (a signed integer on the wire: a negative or huge one is
/// refused by the service, naming `limit`).
pub(crate) fn page_size(limit: Option<i64>) -> chat_core::PageSize {
    limit.map_or(chat_core::PageSize::DEFAULT, chat_core::PageSize::requested)
}

#[cfg(test)]
mod tests {
    use axum::extract::FromRequest;

    use super::{ApiJson, bearer_token};

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Body {
        n: u32,
        big: Option<u64>,
        ratio: Option<f64>,
    }

    async fn read(json: &str) -> Result<Body, String> {
        let request = axum::http::Request::builder()
            .method("POST")
            .header("content-type", "application/json")
            .body(axum::body::Body::from(json.to_owned()))
            .unwrap();
        ApiJson::<Body>::from_request(request, &())
            .await
            .map(|b| b.0)
            .map_err(|e| e.0.to_string())
    }

    /// JSON Schema counts `5.0` as an integer, so the document allows it: it is read as 5.
    #[tokio::test]
    async fn integral_numbers_are_integers_whatever_their_spelling() {
        let five = Body {
            n: 5,
            big: None,
            ratio: None,
        };
        assert_eq!(read(r#"{"n": 5}"#).await.unwrap(), five);
        assert_eq!(read(r#"{"n": 5.0}"#).await.unwrap(), five);
        assert_eq!(read(r#"{"n": 5e0}"#).await.unwrap(), five);
        let big = read(r#"{"n": 1, "big": 1.2e19, "ratio": 2.0}"#)
            .await
            .unwrap();
        assert_eq!(
            (big.big, big.ratio),
            (Some(12_000_000_000_000_000_000), Some(2.0))
        );
        for bad in [
            r#"{"n": 5.5}"#,
            r#"{"n": -1.0}"#,
            r#"{"n": 1e20}"#,
            r#"[5]"#,
        ] {
            let err = read(bad).await.unwrap_err();
            assert!(err.starts_with("invalid body"), "{bad}: {err}");
        }
        assert!(
            read(r#"{"n": 5.5}"#).await.unwrap_err().contains("n:"),
            "names the field"
        );
    }

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
