//! The live WebSocket at `/v1/ws`: JSON frames with a `type` field.
//!
//! Client frames: `auth`, `subscribe` (room, optional `since_seq`), `unsubscribe`, `send` (the
//! REST send body plus `room_id`), `typing`, `read`, `ping`. Server frames: `subscribed`
//! (room, `last_seq`), `event` (a room change: room, seq, kind, data), `typing`, `ack`
//! (`client_msg_id` → message), `error` (code, message, and the `client_msg_id` or `room_id`
//! it concerns), `pong`.
//!
//! # Delivery
//!
//! `subscribe` with `since_seq` subscribes to the hub first, then replays the store's changes
//! after `since_seq`, then goes live; the subscription drops whatever the replay already
//! covered, so the client sees every change once, in order, including changes committed
//! while the replay ran. When the hub says this subscriber fell behind, the connection reloads
//! from the store the same way; the client never sees a gap.
//!
//! # Backpressure
//!
//! Each connection has one bounded outbound queue, drained by a writer task that writes
//! whatever is queued and flushes once. Producers never wait on it: a client too slow to keep
//! its queue from filling is closed with code 1008 and a reason, and resumes by reconnecting
//! with `since_seq`. Nobody else is slowed.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message as WsMessage, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use chat_core::{ChangeKind, Delivery, Error, RoomChange, RoomId, RoomSeq, SendMessage, UserId};
use futures::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiQuery;
use crate::state::AppState;

/// How many queued frames the writer sends before one flush. Batching turns a burst into one
/// write; the bound keeps one flush from waiting on a long queue.
const WRITE_BATCH: usize = 64;

/// Slots of the shared cache of encoded event frames (see [`EventFrames`]).
const EVENT_FRAME_SLOTS: usize = 1024;

/// Encoded `event` frames, shared by every subscriber of a change.
///
/// An event frame is the same bytes for everyone (it holds nothing per user), so the first
/// subscriber to send a change encodes it and the others reuse the bytes: at 100 subscribers
/// that is one JSON encoding instead of 100. Direct-mapped by (room, seq); a collision only
/// costs a re-encode.
#[derive(Debug)]
pub(crate) struct EventFrames {
    slots: Vec<std::sync::Mutex<Option<(RoomId, RoomSeq, Utf8Bytes)>>>,
}

impl Default for EventFrames {
    fn default() -> Self {
        Self {
            slots: (0..EVENT_FRAME_SLOTS)
                .map(|_| std::sync::Mutex::new(None))
                .collect(),
        }
    }
}

impl EventFrames {
    fn frame(&self, change: &RoomChange) -> WsMessage {
        let slot_index = {
            let room = change.room_id.as_uuid().as_u128();
            ((room as usize).wrapping_mul(31) ^ change.seq.get() as usize) % self.slots.len()
        };
        let slot = &self.slots[slot_index];
        if let Ok(guard) = slot.lock() {
            if let Some((room, seq, bytes)) = guard.as_ref() {
                if *room == change.room_id && *seq == change.seq {
                    return WsMessage::Text(bytes.clone());
                }
            }
        }
        let bytes = ServerFrame::Event(change).encode_text();
        if let Ok(mut guard) = slot.lock() {
            *guard = Some((change.room_id, change.seq, bytes.clone()));
        }
        WsMessage::Text(bytes)
    }
}

/// How long a closing connection may take to deliver what is queued and its close frame.
const CLOSE_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Query of `GET /v1/ws`. Browsers cannot set headers on a WebSocket, so the token may come
/// here, or in a first `auth` frame.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct WsQuery {
    /// A bearer token, for clients that cannot set headers (browsers).
    token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientFrame {
    Auth {
        token: String,
    },
    Subscribe {
        room_id: RoomId,
        since_seq: Option<RoomSeq>,
    },
    Unsubscribe {
        room_id: RoomId,
    },
    Send {
        room_id: RoomId,
        #[serde(flatten)]
        message: SendMessage,
    },
    Typing {
        room_id: RoomId,
    },
    Read {
        room_id: RoomId,
        seq: RoomSeq,
    },
    Ping,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ServerFrame<'a> {
    Subscribed {
        room_id: RoomId,
        last_seq: RoomSeq,
    },
    Event(&'a RoomChange),
    Typing {
        room_id: RoomId,
        user_id: UserId,
        display_name: &'a str,
    },
    Ack {
        client_msg_id: Option<&'a str>,
        replayed: bool,
        message: &'a chat_core::Message,
    },
    Error {
        #[serde(flatten)]
        error: ErrorBody,
        #[serde(skip_serializing_if = "Option::is_none")]
        client_msg_id: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        room_id: Option<RoomId>,
    },
    Pong,
}

impl ServerFrame<'_> {
    fn encode_text(&self) -> Utf8Bytes {
        // Serializing these types cannot fail: no maps with non-string keys, no foreign types.
        let text = serde_json::to_string(self).unwrap_or_else(|_| "{\"type\":\"error\"}".into());
        Utf8Bytes::from(text)
    }

    fn encode(&self) -> WsMessage {
        WsMessage::Text(self.encode_text())
    }
}

