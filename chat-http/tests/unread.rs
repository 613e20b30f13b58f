//! Unread counts and the mention feed over REST, on both stores.

#[path = "../../chat-store-postgres/tests/common/mod.rs"]
mod pg;
mod support;

use std::sync::Arc;

use axum::http::StatusCode;
use chat_core::Store;
use serde_json::json;
use support::{App, code};

async fn unread_and_mentions_over_rest(store: Arc<dyn Store>) {
    let app = App::new(store);
    let (owner, event, room) = app.world().await;
    let (alice_id, alice) = app.member(&owner, &event, &room, "Alice").await;
    let (_, log) = app
        .call(
            "GET",
            &format!("/v1/rooms/{room}/changes?after=0"),
            Some(&alice),
            None,
        )
        .await;
    let seen = log["last_seq"].as_u64().unwrap();
    let (s, _) = app
        .call(
            "POST",
            &format!("/v1/rooms/{room}/read"),
            Some(&alice),
            Some(json!({"seq": seen})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);

    for text in [
        "plain".to_owned(),
        format!("@[Alice]({alice_id}) look"),
        format!("@[Alice]({alice_id}) and this"),
    ] {
        let (s, b) = app
            .call(
                "POST",
                &format!("/v1/rooms/{room}/messages"),
                Some(&owner),
                Some(json!({"text": text})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
    let (s, unread) = app.call("GET", "/v1/me/unread", Some(&alice), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        unread,
        json!([{"room_id": room, "last_read_seq": seen, "last_seq": seen + 3, "messages": 3, "mentions": 2}])
    );
    let (_, rooms) = app.call("GET", "/v1/rooms", Some(&alice), None).await;
    let main = rooms
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["room"]["id"] == room.as_str())
        .unwrap();
    assert_eq!(main["unread"]["messages"], 3);
    assert_eq!(main["unread"]["mentions"], 2);

    let (s, feed) = app
        .call("GET", "/v1/me/mentions?limit=1", Some(&alice), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{feed}");
    assert_eq!(
        feed["messages"][0]["text"],
        "@[Alice]({alice_id}) and this".replace("{alice_id}", &alice_id.to_string())
    );
    assert_eq!(feed["has_more"], true);
    let before = feed["messages"][0]["id"].as_str().unwrap();
    let (_, older) = app
        .call(
            "GET",
            &format!("/v1/me/mentions?before={before}"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(older["messages"].as_array().unwrap().len(), 1);
    assert_eq!(older["has_more"], false);
    for bad in ["/v1/me/mentions?limit=0", "/v1/me/mentions?before=nope"] {
        let (s, b) = app.call("GET", bad, Some(&alice), None).await;
        assert_eq!(
            (s, code(&b)),
            (StatusCode::BAD_REQUEST, "validation"),
            "{bad}"
        );
    }
    let (s, _) = app.call("GET", "/v1/me/unread", None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

support::on_both_stores!(unread_and_mentions_over_rest);
