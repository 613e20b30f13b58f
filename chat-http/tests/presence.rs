//! Presence and live unread counts over a real server on port 0 and a real WebSocket client,
//! on both stores.

#[path = "../../chat-store-postgres/tests/common/mod.rs"]
mod pg;
mod support;

use std::sync::Arc;

use axum::http::StatusCode;
use chat_core::Store;
use serde_json::{Value, json};
use support::ws_client::{Ws, connect, next, send};
use support::{App, code};

/// Reads frames until one of `kind` satisfying `want`, returning it.
async fn next_where(ws: &mut Ws, kind: &str, want: impl Fn(&Value) -> bool) -> Value {
    loop {
        let v = next(ws).await;
        if v["type"] == kind && want(&v) {
            return v;
        }
    }
}

/// Presence over the WebSocket and REST: two connections of one user, one closed, still
/// online; away when the remaining one says so; offline with a last-active time once it
/// closes; only for people who share an event.
async fn presence_follows_every_connection(store: Arc<dyn Store>) {
    let app = App::new(store);
    let (owner, event, room) = app.world().await;
    let (bob_id, bob) = app.member(&owner, &event, &room, "Bob").await;
    let (_, stranger) = app.user("Stranger").await;
    let (addr, _stop, _server) = app.spawn().await;

    let mut watcher = connect(addr, &owner).await;
    send(
        &mut watcher,
        json!({"type": "presence_subscribe", "user_ids": [bob_id]}),
    )
    .await;
    let first = next_where(&mut watcher, "presence", |_| true).await;
    assert_eq!(first["user_id"], bob_id.to_string());
    assert_eq!(first["status"], "offline");

    let mut tab1 = connect(addr, &bob).await;
    let mut tab2 = connect(addr, &bob).await;
    next_where(&mut watcher, "presence", |v| v["status"] == "online").await;
    // Every frame is answered in order, so a pong means the connections are served.
    for ws in [&mut tab1, &mut tab2] {
        send(ws, json!({"type": "ping"})).await;
        next_where(ws, "pong", |_| true).await;
    }
    drop(tab1);
    let ask = format!("/v1/presence?user_ids={bob_id}");
    let mut still = Value::Null;
    for _ in 0..20 {
        // The closed tab's end reaches the server asynchronously: ask a few times.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let (s, body) = app.call("GET", &ask, Some(&owner), None).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        still = body;
    }
    assert_eq!(still[0]["status"], "online", "{still}");
    send(&mut tab2, json!({"type": "presence", "status": "away"})).await;
    next_where(&mut watcher, "presence", |v| v["status"] == "away").await;
    drop(tab2);
    let gone = next_where(&mut watcher, "presence", |v| v["status"] == "offline").await;
    assert!(gone["last_active_at"].is_string(), "{gone}");

    // Only people who share an event: the stranger learns nothing, over REST or live.
    let (s, body) = app.call("GET", &ask, Some(&stranger), None).await;
    assert_eq!((s, code(&body)), (StatusCode::NOT_FOUND, "not_found"));
    let mut outsider = connect(addr, &stranger).await;
    send(
        &mut outsider,
        json!({"type": "presence_subscribe", "user_ids": [bob_id]}),
    )
    .await;
    let refused = next_where(&mut outsider, "error", |_| true).await;
    assert_eq!(refused["code"], "not_found");
    for bad in [
        "/v1/presence?user_ids=",
        "/v1/presence?user_ids=nope",
        "/v1/presence",
    ] {
        let (s, body) = app.call("GET", bad, Some(&owner), None).await;
        assert_eq!(
            (s, code(&body)),
            (StatusCode::BAD_REQUEST, "validation"),
            "{bad}: {body}"
        );
    }
}

/// `unread_subscribe`: every room's counts at once, then live counts for rooms the client
/// never subscribed to, cleared by reading on another connection, and new rooms as they come.
async fn unread_counts_are_live_without_room_subscriptions(store: Arc<dyn Store>) {
    let app = App::new(store);
    let (owner, event, room) = app.world().await;
    let (alice_id, alice) = app.member(&owner, &event, &room, "Alice").await;
    let (addr, _stop, _server) = app.spawn().await;

    let mut ws = connect(addr, &alice).await;
    send(&mut ws, json!({"type": "unread_subscribe"})).await;
    let all = next_where(&mut ws, "unread", |_| true).await;
    let rooms = all["rooms"].as_array().unwrap();
    assert_eq!(rooms.len(), 1, "{all}");
    assert_eq!(rooms[0]["room_id"], room.as_str());
    assert_eq!(rooms[0]["messages"], 0);

    let (s, _) = app
        .call(
            "POST",
            &format!("/v1/rooms/{room}/messages"),
            Some(&owner),
            Some(json!({"text": format!("@[Alice]({alice_id}) hello")})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let counted = next_where(&mut ws, "unread", |v| v["rooms"][0]["messages"] == 1).await;
    assert_eq!(counted["rooms"][0]["mentions"], 1);
    let last = counted["rooms"][0]["last_seq"].as_u64().unwrap();

    // Read on another device (REST here): the counts clear on this connection.
    let (s, _) = app
        .call(
            "POST",
            &format!("/v1/rooms/{room}/read"),
            Some(&alice),
            Some(json!({"seq": last})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    next_where(&mut ws, "unread", |v| {
        v["rooms"][0]["messages"] == 0 && v["rooms"][0]["last_read_seq"] == last
    })
    .await;

    // A direct room opened by someone else appears with its first message.
    let (s, dm) = app
        .call(
            "POST",
            "/v1/dms",
            Some(&owner),
            Some(json!({"user_ids": [alice_id]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{dm}");
    let dm_id = dm["room"]["id"].as_str().unwrap().to_owned();
    let (s, _) = app
        .call(
            "POST",
            &format!("/v1/rooms/{dm_id}/messages"),
            Some(&owner),
            Some(json!({"text": "psst"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    next_where(&mut ws, "unread", |v| {
        v["rooms"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["room_id"] == dm_id.as_str() && r["messages"] == 1)
    })
    .await;
}

support::on_both_stores!(
    presence_follows_every_connection,
    unread_counts_are_live_without_room_subscriptions
);
