//! One simulated user's WebSocket: authenticated, subscribed to its room, with a reader that
//! records acks, deliveries and errors as they arrive.

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::net::TcpSocket;
use tokio::sync::mpsc;
use tokio_tungstenite::MaybeTlsStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::stats::Stats;

/// When each send is scheduled: send `n` (also its `client_msg_id`, `lg-<n>`) at `n` intervals
/// after [`Stats::start`]. Every process of a run computes it alike, so a reader can time a
/// send made by another process.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Schedule {
    pub(crate) interval: Duration,
    pub(crate) sends: usize,
}

impl Schedule {
    /// When send `n` is due, after the start.
    pub(crate) fn at(self, send: usize) -> Duration {
        self.interval.mul_f64(send as f64)
    }

    /// Time since `send` was scheduled.
    fn since(self, stats: &Stats, send: usize, now: Instant) -> Option<Duration> {
        (send < self.sends).then(|| now.saturating_duration_since(stats.start() + self.at(send)))
    }
}

fn send_number(client_msg_id: &str) -> Option<usize> {
    client_msg_id.strip_prefix("lg-")?.parse().ok()
}

#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(rename = "type", borrow)]
    frame_type: Cow<'a, str>,
    #[serde(default, borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    client_msg_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    code: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    data: Option<MessageRef<'a>>,
}

#[derive(Deserialize)]
struct MessageRef<'a> {
    #[serde(default, borrow)]
    client_msg_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    author_id: Option<Cow<'a, str>>,
}

pub(crate) type WsStream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Connects from `source` (a loopback address; see `--source-addresses`), authenticates with
/// the first frame, subscribes to `room` and waits for the server's `subscribed`.
pub(crate) async fn open(
    ws_url: &str,
    source: IpAddr,
    token: &str,
    room: &str,
) -> Result<WsStream, String> {
    // No Nagle: as on the server, small frames must not wait for delayed ACKs. Small
    // buffers: tungstenite zero-fills its whole read buffer (128 KiB by default) on each
    // read, which at tens of thousands of frames a second was a fifth of the machine's CPU.
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(4096);
    let url = reqwest::Url::parse(ws_url).map_err(|e| format!("bad url: {e}"))?;
    let server = url
        .socket_addrs(|| Some(80))
        .map_err(|e| format!("resolve: {e}"))?
        .into_iter()
        .find(|a| a.is_ipv4() == source.is_ipv4())
        .ok_or("no server address of the source address's family")?;
    let socket = if source.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(|e| format!("socket: {e}"))?;
    // Binding takes one of the address's 28,232 ephemeral ports, whatever the destination, so
    // the connections are spread over 127.0.0.2, 127.0.0.3, … (see `PER_SOURCE`).
    socket
        .bind(SocketAddr::new(source, 0))
        .map_err(|e| format!("bind {source}: {e}"))?;
    let tcp = socket
        .connect(server)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    tcp.set_nodelay(true).map_err(|e| format!("nodelay: {e}"))?;
    let (mut ws, _) = tokio_tungstenite::client_async_with_config(
        ws_url,
        MaybeTlsStream::Plain(tcp),
        Some(config),
    )
    .await
    .map_err(|e| format!("handshake: {e}"))?;
    let auth = serde_json::json!({"type": "auth", "token": token}).to_string();
    let subscribe = serde_json::json!({"type": "subscribe", "room_id": room}).to_string();
    ws.send(Message::text(auth))
        .await
        .map_err(|e| e.to_string())?;
    ws.send(Message::text(subscribe))
        .await
        .map_err(|e| e.to_string())?;
    while let Some(frame) = ws.next().await {
        match frame.map_err(|e| e.to_string())? {
            Message::Text(text) if text.contains("\"subscribed\"") => return Ok(ws),
            Message::Text(text) if text.contains("\"error\"") => return Err(text.to_string()),
            Message::Close(close) => return Err(format!("closed: {close:?}")),
            _ => {}
        }
    }
    Err("closed before subscribed".into())
}

/// Runs a subscribed connection: frames queued on the returned sender are written, and what
/// arrives is recorded. `me` is the user's id as text, to tell others' messages from its own.
pub(crate) fn run(
    ws: WsStream,
    me: String,
    stats: Arc<Stats>,
    schedule: Schedule,
) -> mpsc::Sender<Message> {
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::channel::<Message>(1024);
    tokio::spawn(async move {
        while let Some(frame) = rx.recv().await {
            if sink.send(frame).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    tokio::spawn(async move {
        while let Some(frame) = stream.next().await {
            let now = Instant::now();
            let text = match frame {
                Ok(Message::Text(text)) => text,
                Ok(Message::Close(_)) => {
                    stats.error("connection_closed");
                    break;
                }
                Ok(_) => continue,
                Err(_) => {
                    stats.error("connection_error");
                    break;
                }
            };
            let Ok(frame) = serde_json::from_str::<Frame<'_>>(&text) else {
                stats.error("bad_frame");
                continue;
            };
            match frame.frame_type.as_ref() {
                "ack" => {
                    stats.acks.fetch_add(1, Ordering::Relaxed);
                    let send = frame.client_msg_id.as_deref().and_then(send_number);
                    if let Some(elapsed) = send.and_then(|n| schedule.since(&stats, n, now)) {
                        stats.send.record(elapsed);
                    }
                }
                "event" if frame.kind.as_deref() == Some("message_posted") => {
                    let Some(message) = frame.data else { continue };
                    if message.author_id.as_deref() == Some(me.as_str()) {
                        continue;
                    }
                    let send = message.client_msg_id.as_deref().and_then(send_number);
                    if let Some(elapsed) = send.and_then(|n| schedule.since(&stats, n, now)) {
                        stats.deliveries.fetch_add(1, Ordering::Relaxed);
                        stats.update.record(elapsed);
                    }
                }
                "error" => {
                    if frame.client_msg_id.is_some() {
                        stats.send_errors.fetch_add(1, Ordering::Relaxed);
                    }
                    stats.error(frame.code.as_deref().unwrap_or("unknown"));
                }
                _ => {}
            }
        }
    });
    tx
}
