//! [`AttachmentStore`]: upload records. Attaching happens in `append_message` and discarding
//! in `delete_message` (guarantee 7), in their transactions.

use async_trait::async_trait;
use chat_core::store::AttachmentStore;
use chat_core::{AttachmentId, Error, Message, MessageId, Result, Timestamp, Upload};
use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;

use crate::error::db_err;
use crate::rows::UploadRow;
use crate::{PostgresStore, dt, uuids};

/// Attaches the uploads `ids` to `message` if every one is still free; inside the send's
/// transaction, after the message row exists. Racing sends queue on the upload rows and
/// re-check them once the winner commits, so only one attaches.
pub(crate) async fn claim_uploads(conn: &mut PgConnection, message: &Message) -> Result<()> {
    let ids: Vec<AttachmentId> = message.attachments.iter().map(|a| a.id).collect();
    if ids.is_empty() {
        return Ok(());
    }
    let claimed = sqlx::query(
        "UPDATE uploads SET message_id = $1
         WHERE id = ANY($2) AND uploader = $3 AND room_id = $4
             AND message_id IS NULL AND NOT discarded",
    )
    .bind(message.id.as_uuid())
    .bind(uuids(&ids))
    .bind(message.author_id.as_uuid())
    .bind(message.room_id.as_uuid())
    .execute(conn)
    .await
    .map_err(db_err)?
    .rows_affected();
    if claimed == ids.len() as u64 {
        Ok(())
    } else {
        Err(Error::conflict(
            "an attachment is already attached to a message",
        ))
    }
}

/// Discards the uploads of a message being deleted, inside the deletion's transaction.
pub(crate) async fn discard_uploads(conn: &mut PgConnection, message: MessageId) -> Result<()> {
    sqlx::query("UPDATE uploads SET discarded = true WHERE message_id = $1")
        .bind(message.as_uuid())
        .execute(conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

#[async_trait]
impl AttachmentStore for PostgresStore {
    async fn insert_upload(&self, upload: Upload) -> Result<()> {
        let row: Option<(bool, bool)> = sqlx::query_as(
            "WITH facts AS (
                 SELECT EXISTS (SELECT 1 FROM rooms WHERE id = $2) AS room,
                        EXISTS (SELECT 1 FROM users WHERE id = $3) AS uploader
             ), inserted AS (
                 INSERT INTO uploads (id, room_id, uploader, attachment, created_at)
                 SELECT $1, $2, $3, $4, $5 FROM facts WHERE room AND uploader
             )
             SELECT room, uploader FROM facts",
        )
        .bind(upload.attachment.id.as_uuid())
        .bind(upload.room_id.as_uuid())
        .bind(upload.attachment.uploader.as_uuid())
        .bind(Json(&upload.attachment))
        .bind(dt(upload.created_at))
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        match row {
            Some((true, true)) => Ok(()),
            Some((false, _)) | None => Err(Error::NotFound { what: "room" }),
            Some((true, false)) => Err(Error::NotFound { what: "user" }),
        }
    }

    async fn get_upload(&self, id: AttachmentId) -> Result<Option<Upload>> {
        let row: Option<UploadRow> = sqlx::query_as(
            "SELECT room_id, attachment, message_id, discarded, created_at
             FROM uploads WHERE id = $1",
        )
        .bind(id.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(row.map(Upload::from))
    }

    async fn collectable_uploads(
        &self,
        unattached_before: Timestamp,
        limit: u32,
    ) -> Result<Vec<AttachmentId>> {
        // Both arms read the partial index `uploads_collectable`.
        let ids: Vec<Uuid> = sqlx::query_scalar(
            "(SELECT id FROM uploads WHERE discarded LIMIT $2)
             UNION ALL
             (SELECT id FROM uploads WHERE message_id IS NULL AND NOT discarded
                  AND created_at < $1 ORDER BY created_at LIMIT $2)
             LIMIT $2",
        )
        .bind(dt(unattached_before))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(ids.into_iter().map(AttachmentId::from).collect())
    }

    async fn remove_uploads(&self, ids: &[AttachmentId]) -> Result<()> {
        sqlx::query("DELETE FROM uploads WHERE id = ANY($1) AND (message_id IS NULL OR discarded)")
            .bind(uuids(ids))
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }
}
