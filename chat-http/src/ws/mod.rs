//! The live WebSocket at `/v1/ws`: JSON frames with a `type` field.
//!
//! Client frames: `auth`, `subscribe` (room, optional `since_seq`), `unsubscribe`, `send` (the
//! REST send body plus `room_id`), `typing`, `read`, `presence` (this connection `online` or
//! `away`), `presence_subscribe` (`user_ids`), `unread_subscribe`, `ping`. Server frames:
//! `subscribed` (room, `last_seq`), `event` (a room change: room, seq, kind, data), `typing`,
//! `receipt`, `presence` (a watched user's status), `unread` (counts per room, and rooms
//! gone), `ack` (`client_msg_id` → message), `error` (code, message, and the `client_msg_id`
//! or `room_id` it concerns), `pong`.
//!
//! # Presence and unread counts
//!
//! Every authenticated connection counts towards its user's presence (online until it sends
//! `presence` with `away`, offline when the last connection of the user closes, on any
//! instance); every frame but `ping` and `presence` records activity. `presence_subscribe`
//! follows up to `max_presence_users` people who share an event with the caller: a `presence`
//! frame for each at once, then one per change of status; a new `presence_subscribe` replaces
//! the set. `unread_subscribe` sends one `unread` frame with every readable room's counts,
//! then one per change, in every room of the user, without subscribing to any room's
//! messages (see `chat_core::UnreadFeed`).
//!
//! # Delivery
//!
//! `subscribe` with `since_seq` subscribes to the hub first, then replays the store's changes
//! after `since_seq`, then goes live; the subscription drops whatever the replay already
//! covered, so the client sees every change once, in order, including changes committed
//! while the replay ran. When the hub says this subscriber fell behind, the connection reloads
//! from the store the same way; the client never sees a gap.
//!
//! A replay reads the store a page at a time and renders every message as it is now, so a
//! resume never returns deleted or replaced text (see `chat_core::change`). A `since_seq`
//! beyond the room's last seq is refused with an error frame (`validation`, field
//! `since_seq`): such a subscription could only stay silent.
//!
//! # Backpressure
//!
//! Each connection has one bounded outbound queue (which holds no memory while empty), drained
//! by a writer task that writes whatever is queued and flushes once.
//!
//! - **Live changes never wait.** A client too slow to keep `ws_outbound_queue` live frames
//!   from piling up is closed with 1008 and a reason, and resumes by reconnecting with
//!   `since_seq`. The room and its other subscribers are never slowed.
//! - **Replays are paced by the client's reading.** A subscription catching up from the store
//!   queues at most [`REPLAY_WINDOW`] frames (shared by all of a connection's replays) and
//!   waits for the writer to take them before reading on. A client any distance behind
//!   catches up at the speed it reads, and is never "too slow" for catching up. One that
//!   stops reading altogether stops answering pings and is closed for that (1001).
//!
//! # What a connection may hold
//!
//! At most `ws_max_subscriptions` subscriptions (a subscribe beyond it gets a `validation`
//! error frame, field `room_id`); a refused subscribe holds nothing. Sends run one at a time
//! on the reading task, so none pile up; typing signals are throttled in the core and hold no
//! per-connection state.
//!
//! # Closing (RFC 6455)
//!
//! | code | when |
//! |---|---|
//! | 1000 | echoed when the client closes |
//! | 1001 | the client stopped answering pings |
//! | 1002 | the client broke the protocol |
//! | 1007 | a text frame that is not UTF-8 |
//! | 1008 | authentication failed or missing, or the client is too slow for live traffic |
//! | 1009 | a message over `ws_max_message` bytes |
//! | 1012 | the server is restarting; reconnect with `since_seq` |
//!
//! Every close is a Close frame after whatever was already queued, followed by waiting (at
//! most [`CLOSE_GRACE`]) for the client's Close before the TCP connection ends, so a client
//! that resumes reading within the grace receives everything and the code. After a read
//! error (an oversized message whose rest is still arriving) the socket also lingers
//! [`CLOSE_LINGER`] so that unread input does not reset it before the Close arrives. A client that
//! reads nothing for longer loses the connection without the frame: holding a dead peer's
//! buffers longer would let idle sockets pin server memory.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message as WsMessage, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use chat_core::{Error, RoomId, RoomSeq, UserId};
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::state::AppState;

