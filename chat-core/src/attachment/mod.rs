//! Attachments: files uploaded into a room, then named by a message.
//!
//! The life of an attachment:
//! 1. **Upload** ([`ChatService::upload`](crate::ChatService::upload)): a member who may post
//!    streams the bytes. The type is sniffed from the first bytes ([`sniff`]) and must be on
//!    the [`AttachmentPolicy`]'s allow-list and agree with the declared type. The bytes go to
//!    the [`BlobStore`](crate::BlobStore), bounded while streaming. Images then get their
//!    dimensions, a thumbnail and their metadata stripped ([`image`]), off the async runtime.
//!    The metadata becomes an [`Upload`] record in the message store, not yet attached.
//! 2. **Attach**: a message names upload ids. Only the uploader can attach an upload, only in
//!    the room it was uploaded to, and only once (the store claims it atomically with the
//!    send).
//! 3. **Read**: whoever may read the room reads the bytes; everyone else gets `NotFound`.
//! 4. **Delete**: deleting the message discards its uploads at once (nothing serves them any
//!    more) and the collector removes the bytes. Uploads never attached are collected after
//!    [`AttachmentPolicy::unattached_ttl`].

use std::collections::BTreeSet;
use std::time::Duration;

use crate::blob::{BlobKey, ByteStream};
use crate::clock::Timestamp;
use crate::error::{Error, Result};
use crate::id::{AttachmentId, MessageId, RoomId};
use crate::limits::Limits;
use crate::message::Attachment;
use crate::validation;

#[cfg(feature = "media")]
pub mod image;
pub mod image_budget;
#[cfg(feature = "media")]
pub(crate) mod image_gate;
#[cfg(feature = "media")]
pub mod image_header;
pub mod sniff;
#[cfg(feature = "media")]
pub(crate) mod workers;

pub use image_budget::ImageBudget;

/// The image types that are shown inline and get thumbnails. Nothing else is ever served
/// inline, whatever the allow-list holds: SVG and HTML can carry script.
pub const IMAGE_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];

/// Whether `content_type` is one of the [`IMAGE_TYPES`].
#[must_use]
pub fn is_image(content_type: &str) -> bool {
    IMAGE_TYPES.contains(&content_type)
}

/// What may be uploaded, and how uploads are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentPolicy {
    /// The sniffed types accepted. Default: PNG, JPEG, GIF, WebP, PDF, plain text, and the
    /// common office formats (Word, Excel, PowerPoint, OpenDocument).
    pub allowed_types: BTreeSet<String>,
    /// How long an upload may wait to be attached before it is collected. Default 24 h.
    pub unattached_ttl: Duration,
    /// The longer side of a thumbnail, in pixels. Default 320.
    pub thumbnail_px: u32,
    /// Images processed at once. Decoding is CPU-bound and takes memory in proportion to the
    /// pixels, so it is bounded. Default: half the available cores, at least one.
    pub image_workers: usize,
    /// What one image may cost (pixels, frames, decode memory and time, work per user), for
    /// attachments and profile pictures alike. Default: [`ImageBudget::default`].
    pub images: ImageBudget,
}

impl Default for AttachmentPolicy {
    fn default() -> Self {
        let allowed = [
            "image/png",
            "image/jpeg",
            "image/gif",
            "image/webp",
            "application/pdf",
            "text/plain",
            "application/msword",
            "application/vnd.ms-excel",
            "application/vnd.ms-powerpoint",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            "application/vnd.oasis.opendocument.text",
            "application/vnd.oasis.opendocument.spreadsheet",
            "application/vnd.oasis.opendocument.presentation",
        ];
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        Self {
            allowed_types: allowed.into_iter().map(str::to_owned).collect(),
            unattached_ttl: Duration::from_secs(24 * 60 * 60),
            thumbnail_px: 320,
            image_workers: (cores / 2).max(1),
            images: ImageBudget::default(),
        }
    }
}

/// Which bytes of an attachment: the file as served, or its thumbnail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Variant {
    /// The uploaded file (images without their metadata).
    Original,
    /// The thumbnail of an image.
    Thumbnail,
}

impl Variant {
    /// The blob key of this variant of an attachment.
    #[must_use]
    pub fn key(self, id: AttachmentId) -> BlobKey {
        let name = match self {
            Self::Original => id.to_string(),
            Self::Thumbnail => format!("{id}.thumb"),
        };
        // A UUID in hyphenated lowercase form, optionally with ".thumb": always a valid key.
        BlobKey::new(name).unwrap_or_else(|_| unreachable!("uuid keys are valid"))
    }

    /// The attachment a blob key belongs to, for keys made by [`key`](Self::key).
    #[must_use]
    pub fn attachment_of(key: &BlobKey) -> Option<AttachmentId> {
        let id = key.as_str().strip_suffix(".thumb").unwrap_or(key.as_str());
        id.parse().ok()
    }
}

/// An upload as the message store keeps it: the attachment's metadata and where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    /// The metadata a message shows.
    pub attachment: Attachment,
    /// The room it was uploaded to, the only room it can be attached in.
    pub room_id: RoomId,
    /// The message it is attached to, once attached.
    pub message_id: Option<MessageId>,
    /// Set when its message was deleted: it is never served again and awaits collection.
    pub discarded: bool,
    /// When it was uploaded.
    pub created_at: Timestamp,
}

/// A file as a transport hands it to [`ChatService::upload`](crate::ChatService::upload).
pub struct UploadInput<'a> {
    /// The name the client gave. Only its last path component is kept.
    pub file_name: String,
    /// The type the client declared, if any (checked against the bytes, never trusted).
    pub declared_type: Option<String>,
    /// The bytes.
    pub body: ByteStream<'a>,
}

impl std::fmt::Debug for UploadInput<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadInput")
            .field("file_name", &self.file_name)
            .field("declared_type", &self.declared_type)
            .finish_non_exhaustive()
    }
}

/// A client's file name made safe to keep and to serve: the last component of any path
/// (`../../etc/passwd` is `passwd`, `C:\Users\me\cv.pdf` is `cv.pdf`), trimmed, and checked
/// like every other name (no control, invisible or direction-changing characters).
///
/// # Errors
/// [`Error::Validation`] on field `file_name` when nothing usable remains.
pub fn clean_file_name(raw: &str, limits: &Limits) -> Result<String> {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default().trim();
    if last.is_empty() || last.chars().all(|c| c == '.') {
        return Err(Error::validation("file_name", "must name a file"));
    }
    validation::validate_name("file_name", last, limits.max_file_name_chars)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_keep_only_their_last_component() {
        let l = Limits::default();
        assert_eq!(clean_file_name("../../etc/passwd", &l).unwrap(), "passwd");
        assert_eq!(
            clean_file_name("C:\\Users\\me\\cv.pdf", &l).unwrap(),
            "cv.pdf"
        );
        assert_eq!(
            clean_file_name(" holiday photo.jpg ", &l).unwrap(),
            "holiday photo.jpg"
        );
        for bad in ["", "/", "..", "dir/", "a\0b", "evil\u{202e}gpj.exe"] {
            assert!(clean_file_name(bad, &l).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn keys_map_back_to_their_attachment() {
        let id = AttachmentId::new();
        for v in [Variant::Original, Variant::Thumbnail] {
            assert_eq!(Variant::attachment_of(&v.key(id)), Some(id));
        }
        assert_ne!(Variant::Original.key(id), Variant::Thumbnail.key(id));
    }
}
