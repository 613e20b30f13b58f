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
//! Each connection is one task: it reads the client's frames, runs them, delivers its rooms,
//! presence and unread counts, and writes, all from one `select!`. Its outbound frames wait
//! in one bounded queue (which holds no memory while empty), written up to 64 frames per
//! flush.
//!
//! - **Live changes never wait.** A client too slow to keep `ws_outbound_queue` live frames
//!   from piling up is closed with 1008 and a reason, and resumes by reconnecting with
//!   `since_seq`. The room and its other subscribers are never slowed.
//! - **Replays are paced by the client's reading.** A subscription catching up from the store
//!   queues at most [`REPLAY_WINDOW`] frames (shared by the connection's replays, which run
//!   one after another) and reads its next page only once the client has taken them. A
//!   client any distance behind catches up at the speed it reads, and is never "too slow" for
//!   catching up. One that stops reading altogether stops answering pings and is closed for
//!   that (1001).
//!
//! # What a connection may hold
//!
//! At most `ws_max_subscriptions` subscriptions (a subscribe beyond it gets a `validation`
//! error frame, field `room_id`); a refused subscribe holds nothing. A frame that needs the engine
//! (a send, a subscribe) runs before the next frame is read, so none pile up, while deliveries
//! and writing go on; typing signals are throttled in the core and hold no per-connection
//! state.
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

use std::sync::Arc;

use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message as WsMessage, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use chat_core::{Error, UserId};
use futures::future::Either;
use futures::stream::{SplitSink, SplitStream};
use futures::{FutureExt, SinkExt, StreamExt};
use serde::Deserialize;

use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::state::AppState;

mod connection;
mod frames;
mod outbox;
mod rooms;

use connection::{Connection, Ended};
pub(crate) use frames::EventFrames;
use frames::{ClientFrame, error_frame};
use outbox::Outbox;

/// Frames that a connection's replays may have queued at once, beside the live queue. A page
/// of the store is 100 changes; 64 queued frames keep the socket busy while the next page is
/// read, and keep a catching-up client from holding more than 64 frames of server memory.
pub(crate) const REPLAY_WINDOW: usize = 64;

/// Changes read from the store per replay page (the core's largest page).
pub(super) const REPLAY_PAGE: i64 = 100;

/// How long the socket stays open after the Close frame was written when the client's input
/// could not be read to the end (see [`connection`]).
const CLOSE_LINGER: std::time::Duration = std::time::Duration::from_millis(500);

/// How long a closing connection may take to deliver what is queued, its close frame, and to
/// receive the client's close frame.
pub(crate) const CLOSE_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Query of `GET /v1/ws`. Browsers cannot set headers on a WebSocket, so the token may come
/// here, or in a first `auth` frame.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct WsQuery {
    /// A bearer token, for clients that cannot set headers (browsers).
    token: Option<String>,
}

