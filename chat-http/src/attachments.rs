//! Attachments over HTTP: streamed uploads, and downloads that are safe to open in a browser.
//!
//! - `POST /v1/rooms/{room_id}/uploads`: the body is the file (`Content-Type` its declared
//!   type, `?file_name=` its name) or a `multipart/form-data` form whose first file part is
//!   the file. It is streamed into the blob store, never buffered whole, and refused with 413
//!   as soon as it passes the limit (at once, when `Content-Length` already says so).
//! - `GET /v1/attachments/{id}` and `…/thumbnail`: for whoever may read the room, with a
//!   bearer token; or for anyone holding a signed link from `GET /v1/attachments/{id}/links`,
//!   which an `<img src>` can use without headers. The links are an HMAC-SHA256 over the
//!   attachment, the variant and the expiry, and they stop working when the message is deleted.
//!
//! Every download carries the sniffed `Content-Type`, `X-Content-Type-Options: nosniff`,
//! `Content-Security-Policy: sandbox` (a document opened from here runs no script and has no
//! origin), a `Content-Disposition` with a safe file name (RFC 6266: inline for images,
//! attachment for everything else), an `ETag` from the content hash, and single byte ranges.

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, OriginalUri, Request, State};
use axum::http::{Extensions, HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chat_core::attachment::{Upload, UploadInput, Variant, is_image};
use chat_core::{Attachment, AttachmentId, Error, RoomId, Timestamp};
use futures::TryStreamExt;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::{ApiJson, ApiPath, ApiQuery, caller_of};
use crate::state::AppState;

/// The routes of this module, documented.
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload))
        .routes(routes!(download))
        .routes(routes!(thumbnail))
        .routes(routes!(links))
        // Uploads are bounded while they stream (by the service, at the attachment limit) and
        // up front by Content-Length, not by the small limit of JSON bodies.
        .layer(DefaultBodyLimit::disable())
}

/// The key signed links are made with. Instances behind one load balancer need the same key,
/// so that a link one of them issued works on all (the example server derives it from the
/// JWT secret).
#[derive(Clone)]
pub struct LinkKey(Vec<u8>);

impl LinkKey {
    /// A key from secret bytes (at least 32 recommended).
    #[must_use]
    pub fn new(secret: impl Into<Vec<u8>>) -> Self {
        Self(secret.into())
    }

    /// A random key, for a single instance.
    #[must_use]
    pub fn random() -> Self {
        let mut key = uuid::Uuid::new_v4().as_bytes().to_vec();
        key.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
        Self(key)
    }

    fn mac(&self, id: AttachmentId, variant: Variant, expires: i64) -> Hmac<Sha256> {
        // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
        mac.update(format!("{id}:{}:{expires}", variant_name(variant)).as_bytes());
        mac
    }

    fn sign(&self, id: AttachmentId, variant: Variant, expires: i64) -> String {
        format!(
            "{:x}",
            self.mac(id, variant, expires).finalize().into_bytes()
        )
    }

    fn verify(&self, id: AttachmentId, variant: Variant, expires: i64, sig: &str) -> bool {
        let Ok(bytes) = hex::decode(sig) else {
            return false;
        };
        // Constant-time comparison, so the signature cannot be guessed byte by byte.
        self.mac(id, variant, expires).verify_slice(&bytes).is_ok()
    }
}

impl std::fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkKey(..)")
    }
}

fn variant_name(variant: Variant) -> &'static str {
    match variant {
        Variant::Original => "file",
        Variant::Thumbnail => "thumbnail",
    }
}

/// Seconds since the epoch by the service's clock: links expire on the service's time.
fn unix_now(s: &AppState) -> i64 {
    s.chat.now().unix_millis().div_euclid(1000)
}

/// Query of a raw upload.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The file's name (only its last path component is kept). Required for a raw body.
    pub file_name: Option<String>,
}