fn error_frame(err: &Error, client_msg_id: Option<&str>, room_id: Option<RoomId>) -> WsMessage {
    ServerFrame::Error {
        error: ErrorBody::of(err),
        client_msg_id,
        room_id,
    }
    .encode()
}

/// The connection's way out: a bounded queue that never blocks the producer, and a close
/// signal the writer obeys before anything queued.
#[derive(Debug, Clone)]
struct Outbound {
    queue: mpsc::Sender<WsMessage>,
    close: Arc<watch::Sender<Option<CloseFrame>>>,
}

impl Outbound {
    /// Queues a frame; a full queue closes the connection (the client is too slow).
    fn push(&self, frame: WsMessage) -> bool {
        match self.queue.try_send(frame) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                metrics::counter!("chat_ws_slow_closes_total").increment(1);
                self.close_with(
                    1008,
                    "too slow: outbound queue full; reconnect with since_seq",
                );
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    fn close_with(&self, code: u16, reason: &'static str) {
        self.close.send_if_modified(|slot| {
            if slot.is_none() {
                *slot = Some(CloseFrame {
                    code,
                    reason: Utf8Bytes::from_static(reason),
                });
                true
            } else {
                false
            }
        });
    }
}

/// `GET /v1/ws`: authenticates a `token` query parameter before upgrading (a bad one gets a
/// plain 401), or upgrades and waits for an `auth` frame.
#[utoipa::path(get, path = "/ws", tag = "live", params(WsQuery), responses(
    (status = 101, description = "switched to the WebSocket protocol; frames are described in the crate docs"),
    (status = 401, body = crate::error::ErrorEnvelope)
))]
pub(crate) async fn upgrade(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<WsQuery>,
    ws: WebSocketUpgrade,
) -> Response {
    let user = match &query.token {
        Some(token) => match state.auth.authenticate(token).await {
            Ok(user) => Some(user),
            Err(e) => return ApiError(e).into_response(),
        },
        None => None,
    };
    let cfg = Arc::clone(&state.config);
    ws.read_buffer_size(cfg.ws_buffer)
        .write_buffer_size(cfg.ws_buffer)
        .max_write_buffer_size(cfg.ws_buffer.max(cfg.ws_max_message) * 2)
        .max_message_size(cfg.ws_max_message)
        .max_frame_size(cfg.ws_max_message)
        .on_upgrade(move |socket| connection(socket, state, user))
}

async fn connection(socket: WebSocket, state: AppState, user: Option<UserId>) {
    let cfg = Arc::clone(&state.config);
    let (sink, mut stream) = socket.split();
    let (queue, rx) = mpsc::channel(cfg.ws_outbound_queue);
    let (close_tx, close_rx) = watch::channel(None);
    let out = Outbound {
        queue,
        close: Arc::new(close_tx),
    };
    let writer = tokio::spawn(write_loop(sink, rx, close_rx));

    let user = match user {
        Some(u) => Some(u),
        None => authenticate_first_frame(&mut stream, &state, &out).await,
    };
    if let Some(user) = user {
        metrics::gauge!("chat_ws_connections").increment(1.0);
        Connection {
            state: &state,
            user,
            out: out.clone(),
            subs: HashMap::new(),
        }
        .run(stream)
        .await;
        metrics::gauge!("chat_ws_connections").decrement(1.0);
    }
    // Dropping the last queue sender lets the writer flush what is queued and close. A client
    // that stopped reading may never take those bytes: after a grace period the socket is
    // dropped, so a dead peer cannot pin the connection's task and buffers forever.
    drop(out);
    let mut writer = writer;
    if tokio::time::timeout(CLOSE_GRACE, &mut writer)
        .await
        .is_err()
    {
        writer.abort();
    }
}