/// `GET /v1/ws`: authenticates a `token` query parameter before upgrading (a bad one gets a
/// plain 401), or upgrades and waits for an `auth` frame. A request that is not a WebSocket
/// handshake gets the JSON error envelope like every other error.
#[utoipa::path(get, path = "/ws", tag = "live", params(WsQuery), responses(
    (status = 101, description = "switched to the WebSocket protocol; the frames are the `WsClientFrame` and `WsServerFrame` schemas"),
    (status = 400, description = "not a WebSocket handshake (a missing `Connection: upgrade`, `Upgrade: websocket`, `Sec-WebSocket-Key` or version 13)", body = crate::error::ErrorEnvelope),
    (status = 401, description = "the `token` parameter is not a valid token", body = crate::error::ErrorEnvelope),
    (status = 426, description = "the connection cannot be upgraded", body = crate::error::ErrorEnvelope)
))]
pub(crate) async fn upgrade(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<WsQuery>,
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

/// A connection from its upgrade to the end of its closing handshake, in one task. Opening
/// is boxed and the loop's future is the task's whole state once open: an `async fn` here
/// would keep room for the connection beside the loop that it moved into.
fn connection(
    socket: WebSocket,
    state: AppState,
    user: Option<UserId>,
) -> impl Future<Output = ()> + Send {
    Box::pin(open(socket, state, user)).then(|opened| match opened {
        Some(connection) => Either::Left(connection.run()),
        None => Either::Right(std::future::ready(())),
    })
}

/// Authenticates the connection (by its `auth` frame when the upgrade had no token); one that
/// fails is closed here.
async fn open(socket: WebSocket, state: AppState, user: Option<UserId>) -> Option<Connection> {
    let (sink, mut stream) = socket.split();
    let mut outbox = Outbox::new(state.config.ws_outbound_queue);
    let user = match user {
        Some(u) => Ok(u),
        None => authenticate_first_frame(&mut stream, &state, &mut outbox).await,
    };
    match user {
        Ok(user) => Some(Connection::new(state, user, (sink, stream), outbox)),
        Err(frame) => {
            let ended = Ended {
                close: Some(frame),
                read_failed: false,
            };
            close(sink, stream, outbox, ended).await;
            None
        }
    }
}

/// Writes what is queued, then the Close frame. Meanwhile keeps reading: that answers a Close
/// the client sent, and receives the client's answer to ours, so the TCP connection ends
/// only after the closing handshake (closing it with unread input would reset it and destroy
/// frames the client has not read yet). A client that reads nothing for [`CLOSE_GRACE`] loses
/// the connection without the handshake, so a dead peer cannot pin the connection's task and
/// buffers.
async fn close(
    mut sink: SplitSink<WebSocket, WsMessage>,
    mut stream: SplitStream<WebSocket>,
    mut outbox: Outbox,
    ended: Ended,
) {
    let write = async {
        outbox.write_all(&mut sink).await?;
        match ended.close {
            Some(frame) => sink.send(WsMessage::Close(Some(frame))).await,
            None => sink.close().await,
        }
    };
    let finish = async { futures::join!(drain(&mut stream), write) };
    if tokio::time::timeout(CLOSE_GRACE, finish).await.is_err() {
        return;
    }
    if ended.read_failed {
        // After a read error (an oversized message, say) the rest of the client's frame is
        // still arriving, and the WebSocket can no longer read it. Closing the socket with
        // unread input would reset it and destroy our Close frame before the client reads
        // it; lingering a moment first (as HTTP servers do on an error) lets it arrive.
        tokio::time::sleep(CLOSE_LINGER).await;
    }
}

/// Reads and drops what the client still sends until it closes (its answer to our Close, or
/// frames already on the way).
async fn drain(stream: &mut SplitStream<WebSocket>) {
    while let Some(Ok(_)) = stream.next().await {}
}

/// Waits for the `auth` frame of a connection that came without a token: the user, or the
/// Close frame to end with (after an error frame in the outbox).
async fn authenticate_first_frame(
    stream: &mut SplitStream<WebSocket>,
    state: &AppState,
    outbox: &mut Outbox,
) -> Result<UserId, CloseFrame> {
    let close = |reason: &'static str| CloseFrame {
        code: 1008,
        reason: Utf8Bytes::from_static(reason),
    };
    let first = tokio::time::timeout(state.config.ws_auth_timeout, stream.next()).await;
    let Ok(Some(Ok(WsMessage::Text(text)))) = first else {
        return Err(close("authentication required"));
    };
    // The outbox is empty here, so these error frames always fit.
    match serde_json::from_str::<ClientFrame>(&text) {
        Ok(ClientFrame::Auth { token }) => match state.auth.authenticate(&token).await {
            Ok(user) => Ok(user),
            Err(e) => {
                let _ = outbox.push(error_frame(&e, None, None));
                Err(close("authentication failed"))
            }
        },
        _ => {
            let _ = outbox.push(error_frame(&Error::Unauthenticated, None, None));
            Err(close("the first frame must be auth"))
        }
    }
}