#[utoipa::path(
    post,
    path = "/rooms/{room_id}/uploads",
    tag = "attachments",
    params(("room_id" = RoomId, Path), UploadQuery),
    request_body(
        description = "the file itself (its declared type in Content-Type), or a multipart/form-data form whose first file part is the file",
        content((Vec<u8> = "application/octet-stream"), (Vec<u8> = "multipart/form-data"))
    ),
    responses(
        (status = 201, body = Attachment, description = "the upload, ready to be named in a message's `attachment_ids`"),
        (status = 413, body = ErrorEnvelope, description = "the file passes the attachment limit (5 MiB by default)"),
        (status = 415, body = ErrorEnvelope, description = "the type sniffed from the bytes is not accepted, or contradicts the declared one"),
        (status = "default", body = ErrorEnvelope, description = "an error; see the error codes")
    ),
    security(("bearer" = []))
)]
async fn upload(
    State(s): State<AppState>,
    ApiPath(room): ApiPath<RoomId>,
    ApiQuery(query): ApiQuery<UploadQuery>,
    request: Request,
) -> Result<(StatusCode, ApiJson<Attachment>), ApiError> {
    let me = caller_of(
        request.method(),
        request.headers(),
        request.extensions(),
        &s,
    )
    .await?;
    let max = s.chat.limits().max_attachment_bytes;
    let headers = request.headers().clone();
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let is_form = declared
        .as_deref()
        .is_some_and(|t| t.to_ascii_lowercase().starts_with("multipart/form-data"));
    // A body that says up front it is too large is refused before a byte of it is read. A
    // form carries a little framing around the file.
    let framing = if is_form { 16 * 1024 } else { 0 };
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|len| len > max + framing) {
        return Err(chat_core::blob::too_large(max).into());
    }
    // The form outlives the upload: its file part borrows it while the body streams.
    let mut form = None;
    let input = if is_form {
        let form = form.insert(
            Multipart::from_request(request, &s)
                .await
                .map_err(|e| Error::validation("body", e.body_text()))?,
        );
        let field = loop {
            match form
                .next_field()
                .await
                .map_err(|e| Error::validation("body", e.body_text()))?
            {
                Some(field) if field.file_name().is_some() => break field,
                Some(_) => {}
                None => return Err(Error::validation("body", "the form has no file part").into()),
            }
        };
        UploadInput {
            file_name: field.file_name().unwrap_or_default().to_owned(),
            declared_type: field.content_type().map(str::to_owned),
            body: Box::pin(field.map_err(std::io::Error::other)),
        }
    } else {
        UploadInput {
            file_name: query
                .file_name
                .ok_or_else(|| Error::validation("file_name", "name the file in ?file_name="))?,
            declared_type: declared,
            body: Box::pin(
                request
                    .into_body()
                    .into_data_stream()
                    .map_err(std::io::Error::other),
            ),
        }
    };
    let attachment = s.chat.upload(me, room, input).await?;
    Ok((StatusCode::CREATED, ApiJson(attachment)))
}

/// A signed link's query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LinkQuery {
    /// When the link stops working, in seconds since the Unix epoch.
    pub expires: Option<i64>,
    /// The link's signature.
    pub sig: Option<String>,
}

#[utoipa::path(
    get,
    path = "/attachments/{attachment_id}",
    tag = "attachments",
    params(("attachment_id" = AttachmentId, Path), LinkQuery),
    responses(
        (status = 200, content_type = "*/*", body = Vec<u8>, description = "the file, with the type sniffed from its bytes in `Content-Type`"),
        (status = 206, content_type = "*/*", body = Vec<u8>, description = "the requested byte range"),
        (status = 304, description = "unchanged since the ETag in If-None-Match"),
        (status = 416, body = ErrorEnvelope, description = "the range lies outside the file"),
        (status = "default", body = ErrorEnvelope, description = "an error; not_found for anyone who may not read the room")
    ),
    security(("bearer" = []), ())
)]
async fn download(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<AttachmentId>,
    ApiQuery(link): ApiQuery<LinkQuery>,
    headers: HeaderMap,
    extensions: Extensions,
) -> Result<Response, ApiError> {
    serve(&s, id, Variant::Original, link, &headers, &extensions).await
}