mod child_task;
mod closing;
mod forward;
mod frames;
mod queue;

use child_task::ChildTask;
pub(crate) use closing::CLOSE_GRACE;
use closing::{close, close_for_read_error};
use forward::{forward, forward_presence, forward_unread};
pub(crate) use frames::EventFrames;
use frames::{ClientFrame, ConnectionStatus, ServerFrame, error_frame};
use queue::{FrameQueue, FrameReceiver, PushError, frame_queue};

/// How many queued frames the writer sends before one flush. Batching turns a burst into one
/// write; the bound keeps one flush from waiting on a long queue.
const WRITE_BATCH: usize = 64;

/// Frames that a connection's replays may have queued at once, beside the live queue. A page
/// of the store is 100 changes; 64 queued frames keep the socket busy while the next page is
/// read, and keep a catching-up client from holding more than 64 frames of server memory.
pub(crate) const REPLAY_WINDOW: usize = 64;

/// Changes read from the store per replay page (the core's largest page).
pub(super) const REPLAY_PAGE: u32 = 100;

/// Query of `GET /v1/ws`. Browsers cannot set headers on a WebSocket, so the token may come
/// here, or in a first `auth` frame.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct WsQuery {
    /// A bearer token, for clients that cannot set headers (browsers).
    token: Option<String>,
}

/// A frame on its way out. Replayed frames carry a slot of the connection's replay window,
/// released when the writer takes them.
#[derive(Debug)]
struct Outgoing {
    frame: WsMessage,
    _replay_slot: Option<OwnedSemaphorePermit>,
}

/// The connection's way out: a bounded queue that live producers never wait on, a window that
/// paces replays, and a close signal.
#[derive(Debug, Clone)]
pub(super) struct Outbound {
    /// Capacity `ws_outbound_queue + REPLAY_WINDOW`: replays hold at most the window, so live
    /// frames always have their `ws_outbound_queue` slots.
    queue: FrameQueue<Outgoing>,
    replay_window: Arc<Semaphore>,
    close: Arc<watch::Sender<Option<CloseFrame>>>,
}

impl Outbound {
    /// Queues a live frame without waiting; a full queue closes the connection (the client is
    /// too slow).
    fn push(&self, frame: WsMessage) -> bool {
        let item = Outgoing {
            frame,
            _replay_slot: None,
        };
        match self.queue.try_push(item) {
            Ok(()) => true,
            Err(PushError::Full) => {
                metrics::counter!("chat_ws_slow_closes_total").increment(1);
                self.close_with(
                    1008,
                    "too slow: outbound queue full; reconnect with since_seq",
                );
                false
            }
            Err(PushError::Closed) => false,
        }
    }

