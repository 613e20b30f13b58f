//! `POST /v1/feed` on both stores: starting from now, reading pages after a cursor, the long
//! poll waking for a change, and bad input answered with the documented errors.

#[path = "../../chat-store-postgres/tests/common/mod.rs"]
mod pg;
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use chat_core::Store;
use serde_json::{Value, json};
use support::{App, code};

async fn feed_over_http(store: Arc<dyn Store>) {
    let app = Arc::new(App::new(store));
    let (owner, event, room) = app.world().await;
    let (_, reader) = app.member(&owner, &event, &room, "Reader").await;
    let post = |text: &'static str| {
        let app = Arc::clone(&app);
        let owner = owner.clone();
        let room = room.clone();
        async move {
            let (s, body) = app
                .call(
                    "POST",
                    &format!("/v1/rooms/{room}/messages"),
                    Some(&owner),
                    Some(json!({"text": text})),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{body}");
            body
        }
    };

    // From now: no changes, and a cursor at the room's last seq.
    let (s, start) = app
        .call("POST", "/v1/feed", Some(&reader), Some(json!({})))
        .await;
    assert_eq!(s, StatusCode::OK, "{start}");
    assert_eq!(start["changes"], json!([]));
    let last = start["cursor"][&room]
        .as_u64()
        .expect("the room is in the cursor");

    post("one").await;
    post("two").await;
    post("three").await;
    let (s, page) = app
        .call(
            "POST",
            "/v1/feed",
            Some(&reader),
            Some(json!({"cursor": start["cursor"], "limit": 2})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let texts = |page: &Value| -> Vec<String> {
        page["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["data"]["text"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert_eq!(texts(&page), ["one", "two"]);
    assert_eq!(page["has_more"], true);
    assert_eq!(page["cursor"][&room], last + 2);
    let (_, rest) = app
        .call(
            "POST",
            "/v1/feed",
            Some(&reader),
            Some(json!({"cursor": page["cursor"]})),
        )
        .await;
    assert_eq!(texts(&rest), ["three"]);
    assert_eq!(rest["has_more"], false);

    // The long poll: nothing yet, then a message wakes it.
    let waiting = {
        let app = Arc::clone(&app);
        let reader = reader.clone();
        let cursor = rest["cursor"].clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let answer = app
                .call(
                    "POST",
                    "/v1/feed",
                    Some(&reader),
                    Some(json!({"cursor": cursor, "wait_ms": 10000})),
                )
                .await;
            (answer, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    post("four").await;
    let ((s, woke), took) = waiting.await.unwrap();
    assert_eq!(s, StatusCode::OK, "{woke}");
    assert_eq!(texts(&woke), ["four"]);
    assert!(
        took < Duration::from_secs(5),
        "answered when the message came, not at the end of the wait: {took:?}"
    );
    // A wait with nothing to come ends empty, with the cursor unchanged.
    let (s, empty) = app
        .call(
            "POST",
            "/v1/feed",
            Some(&reader),
            Some(json!({"cursor": woke["cursor"], "wait_ms": 300})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(empty["changes"], json!([]));
    assert_eq!(empty["cursor"], woke["cursor"]);

    // Bad input: each with its error, and the feed as it was.
    let bad = [
        (
            json!({"cursor": woke["cursor"], "wait_ms": 25001}),
            "validation",
        ),
        (json!({"cursor": woke["cursor"], "limit": 0}), "validation"),
        // Without a cursor too (the feed's start): a bad size is refused, not ignored.
        (json!({"cursor": null, "limit": 0}), "validation"),
        (json!({"limit": 101}), "validation"),
        (json!({"cursor": {room.clone(): 999_999}}), "validation"),
        (json!({"cursor": {"not-a-room": 1}}), "validation"),
        (json!({"cursor": [1, 2]}), "validation"),
    ];
    for (body, expected) in bad {
        let (s, answer) = app
            .call("POST", "/v1/feed", Some(&reader), Some(body.clone()))
            .await;
        assert_eq!(
            (s, code(&answer)),
            (StatusCode::BAD_REQUEST, expected),
            "{body} → {answer}"
        );
    }
    let (s, _) = app.call("POST", "/v1/feed", None, Some(json!({}))).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (_, again) = app
        .call(
            "POST",
            "/v1/feed",
            Some(&reader),
            Some(json!({"cursor": rest["cursor"]})),
        )
        .await;
    assert_eq!(texts(&again), ["four"]);
}

support::on_both_stores!(feed_over_http);

/// A body that is JSON but not an object (serde's derived structs would read `[null, null]` as
/// a request with every field absent) is 400 `validation` on `body`, on every JSON route.
#[tokio::test]
async fn non_object_bodies_are_refused() {
    let app = App::new(Arc::new(chat_store_memory::MemoryStore::new()));
    let (owner, event, room) = app.world().await;
    let routes = [
        ("POST", "/v1/feed".to_owned()),
        ("POST", "/v1/events".to_owned()),
        ("POST", format!("/v1/events/{event}/rooms")),
        ("POST", format!("/v1/rooms/{room}/messages")),
        ("POST", "/v1/dms".to_owned()),
        ("PUT", "/v1/me".to_owned()),
    ];
    for (method, uri) in &routes {
        for body in ["[null, null]", "[]", "null", "\"text\"", "42", "true"] {
            let (s, refused) = app
                .raw(
                    method,
                    uri,
                    &owner,
                    "application/json",
                    body.as_bytes().to_vec(),
                )
                .await;
            assert_eq!(
                (s, code(&refused), refused["error"]["field"].as_str()),
                (StatusCode::BAD_REQUEST, "validation", Some("body")),
                "{method} {uri} {body}: {refused}"
            );
        }
    }
    let (s, page) = app
        .call(
            "GET",
            &format!("/v1/rooms/{room}/messages"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(page["messages"].as_array().map(Vec::len), Some(0), "{page}");
}
