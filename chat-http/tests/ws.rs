//! The WebSocket over a real server on port 0 and a tokio-tungstenite client, on both stores.

#[path = "../../chat-store-postgres/tests/common/mod.rs"]
mod pg;
mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chat_core::{Limits, Store};
use chat_http::HttpConfig;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use support::App;
use support::ws_client::{
    Ws, close_frame, connect, connect_with_small_buffer, next, relaxed, send,
};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// Reads frames until one of `kind`, returning it.
async fn next_of(ws: &mut Ws, kind: &str) -> Value {
    loop {
        let v = next(ws).await;
        if v["type"] == kind {
            return v;
        }
    }
}

/// Owner and a second member of one public room; their tokens and the room id.
async fn room_with_two(app: &App) -> (String, String, String) {
    let (owner, event, room) = app.world().await;
    let (_, bob) = app.member(&owner, &event, &room, "Bob").await;
    (owner, bob, room)
}

async fn two_clients_see_each_other_live_in_order(store: Arc<dyn Store>) {
    let app = App::with(store, relaxed(), HttpConfig::default());
    let (owner, bob, room) = room_with_two(&app).await;
    let (addr, stop, server) = app.spawn().await;
    let mut a = connect(addr, &owner).await;
    let mut b = connect(addr, &bob).await;
    for ws in [&mut a, &mut b] {
        send(ws, json!({"type": "subscribe", "room_id": room})).await;
        assert_eq!(next_of(ws, "subscribed").await["room_id"], room.as_str());
    }
    for i in 0..5 {
        send(&mut a, json!({"type": "send", "room_id": room, "text": format!("from a {i}"), "client_msg_id": format!("a-{i}")})).await;
        send(&mut b, json!({"type": "send", "room_id": room, "text": format!("from b {i}"), "client_msg_id": format!("b-{i}")})).await;
    }
    for ws in [&mut a, &mut b] {
        let mut seqs = Vec::new();
        let mut texts = BTreeSet::new();
        while seqs.len() < 10 {
            let v = next(ws).await;
            if v["type"] == "event" {
                assert_eq!(v["kind"], "message_posted");
                seqs.push(v["seq"].as_u64().unwrap());
                texts.insert(v["data"]["text"].as_str().unwrap().to_owned());
            }
        }
        assert!(
            seqs.windows(2).all(|w| w[1] == w[0] + 1),
            "in order, no gap: {seqs:?}"
        );
        assert_eq!(texts.len(), 10);
    }
    let _ = stop.send(());
    server.await.unwrap();
}

