// A plain `main`: each arm runs a server in a child process, which criterion cannot drive.
#![allow(missing_docs)]

//! WebSocket fan-out through chat-http beside a bare axum broadcast server, same run.
//!
//! Run with `cargo bench --bench ws_fanout`. Each server runs in a child process (this binary,
//! re-executed). The parent connects 100 receivers and 10 publishers over loopback; the
//! publishers send 2,000 messages in all (200 each) as fast as the server takes them; the time
//! runs until every receiver has all 2,000. Deliveries/s = 100 × 2,000 / time. Three rounds
//! per arm; medians. chat-http runs first, and the bare arms then relay frames of the size of
//! its `event` frames, so both carry the same bytes.
//!
//! - **chat-http**: the publisher sends `send` frames; each becomes a stored message (memory
//!   store), a room change, and an `event` frame to every subscriber.
//! - **bare axum**: every text frame a client sends is put on one `tokio::sync::broadcast`
//!   channel, and each connection forwards what it receives to its socket, one send (and so
//!   one flush) per frame.
//! - **bare axum, batched flushes**: the same, but each connection writes whatever the channel
//!   already holds (up to 64 frames, as chat-http's writer does) and flushes once: the fair
//!   baseline, since with TCP_NODELAY a flush is a segment.
//!
//! Receivers only count frames (no JSON parsing) in both arms. Client and server share the
//! machine's two cores.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

#[path = "support/child.rs"]
mod child;
#[path = "support/world.rs"]
mod world;

const RECEIVERS: usize = 100;
/// Publishers: chat-http runs each connection's sends in order, one at a time, so one
/// publisher would measure the send pipeline of one connection, not the fan-out.
const PUBLISHERS: usize = 10;
const MESSAGES: usize = 2_000;
const ROUNDS: usize = 3;

fn main() {
    let rt = child::runtime();
    match std::env::args().nth(1).as_deref() {
        Some("--serve-chat") => rt.block_on(serve_chat()),
        Some("--serve-bare") => rt.block_on(serve_bare(false)),
        Some("--serve-bare-batched") => rt.block_on(serve_bare(true)),
        _ => rt.block_on(measure()),
    }
}

/// chat-http on the memory store: one room, PUBLISHERS + RECEIVERS members; prints
/// `port room tokens…` (the publishers' first).
async fn serve_chat() {
    use chat_engine::{ChatService, EventRole, Limits, MemoryStore, UserId};
    let limits = Limits {
        send_rate_max: u32::MAX,
        ..Limits::default()
    };
    let chat = Arc::new(
        ChatService::builder(Arc::new(MemoryStore::new()))
            .limits(limits)
            .build(),
    );
    let users: Vec<UserId> = (0..PUBLISHERS + RECEIVERS).map(|_| UserId::new()).collect();
    for (i, u) in users.iter().enumerate() {
        world::profile(&chat, *u, &format!("user{i}")).await;
    }
    let (event, room) = world::main_room(&chat, users[0]).await;
    for u in &users[1..] {
        chat.add_event_member(users[0], event.id, *u, EventRole::Member)
            .await
            .unwrap();
        chat.join_room(*u, room.id).await.unwrap();
    }
    let jwt = Arc::new(chat_http::JwtAuthenticator::new(b"bench secret"));
    let tokens: Vec<String> = users
        .iter()
        .map(|u| jwt.issue(*u, Duration::from_secs(3600)).unwrap())
        .collect();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!(
        "{} {} {}",
        listener.local_addr().unwrap().port(),
        room.id,
        tokens.join(" ")
    );
    let config = chat_http::HttpConfig {
        ws_outbound_queue: 4096,
        ..chat_http::HttpConfig::default()
    };
    let state = chat_http::AppState::with_config(chat, jwt, config);
    chat_http::serve(listener, state, std::future::pending())
        .await
        .unwrap();
}

/// As many frames as chat-http's writer puts behind one flush.
const WRITE_BATCH: usize = 64;

