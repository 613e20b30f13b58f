//! Attachments: uploading, reading and collecting them (see [`crate::attachment`]).

use std::collections::HashSet;
use std::ops::Range;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::BytesMut;
use futures::StreamExt;
use sha2::{Digest, Sha256};

use super::ChatService;
use super::avatars::AvatarImage;
use crate::attachment::sniff::{SNIFF_BYTES, declared_matches, normalize_declared, sniff};
use crate::attachment::{Upload, UploadInput, Variant, clean_file_name, is_image};
use crate::blob::{self, ByteStream};
use crate::error::{Error, Result};
use crate::id::{AttachmentId, RoomId, UserId};
use crate::message::Attachment;
#[cfg(feature = "media")]
use crate::message::Thumbnail;

/// What one run of [`ChatService::collect_uploads`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Collected {
    /// Upload records removed with their bytes (discarded, or never attached in time).
    pub uploads: usize,
    /// Blobs removed that no upload record named (an upload interrupted by a crash).
    pub orphan_blobs: usize,
}

fn hidden() -> Error {
    Error::NotFound { what: "attachment" }
}

impl ChatService {
    /// Uploads a file into a room, for the caller to attach to a message. Reads the body
    /// as a stream and never holds it whole (images excepted, which are decoded after
    /// storing, a bounded number at a time).
    ///
    /// # Errors
    /// [`Error::NotFound`] for a hidden room; [`Error::Forbidden`] when the caller may not
    /// post there; [`Error::TooLarge`] the moment the body passes
    /// [`Limits::max_attachment_bytes`](crate::Limits::max_attachment_bytes);
    /// [`Error::UnsupportedType`] when the sniffed type is not allowed or contradicts
    /// the declared one; [`Error::Validation`] for a bad file name (`file_name`), an empty or
    /// interrupted body (`body`), or an image that does not decode (`body`).
    pub async fn upload(
        &self,
        actor: UserId,
        room: RoomId,
        input: UploadInput<'_>,
    ) -> Result<Attachment> {
        let ctx = self.room_context(actor, room).await?;
        ctx.access().require_post()?;
        self.require_blob_store()?;
        let file_name = clean_file_name(&input.file_name, &self.limits)?;
        let max = self.limits.max_attachment_bytes;
        let mut body = input.body;

        // Read just enough to know what the file is before storing any of it.
        let mut prefix = BytesMut::new();
        let mut complete = false;
        while prefix.len() < SNIFF_BYTES {
            match body.next().await {
                Some(chunk) => prefix.extend_from_slice(&chunk.map_err(blob::body_error)?),
                None => {
                    complete = true;
                    break;
                }
            }
            if prefix.len() as u64 > max {
                return Err(blob::too_large(max));
            }
        }
        if complete && prefix.is_empty() {
            return Err(Error::validation("body", "the file is empty"));
        }
        let sniffed = sniff(&prefix, complete);
        if !self.attachments.allowed_types.contains(sniffed) {
            return Err(Error::UnsupportedType {
                reason: format!("files of type {sniffed} are not accepted"),
            });
        }
        // Without image work, an image would be served with its metadata (a phone photo's GPS
        // position among it): refused instead.
        if is_image(sniffed) && !cfg!(feature = "media") {
            return Err(Error::UnsupportedType {
                reason: format!("{sniffed} uploads need this server's image support"),
            });
        }
        if let Some(declared) = input.declared_type.as_deref().and_then(normalize_declared)
            && !declared_matches(&declared, sniffed)
        {
            return Err(Error::UnsupportedType {
                reason: format!("declared as {declared}, but the content is {sniffed}"),
            });
        }

        let id = AttachmentId::new();
        let key = Variant::Original.key(id);
        let hasher = Arc::new(Mutex::new(Sha256::new()));
        let hashing = Arc::clone(&hasher);
        let stream = blob::once(prefix.freeze())
            .chain(body)
            .inspect(move |chunk| {
                if let Ok(bytes) = chunk {
                    hashing
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .update(bytes);
                }
            });
        let size = self.blobs.put(&key, stream.boxed(), max).await?;
        let digest = std::mem::take(&mut *hasher.lock().unwrap_or_else(PoisonError::into_inner));
        #[cfg_attr(not(feature = "media"), allow(unused_mut))]
        let mut attachment = Attachment {
            id,
            uploader: actor,
            file_name,
            content_type: sniffed.to_owned(),
            size,
            checksum: Some(format!("sha256:{:x}", digest.finalize())),
            width: None,
            height: None,
            thumbnail: None,
        };
        let stored = async {
            #[cfg(feature = "media")]
            if is_image(sniffed) {
                self.process_attachment_image(&mut attachment).await?;
            }
            let upload = Upload {
                attachment: attachment.clone(),
                room_id: room,
                message_id: None,
                discarded: false,
                created_at: self.clock.now(),
            };
            self.store.insert_upload(upload).await
        }
        .await;
        if let Err(err) = stored {
            // Best effort: what is left behind is an orphan the collector removes.
            let _ = self.blobs.delete(&key).await;
            let _ = self.blobs.delete(&Variant::Thumbnail.key(id)).await;
            return Err(err);
        }
        Ok(attachment)
    }

