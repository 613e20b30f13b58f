//! One authenticated connection, served by one task: reading the client's frames, running
//! them one at a time, delivering its rooms, presence and unread counts, and writing.
//!
//! Nothing here waits on anything but the `select!` of the loop. A frame that needs the engine
//! (a send, a subscribe…) becomes the connection's one operation in flight: reading pauses
//! until it is done, so one client's frames run in the order it sent them and none pile up,
//! while deliveries and writing go on.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::ws::{CloseFrame, Message as WsMessage, Utf8Bytes, WebSocket};
use chat_core::{
    ChangeKind, Delivery, Error, PresenceWatch, RoomChange, RoomId, RoomSeq, Subscription,
    UnreadFeed, UserId,
};
use futures::future::BoxFuture;
use futures::stream::{BoxStream, SplitSink, SplitStream};
use futures::{FutureExt, StreamExt};

use super::frames::{ClientFrame, ConnectionStatus, ServerFrame, error_frame};
use super::outbox::Outbox;
use super::rooms::{RoomEvent, Rooms};
use crate::state::AppState;

/// How many ready deliveries one turn of the loop takes before writing: the writes of a burst
/// go out in one flush.
const DELIVERY_BATCH: usize = 64;

/// What an operation in flight ends with.
enum Done {
    /// A frame for the client, or nothing to say.
    Reply(Option<WsMessage>),
    /// A subscribe was decided.
    Subscribed {
        room_id: RoomId,
        since_seq: Option<RoomSeq>,
        result: chat_core::Result<Subscription>,
    },
    /// A `presence_subscribe` was decided.
    Presence(chat_core::Result<PresenceWatch>),
    /// An `unread_subscribe` was decided.
    Unread(chat_core::Result<UnreadFeed>),
}

/// How the loop ended, for the closing handshake.
pub(super) struct Ended {
    /// The Close frame to send after what is queued (`None`: the client left without one).
    pub(super) close: Option<CloseFrame>,
    /// Reading failed; the client's input may still be arriving (see `CLOSE_LINGER`).
    pub(super) read_failed: bool,
}

/// One authenticated connection's state.
pub(super) struct Connection {
    state: AppState,
    user: UserId,
    sink: SplitSink<WebSocket, WsMessage>,
    stream: SplitStream<WebSocket>,
    outbox: Outbox,
    rooms: Rooms,
    /// This connection's part in the user's presence; dropped with the connection.
    presence: chat_core::PresenceSession,
    /// The `presence_subscribe` feed, if any.
    presence_watch: Option<BoxStream<'static, WsMessage>>,
    /// The `unread_subscribe` feed, if any.
    unread_feed: Option<BoxStream<'static, WsMessage>>,
    /// The client frame being run.
    op: Option<BoxFuture<'static, Done>>,
    close: Option<CloseFrame>,
}

impl Connection {
    pub(super) fn new(
        state: AppState,
        user: UserId,
        (sink, stream): (SplitSink<WebSocket, WsMessage>, SplitStream<WebSocket>),
        outbox: Outbox,
    ) -> Self {
        let presence = state.chat.connect_presence(user);
        Self {
            state,
            user,
            sink,
            stream,
            outbox,
            rooms: Rooms::default(),
            presence,
            presence_watch: None,
            unread_feed: None,
            op: None,
            close: None,
        }
    }

