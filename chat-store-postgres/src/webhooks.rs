//! [`WebhookStore`]: webhooks, their positions per room and their dead letters.

use async_trait::async_trait;
use chat_core::store::WebhookStore;
use chat_core::webhook::{DeadLetter, Webhook, WebhookPosition};
use chat_core::{Error, EventId, Result, RoomSeq, Timestamp, WebhookId};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::db_err;
use crate::{PostgresStore, dt, limit};

type WebhookRow = (Uuid, Uuid, String, String, Uuid, OffsetDateTime);

fn webhook((id, event_id, url, secret, created_by, created_at): WebhookRow) -> Webhook {
    Webhook {
        id: id.into(),
        event_id: event_id.into(),
        url,
        secret,
        created_by: created_by.into(),
        created_at: Timestamp::from(created_at),
    }
}

fn seq(n: i64) -> RoomSeq {
    RoomSeq(u64::try_from(n).unwrap_or_default())
}

fn count(n: i32) -> u32 {
    u32::try_from(n).unwrap_or_default()
}

fn db_seq(s: RoomSeq) -> i64 {
    i64::try_from(s.get()).unwrap_or(i64::MAX)
}

fn db_count(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

#[async_trait]
impl WebhookStore for PostgresStore {
    async fn insert_webhook(&self, w: Webhook) -> Result<()> {
        let inserted = sqlx::query(
            "INSERT INTO webhooks (id, event_id, url, secret, created_by, created_at)
             SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS (SELECT 1 FROM events WHERE id = $2)",
        )
        .bind(w.id.as_uuid())
        .bind(w.event_id.as_uuid())
        .bind(&w.url)
        .bind(&w.secret)
        .bind(w.created_by.as_uuid())
        .bind(dt(w.created_at))
        .execute(self.pool())
        .await
        .map_err(db_err)?
        .rows_affected();
        if inserted == 0 {
            return Err(Error::NotFound { what: "event" });
        }
        Ok(())
    }

    async fn webhooks(&self, event: Option<EventId>) -> Result<Vec<Webhook>> {
        let rows: Vec<WebhookRow> = sqlx::query_as(
            "SELECT id, event_id, url, secret, created_by, created_at FROM webhooks
             WHERE $1::uuid IS NULL OR event_id = $1 ORDER BY id",
        )
        .bind(event.map(|e| e.as_uuid()))
        .fetch_all(self.pool())
        .await
        .map_err(db_err)?;
        Ok(rows.into_iter().map(webhook).collect())
    }

    async fn delete_webhook(&self, id: WebhookId) -> Result<bool> {
        let deleted = sqlx::query("DELETE FROM webhooks WHERE id = $1")
            .bind(id.as_uuid())
            .execute(self.pool())
            .await
            .map_err(db_err)?
            .rows_affected();
        Ok(deleted > 0)
    }

    async fn webhook_positions(&self, id: WebhookId) -> Result<Vec<WebhookPosition>> {
        let rows: Vec<(Uuid, i64, i32, Option<OffsetDateTime>)> = sqlx::query_as(
            "SELECT room_id, delivered, attempts, retry_at FROM webhook_positions
             WHERE webhook_id = $1",
        )
        .bind(id.as_uuid())
        .fetch_all(self.pool())
        .await
        .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .map(|(room, delivered, attempts, retry_at)| WebhookPosition {
                webhook_id: id,
                room_id: room.into(),
                delivered: seq(delivered),
                attempts: count(attempts),
                retry_at: retry_at.map(Timestamp::from),
            })
            .collect())
    }

    async fn put_webhook_position(&self, p: WebhookPosition) -> Result<()> {
        // Into a webhook that still exists only: a delivery may finish after its removal.
        sqlx::query(
            "INSERT INTO webhook_positions (webhook_id, room_id, delivered, attempts, retry_at)
             SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM webhooks WHERE id = $1)
             ON CONFLICT (webhook_id, room_id) DO UPDATE
                 SET delivered = EXCLUDED.delivered, attempts = EXCLUDED.attempts,
                     retry_at = EXCLUDED.retry_at",
        )
        .bind(p.webhook_id.as_uuid())
        .bind(p.room_id.as_uuid())
        .bind(db_seq(p.delivered))
        .bind(db_count(p.attempts))
        .bind(p.retry_at.map(dt))
        .execute(self.pool())
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn add_dead_letter(&self, l: DeadLetter) -> Result<()> {
        // The letter and the position past it, in one statement: a crash between the two
        // would either lose the letter or deliver the change again after it was given up.
        sqlx::query(
            "WITH hook AS (SELECT id FROM webhooks WHERE id = $2),
             letter AS (
                 INSERT INTO webhook_dead_letters
                     (id, webhook_id, room_id, seq, attempts, last_error, failed_at)
                 SELECT $1, id, $3, $4, $5, $6, $7 FROM hook
             )
             INSERT INTO webhook_positions (webhook_id, room_id, delivered, attempts, retry_at)
             SELECT id, $3, $4, 0, NULL FROM hook
             ON CONFLICT (webhook_id, room_id) DO UPDATE
                 SET delivered = GREATEST(webhook_positions.delivered, EXCLUDED.delivered),
                     attempts = 0, retry_at = NULL",
        )
        .bind(l.id.as_uuid())
        .bind(l.webhook_id.as_uuid())
        .bind(l.room_id.as_uuid())
        .bind(db_seq(l.seq))
        .bind(db_count(l.attempts))
        .bind(&l.last_error)
        .bind(dt(l.failed_at))
        .execute(self.pool())
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn dead_letters(&self, id: WebhookId, n: u32) -> Result<Vec<DeadLetter>> {
        let rows: Vec<(Uuid, Uuid, i64, i32, String, OffsetDateTime)> = sqlx::query_as(
            "SELECT id, room_id, seq, attempts, last_error, failed_at FROM webhook_dead_letters
             WHERE webhook_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(id.as_uuid())
        .bind(limit(n))
        .fetch_all(self.pool())
        .await
        .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .map(
                |(letter, room, s, attempts, last_error, failed_at)| DeadLetter {
                    id: letter.into(),
                    webhook_id: id,
                    room_id: room.into(),
                    seq: seq(s),
                    attempts: count(attempts),
                    last_error,
                    failed_at: Timestamp::from(failed_at),
                },
            )
            .collect())
    }
}
