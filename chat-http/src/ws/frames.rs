//! The frames of the WebSocket protocol, and the shared cache of encoded `event` frames.

use axum::extract::ws::{Message as WsMessage, Utf8Bytes};
use chat_core::{Error, RoomChange, RoomId, RoomSeq, SendMessage, UserId};
use serde::{Deserialize, Serialize};

use crate::error::ErrorBody;

/// Slots of the shared cache of encoded event frames (see [`EventFrames`]).
const EVENT_FRAME_SLOTS: usize = 1024;

/// Encoded `event` frames of live changes, shared by every subscriber of a change.
///
/// An event frame is the same bytes for everyone (it holds nothing per user), so the first
/// subscriber to send a change encodes it and the others reuse the bytes: at 100 subscribers
/// that is one JSON encoding instead of 100. Direct-mapped by (room, seq); a collision only
/// costs a re-encode.
///
/// Only live deliveries use it. A replay renders messages as they are now, so a frame cached
/// when a message was posted must never answer a replay after the message was deleted.
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
    pub(super) fn frame(&self, change: &RoomChange) -> WsMessage {
        let slot_index = {
            let room = change.room_id.as_uuid().as_u128();
            ((room as usize).wrapping_mul(31) ^ change.seq.get() as usize) % self.slots.len()
        };
        let slot = &self.slots[slot_index];
        if let Ok(guard) = slot.lock()
            && let Some((room, seq, bytes)) = guard.as_ref()
            && *room == change.room_id
            && *seq == change.seq
        {
            return WsMessage::Text(bytes.clone());
        }
        let bytes = ServerFrame::Event(change).encode_text();
        if let Ok(mut guard) = slot.lock() {
            *guard = Some((change.room_id, change.seq, bytes.clone()));
        }
        WsMessage::Text(bytes)
    }
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum ClientFrame {
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
    Presence {
        status: ConnectionStatus,
    },
    PresenceSubscribe {
        user_ids: Vec<UserId>,
    },
    UnreadSubscribe,
    Ping,
}

/// What a client says of its own connection in a `presence` frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum ConnectionStatus {
    Online,
    Away,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum ServerFrame<'a> {
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
    Receipt {
        room_id: RoomId,
        user_id: UserId,
        seq: RoomSeq,
    },
    Presence(&'a chat_core::Presence),
    Unread {
        rooms: &'a [chat_core::Unread],
        gone: &'a [RoomId],
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
    pub(super) fn encode_text(&self) -> Utf8Bytes {
        // Serializing these types cannot fail: no maps with non-string keys, no foreign types.
        let text = serde_json::to_string(self).unwrap_or_else(|_| "{\"type\":\"error\"}".into());
        Utf8Bytes::from(text)
    }

    pub(super) fn encode(&self) -> WsMessage {
        WsMessage::Text(self.encode_text())
    }
}

pub(super) fn error_frame(
    err: &Error,
    client_msg_id: Option<&str>,
    room_id: Option<RoomId>,
) -> WsMessage {
    ServerFrame::Error {
        error: ErrorBody::of(err),
        client_msg_id,
        room_id,
    }
    .encode()
}