/// The baselines: axum WebSockets sharing one broadcast channel; one send (and flush) per
/// frame, or (`batched`) every frame already queued, up to [`WRITE_BATCH`], then one flush.
async fn serve_bare(batched: bool) {
    use axum::extract::ws::{Message as AxMessage, WebSocketUpgrade};
    let (tx, _) = tokio::sync::broadcast::channel::<String>(4096);
    let app = axum::Router::new().route(
        "/v1/ws",
        axum::routing::get(move |ws: WebSocketUpgrade| {
            let tx = tx.clone();
            async move {
                ws.on_upgrade(move |socket| async move {
                    let (mut sink, mut stream) = socket.split();
                    let mut rx = tx.subscribe();
                    let forward = tokio::spawn(async move {
                        while let Ok(text) = rx.recv().await {
                            if !batched {
                                if sink.send(AxMessage::Text(text.into())).await.is_err() {
                                    break;
                                }
                                continue;
                            }
                            let mut ok = sink.feed(AxMessage::Text(text.into())).await.is_ok();
                            for _ in 1..WRITE_BATCH {
                                let Ok(more) = rx.try_recv() else { break };
                                ok = ok && sink.feed(AxMessage::Text(more.into())).await.is_ok();
                            }
                            if !ok || sink.flush().await.is_err() {
                                break;
                            }
                        }
                    });
                    while let Some(Ok(msg)) = stream.next().await {
                        if let AxMessage::Text(t) = msg {
                            let _ = tx.send(t.to_string());
                        }
                    }
                    forward.abort();
                })
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tokens = vec!["-"; PUBLISHERS + RECEIVERS].join(" ");
    println!("{} - {tokens}", listener.local_addr().unwrap().port());
    // TCP_NODELAY, as chat_http::serve sets it: both arms write small frames the same way.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await.unwrap();
}

type Client =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A client with 4 KiB buffers and no Nagle: tungstenite's default 128 KiB read buffer is
/// zero-filled on every read, which would make the clients, not the servers, the bottleneck.
async fn connect(url: String) -> Client {
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(4096);
    tokio_tungstenite::connect_async_with_config(url, Some(config), true)
        .await
        .unwrap()
        .0
}

/// One round: the time until every receiver has every message, and the mean size of the
/// frames they counted. Bare arms relay frames of `frame_bytes`.
async fn round(kind: &str, frame_bytes: usize) -> (Duration, usize) {
    let (mut child, words) = child::spawn_server(kind);
    let port: u16 = words[0].parse().unwrap();
    let room = words[1].clone();
    let tokens: Vec<String> = words[2..].to_vec();
    let chat = room != "-";
    let url = |token: &str| {
        if chat {
            format!("ws://127.0.0.1:{port}/v1/ws?token={token}")
        } else {
            format!("ws://127.0.0.1:{port}/v1/ws")
        }
    };
    let marker = if chat { "\"type\":\"event\"" } else { "m" };
    let mut receivers = Vec::new();
    for token in &tokens[PUBLISHERS..] {
        let mut ws = connect(url(token)).await;
        if chat {
            ws.send(Message::Text(
                format!("{{\"type\":\"subscribe\",\"room_id\":\"{room}\"}}").into(),
            ))
            .await
            .unwrap();
            loop {
                if let Some(Ok(Message::Text(t))) = ws.next().await
                    && t.as_str().contains("subscribed")
                {
                    break;
                }
            }
        }
        receivers.push(ws);
    }
    let mut publishers = Vec::new();
    for token in &tokens[..PUBLISHERS] {
        publishers.push(connect(url(token)).await);
    }
    let start = Instant::now();
    let tasks: Vec<_> = receivers
        .into_iter()
        .map(|mut ws| {
            tokio::spawn(async move {
                let (mut got, mut bytes) = (0, 0);
                while got < MESSAGES {
                    match ws.next().await {
                        Some(Ok(Message::Text(t))) if t.as_str().contains(marker) => {
                            got += 1;
                            bytes += t.len();
                        }
                        Some(Ok(_)) => {}
                        other => panic!("receiver lost: {other:?}"),
                    }
                }
                bytes / MESSAGES
            })
        })
        .collect();
    let sending: Vec<_> = publishers
        .into_iter()
        .enumerate()
        .map(|(p, mut publisher)| {
            let room = room.clone();
            tokio::spawn(async move {
                for n in 0..MESSAGES / PUBLISHERS {
                    let i = p * (MESSAGES / PUBLISHERS) + n;
                    let frame = if chat {
                        format!(
                            "{{\"type\":\"send\",\"room_id\":\"{room}\",\"text\":\"m{i} hello everyone\",\"client_msg_id\":\"p{i}\"}}"
                        )
                    } else {
                        let mut text = format!("m{i} hello everyone ");
                        text.extend(std::iter::repeat_n('x', frame_bytes.saturating_sub(text.len())));
                        text
                    };
                    publisher.feed(Message::Text(frame.into())).await.unwrap();
                }
                publisher.flush().await.unwrap();
                publisher
            })
        })
        .collect();
    let mut open = Vec::new();
    for p in sending {
        open.push(p.await.unwrap());
    }
    let mut sizes = Vec::new();
    for t in tasks {
        sizes.push(t.await.unwrap());
    }
    let elapsed = start.elapsed();
    drop(open);
    let _ = child.kill();
    let _ = child.wait();
    (elapsed, sizes.iter().sum::<usize>() / sizes.len().max(1))
}

async fn measure() {
    println!("| server | deliveries/s (median of {ROUNDS}) | rounds (s) | bytes a frame |");
    println!("|---|---|---|---|");
    let mut medians = Vec::new();
    let mut frame_bytes = 0;
    for (kind, name) in [
        (
            "--serve-chat",
            "chat-http (store, room log, batched writes)",
        ),
        ("--serve-bare", "bare axum broadcast, flush per frame"),
        (
            "--serve-bare-batched",
            "bare axum broadcast, batched flushes (up to 64 frames)",
        ),
    ] {
        let mut times: Vec<Duration> = Vec::new();
        for _ in 0..ROUNDS {
            let (time, size) = round(kind, frame_bytes).await;
            times.push(time);
            if kind == "--serve-chat" {
                frame_bytes = size;
            }
        }
        let shown: Vec<String> = times
            .iter()
            .map(|t| format!("{:.2}", t.as_secs_f64()))
            .collect();
        times.sort();
        let rate = (RECEIVERS * MESSAGES) as f64 / times[ROUNDS / 2].as_secs_f64();
        medians.push(rate);
        println!(
            "| {name} | {:.0} | {} | {} |",
            rate,
            shown.join(", "),
            frame_bytes
        );
    }
    println!(
        "\nchat-http / bare, flush per frame: {:.2}; chat-http / bare, batched flushes (the fair baseline): {:.2}",
        medians[0] / medians[1],
        medians[0] / medians[2]
    );
}
