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

/// A database that cannot be reached: 503 with a generic body (the detail goes to the log),
/// for readiness and for requests alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_is_503_without_detail() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let pool = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(std::time::Duration::from_millis(500))
        .connect_lazy(&format!("postgres://postgres@127.0.0.1:{port}/nowhere"))
        .unwrap();
    let app = App::new(Arc::new(chat_store_postgres::PostgresStore::from_pool(
        pool,
    )));
    let (s, body) = app.call("GET", "/readyz", None, None).await;
    assert_eq!(
        (s, code(&body)),
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    );
    let token = app.token(chat_core::UserId::new());
    let (s, body) = app.call("GET", "/v1/me", Some(&token), None).await;
    assert_eq!(
        (s, code(&body)),
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    );
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        !message.contains(&port.to_string()) && !message.contains("postgres"),
        "no detail leaks: {message}"
    );
}
