//! `POST /v1/events/{id}/bots` on both stores: a bot made by the owner writes with its own
//! token, its messages are marked, it stays in its rooms; others may not make one.

#[path = "../../chat-store-postgres/tests/common/mod.rs"]
mod pg;
mod support;

use std::sync::Arc;

use axum::http::StatusCode;
use chat_core::Store;
use serde_json::json;
use support::{App, code};

async fn bots_over_http(store: Arc<dyn Store>) {
    let mut app = App::new(store);
    let (owner, event, room) = app.world().await;
    let (_, member) = app.member(&owner, &event, &room, "Member").await;
    let path = format!("/v1/events/{event}/bots");
    let body = json!({"display_name": "Summary Bot", "room_ids": [room]});

    // Without an issuer, the host issues the token.
    let (s, made) = app
        .call("POST", &path, Some(&owner), Some(body.clone()))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{made}");
    assert_eq!(made["token"], serde_json::Value::Null);
    assert_eq!(made["user"]["is_bot"], true);

    app.state = app.state.clone().with_token_issuer(Arc::clone(&app.jwt));
    app.router = chat_http::router(app.state.clone());
    let (s, made) = app
        .call("POST", &path, Some(&owner), Some(body.clone()))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{made}");
    let token = made["token"].as_str().expect("a token").to_owned();

    let (s, sent) = app
        .call(
            "POST",
            &format!("/v1/rooms/{room}/messages"),
            Some(&token),
            Some(json!({"text": "beep"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{sent}");
    assert_eq!(sent["message"]["is_ai_generated"], true);
    assert_eq!(sent["message"]["author_name"], "Summary Bot");

    // Only in its rooms: a public room of the event is refused to it.
    let (s, side) = app
        .call(
            "POST",
            &format!("/v1/events/{event}/rooms"),
            Some(&owner),
            Some(json!({"name": "Side", "kind": "topic", "visibility": "public"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, refused) = app
        .call(
            "POST",
            &format!("/v1/rooms/{}/join", side["id"].as_str().unwrap()),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(
        (s, code(&refused)),
        (StatusCode::FORBIDDEN, "forbidden"),
        "{refused}"
    );

    // A member may not make one; a bad body is a clear error.
    let (s, refused) = app.call("POST", &path, Some(&member), Some(body)).await;
    assert_eq!((s, code(&refused)), (StatusCode::FORBIDDEN, "forbidden"));
    let (s, refused) = app
        .call(
            "POST",
            &path,
            Some(&owner),
            Some(json!({"display_name": "X\u{0}", "room_ids": []})),
        )
        .await;
    assert_eq!(
        (s, code(&refused)),
        (StatusCode::BAD_REQUEST, "validation"),
        "{refused}"
    );
}

support::on_both_stores!(bots_over_http);