async fn resume_with_since_seq_misses_nothing_and_repeats_nothing(store: Arc<dyn Store>) {
    let app = App::with(store, relaxed(), HttpConfig::default());
    let (owner, bob, room) = room_with_two(&app).await;
    let (addr, stop, server) = app.spawn().await;
    let mut b = connect(addr, &bob).await;
    send(
        &mut b,
        json!({"type": "subscribe", "room_id": room, "since_seq": 0}),
    )
    .await;
    let mut seen: Vec<u64> = Vec::new();
    let writer = {
        let router = app.router.clone();
        let (owner, room) = (owner.clone(), room.clone());
        tokio::spawn(async move {
            for i in 0..60 {
                let req = axum::http::Request::builder()
                    .method("POST")
                    .uri(format!("/v1/rooms/{room}/messages"))
                    .header("authorization", format!("Bearer {owner}"))
                    .header("content-type", "application/json")
                    .body(axum::body::Body::from(
                        json!({"text": format!("m{i}")}).to_string(),
                    ))
                    .unwrap();
                let r = tower::ServiceExt::oneshot(router.clone(), req)
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201);
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    // Read a while, then drop the connection mid-stream.
    while seen.len() < 10 {
        let v = next(&mut b).await;
        if v["type"] == "event" {
            seen.push(v["seq"].as_u64().unwrap());
        }
    }
    drop(b);
    tokio::time::sleep(Duration::from_millis(30)).await;
    let since = *seen.last().unwrap();
    let mut b = connect(addr, &bob).await;
    send(
        &mut b,
        json!({"type": "subscribe", "room_id": room, "since_seq": since}),
    )
    .await;
    writer.await.unwrap();
    let (_, r) = app
        .call("GET", &format!("/v1/rooms/{room}"), Some(&bob), None)
        .await;
    let last = r["room"]["last_seq"].as_u64().unwrap();
    while *seen.last().unwrap() < last {
        let v = next(&mut b).await;
        if v["type"] == "event" {
            seen.push(v["seq"].as_u64().unwrap());
        }
    }
    assert_eq!(
        seen,
        (1..=last).collect::<Vec<_>>(),
        "exactly the store's sequence"
    );
    let _ = stop.send(());
    server.await.unwrap();
}

async fn a_client_that_never_reads_is_cut_off_and_slows_nobody(store: Arc<dyn Store>) {
    let config = HttpConfig {
        ws_outbound_queue: 16,
        ..HttpConfig::default()
    };
    let app = App::with(store, relaxed(), config);
    let (owner, bob, room) = room_with_two(&app).await;
    // Small kernel buffers on both ends, so the stalled client's backlog reaches the server's
    // queue after a few messages instead of after megabytes.
    let (addr, stop, server) = app.spawn_with_send_buffer(Some(8192)).await;
    let mut stalled = connect_with_small_buffer(addr, &bob).await;
    send(&mut stalled, json!({"type": "subscribe", "room_id": room})).await;
    let mut live = connect(addr, &owner).await;
    send(&mut live, json!({"type": "subscribe", "room_id": room})).await;
    next_of(&mut live, "subscribed").await;
    tokio::time::sleep(Duration::from_millis(100)).await;

    let count = 200u64;
    let reader = tokio::spawn(async move {
        let started = std::time::Instant::now();
        let mut received = 0u64;
        while received < count {
            if next(&mut live).await["type"] == "event" {
                received += 1;
            }
        }
        started.elapsed()
    });
    let text = "x".repeat(4000);
    for i in 0..count {
        let (s, _) = app
            .call(
                "POST",
                &format!("/v1/rooms/{room}/messages"),
                Some(&owner),
                Some(json!({"text": format!("{i} {text}")})),
            )
            .await;
        assert_eq!(s, 201);
    }
    // The stalled client's connection ends: with the close frame and its reason when those
    // bytes get through, or with a reset when the server drops a socket whose peer left its
    // buffers full. Either way it is over, and it did not hold the live client back.
    let ended = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match stalled.next().await {
                Some(Ok(Message::Close(frame))) => {
                    return Some(frame.expect("a close frame with a reason"));
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    })
    .await
    .expect("the stalled client is cut off");
    if let Some(frame) = ended {
        assert_eq!(frame.code, CloseCode::Policy);
        assert!(
            frame.reason.as_str().contains("too slow"),
            "{}",
            frame.reason
        );
    }
    let took = reader.await.unwrap();
    assert!(
        took < Duration::from_secs(20),
        "the live client received all {count} in {took:?}"
    );
    let _ = stop.send(());
    server.await.unwrap();
}

async fn a_retried_send_over_a_new_connection_gets_the_original(store: Arc<dyn Store>) {
    let app = App::new(store);
    let (owner, _bob, room) = room_with_two(&app).await;
    let (addr, stop, server) = app.spawn().await;
    let mut first = connect(addr, &owner).await;
    send(
        &mut first,
        json!({"type": "send", "room_id": room, "text": "once", "client_msg_id": "retry-1"}),
    )
    .await;
    let ack = next_of(&mut first, "ack").await;
    assert_eq!(
        (ack["client_msg_id"].as_str(), ack["replayed"].as_bool()),
        (Some("retry-1"), Some(false))
    );
    drop(first);
    // Auth by first frame this time.
    let (mut second, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/v1/ws"))
        .await
        .unwrap();
    send(&mut second, json!({"type": "auth", "token": owner})).await;
    send(
        &mut second,
        json!({"type": "send", "room_id": room, "text": "once, again", "client_msg_id": "retry-1"}),
    )
    .await;
    let again = next_of(&mut second, "ack").await;
    assert_eq!(again["replayed"].as_bool(), Some(true));
    assert_eq!(again["message"], ack["message"]);
    let (_, page) = app
        .call(
            "GET",
            &format!("/v1/rooms/{room}/messages"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(page["messages"].as_array().unwrap().len(), 1);
    // Errors come back as frames tied to the send.
    send(&mut second, json!({"type": "send", "room_id": room, "text": "a".repeat(5001), "client_msg_id": "too-long"})).await;
    let err = next_of(&mut second, "error").await;
    assert_eq!(
        (
            err["code"].as_str(),
            err["client_msg_id"].as_str(),
            err["field"].as_str()
        ),
        (Some("validation"), Some("too-long"), Some("text"))
    );
    send(&mut second, json!({"type": "nonsense"})).await;
    assert_eq!(next_of(&mut second, "error").await["code"], "validation");
    send(&mut second, json!({"type": "ping"})).await;
    next_of(&mut second, "pong").await;
    // A bad token in the query is refused before the upgrade.
    let refused = tokio_tungstenite::connect_async(format!("ws://{addr}/v1/ws?token=forged")).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 401)
        }
        other => panic!("expected 401, got {other:?}"),
    }
    // Shutdown tells connected clients to come back.
    let _ = stop.send(());
    let close = close_frame(&mut second, Duration::from_secs(10)).await;
    assert_eq!(close.map(|f| f.code), Some(CloseCode::Restart));
    server.await.unwrap();
}

/// A `read` frame becomes a `receipt` for every subscriber of the room (the reader's other
/// connections included), and `GET /v1/rooms/{id}/receipts` shows the position; with read
/// receipts off, neither.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_receipts_are_live_and_listed() {
    let app = App::new(Arc::new(chat_store_memory::MemoryStore::new()));
    let (owner, bob, room) = room_with_two(&app).await;
    let (addr, _stop, _server) = app.spawn().await;
    let (s, sent) = app
        .call(
            "POST",
            &format!("/v1/rooms/{room}/messages"),
            Some(&owner),
            Some(json!({"text": "hi"})),
        )
        .await;
    assert_eq!(s, axum::http::StatusCode::CREATED);
    let seq = sent["message"]["seq"].as_u64().unwrap();
    let mut a = connect(addr, &owner).await;
    let mut b = connect(addr, &bob).await;
    for ws in [&mut a, &mut b] {
        send(ws, json!({"type": "subscribe", "room_id": room})).await;
        next_of(ws, "subscribed").await;
    }
    send(&mut b, json!({"type": "read", "room_id": room, "seq": seq})).await;
    for ws in [&mut a, &mut b] {
        let receipt = next_of(ws, "receipt").await;
        assert_eq!(receipt["seq"], seq);
        assert_eq!(receipt["room_id"], room.as_str());
    }
    let (s, receipts) = app
        .call(
            "GET",
            &format!("/v1/rooms/{room}/receipts"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(s, axum::http::StatusCode::OK, "{receipts}");
    assert!(
        receipts
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["last_read_seq"] == seq),
        "{receipts}"
    );
    let (s, _) = app
        .call(
            "PATCH",
            &format!("/v1/rooms/{room}"),
            Some(&owner),
            Some(json!({"read_receipts": false})),
        )
        .await;
    assert_eq!(s, axum::http::StatusCode::OK);
    let (s, b_) = app
        .call(
            "GET",
            &format!("/v1/rooms/{room}/receipts"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(
        (s, b_["error"]["code"].as_str()),
        (axum::http::StatusCode::FORBIDDEN, Some("forbidden"))
    );
}

/// Typing reaches the other subscribers (not the typist), throttled, and is never stored; an
/// oversized frame ends the connection without touching the room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_is_relayed_and_oversized_frames_are_refused() {
    let app = App::new(Arc::new(chat_store_memory::MemoryStore::new()));
    let (owner, bob, room) = room_with_two(&app).await;
    let (addr, stop, server) = app.spawn().await;
    let mut a = connect(addr, &owner).await;
    let mut b = connect(addr, &bob).await;
    for ws in [&mut a, &mut b] {
        send(ws, json!({"type": "subscribe", "room_id": room})).await;
        next_of(ws, "subscribed").await;
    }
    let (_, before) = app
        .call("GET", &format!("/v1/rooms/{room}"), Some(&owner), None)
        .await;
    send(&mut a, json!({"type": "typing", "room_id": room})).await;
    send(&mut a, json!({"type": "typing", "room_id": room})).await; // throttled: dropped quietly
    let typing = next_of(&mut b, "typing").await;
    assert_eq!(typing["display_name"], "Owner");
    // Only one typing frame arrives: the ping/pong below comes back before any second one.
    send(&mut b, json!({"type": "ping"})).await;
    assert_eq!(next(&mut b).await["type"], "pong");
    send(&mut a, json!({"type": "ping"})).await;
    assert_eq!(
        next(&mut a).await["type"],
        "pong",
        "the typist does not get its own signal"
    );
    let (_, after) = app
        .call("GET", &format!("/v1/rooms/{room}"), Some(&owner), None)
        .await;
    assert_eq!(
        before["room"]["last_seq"], after["room"]["last_seq"],
        "typing is not stored"
    );

    // 64 KiB is the frame limit; 100 KiB ends the connection.
    let huge = json!({"type": "send", "room_id": room, "text": "x".repeat(100 * 1024)}).to_string();
    let _ = a.send(Message::Text(huge.into())).await;
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match a.next().await {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => continue,
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "an oversized frame ends the connection");
    let (_, page) = app
        .call(
            "GET",
            &format!("/v1/rooms/{room}/messages"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(page["messages"].as_array().unwrap().len(), 0);
    let _ = stop.send(());
    server.await.unwrap();
}

/// The server pings; a client that answers stays, one that goes silent is closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_connections_are_closed_and_live_ones_kept() {
    let config = HttpConfig {
        ws_ping_interval: Duration::from_millis(200),
        ..HttpConfig::default()
    };
    let app = App::with(
        Arc::new(chat_store_memory::MemoryStore::new()),
        Limits::default(),
        config,
    );
    let (owner, _bob, room) = room_with_two(&app).await;
    let (addr, stop, server) = app.spawn().await;
    let mut silent = connect(addr, &owner).await;
    let mut alive = connect(addr, &owner).await;
    send(&mut alive, json!({"type": "subscribe", "room_id": room})).await;
    // Reading answers pings (tungstenite replies to each as it reads). Keep reading for 1.5 s,
    // over seven ping intervals.
    let deadline = tokio::time::Instant::now() + Duration::from_millis(1500);
    let mut pings = 0;
    while tokio::time::Instant::now() < deadline {
        match tokio::time::timeout_at(deadline, alive.next()).await {
            Ok(Some(Ok(Message::Ping(_)))) => pings += 1,
            Ok(Some(Ok(_))) => {}
            Ok(other) => panic!("the answering client was dropped: {other:?}"),
            Err(_) => break,
        }
    }
    assert!(
        pings >= 3,
        "the server pings on its interval ({pings} pings)"
    );
    send(&mut alive, json!({"type": "ping"})).await;
    next_of(&mut alive, "pong").await;
    // The silent client read nothing, so it answered nothing: by now it was closed.
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match silent.next().await {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| f.code),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    })
    .await
    .expect("the silent connection is closed");
    if let Some(code) = ended {
        assert_eq!(code, CloseCode::Away);
    }
    let _ = stop.send(());
    server.await.unwrap();
}

support::on_both_stores!(
    two_clients_see_each_other_live_in_order,
    resume_with_since_seq_misses_nothing_and_repeats_nothing,
    a_client_that_never_reads_is_cut_off_and_slows_nobody,
    a_retried_send_over_a_new_connection_gets_the_original,
);