    /// Strips the stored image's metadata, measures it and stores its thumbnail.
    #[cfg(feature = "media")]
    async fn process_attachment_image(&self, attachment: &mut Attachment) -> Result<()> {
        let key = Variant::Original.key(attachment.id);
        let read_back = || async {
            let raw = self.blobs.get(&key, 0..u64::MAX).await?;
            blob::collect_bounded(raw, self.limits.max_attachment_bytes).await
        };
        let (processed, rewritten) = self
            .process_image(
                attachment.uploader,
                &attachment.content_type,
                self.attachments.thumbnail_px,
                read_back,
            )
            .await?;
        let digest = Sha256::digest(&processed.bytes);
        let max = self.limits.max_attachment_bytes;
        // Only bytes the pipeline changed (metadata stripped, a rotation applied) are stored
        // again; an image that carried nothing to strip stays as uploaded.
        if rewritten {
            self.blobs
                .put(&key, blob::once(processed.bytes.clone()), max)
                .await?;
        }
        attachment.size = processed.bytes.len() as u64;
        attachment.checksum = Some(format!("sha256:{digest:x}"));
        attachment.width = Some(processed.width);
        attachment.height = Some(processed.height);
        if let Some(mut thumb) = processed.thumbnail {
            let mut content_type = thumb.content_type.to_owned();
            // An image that already fits the box is its own thumbnail when that is no bigger
            // (a 40 × 30 PNG of 200 bytes would otherwise get a JPEG several times its size).
            let full_size = (thumb.width, thumb.height) == (processed.width, processed.height);
            if full_size && thumb.bytes.len() >= processed.bytes.len() {
                thumb.bytes = processed.bytes.clone();
                content_type.clone_from(&attachment.content_type);
            }
            let size = thumb.bytes.len() as u64;
            self.blobs
                .put(
                    &Variant::Thumbnail.key(attachment.id),
                    blob::once(thumb.bytes),
                    max,
                )
                .await?;
            attachment.thumbnail = Some(Thumbnail {
                content_type,
                width: thumb.width,
                height: thumb.height,
                size,
            });
        }
        Ok(())
    }

    /// The uploads a message names, checked for the sender: each must exist, be the
    /// sender's, and belong to the room. Whether each is still free to attach is the store's
    /// atomic check (guarantee 7), so that a retried send with the same `client_msg_id` is a
    /// replay rather than a conflict.
    pub(super) async fn attachments_for_send(
        &self,
        actor: UserId,
        room: RoomId,
        ids: &[AttachmentId],
    ) -> Result<Vec<Attachment>> {
        if ids.len() > self.limits.max_attachments {
            return Err(Error::validation(
                "attachment_ids",
                format!("too many (max {})", self.limits.max_attachments),
            ));
        }
        let mut seen = HashSet::new();
        let mut attachments = Vec::with_capacity(ids.len());
        for (i, id) in ids.iter().enumerate() {
            if !seen.insert(*id) {
                return Err(Error::validation(
                    format!("attachment_ids[{i}]"),
                    "named twice",
                ));
            }
            let upload = self
                .store
                .get_upload(*id)
                .await?
                .filter(|u| u.attachment.uploader == actor)
                .ok_or(hidden())?;
            if upload.room_id != room {
                return Err(Error::validation(
                    format!("attachment_ids[{i}]"),
                    "was uploaded to another room",
                ));
            }
            attachments.push(upload.attachment);
        }
        Ok(attachments)
    }

