//! Profile pictures over HTTP (see `chat_core::AvatarImage`).
//!
//! - `PUT /v1/me/avatar`: the body is the picture (PNG, JPEG, GIF or WebP, up to the
//!   attachment limit). It is redrawn at most 256 px on its longer side and named in the
//!   caller's profile as `avatar_url`, a path under this API (with the mount path, so the
//!   client can tell it is on this server).
//! - `DELETE /v1/me/avatar`: the profile shows initials again.
//! - `GET /v1/avatars/{key}`: the picture, for anyone, without a token: an `<img>` cannot send
//!   one, and the key (the user and a SHA-256 of the bytes) is known only to those who saw
//!   the profile. The bytes under a key never change, so it is cached for a year.

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chat_core::User;
use futures::TryStreamExt;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::{ApiJson, ApiPath, Caller};
use crate::state::AppState;

/// The routes of this module, documented.
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(set_avatar, remove_avatar))
        .routes(routes!(avatar))
        // Pictures are bounded while they are read (by the service, at the attachment limit).
        .layer(DefaultBodyLimit::disable())
}

#[utoipa::path(
    put,
    path = "/me/avatar",
    tag = "profiles",
    request_body(description = "the picture itself: PNG, JPEG, GIF or WebP, told apart by its bytes (whatever `Content-Type` says, `image/png` or `application/octet-stream` alike)", content((Vec<u8> = "application/octet-stream"))),
    responses(
        (status = 200, body = User, description = "the profile, its `avatar_url` naming the redrawn picture"),
        (status = 413, body = ErrorEnvelope, description = "the picture passes the attachment limit (5 MiB by default)"),
        (status = 415, body = ErrorEnvelope, description = "the bytes are not PNG, JPEG, GIF or WebP"),
        (status = "default", body = ErrorEnvelope, description = "an error; `validation` (field `body`) for an empty picture or one that does not decode")
    ),
    security(("bearer" = []))
)]
async fn set_avatar(
    State(s): State<AppState>,
    Caller(me): Caller,
    axum::extract::OriginalUri(uri): axum::extract::OriginalUri,
    body: Body,
) -> Result<ApiJson<User>, ApiError> {
    let body = Box::pin(body.into_data_stream().map_err(std::io::Error::other));
    // The declared mount path, or else the prefix this request came in under.
    let mount = if s.config.mount_path.is_empty() {
        crate::mount_prefix(uri.path(), "/v1/me/avatar").unwrap_or_default()
    } else {
        s.config.mount_path.as_str()
    };
    let prefix = format!("{mount}/v1/avatars/");
    let user = s
        .chat
        .set_avatar(me, body, move |key| format!("{prefix}{}", key.as_str()))
        .await?;
    Ok(ApiJson(user))
}

#[utoipa::path(
    delete,
    path = "/me/avatar",
    tag = "profiles",
    responses(
        (status = 200, body = User, description = "the profile, without `avatar_url`"),
        (status = "default", body = ErrorEnvelope, description = "an error; see the error codes")
    ),
    security(("bearer" = []))
)]
async fn remove_avatar(
    State(s): State<AppState>,
    Caller(me): Caller,
) -> Result<ApiJson<User>, ApiError> {
    Ok(ApiJson(s.chat.remove_avatar(me).await?))
}

#[utoipa::path(
    get,
    path = "/avatars/{key}",
    tag = "profiles",
    params(("key" = String, Path, description = "the key an `avatar_url` ends with")),
    responses(
        (status = 200, content_type = "image/*", body = Vec<u8>, description = "the picture (JPEG, or PNG for pictures with transparency)"),
        (status = 304, description = "unchanged since the ETag in If-None-Match (it never changes)"),
        (status = "default", body = ErrorEnvelope, description = "an error; not_found for any key that is not a stored picture's")
    ),
    security(())
)]
async fn avatar(
    State(s): State<AppState>,
    ApiPath(key): ApiPath<String>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let (image, bytes) = s.chat.open_avatar(&key).await?;
    let etag = format!("\"{}\"", image.key.as_str());
    let mut out = if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut out = Body::from_stream(bytes).into_response();
        out.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(image.content_type),
        );
        out
    };
    let set = out.headers_mut();
    set.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    set.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox"),
    );
    set.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        set.insert(header::ETAG, etag);
    }
    Ok(out)
}