async fn authenticate_first_frame(
    stream: &mut futures::stream::SplitStream<WebSocket>,
    state: &AppState,
    out: &Outbound,
) -> Option<UserId> {
    let first = tokio::time::timeout(state.config.ws_auth_timeout, stream.next()).await;
    let Ok(Some(Ok(WsMessage::Text(text)))) = first else {
        out.close_with(1008, "authentication required");
        return None;
    };
    match serde_json::from_str::<ClientFrame>(&text) {
        Ok(ClientFrame::Auth { token }) => match state.auth.authenticate(&token).await {
            Ok(user) => Some(user),
            Err(e) => {
                out.push(error_frame(&e, None, None));
                out.close_with(1008, "authentication failed");
                None
            }
        },
        _ => {
            out.push(error_frame(&Error::Unauthenticated, None, None));
            out.close_with(1008, "the first frame must be auth");
            None
        }
    }
}

/// Writes what is queued, flushing once per batch; obeys a close signal first.
async fn write_loop(
    mut sink: futures::stream::SplitSink<WebSocket, WsMessage>,
    mut rx: mpsc::Receiver<WsMessage>,
    mut close: watch::Receiver<Option<CloseFrame>>,
) {
    loop {
        tokio::select! {
            biased;
            changed = close.changed() => {
                let frame = if changed.is_ok() { close.borrow().clone() } else { None };
                let _ = sink.send(WsMessage::Close(frame)).await;
                return;
            }
            next = rx.recv() => {
                let Some(first) = next else {
                    let _ = sink.close().await;
                    return;
                };
                if sink.feed(first).await.is_err() {
                    return;
                }
                for _ in 1..WRITE_BATCH {
                    match rx.try_recv() {
                        Ok(frame) => {
                            if sink.feed(frame).await.is_err() {
                                return;
                            }
                        }
                        Err(_) => break,
                    }
                }
                if sink.flush().await.is_err() {
                    return;
                }
            }
        }
    }
}

struct Connection<'a> {
    state: &'a AppState,
    user: UserId,
    out: Outbound,
    subs: HashMap<RoomId, JoinHandle<()>>,
}

impl Connection<'_> {
    async fn run(mut self, mut stream: futures::stream::SplitStream<WebSocket>) {
        let interval = self.state.config.ws_ping_interval;
        let mut ping = tokio::time::interval(interval);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_seen = Instant::now();
        let mut shutdown = self.state.shutdown_signal();
        // The signal only ever turns true; a connection opened after it did closes at once.
        if *shutdown.borrow_and_update() {
            self.out
                .close_with(1012, "server restarting; reconnect with since_seq");
            return;
        }
        let mut closing = self.out.close.subscribe();
        loop {
            tokio::select! {
                incoming = stream.next() => match incoming {
                    Some(Ok(msg)) => {
                        last_seen = Instant::now();
                        // Boxed: handling a frame is a large future, and an idle
                        // connection should not carry its space while it waits.
                        if !Box::pin(self.handle(msg)).await {
                            break;
                        }
                    }
                    // A protocol error (such as an oversized frame) or the client going away.
                    _ => break,
                },
                _ = ping.tick() => {
                    if last_seen.elapsed() > interval * 2 {
                        self.out.close_with(1001, "no answer to pings");
                        break;
                    }
                    self.out.push(WsMessage::Ping(Default::default()));
                }
                _ = shutdown.changed() => {
                    self.out.close_with(1012, "server restarting; reconnect with since_seq");
                    break;
                }
                _ = closing.changed() => break,
            }
        }
        for (_, task) in self.subs.drain() {
            task.abort();
        }
    }

    /// Handles one client message; `false` ends the connection.
    async fn handle(&mut self, msg: WsMessage) -> bool {
        let text = match msg {
            WsMessage::Text(text) => text,
            WsMessage::Close(_) => return false,
            WsMessage::Ping(_) | WsMessage::Pong(_) => return true,
            WsMessage::Binary(_) => {
                let err = Error::UnsupportedMediaType {
                    reason: "send JSON text frames".into(),
                };
                return self.out.push(error_frame(&err, None, None));
            }
        };
        let frame = match serde_json::from_str::<ClientFrame>(&text) {
            Ok(f) => f,
            Err(e) => {
                let err = Error::validation("frame", format!("malformed frame: {e}"));
                return self.out.push(error_frame(&err, None, None));
            }
        };
        let chat = &self.state.chat;
        match frame {
            ClientFrame::Auth { .. } => true,
            ClientFrame::Ping => self.out.push(ServerFrame::Pong.encode()),
            ClientFrame::Subscribe { room_id, since_seq } => {
                if let Some(old) = self.subs.remove(&room_id) {
                    old.abort();
                }
                let task = tokio::spawn(forward(
                    self.state.clone(),
                    self.user,
                    room_id,
                    since_seq,
                    self.out.clone(),
                ));
                self.subs.insert(room_id, task);
                true
            }
            ClientFrame::Unsubscribe { room_id } => {
                if let Some(task) = self.subs.remove(&room_id) {
                    task.abort();
                }
                true
            }
            ClientFrame::Send { room_id, message } => {
                let cmid = message.client_msg_id.clone();
                // Sends run in order on the reading task, so one client's messages keep the
                // order it sent them in.
                let result = chat.send_message(self.user, room_id, message).await;
                crate::observability::record_send("websocket", &result);
                let frame = match result {
                    Ok(sent) => ServerFrame::Ack {
                        client_msg_id: cmid.as_deref(),
                        replayed: sent.replayed,
                        message: &sent.message,
                    }
                    .encode(),
                    Err(e) => error_frame(&e, cmid.as_deref(), Some(room_id)),
                };
                self.out.push(frame)
            }
            ClientFrame::Typing { room_id } => match chat.typing(self.user, room_id).await {
                // Typing is best effort: a throttled signal is dropped quietly.
                Ok(()) | Err(Error::RateLimited { .. }) => true,
                Err(e) => self.out.push(error_frame(&e, None, Some(room_id))),
            },
            ClientFrame::Read { room_id, seq } => {
                match chat.mark_read(self.user, room_id, seq).await {
                    Ok(_) => true,
                    Err(e) => self.out.push(error_frame(&e, None, Some(room_id))),
                }
            }
        }
    }
}

