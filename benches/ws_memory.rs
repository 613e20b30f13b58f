// A plain `main`: this benchmark measures memory, not time, so criterion has nothing to time.
#![allow(missing_docs)]

//! Memory per idle WebSocket connection: chat-http beside a bare axum WebSocket server with
//! tungstenite's default buffers, at 1,000 and 10,000 connections.
//!
//! Run with `cargo bench --bench ws_memory`. Each server runs in a child process (this same
//! binary, re-executed), so its resident memory (VmRSS from /proc) holds nothing but the server.
//! The parent opens raw TCP connections, performs the WebSocket handshake by hand and then,
//! for chat-http, subscribes each connection to a room: an idle, authenticated subscriber.
//! Clients hold no WebSocket buffers of their own, and each count runs in a fresh child.

use std::process::Child;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[path = "support/child.rs"]
mod child;
#[path = "support/world.rs"]
mod world;
use tokio::net::TcpStream;

const COUNTS: [usize; 2] = [1_000, 10_000];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rt = child::runtime();
    match args.get(1).map(String::as_str) {
        Some("--serve-chat") => rt.block_on(serve_chat()),
        Some("--serve-bare") => rt.block_on(serve_bare(None)),
        Some("--serve-bare-4k") => rt.block_on(serve_bare(Some(4096))),
        _ => rt.block_on(measure()),
    }
}

/// chat-http on the in-memory store with one room; prints `port token room`.
async fn serve_chat() {
    use chat_engine::{ChatService, MemoryStore, UserId};
    let chat = Arc::new(ChatService::new(Arc::new(MemoryStore::new())));
    let user = UserId::new();
    world::profile(&chat, user, "Idle").await;
    let (_, room) = world::main_room(&chat, user).await;
    let jwt = Arc::new(chat_http::JwtAuthenticator::new(b"bench secret"));
    let token = jwt.issue(user, Duration::from_secs(3600)).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!(
        "{} {token} {}",
        listener.local_addr().unwrap().port(),
        room.id
    );
    let state = chat_http::AppState::new(chat, jwt);
    chat_http::serve(listener, state, std::future::pending())
        .await
        .unwrap();
}

/// The baselines: axum's WebSocket holding each socket until it closes, with tungstenite's
/// default buffers or with the 4 KiB buffers chat-http uses.
async fn serve_bare(buffer: Option<usize>) {
    use axum::extract::ws::WebSocketUpgrade;
    let app = axum::Router::new().route(
        "/v1/ws",
        axum::routing::get(move |ws: WebSocketUpgrade| async move {
            let ws = match buffer {
                Some(size) => ws.read_buffer_size(size).write_buffer_size(size),
                None => ws,
            };
            ws.on_upgrade(
                |mut socket| async move { while let Some(Ok(_)) = socket.recv().await {} },
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("{} - -", listener.local_addr().unwrap().port());
    axum::serve(listener, app).await.unwrap();
}

fn spawn(kind: &str) -> (Child, u16, String, String) {
    let (child, words) = child::spawn_server(kind);
    (
        child,
        words[0].parse().unwrap(),
        words[1].clone(),
        words[2].clone(),
    )
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// A masked client text frame (RFC 6455 §5.2), for payloads under 126 bytes.
fn text_frame(payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mask = [0x12, 0x34, 0x56, 0x78];
    let mut frame = vec![0x81, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

async fn open(port: u16, token: &str, subscribe: Option<&str>) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let query = if token == "-" {
        String::new()
    } else {
        format!("?token={token}")
    };
    let request = format!(
        "GET /v1/ws{query} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    s.write_all(request.as_bytes()).await.unwrap();
    let mut buf = [0u8; 1024];
    let n = s.read(&mut buf).await.unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    if let Some(room) = subscribe {
        let frame =
            text_frame(format!("{{\"type\":\"subscribe\",\"room_id\":\"{room}\"}}").as_bytes());
        s.write_all(&frame).await.unwrap();
        // Wait for the "subscribed" frame so the subscription exists before measuring.
        let _ = s.read(&mut buf).await.unwrap();
    }
    s
}

async fn measure_one(kind: &str, count: usize) -> (u64, u64) {
    let (mut child, port, token, room) = spawn(kind);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = rss_kib(child.id());
    let subscribe = (room != "-").then_some(room.as_str());
    let mut sockets = Vec::with_capacity(count);
    for _ in 0..count {
        sockets.push(open(port, &token, subscribe).await);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = rss_kib(child.id());
    drop(sockets);
    let _ = child.kill();
    let _ = child.wait();
    (before, after)
}

async fn measure() {
    println!("| connections | server | RSS before | RSS with connections | per connection |");
    println!("|---|---|---|---|---|");
    for count in COUNTS {
        for (kind, name) in [
            ("--serve-bare", "bare axum WebSocket, default buffers"),
            ("--serve-bare-4k", "bare axum WebSocket, 4 KiB buffers"),
            (
                "--serve-chat",
                "chat-http (4 KiB buffers), authenticated and subscribed",
            ),
        ] {
            let (before, after) = measure_one(kind, count).await;
            let per = (after.saturating_sub(before) as f64) / count as f64;
            println!("| {count} | {name} | {before} KiB | {after} KiB | {per:.1} KiB |");
        }
    }
}
