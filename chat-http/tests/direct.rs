//! `POST /v1/dms` on both stores: one room per set of people, listed with the caller's rooms.

#[path = "../../chat-store-postgres/tests/common/mod.rs"]
mod pg;
mod support;

use std::sync::Arc;

use axum::http::StatusCode;
use chat_core::Store;
use serde_json::json;
use support::{App, code};

async fn direct_rooms_over_rest(store: Arc<dyn Store>) {
    let app = App::new(store);
    let (owner, event, room) = app.world().await;
    let (alice_id, alice) = app.member(&owner, &event, &room, "Alice").await;
    let (bob_id, bob) = app.member(&owner, &event, &room, "Bob").await;
    let (stranger_id, _) = app.user("Stranger").await;

    let (s, first) = app
        .call(
            "POST",
            "/v1/dms",
            Some(&alice),
            Some(json!({"user_ids": [bob_id]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{first}");
    assert_eq!(first["room"]["kind"], "direct");
    assert_eq!(first["room"]["visibility"], "private");
    let dm = first["room"]["id"].as_str().unwrap().to_owned();
    let (s, again) = app
        .call(
            "POST",
            "/v1/dms",
            Some(&bob),
            Some(json!({"user_ids": [alice_id, bob_id]})),
        )
        .await;
    assert_eq!(
        (s, again["room"]["id"].as_str()),
        (StatusCode::OK, Some(dm.as_str()))
    );

    for (body, status, expected) in [
        (
            json!({"user_ids": []}),
            StatusCode::BAD_REQUEST,
            "validation",
        ),
        (
            json!({"user_ids": [stranger_id]}),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            json!({"user_ids": ["not-a-uuid"]}),
            StatusCode::BAD_REQUEST,
            "validation",
        ),
        (
            json!({"user_ids": [bob_id], "extra": 1}),
            StatusCode::BAD_REQUEST,
            "validation",
        ),
        (json!({}), StatusCode::BAD_REQUEST, "validation"),
    ] {
        let (s, b) = app
            .call("POST", "/v1/dms", Some(&alice), Some(body.clone()))
            .await;
        assert_eq!((s, code(&b)), (status, expected), "{body}: {b}");
    }

    let (s, sent) = app
        .call(
            "POST",
            &format!("/v1/rooms/{dm}/messages"),
            Some(&alice),
            Some(json!({"text": "just us"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{sent}");
    let (_, rooms) = app.call("GET", "/v1/rooms", Some(&bob), None).await;
    assert!(
        rooms
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["room"]["id"] == dm.as_str()),
        "{rooms}"
    );
    let (_, events) = app.call("GET", "/v1/events", Some(&bob), None).await;
    assert_eq!(
        events.as_array().unwrap().len(),
        1,
        "only My Event: {events}"
    );
    let (s, b) = app
        .call(
            "GET",
            &format!("/v1/rooms/{dm}/messages"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!((s, code(&b)), (StatusCode::NOT_FOUND, "not_found"));
    let (s, b) = app
        .call("POST", &format!("/v1/rooms/{dm}/leave"), Some(&bob), None)
        .await;
    assert_eq!((s, code(&b)), (StatusCode::FORBIDDEN, "forbidden"));
}

support::on_both_stores!(direct_rooms_over_rest);