#[utoipa::path(
    get,
    path = "/attachments/{attachment_id}/thumbnail",
    tag = "attachments",
    params(("attachment_id" = AttachmentId, Path), LinkQuery),
    responses(
        (status = 200, content_type = "image/*", body = Vec<u8>, description = "the thumbnail: JPEG, or PNG for images with transparency; an image that already fits the thumbnail box may be its own thumbnail, in its own type"),
        (status = "default", body = ErrorEnvelope, description = "an error; not_found also for files without a thumbnail")
    ),
    security(("bearer" = []), ())
)]
async fn thumbnail(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<AttachmentId>,
    ApiQuery(link): ApiQuery<LinkQuery>,
    headers: HeaderMap,
    extensions: Extensions,
) -> Result<Response, ApiError> {
    serve(&s, id, Variant::Thumbnail, link, &headers, &extensions).await
}

/// Signed links to an attachment.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AttachmentLinks {
    /// The file, usable without an `Authorization` header until `expires_at`.
    pub url: String,
    /// The thumbnail, for images that have one.
    pub thumbnail_url: Option<String>,
    /// When the links stop working.
    pub expires_at: Timestamp,
}

#[utoipa::path(
    get,
    path = "/attachments/{attachment_id}/links",
    tag = "attachments",
    params(("attachment_id" = AttachmentId, Path)),
    responses(
        (status = 200, body = AttachmentLinks, description = "short-lived signed links (absolute paths on this server); a link works for anyone until `expires_at` (10 minutes by default, configurable), even after its requester leaves, is removed or is banned; deleting the message ends it at once"),
        (status = "default", body = ErrorEnvelope, description = "an error; not_found for anyone who may not read the room")
    ),
    security(("bearer" = []))
)]
async fn links(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<AttachmentId>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    extensions: Extensions,
) -> Result<ApiJson<AttachmentLinks>, ApiError> {
    let me = caller_of(&Method::GET, &headers, &extensions, &s).await?;
    let upload = s.chat.attachment(me, id).await?;
    let ttl = s.config.attachment_link_ttl;
    let expires = unix_now(&s).saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX));
    // The path this request came in on, as the client sees it (the router may be nested
    // under a prefix), without `/links`.
    let base = uri
        .path()
        .strip_suffix("/links")
        .unwrap_or(uri.path())
        .to_owned();
    let link = |variant: Variant, path: &str| {
        let sig = s.link_key.sign(id, variant, expires);
        format!("{path}?expires={expires}&sig={sig}")
    };
    let expires_at = Timestamp::from_unix_millis(expires.saturating_mul(1000))
        .unwrap_or_else(|| s.chat.now().saturating_add(ttl));
    Ok(ApiJson(AttachmentLinks {
        url: link(Variant::Original, &base),
        thumbnail_url: upload
            .attachment
            .thumbnail
            .as_ref()
            .map(|_| link(Variant::Thumbnail, &format!("{base}/thumbnail"))),
        expires_at,
    }))
}

/// Authorises a read (signed link or bearer token) and streams the bytes.
async fn serve(
    s: &AppState,
    id: AttachmentId,
    variant: Variant,
    link: LinkQuery,
    headers: &HeaderMap,
    extensions: &Extensions,
) -> Result<Response, ApiError> {
    let upload = match (link.expires, link.sig) {
        (Some(expires), Some(sig)) => {
            if !s.link_key.verify(id, variant, expires, &sig) {
                return Err(Error::NotFound { what: "attachment" }.into());
            }
            if expires < unix_now(s) {
                return Err(Error::Forbidden {
                    reason: "this link has expired; ask for a new one",
                }
                .into());
            }
            s.chat.attachment_by_link(id).await?
        }
        _ => {
            let me = caller_of(&Method::GET, headers, extensions, s).await?;
            s.chat.attachment(me, id).await?
        }
    };
    respond(s, &upload, variant, headers).await
}