    /// Queues a replayed frame once the client has taken enough of the earlier ones: the
    /// replay goes at the client's reading speed. `false` once the connection is closing.
    async fn push_paced(&self, frame: WsMessage) -> bool {
        let Ok(slot) = Arc::clone(&self.replay_window).acquire_owned().await else {
            return false;
        };
        let item = Outgoing {
            frame,
            _replay_slot: Some(slot),
        };
        // The window keeps replays within their share of the queue; a full queue means live
        // frames took the rest, and the connection is being closed as too slow.
        self.queue.try_push(item).is_ok()
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

    fn closing(&self) -> bool {
        self.close.borrow().is_some()
    }
}

/// `GET /v1/ws`: authenticates a `token` query parameter before upgrading (a bad one gets a
/// plain 401), or upgrades and waits for an `auth` frame. A request that is not a WebSocket
/// handshake gets the JSON error envelope like every other error.
#[utoipa::path(get, path = "/ws", tag = "live", params(WsQuery), responses(
    (status = 101, description = "switched to the WebSocket protocol; the frames are the `WsClientFrame` and `WsServerFrame` schemas"),
    (status = 400, description = "not a WebSocket handshake (a missing `Connection: upgrade`, `Upgrade: websocket`, `Sec-WebSocket-Key` or version 13)", body = crate::error::ErrorEnvelope),
    (status = 401, description = "the `token` parameter is not a valid token", body = crate::error::ErrorEnvelope),
    (status = 403, description = "a caller the host authenticated by its cookies, from an origin that is not allowed", body = crate::error::ErrorEnvelope),
    (status = 426, description = "the connection cannot be upgraded", body = crate::error::ErrorEnvelope)
))]
pub(crate) async fn upgrade(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<WsQuery>,
    headers: axum::http::HeaderMap,
    extensions: axum::http::Extensions,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let ws = match ws {
        Ok(ws) => ws,
        Err(rejection) => {
            return crate::error::error_response(
                rejection.status(),
                "websocket_handshake_required",
                &rejection.body_text(),
            );
        }
    };
    let user = match &query.token {
        Some(token) => match state.auth.authenticate(token).await {
            Ok(user) => Some(user),
            Err(e) => return ApiError(e).into_response(),
        },
        None => match host_caller(&state, &headers, &extensions).await {
            Ok(user) => user,
            Err(e) => return ApiError(e).into_response(),
        },
    };
    let cfg = Arc::clone(&state.config);
    // Counted from the handshake, before the upgrade completes: a shutdown that begins in
    // between still waits for this connection's Close.
    let tracked = state.websockets.token();
    ws.read_buffer_size(cfg.ws_buffer)
        .write_buffer_size(cfg.ws_buffer)
        .max_write_buffer_size(cfg.ws_buffer.max(cfg.ws_max_message) * 2)
        .max_message_size(cfg.ws_max_message)
        .max_frame_size(cfg.ws_max_message)
        .on_upgrade(move |socket| async move {
            connection(socket, state, user).await;
            drop(tracked);
        })
}

/// The caller the host's request authenticator finds in an upgrade (its cookies arrive with
/// it), if it has one; a WebSocket of such a caller must come from an allowed origin (see
/// [`crate::host_auth`]). `None`: the client authenticates with its first frame.
async fn host_caller(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    extensions: &axum::http::Extensions,
) -> chat_core::Result<Option<UserId>> {
    let Some(host) = &state.request_auth else {
        return Ok(None);
    };
    let Some(user) = host.caller(headers, extensions).await? else {
        return Ok(None);
    };
    crate::host_auth::same_site(
        &axum::http::Method::GET,
        headers,
        true,
        &state.config.allowed_origins,
    )?;
    Ok(Some(user))
}

async fn connection(socket: WebSocket, state: AppState, user: Option<UserId>) {
    let cfg = Arc::clone(&state.config);
    let (sink, mut stream) = socket.split();
    let (queue, rx) = frame_queue(cfg.ws_outbound_queue.max(1) + REPLAY_WINDOW);
    let (close_tx, close_rx) = watch::channel(None);
    let out = Outbound {
        queue,
        replay_window: Arc::new(Semaphore::new(REPLAY_WINDOW)),
        close: Arc::new(close_tx),
    };
    // On the WebSocket tracker: a shutdown waits for the Close it writes.
    let writer = state.websockets.spawn(write_loop(sink, rx, close_rx));

    let user = match user {
        Some(u) => Some(u),
        // Boxed, as the closing below: an idle connection's task holds only the loop's state.
        None => Box::pin(authenticate_first_frame(&mut stream, &state, &out)).await,
    };
    let mut read_failed = false;
    if let Some(user) = user {
        metrics::gauge!("chat_ws_connections").increment(1.0);
        read_failed = Connection {
            state: &state,
            user,
            out: out.clone(),
            subs: HashMap::new(),
            presence: state.chat.connect_presence(user),
            presence_watch: None,
            unread_feed: None,
        }
        .run(&mut stream)
        .await;
        metrics::gauge!("chat_ws_connections").decrement(1.0);
    }
    drop(out);
    Box::pin(close(writer, stream, read_failed)).await;
}

