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
    let app = App::new(Arc::clone(&store));
    let (owner, event, room) = app.world().await;
    let (_, member) = app.member(&owner, &event, &room, "Member").await;
    let path = format!("/v1/events/{event}/bots");
    let body = json!({"display_name": "Summary Bot", "room_ids": [room]});

    // The engine issues the bot's token, whatever authenticates people.
    let (s, made) = app
        .call("POST", &path, Some(&owner), Some(body.clone()))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{made}");
    assert_eq!(made["user"]["is_bot"], true);
    let token = made["token"].as_str().expect("a token").to_owned();
    assert!(token.starts_with("cbt_"), "{token}");
    assert!(made["token_info"]["expires_at"].is_string(), "{made}");

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

/// Bots' tokens over HTTP: a second one issued, both listed without secrets, one revoked;
/// the revoked one is 401 at once on this instance and on another over the same store (and on
/// a WebSocket), the other keeps working; members can do none of it.
async fn bot_tokens_are_revoked_on_every_instance(store: Arc<dyn Store>) {
    let app = App::new(Arc::clone(&store));
    let other_instance = App::new(Arc::clone(&store));
    let (owner, event, room) = app.world().await;
    let (_, member) = app.member(&owner, &event, &room, "Member").await;
    let (s, made) = app
        .call(
            "POST",
            &format!("/v1/events/{event}/bots"),
            Some(&owner),
            Some(json!({"display_name": "Helper", "room_ids": [room]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{made}");
    let bot = made["user"]["id"].as_str().unwrap().to_owned();
    let first = made["token"].as_str().unwrap().to_owned();
    let first_id = made["token_info"]["id"].as_str().unwrap().to_owned();
    let tokens = format!("/v1/events/{event}/bots/{bot}/tokens");
    let (s, second) = app
        .call(
            "POST",
            &tokens,
            Some(&owner),
            Some(json!({"ttl_secs": 3600})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{second}");
    let second = second["token"].as_str().unwrap().to_owned();
    let (s, refused) = app
        .call("POST", &tokens, Some(&owner), Some(json!({"ttl_secs": 0})))
        .await;
    assert_eq!((s, code(&refused)), (StatusCode::BAD_REQUEST, "validation"));
    let (s, listed) = app.call("GET", &tokens, Some(&owner), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert!(!listed.to_string().contains("cbt_"), "no secrets: {listed}");
    for (method, path) in [
        ("GET", tokens.clone()),
        ("DELETE", format!("{tokens}/{first_id}")),
    ] {
        let (s, refused) = app.call(method, &path, Some(&member), None).await;
        assert_eq!((s, code(&refused)), (StatusCode::FORBIDDEN, "forbidden"));
    }

    assert_eq!(me_of(&other_instance, &first).await, StatusCode::OK);
    let (s, revoked) = app
        .call(
            "DELETE",
            &format!("{tokens}/{first_id}"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{revoked}");
    assert!(revoked["revoked_at"].is_string(), "{revoked}");
    for instance in [&app, &other_instance] {
        assert_eq!(me_of(instance, &first).await, StatusCode::UNAUTHORIZED);
        assert_eq!(me_of(instance, &second).await, StatusCode::OK);
    }
    // The WebSocket upgrade authenticates the same way.
    let (addr, _stop, _server) = other_instance.spawn().await;
    let refused =
        tokio_tungstenite::connect_async(format!("ws://{addr}/v1/ws?token={first}")).await;
    assert!(refused.is_err(), "a revoked token opens no WebSocket");
    let opened =
        tokio_tungstenite::connect_async(format!("ws://{addr}/v1/ws?token={second}")).await;
    assert!(opened.is_ok(), "{:?}", opened.err());
}

/// The status of `GET /v1/me` with `token`.
async fn me_of(app: &App, token: &str) -> StatusCode {
    app.call("GET", "/v1/me", Some(token), None).await.0
}

support::on_both_stores!(bots_over_http, bot_tokens_are_revoked_on_every_instance);
