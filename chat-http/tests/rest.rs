//! The REST API over both stores: every endpoint's success path, authorization, the original
//! design's three tests, and hostile input.

#[path = "../../chat-store-postgres/tests/common/mod.rs"]
mod pg;
mod support;

use std::sync::Arc;

use axum::http::StatusCode;
use chat_core::Store;
use serde_json::json;
use support::{App, code};

async fn every_endpoint_works(store: Arc<dyn Store>) {
    let app = App::new(store);
    let (owner, event, room) = app.world().await;
    let (alice_id, alice) = app.user("Alice").await;
    let (s, me) = app.call("GET", "/v1/me", Some(&alice), None).await;
    assert_eq!(
        (s, me["display_name"].as_str()),
        (StatusCode::OK, Some("Alice"))
    );
    // A profile is visible only to people who share an event with its user.
    let (s, body) = app
        .call("GET", &format!("/v1/users/{alice_id}"), Some(&owner), None)
        .await;
    assert_eq!((s, code(&body)), (StatusCode::NOT_FOUND, "not_found"));

    let (s, m) = app
        .call(
            "POST",
            &format!("/v1/events/{event}/members"),
            Some(&owner),
            Some(json!({"user_id": alice_id})),
        )
        .await;
    assert_eq!(
        (s, m["role"].as_str()),
        (StatusCode::CREATED, Some("member"))
    );
    let (s, _) = app
        .call("GET", &format!("/v1/users/{alice_id}"), Some(&owner), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, members) = app
        .call(
            "GET",
            &format!("/v1/events/{event}/members"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!((s, members.as_array().unwrap().len()), (StatusCode::OK, 2));
    let (s, m) = app
        .call(
            "PUT",
            &format!("/v1/events/{event}/members/{alice_id}"),
            Some(&owner),
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!((s, m["role"].as_str()), (StatusCode::OK, Some("admin")));
    let (s, events) = app.call("GET", "/v1/events", Some(&alice), None).await;
    assert_eq!(
        (s, events[0]["event"]["id"].as_str()),
        (StatusCode::OK, Some(event.as_str()))
    );
    let (s, e) = app
        .call("GET", &format!("/v1/events/{event}"), Some(&alice), None)
        .await;
    assert_eq!((s, e["role"].as_str()), (StatusCode::OK, Some("admin")));

    let (s, rooms) = app
        .call(
            "GET",
            &format!("/v1/rooms?event_id={event}&name=mai"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!((s, rooms.as_array().unwrap().len()), (StatusCode::OK, 1));
    let (s, r) = app
        .call("GET", &format!("/v1/rooms/{room}"), Some(&alice), None)
        .await;
    assert_eq!(
        (s, r["room"]["name"].as_str()),
        (StatusCode::OK, Some("Main"))
    );
    let (s, r) = app
        .call(
            "PATCH",
            &format!("/v1/rooms/{room}"),
            Some(&owner),
            Some(json!({"name": "Lobby"})),
        )
        .await;
    assert_eq!((s, r["name"].as_str()), (StatusCode::OK, Some("Lobby")));
    let (s, _) = app
        .call(
            "POST",
            &format!("/v1/rooms/{room}/join"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, members) = app
        .call(
            "GET",
            &format!("/v1/rooms/{room}/members"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!((s, members.as_array().unwrap().len()), (StatusCode::OK, 2));
    let (s, found) = app
        .call(
            "GET",
            &format!("/v1/rooms/{room}/members/lookup?prefix=al"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(
        (s, found[0]["display_name"].as_str()),
        (StatusCode::OK, Some("Alice"))
    );

    let (s, private) = app
        .call(
            "POST",
            &format!("/v1/events/{event}/rooms"),
            Some(&owner),
            Some(json!({"name": "Secret", "kind": "topic", "visibility": "private"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let private = private["id"].as_str().unwrap();
    let (s, _) = app
        .call(
            "POST",
            &format!("/v1/rooms/{private}/members"),
            Some(&owner),
            Some(json!({"user_id": alice_id})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, m) = app
        .call(
            "PATCH",
            &format!("/v1/rooms/{private}/members/{alice_id}"),
            Some(&owner),
            Some(json!({"role": "moderator"})),
        )
        .await;
    assert_eq!((s, m["role"].as_str()), (StatusCode::OK, Some("moderator")));

    let send = json!({"text": "hello world", "client_msg_id": "c-1"});
    let (s, sent) = app
        .call(
            "POST",
            &format!("/v1/rooms/{room}/messages"),
            Some(&alice),
            Some(send.clone()),
        )
        .await;
    assert_eq!(
        (s, sent["replayed"].as_bool()),
        (StatusCode::CREATED, Some(false))
    );
    let (s, again) = app
        .call(
            "POST",
            &format!("/v1/rooms/{room}/messages"),
            Some(&alice),
            Some(send),
        )
        .await;
    assert_eq!(
        (s, again["replayed"].as_bool()),
        (StatusCode::OK, Some(true))
    );
    assert_eq!(again["message"]["id"], sent["message"]["id"]);
    let msg = sent["message"]["id"].as_str().unwrap().to_owned();
    let seq = sent["message"]["seq"].as_u64().unwrap();

    let (s, page) = app
        .call(
            "GET",
            &format!("/v1/rooms/{room}/messages?limit=10"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(
        (s, page["messages"].as_array().unwrap().len()),
        (StatusCode::OK, 1)
    );
    let (s, page) = app
        .call(
            "GET",
            &format!("/v1/rooms/{room}/messages?after=0"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(
        (s, page["messages"][0]["id"].as_str()),
        (StatusCode::OK, Some(msg.as_str()))
    );
    let (s, page) = app
        .call(
            "GET",
            &format!("/v1/rooms/{room}/messages?before={seq}"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(
        (s, page["messages"].as_array().unwrap().len()),
        (StatusCode::OK, 0)
    );
    let (s, e) = app
        .call(
            "PATCH",
            &format!("/v1/messages/{msg}"),
            Some(&alice),
            Some(json!({"text": "hello, world"})),
        )
        .await;
    assert_eq!((s, e["is_edited"].as_bool()), (StatusCode::OK, Some(true)));
    let (s, r) = app
        .call(
            "PUT",
            &format!("/v1/messages/{msg}/reactions/%F0%9F%8E%89"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(
        (s, r["reactions"]["🎉"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(1))
    );
    let (s, r) = app
        .call(
            "DELETE",
            &format!("/v1/messages/{msg}/reactions/%F0%9F%8E%89"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(
        (s, r["reactions"].as_object().map(|o| o.len())),
        (StatusCode::OK, Some(0))
    );
    let (s, c) = app
        .call(
            "GET",
            &format!("/v1/rooms/{room}/changes?after=0&limit=100"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let kinds: Vec<&str> = c["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "room_updated",
            "member_joined",
            "message_posted",
            "message_edited",
            "reactions_changed",
            "reactions_changed"
        ]
    );
    let (s, _) = app
        .call(
            "POST",
            &format!("/v1/rooms/{room}/read"),
            Some(&alice),
            Some(json!({"seq": seq})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app
        .call(
            "POST",
            &format!("/v1/rooms/{room}/typing"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, hits) = app
        .call("GET", "/v1/search?q=WORLD", Some(&alice), None)
        .await;
    assert_eq!((s, hits.as_array().unwrap().len()), (StatusCode::OK, 1));
    let (s, d) = app
        .call("DELETE", &format!("/v1/messages/{msg}"), Some(&alice), None)
        .await;
    assert_eq!((s, d["is_deleted"].as_bool()), (StatusCode::OK, Some(true)));
    let (s, _) = app
        .call(
            "POST",
            &format!("/v1/rooms/{room}/leave"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = app
        .call(
            "DELETE",
            &format!("/v1/events/{event}/members/{alice_id}"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);

    let (s, body) = app
        .call("GET", "/v1/admin/metrics", Some(&owner), None)
        .await;
    assert_eq!((s, code(&body)), (StatusCode::FORBIDDEN, "forbidden"));
    let admin = app.token(app.admin);
    let (s, m) = app
        .call("GET", "/v1/admin/metrics", Some(&admin), None)
        .await;
    assert_eq!((s, m["total_messages"].as_u64()), (StatusCode::OK, Some(1)));
    assert_eq!(
        app.call("GET", "/healthz", None, None).await.0,
        StatusCode::OK
    );
    assert_eq!(
        app.call("GET", "/readyz", None, None).await.0,
        StatusCode::OK
    );
}

async fn authentication_and_authorization(store: Arc<dyn Store>) {
    let app = App::new(store);
    let (owner, event, room) = app.world().await;
    let (s, body) = app.call("GET", "/v1/me", None, None).await;
    assert_eq!(
        (s, code(&body)),
        (StatusCode::UNAUTHORIZED, "unauthenticated")
    );
    let forged = chat_http::JwtAuthenticator::new(b"another secret")
        .issue(chat_core::UserId::new(), std::time::Duration::from_secs(60))
        .unwrap();
    let (s, body) = app.call("GET", "/v1/events", Some(&forged), None).await;
    assert_eq!(
        (s, code(&body)),
        (StatusCode::UNAUTHORIZED, "unauthenticated")
    );

    let (_, private) = app
        .call(
            "POST",
            &format!("/v1/events/{event}/rooms"),
            Some(&owner),
            Some(json!({"name": "Secret", "kind": "topic", "visibility": "private"})),
        )
        .await;
    let private = private["id"].as_str().unwrap().to_owned();
    app.call(
        "POST",
        &format!("/v1/rooms/{private}/messages"),
        Some(&owner),
        Some(json!({"text": "the plan"})),
    )
    .await;
    let (mallory_id, mallory) = app.user("Mallory").await;
    app.call(
        "POST",
        &format!("/v1/events/{event}/members"),
        Some(&owner),
        Some(json!({"user_id": mallory_id})),
    )
    .await;
    // A private room is indistinguishable from a missing one.
    let missing = chat_core::RoomId::new();
    for target in [private.as_str(), &missing.to_string()] {
        for (method, path, body) in [
            ("GET", format!("/v1/rooms/{target}"), None),
            ("GET", format!("/v1/rooms/{target}/messages"), None),
            (
                "POST",
                format!("/v1/rooms/{target}/messages"),
                Some(json!({"text": "hi"})),
            ),
            ("GET", format!("/v1/search?q=plan&room_id={target}"), None),
            ("POST", format!("/v1/rooms/{target}/join"), None),
        ] {
            let (s, b) = app.call(method, &path, Some(&mallory), body).await;
            assert_eq!(
                (s, code(&b)),
                (StatusCode::NOT_FOUND, "not_found"),
                "{method} {path}"
            );
        }
    }
    let (s, hits) = app
        .call("GET", "/v1/search?q=plan", Some(&mallory), None)
        .await;
    assert_eq!((s, hits.as_array().unwrap().len()), (StatusCode::OK, 0));
    // A public room's existence is no secret, but reading it takes membership.
    let (s, b) = app
        .call(
            "GET",
            &format!("/v1/rooms/{room}/messages"),
            Some(&mallory),
            None,
        )
        .await;
    assert_eq!((s, code(&b)), (StatusCode::FORBIDDEN, "forbidden"));
}

async fn original_design_tests(store: Arc<dyn Store>) {
    let app = App::new(store);
    let (owner, event, room) = app.world().await;
    for i in 0..10 {
        let (s, _) = app
            .call(
                "POST",
                &format!("/v1/rooms/{room}/messages"),
                Some(&owner),
                Some(json!({"text": format!("Message {i}")})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
    }
    let req = axum::http::Request::builder()
        .method("POST")
        .uri(format!("/v1/rooms/{room}/messages"))
        .header("authorization", format!("Bearer {owner}"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(
            json!({"text": "Too many messages"}).to_string(),
        ))
        .unwrap();
    let response = tower::ServiceExt::oneshot(app.router.clone(), req)
        .await
        .unwrap();
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let (s, body) = support::split(response).await;
    assert_eq!(
        (s, code(&body)),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    let ms = body["error"]["retry_after_ms"].as_u64().unwrap();
    assert!(
        (1..=60).contains(&retry_after) && ms > 0 && ms <= 60_000,
        "{retry_after} s, {ms} ms"
    );

    let (user2_id, user2_token) = app.member(&owner, &event, &room, "User Two").await;
    let user2 = user2_id.to_string();
    let user2 = user2.as_str();
    let (s, body) = app
        .call(
            "POST",
            &format!("/v1/rooms/{room}/messages"),
            Some(&user2_token),
            Some(json!({"text": "a".repeat(5001)})),
        )
        .await;
    assert_eq!(
        (s, code(&body), body["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, "validation", Some("text"))
    );
    let text = format!("Hey @[User Two]({user2}) check this out!");
    let (_, user1) = app.member(&owner, &event, &room, "User One").await;
    let (s, sent) = app
        .call(
            "POST",
            &format!("/v1/rooms/{room}/messages"),
            Some(&user1),
            Some(json!({"text": text})),
        )
        .await;
    assert_eq!(
        (s, sent["message"]["mentions"][0].as_str()),
        (StatusCode::CREATED, Some(user2))
    );
}

async fn hostile_input_gets_clear_errors_and_loses_nothing(store: Arc<dyn Store>) {
    let app = App::new(store);
    let (owner, _event, room) = app.world().await;
    let (_, kept) = app
        .call(
            "POST",
            &format!("/v1/rooms/{room}/messages"),
            Some(&owner),
            Some(json!({"text": "keep me"})),
        )
        .await;
    let uri = format!("/v1/rooms/{room}/messages");
    // (method, path, content type, body, expected status, expected code)
    type Case = (
        &'static str,
        String,
        &'static str,
        Vec<u8>,
        StatusCode,
        &'static str,
    );
    let cases: Vec<Case> = vec![
        (
            "POST",
            uri.clone(),
            "application/json",
            vec![b'{'; 70 * 1024],
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            "POST",
            uri.clone(),
            "application/json",
            b"{\"text\": ".to_vec(),
            StatusCode::BAD_REQUEST,
            "validation",
        ),
        (
            "POST",
            uri.clone(),
            "application/json",
            b"[1,2,3]".to_vec(),
            StatusCode::BAD_REQUEST,
            "validation",
        ),
        (
            "POST",
            uri.clone(),
            "text/plain",
            b"{\"text\": \"hi\"}".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "POST",
            uri.clone(),
            "application/json",
            b"{\"text\": \"nul\\u0000byte\"}".to_vec(),
            StatusCode::BAD_REQUEST,
            "validation",
        ),
        (
            "POST",
            uri.clone(),
            "application/json",
            vec![
                b'{', b'"', b't', b'e', b'x', b't', b'"', b':', b'"', 0xff, 0xfe, b'"', b'}',
            ],
            StatusCode::BAD_REQUEST,
            "validation",
        ),
        (
            "POST",
            uri.clone(),
            "application/json",
            b"{\"text\": \"x\", \"reply_to\": 123456789012345678901234567890}".to_vec(),
            StatusCode::BAD_REQUEST,
            "validation",
        ),
        (
            "POST",
            "/v1/rooms/not-a-uuid/messages".into(),
            "application/json",
            b"{\"text\": \"hi\"}".to_vec(),
            StatusCode::BAD_REQUEST,
            "validation",
        ),
    ];
    for (method, path, ct, body, status, expected) in cases {
        let (s, b) = app.raw(method, &path, &owner, ct, body).await;
        assert_eq!(
            (s, code(&b)),
            (status, expected),
            "{method} {path} {ct}: {b}"
        );
    }
    for q in [
        "limit=0",
        "limit=-1",
        "limit=101",
        "limit=1000000",
        "limit=99999999999999999999",
        "before=-5",
        "limit=abc",
    ] {
        let (s, b) = app
            .call("GET", &format!("{uri}?{q}"), Some(&owner), None)
            .await;
        assert_eq!(
            (s, code(&b)),
            (StatusCode::BAD_REQUEST, "validation"),
            "{q}"
        );
    }
    let (s, b) = app.call("GET", "/v1/nowhere", Some(&owner), None).await;
    assert_eq!((s, code(&b)), (StatusCode::NOT_FOUND, "not_found"));
    let (s, b) = app.call("DELETE", "/v1/events", Some(&owner), None).await;
    assert_eq!(
        (s, code(&b)),
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
    );
    // Someone else's message: not theirs to edit.
    let (_, eve) = app.user("Eve").await;
    let msg = kept["message"]["id"].as_str().unwrap();
    let (s, b) = app
        .call(
            "PATCH",
            &format!("/v1/messages/{msg}"),
            Some(&eve),
            Some(json!({"text": "pwned"})),
        )
        .await;
    assert_eq!((s, code(&b)), (StatusCode::NOT_FOUND, "not_found"));
    let (s, b) = app
        .call("DELETE", &format!("/v1/messages/{msg}"), Some(&eve), None)
        .await;
    assert_eq!((s, code(&b)), (StatusCode::NOT_FOUND, "not_found"));
    // Nothing stored was lost or changed.
    let (s, page) = app.call("GET", &uri, Some(&owner), None).await;
    assert_eq!(s, StatusCode::OK);
    let messages = page["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0], kept["message"]);
}

support::on_both_stores!(
    every_endpoint_works,
    authentication_and_authorization,
    original_design_tests,
    hostile_input_gets_clear_errors_and_loses_nothing,
);

/// What a client of a server whose database is gone sees: `/readyz` and a send, each with
/// its status, error code, `Retry-After` and how long it took.
async fn probe_unavailable(store: chat_store_postgres::PostgresStore) {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    let app = App::new(Arc::new(store));
    let token = app.token(chat_core::UserId::new());
    let requests = [
        Request::get("/readyz").body(Body::empty()).unwrap(),
        Request::post(format!("/v1/rooms/{}/messages", chat_core::RoomId::new()))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Body::from(r#"{"text":"hello"}"#))
            .unwrap(),
    ];
    for request in requests {
        let path = request.uri().path().to_owned();
        let started = std::time::Instant::now();
        let response = app.router.clone().oneshot(request).await.unwrap();
        let took = started.elapsed();
        eprintln!("{path}: answered in {took:?}");
        let retry_after = response.headers().get("retry-after").cloned();
        let (s, body) = support::split(response).await;
        assert_eq!(
            (s, code(&body)),
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            "{path}: {body}"
        );
        assert_eq!(
            retry_after.as_ref().map(|v| v.to_str().unwrap()),
            Some("1"),
            "{path}"
        );
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            !message.contains("postgres") && !message.contains("database"),
            "no detail leaks: {message}"
        );
        // The old behaviour was a 5 s hang (readiness) or a 500 (a missing database). The
        // bound is loose: it separates "fails fast" from "hangs", on a busy machine too.
        assert!(
            took < std::time::Duration::from_secs(3),
            "{path} took {took:?}"
        );
    }
}

/// A database server that is down (nothing listens): 503 `unavailable` with `Retry-After`,
/// quickly, for readiness and for requests alike, and no detail in the body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_database_is_503_fast_with_retry_after() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let store = chat_store_postgres::PostgresStore::connect_lazy_with(
        &format!("postgres://postgres@127.0.0.1:{port}/nowhere"),
        &chat_store_postgres::PostgresOptions::default(),
    )
    .unwrap();
    probe_unavailable(store).await;
}

/// A database that does not exist on a running server (SQLSTATE 3D000, as after a rename)
/// is the deployment's fault, not the request's: 503, never 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_database_is_503_not_500() {
    // The server must be there for this case to mean anything.
    let Some(db) = pg::TestDb::fresh(1).await else {
        return;
    };
    db.cleanup().await;
    let url = pg::database_url();
    let (server, _database) = url.split('?').next().unwrap().rsplit_once('/').unwrap();
    let url = format!("{server}/chat_missing_{}", uuid::Uuid::now_v7().simple());
    let store = chat_store_postgres::PostgresStore::connect_lazy_with(
        &url,
        &chat_store_postgres::PostgresOptions::default(),
    )
    .unwrap();
    probe_unavailable(store).await;
}

/// One HTTP/1.1 exchange on an open socket: the status and the lowercased head and body.
async fn exchange(socket: &mut tokio::net::TcpStream, request: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        let n = tokio::time::timeout(std::time::Duration::from_secs(5), socket.read(&mut buf))
            .await
            .expect("an answer in time")
            .unwrap();
        assert!(n > 0, "the connection closed without an answer");
        received.extend_from_slice(&buf[..n]);
        if let Some(i) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&received[..head_end]).to_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse().unwrap());
    while received.len() < head_end + length {
        let n = socket.read(&mut buf).await.unwrap();
        assert!(n > 0);
        received.extend_from_slice(&buf[..n]);
    }
    let status = head[9..12].parse().unwrap();
    let body = String::from_utf8_lossy(&received[head_end..head_end + length]);
    (status, format!("{head}{body}"))
}

/// A refusal that leaves the body unread says `Connection: close`, so the client does not
/// reuse a socket the server is closing; a request whose body was read keeps the connection.
/// The `Bearer` scheme is matched ignoring case.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unread_bodies_close_the_connection_and_read_ones_keep_it() {
    let app = App::new(Arc::new(chat_store_memory::MemoryStore::new()));
    let (_, token) = app.user("Owner").await;
    let (addr, stop, server) = app.spawn().await;

    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    let wrong_type = format!(
        "POST /v1/events HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n\r\nhello"
    );
    let (status, head) = exchange(&mut socket, &wrong_type).await;
    assert_eq!(status, 415);
    assert!(head.contains("connection: close"), "{head}");

    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    let unauthenticated = "POST /v1/events HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
    let (status, head) = exchange(&mut socket, unauthenticated).await;
    assert_eq!(status, 401);
    assert!(head.contains("connection: close"), "{head}");

    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    let body = r#"{"name":"Trip","kind":"trip"}"#;
    let create = format!(
        "POST /v1/events HTTP/1.1\r\nhost: x\r\nauthorization: bearer {token}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let (status, head) = exchange(&mut socket, &create).await;
    assert_eq!(status, 201, "{head}");
    assert!(!head.contains("connection: close"), "{head}");
    let list =
        format!("GET /v1/events HTTP/1.1\r\nhost: x\r\nauthorization: BEARER {token}\r\n\r\n");
    let (status, _) = exchange(&mut socket, &list).await;
    assert_eq!(status, 200, "the same connection serves the next request");
    let _ = stop.send(());
    server.await.unwrap();
}

/// Every refusal of a request head has the JSON envelope, on a real socket: a URI over 8 KiB
/// and more than 100 headers (refused by the router), and what hyper cannot parse at all: a
/// 70 KB URI, 500 headers, a request line that is not HTTP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_request_heads_get_json_errors() {
    let app = App::new(Arc::new(chat_store_memory::MemoryStore::new()));
    let (addr, stop, server) = app.spawn().await;
    let headers = |n: usize| {
        (0..n)
            .map(|i| format!("x-filler-{i}: {i}\r\n"))
            .collect::<String>()
    };
    for (request, status, code) in [
        (
            format!(
                "GET /v1/search?q={} HTTP/1.1\r\nhost: x\r\n\r\n",
                "a".repeat(9 * 1024)
            ),
            414,
            "uri_too_long",
        ),
        (
            format!(
                "GET /v1/search?q={} HTTP/1.1\r\nhost: x\r\n\r\n",
                "a".repeat(70_000)
            ),
            414,
            "uri_too_long",
        ),
        (
            format!("GET /healthz HTTP/1.1\r\nhost: x\r\n{}\r\n", headers(150)),
            431,
            "headers_too_large",
        ),
        (
            format!("GET /healthz HTTP/1.1\r\nhost: x\r\n{}\r\n", headers(500)),
            431,
            "headers_too_large",
        ),
        ("GARBAGE\r\n\r\n".to_owned(), 400, "bad_request"),
    ] {
        let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (got, head) = exchange(&mut socket, &request).await;
        assert_eq!(got, status, "{head}");
        assert!(head.contains("content-type: application/json"), "{head}");
        assert!(head.contains(&format!("\"code\":\"{code}\"")), "{head}");
    }
    let _ = stop.send(());
    server.await.unwrap();
}
