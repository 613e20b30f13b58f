//! [`BotTokenStore`]: bots' tokens, each use a primary-key read.

use async_trait::async_trait;
use chat_core::{BotToken, BotTokenId, BotTokenStore, Result, Timestamp, UserId};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::db_err;
use crate::{PostgresStore, dt};

const COLS: &str =
    "id, bot_id, event_id, created_by, created_at, expires_at, revoked_at, secret_sha256";

type Row = (
    Uuid,
    Uuid,
    Uuid,
    Uuid,
    OffsetDateTime,
    OffsetDateTime,
    Option<OffsetDateTime>,
    String,
);

fn token(
    (id, bot_id, event_id, created_by, created_at, expires_at, revoked_at, secret_sha256): Row,
) -> BotToken {
    BotToken {
        id: BotTokenId::from_uuid(id),
        bot_id: bot_id.into(),
        event_id: event_id.into(),
        created_by: created_by.into(),
        created_at: Timestamp::from(created_at),
        expires_at: Timestamp::from(expires_at),
        revoked_at: revoked_at.map(Timestamp::from),
        secret_sha256,
    }
}

#[async_trait]
impl BotTokenStore for PostgresStore {
    async fn insert_bot_token(&self, t: BotToken) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO bot_tokens ({COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(t.id.as_uuid())
        .bind(t.bot_id.as_uuid())
        .bind(t.event_id.as_uuid())
        .bind(t.created_by.as_uuid())
        .bind(dt(t.created_at))
        .bind(dt(t.expires_at))
        .bind(t.revoked_at.map(dt))
        .bind(&t.secret_sha256)
        .execute(self.pool())
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn get_bot_token(&self, id: BotTokenId) -> Result<Option<BotToken>> {
        let row: Option<Row> =
            sqlx::query_as(&format!("SELECT {COLS} FROM bot_tokens WHERE id = $1"))
                .bind(id.as_uuid())
                .fetch_optional(self.pool())
                .await
                .map_err(db_err)?;
        Ok(row.map(token))
    }

    async fn bot_tokens(&self, bot: UserId) -> Result<Vec<BotToken>> {
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT {COLS} FROM bot_tokens WHERE bot_id = $1 ORDER BY id DESC"
        ))
        .bind(bot.as_uuid())
        .fetch_all(self.pool())
        .await
        .map_err(db_err)?;
        Ok(rows.into_iter().map(token).collect())
    }

    async fn revoke_bot_token(&self, id: BotTokenId, at: Timestamp) -> Result<Option<BotToken>> {
        let row: Option<Row> = sqlx::query_as(&format!(
            "UPDATE bot_tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1
             RETURNING {COLS}"
        ))
        .bind(id.as_uuid())
        .bind(dt(at))
        .fetch_optional(self.pool())
        .await
        .map_err(db_err)?;
        Ok(row.map(token))
    }
}