/// Whether a change ends `user`'s right to follow the room.
fn revokes(change: &RoomChange, user: UserId) -> bool {
    match &change.kind {
        ChangeKind::MemberLeft { user_id } => *user_id == user,
        ChangeKind::MemberUpdated(m) => m.user_id == user && m.banned,
        _ => false,
    }
}

/// Sends the room's changes after `after` from the store; returns the last seq sent.
async fn replay(
    state: &AppState,
    user: UserId,
    room: RoomId,
    mut after: RoomSeq,
    out: &Outbound,
) -> Result<RoomSeq, Error> {
    loop {
        let page = state.chat.changes(user, room, after, Some(100)).await?;
        for change in &page.changes {
            if !out.push(state.event_frames.frame(change)) {
                return Err(Error::Unavailable {
                    source: "connection closed".into(),
                });
            }
            after = change.seq;
        }
        if !page.has_more {
            return Ok(after);
        }
    }
}

/// One subscription: replay after `since` (if given), then live, reloading from the store
/// whenever the hub says this subscriber fell behind.
async fn forward(
    state: AppState,
    user: UserId,
    room: RoomId,
    since: Option<RoomSeq>,
    out: Outbound,
) {
    let mut sub = match Box::pin(state.chat.subscribe(user, room, since)).await {
        Ok(sub) => sub,
        Err(e) => {
            out.push(error_frame(&e, None, Some(room)));
            return;
        }
    };
    if let Some(since) = since {
        // Replays are rare and their futures large: boxing them keeps every idle
        // subscriber's task small (see the memory figures in BENCHMARKS.md).
        match Box::pin(replay(&state, user, room, since, &out)).await {
            Ok(last) => sub.advance_to(last),
            Err(e) => {
                out.push(error_frame(&e, None, Some(room)));
                return;
            }
        }
    }
    if !out.push(
        ServerFrame::Subscribed {
            room_id: room,
            last_seq: sub.last_seq(),
        }
        .encode(),
    ) {
        return;
    }
    while let Some(delivery) = sub.recv().await {
        let ok = match delivery {
            Delivery::Change(change) => {
                metrics::counter!("chat_ws_deliveries_total").increment(1);
                let ok = out.push(state.event_frames.frame(&change));
                if revokes(&change, user) {
                    let err = Error::Forbidden {
                        reason: "no longer a member of this room",
                    };
                    out.push(error_frame(&err, None, Some(room)));
                    return;
                }
                ok
            }
            Delivery::Typing(t) if t.user_id != user => out.push(
                ServerFrame::Typing {
                    room_id: room,
                    user_id: t.user_id,
                    display_name: &t.display_name,
                }
                .encode(),
            ),
            Delivery::Typing(_) => true,
            Delivery::Resync { from_seq, .. } => {
                metrics::counter!("chat_ws_resyncs_total").increment(1);
                match Box::pin(replay(&state, user, room, from_seq, &out)).await {
                    Ok(last) => {
                        sub.advance_to(last);
                        true
                    }
                    Err(e) => {
                        out.push(error_frame(&e, None, Some(room)));
                        false
                    }
                }
            }
        };
        if !ok {
            return;
        }
    }
}
