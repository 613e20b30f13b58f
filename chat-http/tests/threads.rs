//! Threads, one message by id, and history around a seq over REST, on both stores.

#[path = "../../chat-store-postgres/tests/common/mod.rs"]
mod pg;
mod support;

use std::sync::Arc;

use axum::http::StatusCode;
use chat_core::Store;
use serde_json::json;
use support::{App, code};

async fn threads_and_context_over_rest(store: Arc<dyn Store>) {
    let app = App::new(store);
    let (owner, event, room) = app.world().await;
    let (_, alice) = app.member(&owner, &event, &room, "Alice").await;
    let (_, outsider) = app.user("Outsider").await;
    let post = |token: String, body: serde_json::Value| {
        let app = &app;
        let room = room.clone();
        async move {
            let (s, b) = app
                .call(
                    "POST",
                    &format!("/v1/rooms/{room}/messages"),
                    Some(&token),
                    Some(body),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{b}");
            b["message"].clone()
        }
    };
    let parent = post(owner.clone(), json!({"text": "where do we meet?"})).await;
    let pid = parent["id"].as_str().unwrap().to_owned();
    let mut replies = Vec::new();
    for i in 0..3 {
        replies.push(
            post(
                alice.clone(),
                json!({"text": format!("reply {i}"), "reply_to": pid}),
            )
            .await,
        );
    }

    let (s, got) = app
        .call("GET", &format!("/v1/messages/{pid}"), Some(&alice), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(got["reply_count"], 3);
    assert_eq!(got["last_reply_at"], replies[2]["created_at"]);
    let (s, b) = app
        .call("GET", &format!("/v1/messages/{pid}"), Some(&outsider), None)
        .await;
    assert_eq!((s, code(&b)), (StatusCode::NOT_FOUND, "not_found"));

    let (s, page) = app
        .call(
            "GET",
            &format!("/v1/messages/{pid}/replies?limit=2"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert_eq!(page["has_more"], true);
    assert_eq!(page["messages"][0]["text"], "reply 0");
    let after = page["messages"][1]["seq"].as_u64().unwrap();
    let (_, rest) = app
        .call(
            "GET",
            &format!("/v1/messages/{pid}/replies?after={after}&limit=2"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(rest["messages"][0]["text"], "reply 2");
    assert_eq!(rest["has_more"], false);
    let (s, b) = app
        .call(
            "GET",
            &format!("/v1/messages/{pid}/replies"),
            Some(&outsider),
            None,
        )
        .await;
    assert_eq!((s, code(&b)), (StatusCode::NOT_FOUND, "not_found"));

    // The parent's thread update is in the room log, right after each reply.
    let (_, log) = app
        .call(
            "GET",
            &format!("/v1/rooms/{room}/changes?after=0"),
            Some(&alice),
            None,
        )
        .await;
    let kinds: Vec<&str> = log["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "thread_updated").count(),
        3,
        "{kinds:?}"
    );

    // Jumping to a reply opens the page around it.
    let seq = replies[1]["seq"].as_u64().unwrap();
    let (s, around) = app
        .call(
            "GET",
            &format!("/v1/rooms/{room}/messages?around={seq}&limit=3"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{around}");
    let texts: Vec<&str> = around["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert!(texts.contains(&"reply 1"), "{texts:?}");
    assert!(around["has_newer"].is_boolean());
    let (s, b) = app
        .call(
            "GET",
            &format!("/v1/rooms/{room}/messages?around={seq}&before={seq}"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!((s, code(&b)), (StatusCode::BAD_REQUEST, "validation"));
    let (s, b) = app
        .call(
            "GET",
            &format!("/v1/rooms/{room}/messages?around=999999"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(
        (s, b["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("around"))
    );
}

support::on_both_stores!(threads_and_context_over_rest);
