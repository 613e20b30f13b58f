//! Messages, attachments, and the pages that history returns.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::id::{AttachmentId, MessageId, RoomId, UserId};
use crate::payload::Payload;
use crate::room::RoomSeq;

/// Metadata of a file attached to a message. The bytes live in a
/// [`BlobStore`](crate::BlobStore); see [`crate::attachment`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Attachment {
    /// The attachment (the id its upload answered).
    pub id: AttachmentId,
    /// Who uploaded it.
    pub uploader: UserId,
    /// The file's name, without a path.
    pub file_name: String,
    /// Its MIME type, sniffed from the bytes (never the client's claim).
    pub content_type: String,
    /// Its size in bytes as served (images without their metadata).
    pub size: u64,
    /// `sha256:` and the hex digest of the bytes as served.
    pub checksum: Option<String>,
    /// An image's width in pixels.
    #[serde(default)]
    pub width: Option<u32>,
    /// An image's height in pixels.
    #[serde(default)]
    pub height: Option<u32>,
    /// An image's thumbnail, when one could be made.
    #[serde(default)]
    pub thumbnail: Option<Thumbnail>,
}

/// A thumbnail of an image attachment: at most 320 px on its longer side by default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Thumbnail {
    /// `image/jpeg`, or `image/png` for images with transparency.
    pub content_type: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Size in bytes.
    pub size: u64,
}

/// A message, or the tombstone of a deleted one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Message {
    /// The message.
    pub id: MessageId,
    /// The room it was posted in.
    pub room_id: RoomId,
    /// The seq assigned when it was posted (edits get seqs of their own in the change log).
    pub seq: RoomSeq,
    /// Who posted it.
    pub author_id: UserId,
    /// The author's display name when it was posted.
    pub author_name: String,
    /// The author's avatar when it was posted.
    pub author_avatar: Option<String>,
    /// The text, with `@[Name](userId)` mentions. Empty once deleted.
    pub text: String,
    /// The mentioned users who were room members when it was posted or last edited.
    pub mentions: Vec<UserId>,
    /// Attached files. Empty once deleted.
    pub attachments: Vec<Attachment>,
    /// Typed content, such as a poll (see [`crate::payload`]). Absent once deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Payload>,
    /// The message this one replies to, in the same room.
    pub reply_to: Option<MessageId>,
    /// Replies to this message that are not deleted (its thread).
    #[serde(default)]
    pub reply_count: u32,
    /// When the newest of those replies was posted.
    #[serde(default)]
    pub last_reply_at: Option<Timestamp>,
    /// Reaction key → the users who reacted with it, in reaction order.
    pub reactions: BTreeMap<String, Vec<UserId>>,
    /// The sender's idempotency key.
    pub client_msg_id: Option<String>,
    /// Whether the text was edited.
    pub is_edited: bool,
    /// When it was last edited.
    pub edited_at: Option<Timestamp>,
    /// Whether it was deleted (this is then a tombstone).
    pub is_deleted: bool,
    /// When it was deleted.
    pub deleted_at: Option<Timestamp>,
    /// Whether a bot or model wrote it.
    pub is_ai_generated: bool,
    /// When it was posted.
    pub created_at: Timestamp,
}

impl Message {
    /// Adds (`present`) or removes `user`'s reaction `key`, keeping reaction order and dropping
    /// keys nobody uses any more. Returns whether anything changed.
    pub fn set_reaction(&mut self, user: UserId, key: &str, present: bool) -> bool {
        let has = self
            .reactions
            .get(key)
            .is_some_and(|users| users.contains(&user));
        if has == present {
            return false;
        }
        let users = self.reactions.entry(key.to_owned()).or_default();
        if present {
            users.push(user);
        } else {
            users.retain(|u| *u != user);
            if users.is_empty() {
                self.reactions.remove(key);
            }
        }
        true
    }
}

/// What a client sends to post a message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SendMessage {
    /// The text (may be empty beside an attachment).
    #[serde(default)]
    pub text: String,
    /// Uploads to attach (ids from `POST /v1/rooms/{id}/uploads`): the caller's own, made in
    /// this room, not attached before.
    #[serde(default)]
    pub attachment_ids: Vec<AttachmentId>,
    /// Typed content of a registered kind, such as a poll (see [`crate::payload`]).
    #[serde(default)]
    pub payload: Option<Payload>,
    /// The message this replies to.
    #[serde(default)]
    pub reply_to: Option<MessageId>,
    /// An idempotency key, unique per author: resending it returns the original message.
    #[serde(default)]
    pub client_msg_id: Option<String>,
}

/// The result of a send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Sent {
    /// The message.
    pub message: Message,
    /// True when `client_msg_id` matched an earlier send and this is that send's message.
    pub replayed: bool,
}

/// A page of the messages that mention someone, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MentionPage {
    /// The messages, newest first; pass the last one's id as `before` for the next page.
    pub messages: Vec<Message>,
    /// Whether older mentions remain.
    pub has_more: bool,
}

/// Where a history page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum HistoryCursor {
    /// Messages with a lower seq, newest first.
    Before(RoomSeq),
    /// Messages with a higher seq, oldest first.
    After(RoomSeq),
}

impl HistoryCursor {
    /// The newest page.
    pub const LATEST: Self = Self::Before(RoomSeq::MAX);
}

/// A page of history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HistoryPage {
    /// Newest first for `before`, oldest first for `after`.
    pub messages: Vec<Message>,
    /// Whether more messages lie beyond this page in the same direction (for a page
    /// `around` a seq: older ones).
    pub has_more: bool,
    /// For a page `around` a seq only: whether newer messages follow it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_newer: Option<bool>,
}
