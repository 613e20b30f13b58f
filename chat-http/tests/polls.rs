//! Polls over HTTP and the WebSocket, on both stores: a poll sent as a message, votes by REST
//! arriving live as `payload_updated` events on a real connection to a server on port 0,
//! closing, and bad input answered with its documented error.

#[path = "../../chat-store-postgres/tests/common/mod.rs"]
mod pg;
mod support;

use std::sync::Arc;

use axum::http::StatusCode;
use chat_core::Store;
use chat_http::HttpConfig;
use serde_json::{Value, json};
use support::ws_client::{connect, next, relaxed, send};
use support::{App, code};

/// The next `event` frame of `kind`, skipping others.
async fn next_event(ws: &mut support::ws_client::Ws, kind: &str) -> Value {
    loop {
        let v = next(ws).await;
        if v["type"] == "event" && v["kind"] == kind {
            return v;
        }
    }
}

async fn polls_over_http_and_live(store: Arc<dyn Store>) {
    let app = App::with(store, relaxed(), HttpConfig::default());
    let (owner, event, room) = app.world().await;
    let (_, voter) = app.member(&owner, &event, &room, "Voter").await;
    let (_, outsider) = app.user("Outsider").await;
    let (addr, stop, server) = app.spawn().await;
    let mut ws = connect(addr, &owner).await;
    send(&mut ws, json!({"type": "subscribe", "room_id": room})).await;
    while next(&mut ws).await["type"] != "subscribed" {}

    let (s, sent) = app
        .call(
            "POST",
            &format!("/v1/rooms/{room}/messages"),
            Some(&owner),
            Some(json!({"text": "Dinner where?", "payload": {"kind": "poll", "data": {"options": ["Lake", "Hills"]}}})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{sent}");
    let poll = &sent["message"];
    assert_eq!(poll["payload"]["kind"], "poll");
    assert_eq!(poll["payload"]["data"]["counts"], json!([0, 0]));
    let id = poll["id"].as_str().unwrap().to_owned();
    let posted = next_event(&mut ws, "message_posted").await;
    assert_eq!(posted["data"]["payload"], poll["payload"]);

    // A vote by REST arrives live with the tallies.
    let vote = format!("/v1/messages/{id}/poll/vote");
    let (s, voted) = app
        .call("PUT", &vote, Some(&voter), Some(json!({"option": 1})))
        .await;
    assert_eq!(s, StatusCode::OK, "{voted}");
    assert_eq!(voted["payload"]["data"]["counts"], json!([0, 1]));
    let live = next_event(&mut ws, "payload_updated").await;
    assert_eq!(live["data"]["id"], id.as_str());
    assert_eq!(live["data"]["payload"]["data"]["counts"], json!([0, 1]));
    let (s, changed) = app
        .call("PUT", &vote, Some(&voter), Some(json!({"option": 0})))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(changed["payload"]["data"]["counts"], json!([1, 0]));
    let (s, withdrawn) = app.call("DELETE", &vote, Some(&voter), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(withdrawn["payload"]["data"]["counts"], json!([0, 0]));

    // Bad input: each with its documented error, nothing counted.
    let refusals = [
        (
            json!({"option": 5}),
            &voter,
            StatusCode::BAD_REQUEST,
            "validation",
        ),
        (
            json!({"option": -1}),
            &voter,
            StatusCode::BAD_REQUEST,
            "validation",
        ),
        (
            json!({"option": 0, "extra": 1}),
            &voter,
            StatusCode::BAD_REQUEST,
            "validation",
        ),
        (
            json!({"option": 0}),
            &outsider,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
    ];
    for (body, who, status, expected) in refusals {
        let (s, refused) = app.call("PUT", &vote, Some(who), Some(body.clone())).await;
        assert_eq!((s, code(&refused)), (status, expected), "{body}: {refused}");
    }
    let (s, refused) = app
        .raw(
            "PUT",
            &vote,
            &voter,
            "application/json",
            b"{\"option\": ".to_vec(),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "malformed JSON: {refused:?}");
    let (s, refused) = app
        .call(
            "POST",
            &format!("/v1/rooms/{room}/messages"),
            Some(&owner),
            Some(json!({"text": "Q?", "payload": {"kind": "poll", "data": {"options": ["A", "B\u{0}"]}}})),
        )
        .await;
    assert_eq!(
        (s, code(&refused)),
        (StatusCode::BAD_REQUEST, "validation"),
        "{refused}"
    );

    // Closing: not by a plain member; by the author; then votes conflict.
    let close = format!("/v1/messages/{id}/poll/close");
    let (s, refused) = app.call("POST", &close, Some(&voter), None).await;
    assert_eq!((s, code(&refused)), (StatusCode::FORBIDDEN, "forbidden"));
    let (s, closed) = app.call("POST", &close, Some(&owner), None).await;
    assert_eq!(s, StatusCode::OK, "{closed}");
    assert_eq!(closed["payload"]["data"]["closed"], true);
    let (s, refused) = app
        .call("PUT", &vote, Some(&voter), Some(json!({"option": 0})))
        .await;
    assert_eq!((s, code(&refused)), (StatusCode::CONFLICT, "conflict"));

    // A poll cannot be rewritten through the payload route.
    let (s, refused) = app
        .call(
            "PUT",
            &format!("/v1/messages/{id}/payload"),
            Some(&owner),
            Some(json!({"data": {"options": ["X", "Y"]}})),
        )
        .await;
    assert_eq!((s, code(&refused)), (StatusCode::FORBIDDEN, "forbidden"));
    let _ = stop.send(());
    server.await.unwrap();
}

support::on_both_stores!(polls_over_http_and_live);
