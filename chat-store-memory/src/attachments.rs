//! Uploads and their bytes' bookkeeping.

use async_trait::async_trait;
use chat_core::store::AttachmentStore;
use chat_core::{AttachmentId, Error, Result, Timestamp, Upload};

use crate::{MemoryStore, ROOM_NOT_FOUND};

#[async_trait]
impl AttachmentStore for MemoryStore {
    fn durable(&self) -> bool {
        false
    }

    async fn insert_upload(&self, upload: Upload) -> Result<()> {
        let mut s = self.write();
        if !s.rooms.contains_key(&upload.room_id) {
            return Err(ROOM_NOT_FOUND);
        }
        if !s.users.contains_key(&upload.attachment.uploader) {
            return Err(Error::NotFound { what: "user" });
        }
        if s.uploads.contains_key(&upload.attachment.id) {
            return Err(Error::conflict("the attachment id is taken"));
        }
        s.uploads.insert(upload.attachment.id, upload);
        Ok(())
    }

    async fn get_upload(&self, id: AttachmentId) -> Result<Option<Upload>> {
        Ok(self.read().uploads.get(&id).cloned())
    }

    async fn collectable_uploads(
        &self,
        unattached_before: Timestamp,
        limit: u32,
    ) -> Result<Vec<AttachmentId>> {
        // A walk over every upload: the memory store is for single processes whose uploads
        // are few next to their messages; the collector runs every few minutes.
        Ok(self
            .read()
            .uploads
            .values()
            .filter(|u| u.discarded || (u.message_id.is_none() && u.created_at < unattached_before))
            .take(limit as usize)
            .map(|u| u.attachment.id)
            .collect())
    }

    async fn remove_uploads(&self, ids: &[AttachmentId]) -> Result<()> {
        let mut s = self.write();
        for id in ids {
            let live = s
                .uploads
                .get(id)
                .is_some_and(|u| u.message_id.is_some() && !u.discarded);
            if !live {
                s.uploads.remove(id);
            }
        }
        Ok(())
    }
}