async fn authenticate_first_frame(
    stream: &mut futures::stream::SplitStream<WebSocket>,
    state: &AppState,
    out: &Outbound,
) -> Option<UserId> {
    // A connection still authenticating is told of a shutdown too.
    let mut shutdown = state.shutdown_signal();
    let first = tokio::select! {
        first = tokio::time::timeout(state.config.ws_auth_timeout, stream.next()) => first,
        _ = shutdown.wait_for(|&stopping| stopping) => {
            out.close_with(1012, "server restarting; reconnect with since_seq");
            return None;
        }
    };
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

/// Writes what is queued, flushing once per batch. On a close signal it writes what is
/// already queued (without waiting for more), then the Close frame.
async fn write_loop(
    mut sink: futures::stream::SplitSink<WebSocket, WsMessage>,
    mut rx: FrameReceiver<Outgoing>,
    mut close: watch::Receiver<Option<CloseFrame>>,
) {
    loop {
        tokio::select! {
            biased;
            changed = close.changed() => {
                let frame = if changed.is_ok() { close.borrow().clone() } else { None };
                while let Some(item) = rx.try_pop() {
                    if sink.feed(item.frame).await.is_err() {
                        return;
                    }
                }
                let _ = sink.send(WsMessage::Close(frame)).await;
                return;
            }
            next = rx.pop() => {
                let Some(first) = next else {
                    let _ = sink.close().await;
                    return;
                };
                if sink.feed(first.frame).await.is_err() {
                    return;
                }
                for _ in 1..WRITE_BATCH {
                    let Some(item) = rx.try_pop() else { break };
                    if sink.feed(item.frame).await.is_err() {
                        return;
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
    subs: HashMap<RoomId, ChildTask>,
    /// This connection's part in the user's presence; dropped with the connection.
    presence: chat_core::PresenceSession,
    /// The `presence_subscribe` task, if any.
    presence_watch: Option<ChildTask>,
    /// The `unread_subscribe` task, if any.
    unread_feed: Option<ChildTask>,
}

impl Connection<'_> {
    /// Serves the connection until it ends; `true` when reading failed (see [`connection`]).
    ///
    /// Not an `async fn`: one keeps a second copy of `self` beside the binding it moves into
    /// (rust-lang/rust#62958), in every idle connection's task.
    #[allow(
        clippy::manual_async_fn,
        reason = "the async fn doubles the task's size"
    )]
    fn run(
        mut self,
        stream: &mut futures::stream::SplitStream<WebSocket>,
    ) -> impl Future<Output = bool> + Send {
        async move {
            let interval = self.state.config.ws_ping_interval;
            let mut ping = tokio::time::interval(interval);
            ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut last_seen = Instant::now();
            let mut shutdown = self.state.shutdown_signal();
            // The signal only ever turns true; a connection opened after it did closes at once.
            if *shutdown.borrow_and_update() {
                self.out
                    .close_with(1012, "server restarting; reconnect with since_seq");
                return false;
            }
            let mut read_failed = false;
            let mut closing = self.out.close.subscribe();
            loop {
                tokio::select! {
                    incoming = stream.next() => match incoming {
                        Some(Ok(msg)) => {
                            // Boxed: handling a frame is a large future, and an idle
                            // connection should not carry its space while it waits.
                            if !Box::pin(self.handle(msg)).await {
                                break;
                            }
                            // Nothing was read while the frame ran (a send waiting on the
                            // database, say), not even the client's pongs: its silence counts
                            // from now.
                            last_seen = Instant::now();
                        }
                        Some(Err(e)) => {
                            let (code, reason) = close_for_read_error(&e);
                            self.out.close_with(code, reason);
                            read_failed = true;
                            break;
                        }
                        // The client went away without a closing handshake.
                        None => break,
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
            // The child tasks end here, before the connection closes its queue (dropping a
            // ChildTask aborts it), and on any other way out of this function, a panic included.
            drop(self);
            read_failed
        }
    }

    /// Handles one client message; `false` ends the connection.
    async fn handle(&mut self, msg: WsMessage) -> bool {
        let text = match msg {
            WsMessage::Text(text) => text,
            WsMessage::Close(_) => {
                // The writer answers with a Close; the code is echoed as RFC 6455 suggests.
                self.out.close_with(1000, "");
                return false;
            }
            WsMessage::Ping(_) | WsMessage::Pong(_) => return true,
            WsMessage::Binary(_) => {
                let err = Error::UnsupportedType {
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
        if !matches!(frame, ClientFrame::Ping | ClientFrame::Presence { .. }) {
            self.presence.touch(chat.now());
        }
        match frame {
            ClientFrame::Auth { .. } => true,
            ClientFrame::Ping => self.out.push(ServerFrame::Pong.encode()),
            ClientFrame::Presence { status } => {
                self.presence
                    .set_away(status == ConnectionStatus::Away, chat.now());
                true
            }
            ClientFrame::PresenceSubscribe { user_ids } => {
                self.presence_watch = None;
                match chat.watch_presence(self.user, &user_ids).await {
                    Ok(watch) => {
                        self.presence_watch = Some(ChildTask::spawn(
                            &self.state.websockets,
                            forward_presence(watch, self.out.clone()),
                        ));
                        true
                    }
                    Err(e) => self.out.push(error_frame(&e, None, None)),
                }
            }
            ClientFrame::UnreadSubscribe => {
                self.unread_feed = None;
                match Arc::clone(chat).unread_feed(self.user).await {
                    Ok(feed) => {
                        self.unread_feed = Some(ChildTask::spawn(
                            &self.state.websockets,
                            forward_unread(feed, self.out.clone()),
                        ));
                        true
                    }
                    Err(e) => self.out.push(error_frame(&e, None, None)),
                }
            }
            ClientFrame::Subscribe { room_id, since_seq } => {
                Box::pin(self.subscribe(room_id, since_seq)).await
            }
            ClientFrame::Unsubscribe { room_id } => {
                self.subs.remove(&room_id);
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

    /// Starts (or restarts) a subscription. The permission check runs here, so a refused
    /// subscribe holds nothing; an accepted one is a task of its own.
    async fn subscribe(&mut self, room_id: RoomId, since_seq: Option<RoomSeq>) -> bool {
        self.subs.remove(&room_id);
        let max = self.state.config.ws_max_subscriptions;
        if self.subs.len() >= max {
            // Subscriptions that ended (access revoked) no longer count.
            self.subs.retain(|_, task| !task.is_finished());
        }
        if self.subs.len() >= max {
            let err = Error::validation(
                "room_id",
                format!("at most {max} subscriptions per connection; unsubscribe from one first"),
            );
            return self.out.push(error_frame(&err, None, Some(room_id)));
        }
        let sub = match self
            .state
            .chat
            .subscribe(self.user, room_id, since_seq)
            .await
        {
            Ok(sub) => sub,
            Err(e) => return self.out.push(error_frame(&e, None, Some(room_id))),
        };
        let task = ChildTask::spawn(
            &self.state.websockets,
            forward(
                self.state.clone(),
                self.user,
                sub,
                since_seq,
                self.out.clone(),
            ),
        );
        self.subs.insert(room_id, task);
        true
    }
}
