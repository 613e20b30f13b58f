//! A tokio-tungstenite client for the WebSocket tests.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::time::Duration;

use chat_core::Limits;
use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Limits that let tests send as fast as they like.
pub fn relaxed() -> Limits {
    Limits {
        send_rate_max: 1_000_000,
        ..Limits::default()
    }
}

/// A client authenticated by the `token` query parameter.
pub async fn connect(addr: SocketAddr, token: &str) -> Ws {
    let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/v1/ws?token={token}"))
        .await
        .unwrap();
    ws
}

/// Sends a JSON frame.
pub async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

/// The next JSON frame, skipping pings; panics after 10 s.
pub async fn next(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a frame within 10 s");
        match msg {
            Some(Ok(Message::Text(t))) => return serde_json::from_str(t.as_str()).unwrap(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

/// A client whose kernel receive buffer is 4 KiB, so that when it stops reading the server's
/// queue fills after a few frames instead of after megabytes.
pub async fn connect_with_small_buffer(addr: SocketAddr, token: &str) -> Ws {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(addr).await.unwrap();
    let (ws, _) = tokio_tungstenite::client_async(
        format!("ws://{addr}/v1/ws?token={token}"),
        MaybeTlsStream::Plain(stream),
    )
    .await
    .unwrap();
    ws
}

/// The close frame that ends the connection, reading (and dropping) whatever comes first.
pub async fn close_frame(ws: &mut Ws, within: Duration) -> Option<CloseFrame> {
    tokio::time::timeout(within, async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(_)) => continue,
                other => panic!("the connection ended without a close frame: {other:?}"),
            }
        }
    })
    .await
    .expect("a close frame in time")
}
