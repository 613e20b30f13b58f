//! The WebSocket at its edges, over a real server on port 0 and a tokio-tungstenite client:
//! resuming from far behind while the room stays busy, positions beyond the log, bounded
//! subscriptions, and the closing handshake (RFC 6455).

#[path = "../../chat-store-postgres/tests/common/mod.rs"]
mod pg;
mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chat_core::{RoomId, SendMessage, Store, UserId};
use chat_http::HttpConfig;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use support::App;
use support::ws_client::{close_frame, connect, connect_with_small_buffer, next, relaxed, send};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tower::ServiceExt;

fn say(text: String) -> SendMessage {
    SendMessage {
        text,
        ..SendMessage::default()
    }
}

/// `count` public topic rooms in the event, made by its owner: their ids.
async fn topic_rooms(app: &App, owner: &str, event: &str, count: usize) -> Vec<String> {
    let mut rooms = Vec::new();
    for i in 1..=count {
        let (s, room) = app
            .call(
                "POST",
                &format!("/v1/events/{event}/rooms"),
                Some(owner),
                Some(json!({"name": format!("Room {i}"), "kind": "topic", "visibility": "public"})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{room}");
        rooms.push(room["id"].as_str().unwrap().to_owned());
    }
    rooms
}

fn room_id(room: &str) -> RoomId {
    serde_json::from_value(json!(room)).unwrap()
}

/// Fills each room with `per_room` messages from `senders` members writing at once (what a
/// busy event does), straight through the service.
async fn fill(app: &App, rooms: &[String], senders: &[UserId], per_room: usize) {
    let mut tasks = Vec::new();
    for room in rooms {
        for (i, sender) in senders.iter().enumerate() {
            let chat = Arc::clone(&app.state.chat);
            let (room, sender) = (room_id(room), *sender);
            let share = per_room / senders.len() + usize::from(i < per_room % senders.len());
            tasks.push(tokio::spawn(async move {
                for n in 0..share {
                    chat.send_message(sender, room, say(format!("backlog {n}")))
                        .await
                        .unwrap();
                }
            }));
        }
    }
    for task in tasks {
        task.await.unwrap();
    }
}

/// A client `behind` changes behind in each of `room_count` rooms resumes while every room
/// keeps getting live messages; it reads as fast as it can and must receive every change of
/// every room exactly once, in order, and then the live ones.
async fn resume_far_behind(store: Arc<dyn Store>, room_count: usize, behind: usize) {
    let app = App::unlimited(store, HttpConfig::default());
    let (owner, event, main) = app.world().await;
    let mut rooms = vec![main];
    rooms.extend(topic_rooms(&app, &owner, &event, room_count - 1).await);
    let mut senders = Vec::new();
    let mut reader = None;
    for i in 0..8 {
        let (id, token) = app
            .member(&owner, &event, &rooms[0], &format!("Sender {i}"))
            .await;
        for room in &rooms[1..] {
            let (s, _) = app
                .call(
                    "POST",
                    &format!("/v1/rooms/{room}/join"),
                    Some(&token),
                    None,
                )
                .await;
            assert_eq!(s, StatusCode::OK);
        }
        senders.push(id);
        reader.get_or_insert(token);
    }
    let reader = reader.unwrap();
    let started = std::time::Instant::now();
    fill(&app, &rooms, &senders, behind).await;
    eprintln!("filled {room_count} × {behind} in {:?}", started.elapsed());
    let started = std::time::Instant::now();
    let mut backlog = HashMap::new();
    for room in &rooms {
        let (_, r) = app
            .call("GET", &format!("/v1/rooms/{room}"), Some(&owner), None)
            .await;
        let last = r["room"]["last_seq"].as_u64().unwrap();
        assert!(last >= behind as u64, "{room} holds {last} changes");
        backlog.insert(room.clone(), last);
    }

    let (addr, stop, server) = app.spawn().await;
    let mut ws = connect(addr, &reader).await;
    for room in &rooms {
        send(
            &mut ws,
            json!({"type": "subscribe", "room_id": room, "since_seq": 0}),
        )
        .await;
    }
    // Live traffic in every room while the client catches up.
    let live_per_room = 200;
    let live = {
        let chat = Arc::clone(&app.state.chat);
        let rooms: Vec<RoomId> = rooms.iter().map(|r| room_id(r)).collect();
        let sender = senders[0];
        tokio::spawn(async move {
            for n in 0..live_per_room {
                for room in &rooms {
                    chat.send_message(sender, *room, say(format!("live {n}")))
                        .await
                        .unwrap();
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };

    let mut seen: HashMap<String, u64> = rooms.iter().map(|r| (r.clone(), 0)).collect();
    let mut subscribed = 0;
    let expected: HashMap<String, u64> = backlog
        .iter()
        .map(|(r, last)| (r.clone(), last + live_per_room as u64))
        .collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
    // The `subscribed` frame follows the replay; when the replay caught the live messages too,
    // it comes after the last of them.
    while seen.iter().any(|(r, s)| *s < expected[r]) || subscribed < rooms.len() {
        let frame = tokio::time::timeout_at(deadline, ws.next())
            .await
            .unwrap_or_else(|_| panic!("caught up in time: {seen:?} of {expected:?}"));
        let text = match frame {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("the resuming client was cut off: {other:?} at {seen:?}"),
        };
        let v: Value = serde_json::from_str(text.as_str()).unwrap();
        match v["type"].as_str() {
            Some("event") => {
                let room = v["room_id"].as_str().unwrap();
                let seq = v["seq"].as_u64().unwrap();
                let last = seen.get_mut(room).unwrap();
                assert_eq!(seq, *last + 1, "{room}: every change once, in order");
                *last = seq;
            }
            Some("subscribed") => {
                let room = v["room_id"].as_str().unwrap();
                assert!(v["last_seq"].as_u64().unwrap() >= backlog[room]);
                subscribed += 1;
            }
            _ => panic!("unexpected frame {v}"),
        }
    }
    eprintln!("caught up in {:?}", started.elapsed());
    live.await.unwrap();
    assert_eq!(seen, expected);
    let _ = stop.send(());
    server.await.unwrap();
}

async fn resume_100_000_behind_in_one_room(store: Arc<dyn Store>) {
    resume_far_behind(store, 1, 100_000).await;
}

async fn resume_10_000_behind_in_each_of_5_rooms(store: Arc<dyn Store>) {
    resume_far_behind(store, 5, 10_000).await;
}

/// Resuming at the last seq is fine; beyond it is refused with a clear error frame, never a
/// subscription that stays silent.
async fn since_seq_beyond_the_log_is_refused(store: Arc<dyn Store>) {
    let app = App::new(store);
    let (owner, _event, room) = app.world().await;
    let (addr, stop, server) = app.spawn().await;
    let mut ws = connect(addr, &owner).await;
    for beyond in [json!(2), json!(1_000), json!(u64::MAX)] {
        send(
            &mut ws,
            json!({"type": "subscribe", "room_id": room, "since_seq": beyond}),
        )
        .await;
        let v = next(&mut ws).await;
        assert_eq!(
            (v["type"].as_str(), v["code"].as_str(), v["field"].as_str()),
            (Some("error"), Some("validation"), Some("since_seq")),
            "{v}"
        );
        assert_eq!(v["room_id"], room.as_str());
    }
    // A new room's log is empty: its last seq is 0, the one valid position.
    send(
        &mut ws,
        json!({"type": "subscribe", "room_id": room, "since_seq": 1}),
    )
    .await;
    assert_eq!(next(&mut ws).await["field"], "since_seq");
    send(
        &mut ws,
        json!({"type": "subscribe", "room_id": room, "since_seq": 0}),
    )
    .await;
    let v = next(&mut ws).await;
    assert_eq!(
        (v["type"].as_str(), v["last_seq"].as_u64()),
        (Some("subscribed"), Some(0))
    );
    let (s, _) = app
        .call(
            "POST",
            &format!("/v1/rooms/{room}/messages"),
            Some(&owner),
            Some(json!({"text": "next"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let v = next(&mut ws).await;
    assert_eq!(
        (v["type"].as_str(), v["seq"].as_u64()),
        (Some("event"), Some(1))
    );
    let _ = stop.send(());
    server.await.unwrap();
}

support::on_both_stores!(
    resume_100_000_behind_in_one_room,
    resume_10_000_behind_in_each_of_5_rooms,
    since_seq_beyond_the_log_is_refused,
);

fn memory_app(config: HttpConfig) -> App {
    App::with(
        Arc::new(chat_store_memory::MemoryStore::new()),
        relaxed(),
        config,
    )
}

/// Refused subscribes hold nothing, and accepted ones are capped per connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_are_bounded_and_refused_ones_hold_nothing() {
    let app = memory_app(HttpConfig {
        ws_max_subscriptions: 3,
        ..HttpConfig::default()
    });
    let (owner, event, main) = app.world().await;
    let mut rooms = vec![main];
    rooms.extend(topic_rooms(&app, &owner, &event, 3).await);
    let (addr, stop, server) = app.spawn().await;
    let mut ws = connect(addr, &owner).await;
    // A thousand unknown rooms: each gets its error frame, none takes a slot.
    for _ in 0..1000 {
        send(
            &mut ws,
            json!({"type": "subscribe", "room_id": RoomId::new()}),
        )
        .await;
        let v = next(&mut ws).await;
        assert_eq!(
            (v["type"].as_str(), v["code"].as_str()),
            (Some("error"), Some("not_found"))
        );
    }
    for room in &rooms[..3] {
        send(&mut ws, json!({"type": "subscribe", "room_id": room})).await;
        assert_eq!(next(&mut ws).await["type"], "subscribed");
    }
    send(&mut ws, json!({"type": "subscribe", "room_id": rooms[3]})).await;
    let v = next(&mut ws).await;
    assert_eq!(
        (
            v["code"].as_str(),
            v["field"].as_str(),
            v["room_id"].as_str()
        ),
        (Some("validation"), Some("room_id"), Some(rooms[3].as_str())),
        "{v}"
    );
    // Subscribing again to a followed room replaces it; unsubscribing frees a slot.
    send(&mut ws, json!({"type": "subscribe", "room_id": rooms[0]})).await;
    assert_eq!(next(&mut ws).await["type"], "subscribed");
    send(&mut ws, json!({"type": "unsubscribe", "room_id": rooms[1]})).await;
    send(&mut ws, json!({"type": "subscribe", "room_id": rooms[3]})).await;
    assert_eq!(next(&mut ws).await["type"], "subscribed");
    let _ = stop.send(());
    server.await.unwrap();
}

/// A client's Close is answered with a Close; a message over the limit gets 1009.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closes_follow_rfc_6455() {
    let app = memory_app(HttpConfig::default());
    let (owner, _event, room) = app.world().await;
    let (addr, stop, server) = app.spawn().await;

    let mut ws = connect(addr, &owner).await;
    send(&mut ws, json!({"type": "subscribe", "room_id": room})).await;
    assert_eq!(next(&mut ws).await["type"], "subscribed");
    ws.send(Message::Close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "bye".into(),
    })))
    .await
    .unwrap();
    let answer = close_frame(&mut ws, Duration::from_secs(5)).await;
    assert_eq!(answer.map(|f| f.code), Some(CloseCode::Normal));
    assert!(
        ws.next().await.is_none(),
        "the connection ends after the handshake"
    );

    let mut ws = connect(addr, &owner).await;
    let huge = json!({"type": "send", "room_id": room, "text": "x".repeat(100 * 1024)});
    let _ = ws.send(Message::Text(huge.to_string().into())).await;
    let frame = close_frame(&mut ws, Duration::from_secs(5))
        .await
        .expect("a close frame with a code");
    assert_eq!(frame.code, CloseCode::Size, "{frame:?}");

    let _ = stop.send(());
    server.await.unwrap();
}

/// A client closed for being too slow for live traffic receives what was queued and then the
/// 1008 close frame, if it resumes reading within the grace period.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_client_that_resumes_reading_gets_its_1008() {
    let app = memory_app(HttpConfig {
        ws_outbound_queue: 16,
        ..HttpConfig::default()
    });
    let (owner, event, room) = app.world().await;
    let (_, bob) = app.member(&owner, &event, &room, "Bob").await;
    let (addr, stop, server) = app.spawn_with_send_buffer(Some(8192)).await;
    let mut stalled = connect_with_small_buffer(addr, &bob).await;
    send(&mut stalled, json!({"type": "subscribe", "room_id": room})).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let text = "x".repeat(4000);
    for i in 0..200 {
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
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut events = 0;
    let frame = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match stalled.next().await {
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(Message::Text(_))) => events += 1,
                Some(Ok(_)) => {}
                other => panic!("ended without the close frame after {events} frames: {other:?}"),
            }
        }
    })
    .await
    .expect("the close frame in time")
    .expect("a close frame with a code");
    assert_eq!(frame.code, CloseCode::Policy);
    assert!(
        frame.reason.as_str().contains("too slow"),
        "{}",
        frame.reason
    );
    assert!(
        events > 0,
        "the frames queued before the close arrive first"
    );
    let _ = stop.send(());
    server.await.unwrap();
}

/// `GET /v1/ws` without a handshake gets the JSON error envelope, not plain text.
#[tokio::test]
async fn a_plain_get_of_the_websocket_gets_a_json_error() {
    let app = memory_app(HttpConfig::default());
    let (owner, _event, _room) = app.world().await;
    for headers in [
        vec![],
        vec![
            ("connection", "upgrade"),
            ("upgrade", "websocket"),
            ("sec-websocket-version", "13"),
        ],
    ] {
        let mut req = Request::builder()
            .uri("/v1/ws")
            .header("authorization", format!("Bearer {owner}"));
        for (k, v) in &headers {
            req = req.header(*k, *v);
        }
        let response = app
            .router
            .clone()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        assert!(status.is_client_error(), "{status}");
        assert_eq!(
            response.headers()["content-type"],
            "application/json",
            "{headers:?}"
        );
        let (_, body) = support::split(response).await;
        assert!(body["error"]["code"].is_string(), "{body}");
        assert!(body["error"]["message"].is_string(), "{body}");
    }
}

/// A frame that waits on the database (here a send held up by a lock on its room) pauses
/// reading, not the connection: the client's unread pongs do not count as silence, and the
/// connection's other rooms keep delivering meanwhile (a typing signal in another room).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_waiting_on_the_database_keeps_the_connection_live() {
    let Some(db) = pg::TestDb::fresh(8).await else {
        return;
    };
    let interval = Duration::from_millis(100);
    let app = App::with(
        db.store(),
        relaxed(),
        HttpConfig {
            ws_ping_interval: interval,
            ..HttpConfig::default()
        },
    );
    let (owner, event, main) = app.world().await;
    let side = topic_rooms(&app, &owner, &event, 1).await.remove(0);
    let (_, guest) = app.member(&owner, &event, &side, "Guest").await;
    let (addr, stop, server) = app.spawn().await;
    let mut ws = connect(addr, &owner).await;
    send(&mut ws, json!({"type": "subscribe", "room_id": side})).await;
    assert_eq!(next(&mut ws).await["type"], "subscribed");

    // Hold the Main room's row for ten ping intervals: a send there waits for it.
    let mut lock = db.pool.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM rooms WHERE id = $1 FOR UPDATE")
        .bind(room_id(&main).as_uuid())
        .execute(&mut *lock)
        .await
        .unwrap();
    send(
        &mut ws,
        json!({"type": "send", "room_id": main, "text": "held up", "client_msg_id": "h1"}),
    )
    .await;
    let mut guest_ws = connect(addr, &guest).await;
    send(&mut guest_ws, json!({"type": "typing", "room_id": side})).await;
    let v = next(&mut ws).await;
    assert_eq!(
        (v["type"].as_str(), v["room_id"].as_str()),
        (Some("typing"), Some(side.as_str())),
        "delivered while the send waits: {v}"
    );
    tokio::time::sleep(interval * 10).await;
    lock.commit().await.unwrap();

    let v = next(&mut ws).await;
    assert_eq!(
        (v["type"].as_str(), v["client_msg_id"].as_str()),
        (Some("ack"), Some("h1")),
        "{v}"
    );
    // Still open: a ping answered now.
    send(&mut ws, json!({"type": "ping"})).await;
    assert_eq!(next(&mut ws).await["type"], "pong");
    let _ = stop.send(());
    server.await.unwrap();
    db.cleanup().await;
}
