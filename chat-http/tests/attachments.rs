//! Attachments over HTTP on both stores: uploads (limits, types, names, multipart), safe
//! downloads (headers, EXIF gone, ranges, ETags), signed links, and deletion.

#[path = "../../chat-store-postgres/tests/common/mod.rs"]
mod pg;
mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use chat_core::testing::fixtures::{GPS_MARKER, contains, jpeg_with_gps, pdf, png};
use chat_core::{Limits, Store};
use chat_http::HttpConfig;
use serde_json::{Value, json};
use support::{App, code};
use tower::ServiceExt;

const FIVE_MIB: usize = 5 * 1024 * 1024;

/// A response with its headers and raw body.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map_or("<missing>", |v| v.to_str().unwrap())
    }
}

async fn fetch(app: &App, req: Request<Body>) -> Reply {
    let response = app.router.clone().oneshot(req).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), 64 << 20)
        .await
        .unwrap()
        .to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

async fn get(app: &App, uri: &str, token: Option<&str>, extra: &[(&str, &str)]) -> Reply {
    let mut req = Request::get(uri);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    fetch(app, req.body(Body::empty()).unwrap()).await
}

/// A raw upload: the file as the body.
async fn upload(
    app: &App,
    token: &str,
    room: &str,
    name: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> Reply {
    let name: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let req = Request::post(format!("/v1/rooms/{room}/uploads?file_name={name}"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", content_type)
        .body(Body::from(bytes))
        .unwrap();
    fetch(app, req).await
}

/// A `multipart/form-data` body with one text field and one file part.
fn form(name: &str, content_type: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "chat-engine-test-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
         Content-Type: {content_type}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn send_with(app: &App, token: &str, room: &str, ids: &[&str]) -> Value {
    let (s, sent) = app
        .call(
            "POST",
            &format!("/v1/rooms/{room}/messages"),
            Some(token),
            Some(json!({"text": "", "attachment_ids": ids})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{sent}");
    sent["message"].clone()
}

async fn uploads_are_limited_typed_and_named(store: Arc<dyn Store>) {
    let app = App::new(store);
    let (owner, _event, room) = app.world().await;

    let exact = upload(
        &app,
        &owner,
        &room,
        "plan.pdf",
        "application/pdf",
        pdf(FIVE_MIB),
    )
    .await;
    assert_eq!(exact.status, StatusCode::CREATED, "{:?}", exact.json());
    assert_eq!(exact.json()["size"], FIVE_MIB);
    assert_eq!(exact.json()["content_type"], "application/pdf");

    let over = upload(
        &app,
        &owner,
        &room,
        "plan.pdf",
        "application/pdf",
        pdf(FIVE_MIB + 1),
    )
    .await;
    assert_eq!(
        (over.status, code(&over.json())),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );

    let mismatch = upload(&app, &owner, &room, "cat.png", "image/png", pdf(1000)).await;
    assert_eq!(
        (mismatch.status, code(&mismatch.json())),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
    );
    let html = upload(
        &app,
        &owner,
        &room,
        "x.html",
        "text/html",
        b"<html><script>".to_vec(),
    )
    .await;
    assert_eq!(html.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let traversal = upload(
        &app,
        &owner,
        &room,
        "../../../etc/passwd",
        "application/octet-stream",
        pdf(500),
    )
    .await;
    assert_eq!(traversal.status, StatusCode::CREATED);
    assert_eq!(traversal.json()["file_name"], "passwd");

    let nameless = Request::post(format!("/v1/rooms/{room}/uploads"))
        .header("authorization", format!("Bearer {owner}"))
        .header("content-type", "application/pdf")
        .body(Body::from(pdf(100)))
        .unwrap();
    let nameless = fetch(&app, nameless).await;
    assert_eq!(nameless.status, StatusCode::BAD_REQUEST);
    assert_eq!(nameless.json()["error"]["field"], "file_name");

    // A multipart form: the first file part is the file, with its own name and type.
    let (content_type, body) = form("Résumé 2026.pdf", "application/pdf", &pdf(2000));
    let req = Request::post(format!("/v1/rooms/{room}/uploads"))
        .header("authorization", format!("Bearer {owner}"))
        .header("content-type", content_type)
        .body(Body::from(body))
        .unwrap();
    let multipart = fetch(&app, req).await;
    assert_eq!(
        multipart.status,
        StatusCode::CREATED,
        "{:?}",
        multipart.json()
    );
    assert_eq!(multipart.json()["file_name"], "Résumé 2026.pdf");
    assert_eq!(multipart.json()["size"], 2000);
    let (content_type, body) = form("big.pdf", "application/pdf", &pdf(FIVE_MIB + 1));
    let req = Request::post(format!("/v1/rooms/{room}/uploads"))
        .header("authorization", format!("Bearer {owner}"))
        .header("content-type", content_type)
        .body(Body::from(body))
        .unwrap();
    assert_eq!(fetch(&app, req).await.status, StatusCode::PAYLOAD_TOO_LARGE);
    let req = Request::post(format!("/v1/rooms/{room}/uploads"))
        .header("authorization", format!("Bearer {owner}"))
        .header("content-type", "multipart/form-data; boundary=x")
        .body(Body::from(
            "--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n--x--\r\n",
        ))
        .unwrap();
    let no_file = fetch(&app, req).await;
    assert_eq!(
        (no_file.status, no_file.json()["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("body"))
    );

    // Who: a member who may post; outsiders learn nothing; no token is 401.
    let (_, outsider) = app.user("Outsider").await;
    let hidden = upload(&app, &outsider, &room, "a.pdf", "application/pdf", pdf(100)).await;
    assert_eq!(
        (hidden.status, code(&hidden.json())),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let anonymous = Request::post(format!("/v1/rooms/{room}/uploads?file_name=a.pdf"))
        .body(Body::from(pdf(100)))
        .unwrap();
    assert_eq!(
        fetch(&app, anonymous).await.status,
        StatusCode::UNAUTHORIZED
    );
}

async fn downloads_are_safe_and_exact(store: Arc<dyn Store>) {
    let app = App::new(store);
    let (owner, event, room) = app.world().await;
    let (_, alice) = app.member(&owner, &event, &room, "Alice").await;
    let (_, outsider) = app.user("Outsider").await;

    let raw = jpeg_with_gps(1200, 900);
    let photo = upload(&app, &owner, &room, "IMG_0001.jpg", "image/jpeg", raw).await;
    assert_eq!(photo.status, StatusCode::CREATED, "{:?}", photo.json());
    let photo = photo.json();
    let id = photo["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (photo["width"].as_u64(), photo["height"].as_u64()),
        (Some(1200), Some(900))
    );
    assert_eq!(photo["thumbnail"]["width"], 320);
    let doc_bytes = pdf(30_000);
    let doc = upload(
        &app,
        &owner,
        &room,
        "minutes.pdf",
        "application/pdf",
        doc_bytes.clone(),
    )
    .await;
    let doc_id = doc.json()["id"].as_str().unwrap().to_owned();
    let message = send_with(&app, &owner, &room, &[&id, &doc_id]).await;
    assert_eq!(message["attachments"][0]["id"], id.as_str());
    assert_eq!(message["attachments"][1]["file_name"], "minutes.pdf");

    let file = get(&app, &format!("/v1/attachments/{id}"), Some(&alice), &[]).await;
    assert_eq!(file.status, StatusCode::OK);
    assert_eq!(file.header("content-type"), "image/jpeg");
    assert_eq!(file.header("x-content-type-options"), "nosniff");
    assert_eq!(file.header("content-security-policy"), "sandbox");
    assert!(
        file.header("content-disposition")
            .starts_with("inline; filename=\"IMG_0001.jpg\"")
    );
    assert_eq!(file.body.len() as u64, photo["size"].as_u64().unwrap());
    assert!(
        !contains(&file.body, GPS_MARKER),
        "the GPS position is served"
    );
    assert!(
        !contains(&file.body, b"Exif\0\0"),
        "an EXIF segment is served"
    );
    let thumb = get(
        &app,
        &format!("/v1/attachments/{id}/thumbnail"),
        Some(&alice),
        &[],
    )
    .await;
    assert_eq!(thumb.status, StatusCode::OK);
    assert_eq!(thumb.header("content-type"), "image/jpeg");
    assert_eq!(
        thumb.body.len() as u64,
        photo["thumbnail"]["size"].as_u64().unwrap()
    );

    let pdf_reply = get(
        &app,
        &format!("/v1/attachments/{doc_id}"),
        Some(&alice),
        &[],
    )
    .await;
    assert_eq!(pdf_reply.status, StatusCode::OK);
    assert!(
        pdf_reply.body == doc_bytes,
        "a document is served byte for byte"
    );
    assert_eq!(pdf_reply.header("content-type"), "application/pdf");
    assert!(
        pdf_reply
            .header("content-disposition")
            .starts_with("attachment; ")
    );
    let no_thumb = get(
        &app,
        &format!("/v1/attachments/{doc_id}/thumbnail"),
        Some(&alice),
        &[],
    )
    .await;
    assert_eq!(no_thumb.status, StatusCode::NOT_FOUND);

    for (who, token) in [("outsider", Some(outsider.as_str())), ("anonymous", None)] {
        let denied = get(&app, &format!("/v1/attachments/{id}"), token, &[]).await;
        assert!(
            matches!(
                denied.status,
                StatusCode::NOT_FOUND | StatusCode::UNAUTHORIZED
            ),
            "{who}: {}",
            denied.status
        );
        assert!(!contains(&denied.body, b"JFIF"), "{who} got bytes");
    }
    let unknown = get(
        &app,
        &format!("/v1/attachments/{}", chat_core::AttachmentId::new()),
        Some(&alice),
        &[],
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let bad_id = get(&app, "/v1/attachments/not-an-id", Some(&alice), &[]).await;
    assert_eq!(bad_id.status, StatusCode::BAD_REQUEST);
}

async fn ranges_and_etags(store: Arc<dyn Store>) {
    let app = App::new(store);
    let (owner, _event, room) = app.world().await;
    let bytes = pdf(10_000);
    let doc = upload(
        &app,
        &owner,
        &room,
        "a.pdf",
        "application/pdf",
        bytes.clone(),
    )
    .await;
    let uri = format!("/v1/attachments/{}", doc.json()["id"].as_str().unwrap());
    let t = Some(owner.as_str());

    let whole = get(&app, &uri, t, &[]).await;
    assert_eq!(whole.header("accept-ranges"), "bytes");
    let etag = whole.header("etag").to_owned();
    assert!(etag.starts_with('"') && etag.len() > 60, "{etag}");

    let first = get(&app, &uri, t, &[("range", "bytes=0-9")]).await;
    assert_eq!(first.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(first.header("content-range"), "bytes 0-9/10000");
    assert!(first.body == bytes[..10]);
    let tail = get(&app, &uri, t, &[("range", "bytes=-5")]).await;
    assert_eq!(tail.header("content-range"), "bytes 9995-9999/10000");
    assert!(tail.body == bytes[9995..]);
    let open = get(&app, &uri, t, &[("range", "bytes=9000-")]).await;
    assert!(open.body == bytes[9000..]);
    let beyond = get(&app, &uri, t, &[("range", "bytes=20000-")]).await;
    assert_eq!(beyond.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(beyond.header("content-range"), "bytes */10000");
    let multi = get(&app, &uri, t, &[("range", "bytes=0-1,5-6")]).await;
    assert_eq!((multi.status, multi.body.len()), (StatusCode::OK, 10_000));
    let garbage = get(&app, &uri, t, &[("range", "pages=1-2")]).await;
    assert_eq!(
        (garbage.status, garbage.body.len()),
        (StatusCode::OK, 10_000)
    );
    let stale_if_range = get(
        &app,
        &uri,
        t,
        &[("range", "bytes=0-9"), ("if-range", "\"old\"")],
    )
    .await;
    assert_eq!(stale_if_range.status, StatusCode::OK);

    let cached = get(&app, &uri, t, &[("if-none-match", &etag)]).await;
    assert_eq!(cached.status, StatusCode::NOT_MODIFIED);
    assert!(cached.body.is_empty());
    let changed = get(&app, &uri, t, &[("if-none-match", "\"something-else\"")]).await;
    assert_eq!(changed.status, StatusCode::OK);
}

async fn signed_links_and_deletion(store: Arc<dyn Store>) {
    let app = App::new(Arc::clone(&store));
    let (owner, event, room) = app.world().await;
    let (_, alice) = app.member(&owner, &event, &room, "Alice").await;
    let (_, outsider) = app.user("Outsider").await;
    let photo = upload(&app, &owner, &room, "p.png", "image/png", png(640, 480)).await;
    let id = photo.json()["id"].as_str().unwrap().to_owned();
    let message = send_with(&app, &owner, &room, &[&id]).await;

    let links = get(
        &app,
        &format!("/v1/attachments/{id}/links"),
        Some(&alice),
        &[],
    )
    .await;
    assert_eq!(links.status, StatusCode::OK);
    let links = links.json();
    let url = links["url"].as_str().unwrap().to_owned();
    let thumb_url = links["thumbnail_url"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with(&format!("/v1/attachments/{id}?expires=")),
        "{url}"
    );
    let by_link = get(&app, &url, None, &[]).await;
    assert_eq!(by_link.status, StatusCode::OK);
    assert_eq!(by_link.header("content-type"), "image/png");
    assert_eq!(
        get(&app, &thumb_url, None, &[]).await.status,
        StatusCode::OK
    );
    let denied = get(
        &app,
        &format!("/v1/attachments/{id}/links"),
        Some(&outsider),
        &[],
    )
    .await;
    assert_eq!(denied.status, StatusCode::NOT_FOUND);

    // Forged: another signature, a later expiry under the old signature, or a link to the
    // file used for the thumbnail.
    let (path, query) = url.split_once('?').unwrap();
    let expires: i64 = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("expires="))
        .unwrap()
        .parse()
        .unwrap();
    let sig = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("sig="))
        .unwrap();
    let forged = [
        format!("{path}?expires={expires}&sig={}", "0".repeat(64)),
        format!("{path}?expires={}&sig={sig}", expires + 3600),
        format!("{path}/thumbnail?expires={expires}&sig={sig}"),
        format!("{path}?expires={expires}&sig=not-hex"),
    ];
    for link in &forged {
        let reply = get(&app, link, None, &[]).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{link}");
    }

    // Expired: an app whose links live zero seconds.
    let short = App::with(
        Arc::clone(&store),
        Limits::default(),
        HttpConfig {
            attachment_link_ttl: Duration::ZERO,
            ..HttpConfig::default()
        },
    );
    let short_owner = short.token(app_owner_id(&app, &owner).await);
    let expiring = get(
        &short,
        &format!("/v1/attachments/{id}/links"),
        Some(&short_owner),
        &[],
    )
    .await;
    let expiring = expiring.json()["url"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let expired = get(&short, &expiring, None, &[]).await;
    assert_eq!(
        (expired.status, code(&expired.json())),
        (StatusCode::FORBIDDEN, "forbidden")
    );

    // Deleting the message: no URL serves the bytes any more, old links included, and the
    // collector removes them.
    let (s, _) = app
        .call(
            "DELETE",
            &format!("/v1/messages/{}", message["id"].as_str().unwrap()),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    for (uri, token) in [
        (format!("/v1/attachments/{id}"), Some(owner.as_str())),
        (
            format!("/v1/attachments/{id}/thumbnail"),
            Some(alice.as_str()),
        ),
        (url.clone(), None),
        (thumb_url.clone(), None),
    ] {
        let reply = get(&app, &uri, token, &[]).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{uri}");
    }
    let blobs = app.state.chat.blobs();
    let key = chat_core::Variant::Original.key(id.parse().unwrap());
    assert!(
        blobs.size(&key).await.unwrap().is_some(),
        "bytes await the collector"
    );
    let collected = app.state.chat.collect_uploads(100).await.unwrap();
    assert_eq!(collected.uploads, 1);
    assert_eq!(blobs.size(&key).await.unwrap(), None);
}

/// The owner's user id, from their token.
async fn app_owner_id(app: &App, token: &str) -> chat_core::UserId {
    let (_, me) = app.call("GET", "/v1/me", Some(token), None).await;
    me["id"].as_str().unwrap().parse().unwrap()
}

/// Profile pictures: set with the bytes as the body, named in the profile under the API's
/// path, served to anyone (no token: an `<img>` sends none) with safe, immutable headers;
/// refusals leave the profile as it was; messages sent afterwards carry the picture.
async fn profile_pictures(store: Arc<dyn Store>) {
    let app = App::new(store);
    let (owner, event, room) = app.world().await;
    let (_, alice) = app.member(&owner, &event, &room, "Alice").await;
    let (s, before) = app.call("GET", "/v1/me", Some(&alice), None).await;
    assert_eq!(s, StatusCode::OK);

    let (s, refused) = app
        .raw("PUT", "/v1/me/avatar", &alice, "application/pdf", pdf(100))
        .await;
    assert_eq!(
        (s, code(&refused)),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
    );
    let (s, refused) = app
        .raw("PUT", "/v1/me/avatar", &alice, "image/png", Vec::new())
        .await;
    assert_eq!(
        (s, code(&refused)),
        (StatusCode::BAD_REQUEST, "validation"),
        "{refused}"
    );
    let (s, refused) = app
        .raw(
            "PUT",
            "/v1/me/avatar",
            &alice,
            "image/png",
            vec![0x89; FIVE_MIB + 1],
        )
        .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{refused}");
    let (s, unchanged) = app.call("GET", "/v1/me", Some(&alice), None).await;
    assert_eq!((s, &unchanged), (StatusCode::OK, &before));
    let (s, _) = app
        .raw_unauthenticated("PUT", "/v1/me/avatar", "image/png", png(8, 8))
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    let (s, profile) = app
        .raw(
            "PUT",
            "/v1/me/avatar",
            &alice,
            "image/jpeg",
            jpeg_with_gps(640, 480),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{profile}");
    let url = profile["avatar_url"]
        .as_str()
        .expect("named in the profile")
        .to_owned();
    assert!(url.starts_with("/v1/avatars/avatar-"), "{url}");
    assert_eq!(profile["display_name"], before["display_name"]);

    let picture = get(&app, &url, None, &[]).await;
    assert_eq!(picture.status, StatusCode::OK);
    assert_eq!(picture.header("content-type"), "image/jpeg");
    assert_eq!(picture.header("x-content-type-options"), "nosniff");
    assert_eq!(picture.header("content-security-policy"), "sandbox");
    assert_eq!(
        picture.header("cache-control"),
        "public, max-age=31536000, immutable"
    );
    assert!(!contains(&picture.body, GPS_MARKER), "the location is gone");
    let drawn = image::load_from_memory(&picture.body).expect("a picture");
    assert_eq!((drawn.width(), drawn.height()), (256, 192));
    let etag = picture.header("etag").to_owned();
    let again = get(&app, &url, None, &[("if-none-match", &etag)]).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);

    for missing in [
        "/v1/avatars/nothing",
        "/v1/avatars/avatar-..%2F..%2Fetc",
        &format!(
            "/v1/avatars/avatar-{}-{}.png",
            uuid::Uuid::now_v7(),
            "0".repeat(64)
        ),
    ] {
        let reply = get(&app, missing, None, &[]).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{missing}");
        assert_eq!(code(&reply.json()), "not_found");
    }

    let (s, sent) = app
        .call(
            "POST",
            &format!("/v1/rooms/{room}/messages"),
            Some(&alice),
            Some(json!({"text": "new look"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{sent}");
    assert_eq!(sent["message"]["author_avatar"], url.as_str(), "{sent}");

    let (s, profile) = app
        .call("DELETE", "/v1/me/avatar", Some(&alice), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        profile.get("avatar_url").and_then(Value::as_str),
        None,
        "{profile}"
    );
    // The message keeps the picture it was sent with, so the picture stays served.
    assert_eq!(get(&app, &url, None, &[]).await.status, StatusCode::OK);
}

support::on_both_stores!(
    profile_pictures,
    uploads_are_limited_typed_and_named,
    downloads_are_safe_and_exact,
    ranges_and_etags,
    signed_links_and_deletion,
);

/// Over a real socket: the server answers 413 while the client is still sending, without
/// reading the rest of a body that announced no length.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_stream_is_refused_while_it_is_sent() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let app = App::new(Arc::new(chat_store_memory::MemoryStore::new()));
    let (owner, _event, room) = app.world().await;
    let (addr, _stop, _task) = app.spawn().await;
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /v1/rooms/{room}/uploads?file_name=big.pdf HTTP/1.1\r\nHost: {addr}\r\n\
         Authorization: Bearer {owner}\r\nContent-Type: application/pdf\r\n\
         Transfer-Encoding: chunked\r\n\r\n"
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let chunk = pdf(64 * 1024);
    let (mut read, mut write) = conn.into_split();
    let sender = tokio::spawn(async move {
        // Up to 64 MiB, far past the limit; stops when the server closes the connection.
        let mut sent = 0usize;
        for _ in 0..1024 {
            let frame = format!("{:x}\r\n", chunk.len());
            if write.write_all(frame.as_bytes()).await.is_err()
                || write.write_all(&chunk).await.is_err()
                || write.write_all(b"\r\n").await.is_err()
            {
                break;
            }
            sent += chunk.len();
        }
        sent
    });
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(20), read.read(&mut answer))
        .await
        .expect("an answer before the body ends")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("payload_too_large"), "{answer}");
    drop(read);
    let sent = sender.await.unwrap();
    assert!(
        sent < 64 * 1024 * 1024,
        "the server stopped the upload, after {sent} bytes"
    );
}

/// An upload that announces more than the limit is refused before its body is read.
#[tokio::test]
async fn an_announced_oversize_is_refused_at_once() {
    let app = App::new(Arc::new(chat_store_memory::MemoryStore::new()));
    let (owner, _event, room) = app.world().await;
    let req = Request::post(format!("/v1/rooms/{room}/uploads?file_name=a.pdf"))
        .header("authorization", format!("Bearer {owner}"))
        .header("content-type", "application/pdf")
        .header("content-length", (FIVE_MIB + 1).to_string())
        // The body is never read: a short one shows the answer came from the header alone.
        .body(Body::from(pdf(10)))
        .unwrap();
    let reply = fetch(&app, req).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
}