async fn respond(
    s: &AppState,
    upload: &Upload,
    variant: Variant,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let a = &upload.attachment;
    let (content_type, size) = match (variant, &a.thumbnail) {
        (Variant::Thumbnail, Some(t)) => (t.content_type.as_str(), t.size),
        (Variant::Thumbnail, None) => return Err(Error::NotFound { what: "attachment" }.into()),
        (Variant::Original, _) => (a.content_type.as_str(), a.size),
    };
    let digest = a
        .checksum
        .as_deref()
        .and_then(|c| c.strip_prefix("sha256:"))
        .unwrap_or("none");
    let etag = match variant {
        Variant::Original => format!("\"{digest}\""),
        Variant::Thumbnail => format!("\"{digest}-thumb\""),
    };
    let mut out = HeaderMap::new();
    let mut set = |name: header::HeaderName, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            out.insert(name, v);
        }
    };
    set(header::CONTENT_TYPE, content_type);
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::CONTENT_SECURITY_POLICY, "sandbox");
    set(
        header::CONTENT_DISPOSITION,
        &content_disposition(
            &a.file_name,
            variant == Variant::Thumbnail || is_image(&a.content_type),
        ),
    );
    set(header::ETAG, &etag);
    set(header::ACCEPT_RANGES, "bytes");
    // Revalidated on every use, so a deleted attachment stops showing from caches too.
    set(header::CACHE_CONTROL, "private, no-cache");

    let if_none_match = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    if if_none_match.is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*")) {
        return Ok((StatusCode::NOT_MODIFIED, out).into_response());
    }
    // A Range is honoured only when If-Range (if any) still names this content.
    let if_range_ok = headers
        .get(header::IF_RANGE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.trim() == etag);
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .filter(|_| if_range_ok)
        .and_then(|v| http_range_header::parse_range_header(v).ok())
        .map(|parsed| parsed.validate(size));
    let (status, range) = match range {
        Some(Ok(ranges)) if ranges.len() == 1 => {
            let r = &ranges[0];
            set(
                header::CONTENT_RANGE,
                &format!("bytes {}-{}/{size}", r.start(), r.end()),
            );
            (StatusCode::PARTIAL_CONTENT, *r.start()..r.end() + 1)
        }
        Some(Err(_)) => {
            set(header::CONTENT_RANGE, &format!("bytes */{size}"));
            let body = ErrorEnvelope {
                error: crate::error::ErrorBody {
                    code: "range_not_satisfiable",
                    message: format!("the range lies outside the {size} bytes of the file"),
                    field: None,
                    retry_after_ms: None,
                },
            };
            return Ok((StatusCode::RANGE_NOT_SATISFIABLE, out, axum::Json(body)).into_response());
        }
        // No range, or several: the whole file (RFC 9110 lets a server ignore a multi-range).
        _ => (StatusCode::OK, 0..size),
    };
    set(
        header::CONTENT_LENGTH,
        &(range.end - range.start).to_string(),
    );
    let body = s.chat.open_attachment(upload, variant, range).await?;
    Ok((status, out, Body::from_stream(body)).into_response())
}

/// `Content-Disposition` per RFC 6266: an ASCII fallback name with anything risky replaced,
/// and the exact name percent-encoded in `filename*`.
fn content_disposition(file_name: &str, inline: bool) -> String {
    let fallback: String = file_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || " .-_()[]+,".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = file_name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let kind = if inline { "inline" } else { "attachment" };
    format!("{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispositions_are_safe_and_exact() {
        assert_eq!(
            content_disposition("plan.pdf", false),
            "attachment; filename=\"plan.pdf\"; filename*=UTF-8''plan.pdf"
        );
        let d = content_disposition("été \"x\";\r\n.png", true);
        assert!(d.starts_with("inline; filename=\"_t_ _x____.png\""), "{d}");
        assert!(
            d.ends_with("filename*=UTF-8''%C3%A9t%C3%A9%20%22x%22%3B%0D%0A.png"),
            "{d}"
        );
    }

    #[test]
    fn links_verify_only_what_they_sign() {
        let key = LinkKey::new(b"k".to_vec());
        let id = AttachmentId::new();
        let sig = key.sign(id, Variant::Original, 100);
        assert!(key.verify(id, Variant::Original, 100, &sig));
        assert!(!key.verify(id, Variant::Original, 101, &sig));
        assert!(!key.verify(id, Variant::Thumbnail, 100, &sig));
        assert!(!key.verify(AttachmentId::new(), Variant::Original, 100, &sig));
        assert!(!LinkKey::new(b"other".to_vec()).verify(id, Variant::Original, 100, &sig));
        assert!(!key.verify(id, Variant::Original, 100, "zz"));
    }
}
