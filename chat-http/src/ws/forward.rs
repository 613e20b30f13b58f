//! What a connection's tasks send: a room subscription (replay, then live), the presence of
//! the people it follows, and the unread feed.

use chat_core::{ChangeKind, Delivery, Error, RoomChange, RoomId, RoomSeq, UserId};

use super::frames::{ServerFrame, error_frame};
use super::{Outbound, REPLAY_PAGE};
use crate::state::AppState;

/// Sends the presence of the watched people now, then each change of status.
pub(super) async fn forward_presence(mut watch: chat_core::PresenceWatch, out: Outbound) {
    for presence in watch.current() {
        if !out.push(ServerFrame::Presence(&presence).encode()) {
            return;
        }
    }
    while let Some(presence) = watch.changed().await {
        if !out.push(ServerFrame::Presence(&presence).encode()) {
            return;
        }
    }
}

/// Sends every room's unread counts, then each change. A store failure while recounting is
/// reported and the feed goes on.
pub(super) async fn forward_unread(mut feed: chat_core::UnreadFeed, out: Outbound) {
    while let Some(update) = feed.next().await {
        let frame = match update {
            Ok(update) => ServerFrame::Unread {
                rooms: &update.rooms,
                gone: &update.gone,
            }
            .encode(),
            Err(e) => error_frame(&e, None, None),
        };
        if !out.push(frame) {
            return;
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

/// Sends the room's changes after `after` from the store, paced by the client's reading;
/// returns the last seq sent. Frames are encoded here rather than taken from [`EventFrames`]:
/// the store renders messages as they are now.
async fn replay(
    state: &AppState,
    user: UserId,
    room: RoomId,
    mut after: RoomSeq,
    out: &Outbound,
) -> Result<RoomSeq, Error> {
    loop {
        let page = state.chat.changes(user, room, after, REPLAY_PAGE).await?;
        for change in &page.changes {
            if !out.push_paced(ServerFrame::Event(change).encode()).await {
                return Err(Error::Unavailable {
                    source: "connection closed".into(),
                });
            }
            after = change.seq;
        }
        metrics::counter!("chat_ws_replayed_total").increment(page.changes.len() as u64);
        if !page.has_more {
            return Ok(after);
        }
    }
}

/// One subscription: replay after `since` (if given), then live, reloading from the store
/// whenever the hub says this subscriber fell behind.
///
/// Not an `async fn`: one keeps the subscription twice (the argument and the binding it moves
/// into, rust-lang/rust#62958) in every subscriber's task.
#[allow(
    clippy::manual_async_fn,
    reason = "the async fn doubles the task's size"
)]
pub(super) fn forward(
    state: AppState,
    user: UserId,
    mut sub: chat_core::Subscription,
    since: Option<RoomSeq>,
    out: Outbound,
) -> impl Future<Output = ()> + Send {
    async move {
        let room = sub.room_id();
        if let Some(since) = since {
            // Replays are rare and their futures large: boxing them keeps every idle
            // subscriber's task small (see the memory figures in BENCHMARKS.md).
            match Box::pin(replay(&state, user, room, since, &out)).await {
                Ok(last) => sub.advance_to(last),
                Err(e) => {
                    if !out.closing() {
                        out.push(error_frame(&e, None, Some(room)));
                    }
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
                // The reader's own receipts too: their other tabs clear the room's unread count.
                Delivery::Read(r) => out.push(
                    ServerFrame::Receipt {
                        room_id: room,
                        user_id: r.user_id,
                        seq: r.seq,
                    }
                    .encode(),
                ),
                Delivery::Resync { from_seq, .. } => {
                    metrics::counter!("chat_ws_resyncs_total").increment(1);
                    match Box::pin(replay(&state, user, room, from_seq, &out)).await {
                        Ok(last) => {
                            sub.advance_to(last);
                            true
                        }
                        Err(e) => {
                            if !out.closing() {
                                out.push(error_frame(&e, None, Some(room)));
                            }
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
}