    /// Serves the connection until it ends, then closes it.
    ///
    /// Not an `async fn`: one would keep a second copy of the connection beside the one it
    /// moves `self` into (rust-lang/rust#62958), in every idle connection's task.
    #[allow(
        clippy::manual_async_fn,
        reason = "the async fn doubles the task's size"
    )]
    pub(super) fn run(mut self) -> impl Future<Output = ()> + Send {
        async move {
            metrics::gauge!("chat_ws_connections").increment(1.0);
            let interval = self.state.config.ws_ping_interval;
            let mut ping = tokio::time::interval(interval);
            ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut last_seen = Instant::now();
            let mut shutdown = self.state.shutdown_signal();
            // The signal only ever turns true; a connection opened after it did closes at once.
            if *shutdown.borrow_and_update() {
                self.close_with(1012, "server restarting; reconnect with since_seq");
            }
            let mut read_failed = false;
            while self.close.is_none() {
                if self
                    .rooms
                    .pump(&mut self.outbox, &self.state.chat, self.user)
                    .is_err()
                {
                    self.too_slow();
                    break;
                }
                tokio::select! {
                    incoming = self.stream.next(), if self.op.is_none() => match incoming {
                        Some(Ok(msg)) => {
                            last_seen = Instant::now();
                            self.handle(msg);
                        }
                        Some(Err(e)) => {
                            let (code, reason) = close_for_read_error(&e);
                            self.close_with(code, reason);
                            read_failed = true;
                        }
                        // The client went away without a closing handshake.
                        None => break,
                    },
                    done = async {
                        match self.op.as_mut() {
                            Some(op) => op.await,
                            None => std::future::pending().await,
                        }
                    }, if self.op.is_some() => {
                        self.op = None;
                        // Reading was paused while the frame ran: the client's silence
                        // counts from now.
                        last_seen = Instant::now();
                        self.done(done);
                    }
                    event = self.rooms.next(), if self.rooms.active() => {
                        self.room_event(event);
                        // Take what else is ready, so a burst is written with one flush.
                        for _ in 1..DELIVERY_BATCH {
                            let Some(event) = self.rooms.next().now_or_never() else { break };
                            self.room_event(event);
                        }
                    }
                    frame = next_frame(&mut self.presence_watch), if self.presence_watch.is_some() => {
                        match frame {
                            Some(frame) => self.push(frame),
                            None => self.presence_watch = None,
                        }
                    }
                    frame = next_frame(&mut self.unread_feed), if self.unread_feed.is_some() => {
                        match frame {
                            Some(frame) => self.push(frame),
                            None => self.unread_feed = None,
                        }
                    }
                    written = std::future::poll_fn(|cx| self.outbox.poll_write(&mut self.sink, cx)), if self.outbox.wants_write() => {
                        if written.is_err() {
                            // The socket is gone: nothing more can be written, not even a Close.
                            break;
                        }
                    }
                    _ = ping.tick() => {
                        if self.op.is_none() && last_seen.elapsed() > interval * 2 {
                            self.close_with(1001, "no answer to pings");
                        } else {
                            self.push(WsMessage::Ping(Default::default()));
                        }
                    }
                    _ = shutdown.changed() => {
                        self.close_with(1012, "server restarting; reconnect with since_seq");
                    }
                }
            }
            let ended = Ended {
                close: self.close.take(),
                read_failed,
            };
            let Self {
                sink,
                stream,
                outbox,
                ..
            } = self;
            // Rooms, feeds and presence go now; the handshake can take seconds.
            metrics::gauge!("chat_ws_connections").decrement(1.0);
            Box::pin(super::close(sink, stream, outbox, ended)).await;
        }
    }

    /// Queues a live frame; a full outbox closes the connection.
    fn push(&mut self, frame: WsMessage) {
        if self.outbox.push(frame).is_err() {
            self.too_slow();
        }
    }

    fn too_slow(&mut self) {
        metrics::counter!("chat_ws_slow_closes_total").increment(1);
        self.close_with(
            1008,
            "too slow: outbound queue full; reconnect with since_seq",
        );
    }

    /// Ends the loop with this Close frame (the first reason wins).
    pub(super) fn close_with(&mut self, code: u16, reason: &'static str) {
        self.close.get_or_insert(CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        });
    }

    /// Handles one client message.
    fn handle(&mut self, msg: WsMessage) {
        let text = match msg {
            WsMessage::Text(text) => text,
            WsMessage::Close(_) => {
                // The Close is answered once what is queued is written; the code is echoed as
                // RFC 6455 suggests.
                self.close_with(1000, "");
                return;
            }
            WsMessage::Ping(_) | WsMessage::Pong(_) => return,
            WsMessage::Binary(_) => {
                let err = Error::UnsupportedMediaType {
                    reason: "send JSON text frames".into(),
                };
                return self.push(error_frame(&err, None, None));
            }
        };
        let frame = match serde_json::from_str::<ClientFrame>(&text) {
            Ok(f) => f,
            Err(e) => {
                let err = Error::validation("frame", format!("malformed frame: {e}"));
                return self.push(error_frame(&err, None, None));
            }
        };
        let chat = Arc::clone(&self.state.chat);
        let user = self.user;
        if !matches!(frame, ClientFrame::Ping | ClientFrame::Presence { .. }) {
            self.presence.touch(chat.now());
        }
        let op: BoxFuture<'static, Done> = match frame {
            ClientFrame::Auth { .. } => return,
            ClientFrame::Ping => return self.push(ServerFrame::Pong.encode()),
            ClientFrame::Presence { status } => {
                let away = status == ConnectionStatus::Away;
                return self.presence.set_away(away, chat.now());
            }
            ClientFrame::PresenceSubscribe { user_ids } => {
                self.presence_watch = None;
                async move { Done::Presence(chat.watch_presence(user, &user_ids).await) }.boxed()
            }
            ClientFrame::UnreadSubscribe => {
                self.unread_feed = None;
                async move { Done::Unread(chat.unread_feed(user).await) }.boxed()
            }
            ClientFrame::Subscribe { room_id, since_seq } => {
                self.rooms.remove(room_id);
                let max = self.state.config.ws_max_subscriptions;
                if self.rooms.len() >= max {
                    let err = Error::validation(
                        "room_id",
                        format!(
                            "at most {max} subscriptions per connection; unsubscribe from one first"
                        ),
                    );
                    return self.push(error_frame(&err, None, Some(room_id)));
                }
                async move {
                    let result = chat.subscribe(user, room_id, since_seq).await;
                    Done::Subscribed {
                        room_id,
                        since_seq,
                        result,
                    }
                }
                .boxed()
            }
            ClientFrame::Unsubscribe { room_id } => return self.rooms.remove(room_id),
            ClientFrame::Send { room_id, message } => async move {
                let cmid = message.client_msg_id.clone();
                let result = chat.send_message(user, room_id, message).await;
                crate::observability::record_send("websocket", &result);
                Done::Reply(Some(match result {
                    Ok(sent) => ServerFrame::Ack {
                        client_msg_id: cmid.as_deref(),
                        replayed: sent.replayed,
                        message: &sent.message,
                    }
                    .encode(),
                    Err(e) => error_frame(&e, cmid.as_deref(), Some(room_id)),
                }))
            }
            .boxed(),
            ClientFrame::Typing { room_id } => async move {
                Done::Reply(match chat.typing(user, room_id).await {
                    // Typing is best effort: a throttled signal is dropped quietly.
                    Ok(()) | Err(Error::RateLimited { .. }) => None,
                    Err(e) => Some(error_frame(&e, None, Some(room_id))),
                })
            }
            .boxed(),
            ClientFrame::Read { room_id, seq } => async move {
                Done::Reply(match chat.mark_read(user, room_id, seq).await {
                    Ok(_) => None,
                    Err(e) => Some(error_frame(&e, None, Some(room_id))),
                })
            }
            .boxed(),
        };
        self.op = Some(op);
    }

    /// Applies what an operation decided.
    fn done(&mut self, done: Done) {
        match done {
            Done::Reply(frame) => {
                if let Some(frame) = frame {
                    self.push(frame);
                }
            }
            Done::Subscribed {
                room_id,
                since_seq,
                result,
            } => match (result, since_seq) {
                (Ok(sub), Some(since)) => self.rooms.catch_up(sub, since, true),
                (Ok(sub), None) => {
                    self.push(
                        ServerFrame::Subscribed {
                            room_id,
                            last_seq: sub.last_seq(),
                        }
                        .encode(),
                    );
                    self.rooms.go_live(sub);
                }
                (Err(e), _) => self.push(error_frame(&e, None, Some(room_id))),
            },
            Done::Presence(Ok(mut watch)) => {
                for presence in watch.current() {
                    self.push(ServerFrame::Presence(&presence).encode());
                }
                let changes = futures::stream::unfold(watch, |mut watch| async move {
                    let presence = watch.changed().await?;
                    Some((ServerFrame::Presence(&presence).encode(), watch))
                });
                self.presence_watch = Some(changes.boxed());
            }
            Done::Unread(Ok(feed)) => {
                // A store failure while recounting is reported and the feed goes on.
                let updates = futures::stream::unfold(feed, |mut feed| async move {
                    let frame = match feed.next().await? {
                        Ok(update) => ServerFrame::Unread {
                            rooms: &update.rooms,
                            gone: &update.gone,
                        }
                        .encode(),
                        Err(e) => error_frame(&e, None, None),
                    };
                    Some((frame, feed))
                });
                self.unread_feed = Some(updates.boxed());
            }
            Done::Presence(Err(e)) | Done::Unread(Err(e)) => self.push(error_frame(&e, None, None)),
        }
    }

    /// Delivers what a room has for the client.
    fn room_event(&mut self, event: RoomEvent) {
        match event {
            RoomEvent::Delivery(room, delivery) => self.deliver(room, delivery),
            RoomEvent::FellBehind(sub, from_seq) => {
                metrics::counter!("chat_ws_resyncs_total").increment(1);
                self.rooms.catch_up(sub, from_seq, false);
            }
            RoomEvent::Ended(room) => self.rooms.ended(room),
            RoomEvent::Page(room, page) => {
                if let Err(e) = self.rooms.page(room, page) {
                    self.push(error_frame(&e, None, Some(room)));
                }
            }
        }
    }

    fn deliver(&mut self, room: RoomId, delivery: Delivery) {
        let frame = match delivery {
            Delivery::Change(change) => {
                metrics::counter!("chat_ws_deliveries_total").increment(1);
                self.push(self.state.event_frames.frame(&change));
                if revokes(&change, self.user) {
                    self.rooms.remove(room);
                    let err = Error::Forbidden {
                        reason: "no longer a member of this room",
                    };
                    self.push(error_frame(&err, None, Some(room)));
                }
                return;
            }
            Delivery::Typing(t) if t.user_id != self.user => ServerFrame::Typing {
                room_id: room,
                user_id: t.user_id,
                display_name: &t.display_name,
            }
            .encode(),
            Delivery::Typing(_) | Delivery::Resync { .. } => return,
            // The reader's own receipts too: their other tabs clear the room's unread count.
            Delivery::Read(r) => ServerFrame::Receipt {
                room_id: room,
                user_id: r.user_id,
                seq: r.seq,
            }
            .encode(),
        };
        self.push(frame);
    }
}

/// The next frame of an optional feed (`None` when it ended).
async fn next_frame(feed: &mut Option<BoxStream<'static, WsMessage>>) -> Option<WsMessage> {
    feed.as_mut()?.next().await
}

/// Whether a change ends `user`'s right to follow the room.
fn revokes(change: &RoomChange, user: UserId) -> bool {
    match &change.kind {
        ChangeKind::MemberLeft { user_id } => *user_id == user,
        ChangeKind::MemberUpdated(m) => m.user_id == user && m.banned,
        _ => false,
    }
}

/// The close code and reason for a read error (RFC 6455, section 7.4.1).
fn close_for_read_error(err: &axum::Error) -> (u16, &'static str) {
    use tungstenite::error::{CapacityError, Error as WsError};
    let inner: &(dyn std::error::Error + 'static) = err;
    let source = inner.source();
    match source.and_then(|s| s.downcast_ref::<WsError>()) {
        Some(WsError::Capacity(CapacityError::MessageTooLong { .. })) => {
            (1009, "message too big; see ws_max_message")
        }
        Some(WsError::Capacity(_)) => (1009, "frame too big"),
        Some(WsError::Utf8(_)) => (1007, "text frames must be UTF-8"),
        _ => (1002, "protocol error"),
    }
}