    /// An attachment the caller may read: one attached to a live message in a room they
    /// can read, or their own upload not yet attached.
    ///
    /// # Errors
    /// [`Error::NotFound`] (`what: "attachment"`) for anything else, so that nobody learns
    /// whether an attachment they may not read exists.
    pub async fn attachment(&self, actor: UserId, id: AttachmentId) -> Result<Upload> {
        let upload = self.attachment_by_link(id).await?;
        if upload.message_id.is_none() {
            return if upload.attachment.uploader == actor {
                Ok(upload)
            } else {
                Err(hidden())
            };
        }
        let ctx = self
            .room_context(actor, upload.room_id)
            .await
            .map_err(|_| hidden())?;
        ctx.access().require_read().map_err(|_| hidden())?;
        Ok(upload)
    }

    /// An attachment for a transport that already authorised the read another way (a signed
    /// link it issued after [`attachment`](Self::attachment)): any upload not discarded.
    ///
    /// # Errors
    /// [`Error::NotFound`] (`what: "attachment"`) when it is unknown or its message was
    /// deleted.
    pub async fn attachment_by_link(&self, id: AttachmentId) -> Result<Upload> {
        self.store
            .get_upload(id)
            .await?
            .filter(|u| !u.discarded)
            .ok_or(hidden())
    }

    /// Streams bytes of an attachment the caller was allowed to read.
    ///
    /// # Errors
    /// [`Error::NotFound`] (`what: "attachment"`) for the thumbnail of a file that has none,
    /// or bytes that are gone.
    pub async fn open_attachment(
        &self,
        upload: &Upload,
        variant: Variant,
        range: Range<u64>,
    ) -> Result<ByteStream<'static>> {
        if variant == Variant::Thumbnail && upload.attachment.thumbnail.is_none() {
            return Err(hidden());
        }
        self.blobs
            .get(&variant.key(upload.attachment.id), range)
            .await
            .map_err(|e| match e {
                Error::NotFound { .. } => hidden(),
                other => other,
            })
    }

    /// Removes the bytes and records of discarded uploads and of uploads never attached
    /// within [`AttachmentPolicy::unattached_ttl`](crate::AttachmentPolicy::unattached_ttl),
    /// and blobs no record names that are as old. Hosts call it periodically (the example
    /// server does every ten minutes); each call removes at most `batch` of each.
    ///
    /// # Errors
    /// Store and blob-store failures; what was removed before one stays removed.
    pub async fn collect_uploads(&self, batch: u32) -> Result<Collected> {
        let cutoff = self
            .clock
            .now()
            .saturating_sub(self.attachments.unattached_ttl);
        let ids = self.store.collectable_uploads(cutoff, batch).await?;
        for id in &ids {
            for variant in [Variant::Original, Variant::Thumbnail] {
                self.blobs.delete(&variant.key(*id)).await?;
            }
        }
        self.store.remove_uploads(&ids).await?;
        let mut orphans = 0;
        // Orphans are rare (a crash between storing bytes and recording them), so the listing
        // looks further than one batch: the old blobs it lists are mostly live attachments.
        let old = self
            .blobs
            .list_written_before(cutoff, (batch as usize).saturating_mul(10))
            .await?;
        for blob in old {
            // Profile pictures are not uploads: messages keep naming replaced ones.
            if AvatarImage::parse(blob.key.as_str()).is_some() {
                continue;
            }
            let known = match Variant::attachment_of(&blob.key) {
                Some(id) => self.store.get_upload(id).await?.is_some(),
                None => false,
            };
            if !known && self.blobs.delete(&blob.key).await? {
                orphans += 1;
            }
        }
        Ok(Collected {
            uploads: ids.len(),
            orphan_blobs: orphans,
        })
    }
}
