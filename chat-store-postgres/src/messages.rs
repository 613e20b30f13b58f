//! [`MessageStore`]: sends, edits, deletions, reactions, history, the change log, search.

use std::time::Duration;

use async_trait::async_trait;
use chat_core::{
    Admission, Appended, AuthorSnapshot, ChangeKind, Error, HistoryCursor, Message, MessageChange,
    MessageId, MessageStore, NewMessage, PayloadUpdate, Result, RoomChange, RoomId, RoomSeq,
    SearchTerms, SendHistory, SystemMetrics, Timestamp, UNREAD_CAP, Unread, UserId, search,
};
use sqlx::types::Json;
use sqlx::{Connection, PgConnection, Row};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::db_err;
use crate::rows::{
    ChangeRow, MESSAGE_COLS, MessageRow, STANDING_COLS, change_cols, message_change_json,
    message_cols, room_cols_of, seq_from_db, seq_to_db, standing, standing_joins,
};

use crate::PostgresStore;
use crate::attachments::{claim_uploads, discard_uploads};
use crate::change_log::{log_change, next_seq};
use crate::{distinct_tokens, dt, limit, uuids};

/// A search statement and what to bind after the rooms, in order. One room is read
/// newest-first by seq (its own index); several rooms newest-first by id (UUIDv7: time order
/// across rooms). Only the conditions the terms need are written: an empty word list would
/// make `tokens @> '{}'` match every row through the index.
pub(crate) fn search_statement(one_room: bool, terms: &SearchTerms) -> (String, Vec<SearchBind>) {
    let mut sql = String::from(concat!("SELECT ", message_cols!(), " FROM messages WHERE "));
    sql.push_str(if one_room {
        "room_id = ($1::uuid[])[1]"
    } else {
        "room_id = ANY($1)"
    });
    sql.push_str(" AND NOT is_deleted");
    let mut binds = Vec::new();
    if !terms.words.is_empty() {
        binds.push(SearchBind::Words(terms.words.clone()));
        sql.push_str(&format!(" AND tokens @> ${}", binds.len() + 1));
    }
    if let Some(indexed) = terms.indexed_prefix() {
        binds.push(SearchBind::Text(indexed.to_owned()));
        sql.push_str(&format!(" AND prefixes @> ARRAY[${}]", binds.len() + 1));
        if let Some(full) = terms.prefix.as_deref().filter(|p| *p != indexed) {
            binds.push(SearchBind::Text(full.to_owned()));
            sql.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM unnest(tokens) AS t WHERE starts_with(t, ${}))",
                binds.len() + 1
            ));
        }
    }
    sql.push_str(&format!(
        " ORDER BY {} DESC LIMIT ${}",
        if one_room { "seq" } else { "id" },
        binds.len() + 2
    ));
    (sql, binds)
}

/// A value bound to a search statement.
pub(crate) enum SearchBind {
    /// Whole words (`text[]`).
    Words(Vec<String>),
    /// A prefix (`text`).
    Text(String),
}

/// Runs `update` (an `UPDATE messages … RETURNING` the message columns) on a message already
/// locked by [`message_for_update`], takes the room's next seq and logs the change `kind` makes
/// of the new row: the shared tail of edit, delete and reaction changes.
async fn rewrite_message(
    conn: &mut PgConnection,
    room: RoomId,
    at: Timestamp,
    update: sqlx::query::QueryAs<'_, sqlx::Postgres, MessageRow, sqlx::postgres::PgArguments>,
    kind: fn(Message) -> ChangeKind,
) -> Result<RoomChange> {
    let seq = next_seq(&mut *conn, room).await?;
    let row = update.fetch_one(&mut *conn).await.map_err(db_err)?;
    log_change(conn, room, seq, at, kind(row.into())).await
}

/// Recounts the live replies of `parent` (locked by the caller), sets its `last_reply_at`, and
/// logs `ThreadUpdated` for it under the room's next seq.
async fn update_thread(
    conn: &mut PgConnection,
    parent: MessageId,
    room: RoomId,
    at: Timestamp,
) -> Result<RoomChange> {
    // A statement of its own after the lock, so its snapshot sees every reply committed by a
    // transaction that held the lock before.
    let sql = format!(
        "UPDATE messages SET (reply_count, last_reply_at) =
             (SELECT count(*), max(created_at) FROM messages
              WHERE reply_to = $1 AND NOT is_deleted)
         WHERE id = $1 RETURNING {MESSAGE_COLS}"
    );
    let update = sqlx::query_as(&sql).bind(parent.as_uuid());
    rewrite_message(conn, room, at, update, ChangeKind::ThreadUpdated).await
}

/// Adjusts the unread mention counters (migration 0010) of members who had not read `message`
/// when its mentions change: `added` gain one, `removed` lose one. Called after the room's
/// row is locked, in the order every writer keeps.
async fn recount_mentions(
    tx: &mut PgConnection,
    message: &Message,
    added: &[UserId],
    removed: &[UserId],
) -> Result<()> {
    if added.is_empty() && removed.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE room_members SET mentions_after_read =
             greatest(mentions_after_read + CASE WHEN user_id = ANY($4) THEN 1 ELSE -1 END, 0)
         WHERE room_id = $1 AND last_read_seq < $2 AND user_id <> $3
           AND (user_id = ANY($4) OR user_id = ANY($5))",
    )
    .bind(message.room_id.as_uuid())
    .bind(seq_to_db(message.seq))
    .bind(message.author_id.as_uuid())
    .bind(uuids(added))
    .bind(uuids(removed))
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    Ok(())
}

async fn message_for_update(conn: &mut PgConnection, id: MessageId) -> Result<Message> {
    let row: Option<MessageRow> = sqlx::query_as(&format!(
        "SELECT {MESSAGE_COLS} FROM messages WHERE id = $1 FOR UPDATE"
    ))
    .bind(id.as_uuid())
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    row.map(Message::from)
        .ok_or(Error::NotFound { what: "message" })
}

impl PostgresStore {
    /// One send in a transaction of its own: replies and sends with attachments.
    async fn append_one(&self, msg: NewMessage, admission: Admission) -> Result<Appended> {
        // Four round trips: BEGIN with the locks, one read of everything admission needs, one
        // write of the seq, message and change, COMMIT.
        //
        // The locks come first, in the crate's lock order (author, the parent message of a
        // reply, room), and must be statements of their own: the reads below take their
        // snapshot after they are granted. So they see every earlier send of this author,
        // including one that committed while we waited, and the author's standing as of the
        // last change to the room (a ban takes the room's row to log itself). Sending them
        // with BEGIN saves round trips; the ids are UUIDs we format, so inlining them is safe.
        let parent_lock = msg.reply_to.map_or_else(String::new, |parent| {
            format!(
                "SELECT 1 FROM messages WHERE id = '{}' FOR UPDATE;",
                parent.as_uuid().hyphenated()
            )
        });
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        let mut tx = conn
            .begin_with(format!(
                // The admission read below has a subquery with LIMIT $5; a generic plan cannot
                // see the limit and costs itself out, so PostgreSQL would re-plan it on every
                // send (0.2 ms measured at a million messages). Its shape never varies: plan once.
                "BEGIN; SET LOCAL plan_cache_mode = force_generic_plan;
                 SELECT 1 FROM users WHERE id = '{}' FOR NO KEY UPDATE;
                 {parent_lock}
                 SELECT 1 FROM rooms WHERE id = '{}' FOR NO KEY UPDATE",
                msg.author_id.as_uuid().hyphenated(),
                msg.room_id.as_uuid().hyphenated()
            ))
            .await
            .map_err(db_err)?;
        let now = msg.created_at;
        let policy = &admission.policy;
        let facts = sqlx::query(&format!(
            "SELECT {}, {STANDING_COLS},
                 (SELECT id FROM messages WHERE author_id = $2 AND client_msg_id = $3) AS replay_of,
                 (SELECT display_name FROM users WHERE id = $2) AS author_name,
                 (SELECT avatar_url FROM users WHERE id = $2) AS author_avatar,
                 (SELECT is_bot FROM users WHERE id = $2) AS author_is_bot,
                 ARRAY(SELECT created_at FROM messages WHERE author_id = $2 AND created_at > $4
                       ORDER BY created_at DESC LIMIT $5) AS recent,
                 -- Only slow mode reads the last send here; the CASE skips it when it is off.
                 CASE WHEN r.slow_mode_secs > 0 THEN
                     (SELECT max(created_at) FROM messages WHERE author_id = $2 AND room_id = $1)
                 END AS last_in_room
             FROM rooms r {} WHERE r.id = $1",
            room_cols_of("r"),
            standing_joins("$2")
        ))
        .bind(msg.room_id.as_uuid())
        .bind(msg.author_id.as_uuid())
        .bind(&msg.client_msg_id)
        .bind(dt(now.saturating_sub(policy.lookback())))
        .bind(i64::try_from(policy.history_limit()).unwrap_or(i64::MAX))
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?
        .ok_or(Error::NotFound { what: "room" })?;
        let author_name: Option<String> = facts.try_get("author_name").map_err(db_err)?;
        let author_name = author_name.ok_or(Error::NotFound { what: "user" })?;
        let standing = standing(&facts)?;
        let is_moderator = admission.authorize(&standing, now)?;
        if let Some(original) = facts
            .try_get::<Option<Uuid>, _>("replay_of")
            .map_err(db_err)?
        {
            let row: MessageRow = sqlx::query_as(&format!(
                "SELECT {MESSAGE_COLS} FROM messages WHERE id = $1"
            ))
            .bind(original)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
            return Ok(Appended::Replayed(row.into()));
        }
        let author_avatar: Option<String> = facts.try_get("author_avatar").map_err(db_err)?;
        let author_is_bot: Option<bool> = facts.try_get("author_is_bot").map_err(db_err)?;
        let mut recent: Vec<OffsetDateTime> = facts.try_get("recent").map_err(db_err)?;
        recent.reverse();
        let recent: Vec<Timestamp> = recent.into_iter().map(Timestamp::from).collect();
        let last_in_room: Option<OffsetDateTime> = facts.try_get("last_in_room").map_err(db_err)?;
        admission.check(&SendHistory {
            now,
            room: &standing.room,
            is_moderator,
            recent_sends: &recent,
            last_send_in_room: last_in_room.map(Timestamp::from),
        })?;

        let author = AuthorSnapshot {
            display_name: author_name,
            avatar_url: author_avatar,
            is_bot: author_is_bot.unwrap_or(false),
        };
        let message = msg.into_message(RoomSeq::ZERO, author);
        if let Some(parent) = message.reply_to {
            // Locked with BEGIN; a parent that does not exist is refused here.
            message_for_update(&mut tx, parent).await?;
        }
        let seq: i64 = sqlx::query_scalar(
            "WITH room AS (
                 UPDATE rooms SET last_seq = last_seq + 1, last_message_at = $14,
                     message_count = message_count + 1
                 WHERE id = $2 RETURNING last_seq, message_count
             ), message AS (
                 INSERT INTO messages (id, room_id, seq, author_id, author_name, author_avatar,
                     text, tokens, mentions, attachments, reply_to, reactions, client_msg_id,
                     is_ai_generated, created_at, prefixes, ordinal, payload)
                 SELECT $1, $2, room.last_seq, $3, $4, $5, $6, $7, $8, $9, $10, '{}'::jsonb,
                     $11, $12, $14, $15, room.message_count, $16
                 FROM room RETURNING seq
             ), change AS (
                 INSERT INTO room_changes (room_id, seq, at, change, message_id)
                 SELECT $2, message.seq, $14, $13, $1
                 FROM message
             ), counters AS (
                 -- The unread counters the room's message count cannot tell (migration
                 -- 0010): the author's own messages and the mentioned members' mentions.
                 -- Joined to `room`, so the room's row is locked first, as every writer does.
                 UPDATE room_members rm SET
                     own_after_read = rm.own_after_read + (rm.user_id = $3)::int,
                     mentions_after_read = rm.mentions_after_read + (rm.user_id <> $3)::int
                 FROM room
                 WHERE rm.room_id = $2 AND (rm.user_id = $3 OR rm.user_id = ANY($8))
             )
             SELECT seq FROM message",
        )
        .bind(message.id.as_uuid())
        .bind(message.room_id.as_uuid())
        .bind(message.author_id.as_uuid())
        .bind(&message.author_name)
        .bind(&message.author_avatar)
        .bind(&message.text)
        .bind(distinct_tokens(&message.text))
        .bind(uuids(&message.mentions))
        .bind(Json(&message.attachments))
        .bind(message.reply_to.map(|r| r.as_uuid()))
        .bind(&message.client_msg_id)
        .bind(message.is_ai_generated)
        .bind(Json(message_change_json(MessageChange::Posted)))
        .bind(dt(now))
        .bind(search::prefixes(&message.text))
        .bind(message.payload.as_ref().map(Json))
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        // Only a send with attachments pays this round trip (guarantee 7); a conflict drops
        // the transaction, and with it the message.
        claim_uploads(&mut tx, &message).await?;
        let thread = match message.reply_to {
            Some(parent) => Some(Box::new(
                update_thread(&mut tx, parent, message.room_id, now).await?,
            )),
            None => None,
        };
        tx.commit().await.map_err(db_err)?;
        let seq = RoomSeq(u64::try_from(seq).unwrap_or(0));
        let message = Message { seq, ..message };
        Ok(Appended::Created {
            posted: RoomChange {
                room_id: message.room_id,
                seq,
                at: now,
                kind: ChangeKind::MessagePosted(message),
            },
            thread,
        })
    }
}

#[async_trait]
impl MessageStore for PostgresStore {
    async fn shutdown(&self) {
        self.sends.shutdown().await;
    }

    async fn append_message(&self, msg: NewMessage, admission: Admission) -> Result<Appended> {
        // Plain sends go in the next group commit (see `group_commit`); a reply locks its
        // parent and a send with attachments claims them, in a transaction of its own.
        if msg.reply_to.is_none() && msg.attachments.is_empty() {
            return self.sends.append(&self.pool, msg, admission).await;
        }
        self.append_one(msg, admission).await
    }

    async fn get_message(&self, id: MessageId) -> Result<Option<Message>> {
        let row: Option<MessageRow> = sqlx::query_as(&format!(
            "SELECT {MESSAGE_COLS} FROM messages WHERE id = $1"
        ))
        .bind(id.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(row.map(Message::from))
    }

    async fn edit_message(
        &self,
        id: MessageId,
        text: String,
        mentions: Vec<UserId>,
        at: Timestamp,
    ) -> Result<RoomChange> {
        let mut tx = self.begin().await?;
        let old = message_for_update(&mut tx, id).await?;
        if old.is_deleted {
            return Err(Error::conflict("message is deleted"));
        }
        let sql = format!(
            "UPDATE messages SET text = $2, tokens = $3, mentions = $4, is_edited = true, edited_at = $5,
                 prefixes = $6
             WHERE id = $1 RETURNING {MESSAGE_COLS}"
        );
        let update = sqlx::query_as(&sql)
            .bind(id.as_uuid())
            .bind(&text)
            .bind(distinct_tokens(&text))
            .bind(uuids(&mentions))
            .bind(dt(at))
            .bind(search::prefixes(&text));
        let change =
            rewrite_message(&mut tx, old.room_id, at, update, ChangeKind::MessageEdited).await?;
        let added: Vec<UserId> = mentions
            .iter()
            .copied()
            .filter(|u| !old.mentions.contains(u))
            .collect();
        let removed: Vec<UserId> = old
            .mentions
            .iter()
            .copied()
            .filter(|u| !mentions.contains(u))
            .collect();
        recount_mentions(&mut tx, &old, &added, &removed).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(change)
    }

    async fn delete_message(&self, id: MessageId, at: Timestamp) -> Result<Vec<RoomChange>> {
        let mut tx = self.begin().await?;
        let old = message_for_update(&mut tx, id).await?;
        if old.is_deleted {
            return Ok(Vec::new());
        }
        if let Some(parent) = old.reply_to {
            // A reply's row, then its parent's, then the room's: the order sends keep too.
            message_for_update(&mut tx, parent).await?;
        }
        let sql = format!(
            "UPDATE messages SET text = '', tokens = '{{}}', prefixes = '{{}}', mentions = '{{}}', attachments = '[]'::jsonb,
                 payload = NULL, reactions = '{{}}'::jsonb, is_deleted = true, deleted_at = $2
             WHERE id = $1 RETURNING {MESSAGE_COLS}"
        );
        let update = sqlx::query_as(&sql).bind(id.as_uuid()).bind(dt(at));
        if !old.attachments.is_empty() {
            discard_uploads(&mut tx, id).await?;
        }
        let mut changes = vec![
            rewrite_message(&mut tx, old.room_id, at, update, ChangeKind::MessageDeleted).await?,
        ];
        // After rewrite_message has locked the room's row, in the order every writer keeps.
        sqlx::query("UPDATE rooms SET deleted_count = deleted_count + 1 WHERE id = $1")
            .bind(old.room_id.as_uuid())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        recount_mentions(&mut tx, &old, &[], &old.mentions).await?;
        if let Some(parent) = old.reply_to {
            changes.push(update_thread(&mut tx, parent, old.room_id, at).await?);
        }
        tx.commit().await.map_err(db_err)?;
        Ok(changes)
    }

    async fn readable_rooms(&self, user: UserId) -> Result<Vec<(RoomId, RoomSeq)>> {
        // The rooms of `unread_counts`, from the covering index of the member's rooms and the
        // rooms' primary key: one statement, no counts.
        let rows: Vec<(Uuid, i64)> = sqlx::query_as(
            "SELECT rm.room_id, r.last_seq
             FROM room_members rm JOIN rooms r ON r.id = rm.room_id
             JOIN event_members em ON em.event_id = r.event_id AND em.user_id = rm.user_id
             WHERE rm.user_id = $1 AND NOT rm.banned",
        )
        .bind(user.as_uuid())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .map(|(room, last)| (RoomId::from(room), seq_from_db(last)))
            .collect())
    }

    async fn unread_counts(&self, user: UserId, room: Option<RoomId>) -> Result<Vec<Unread>> {
        // O(1) per room from the counters of migration 0010: the room's message count, less
        // what the member had read, their own messages after it, and (only in rooms with any
        // deletion: one probe of the partial index `messages_deleted`) messages of others
        // deleted after it. One statement is one snapshot, so `r.last_seq` and the counts
        // agree, and a live feed can apply later changes to them exactly.
        //
        // For a member of a thousand rooms the planner would JIT-compile the statement (30 ms
        // of compiling for milliseconds of work, measured with the earlier O(unread) form);
        // the transaction exists to turn JIT off for this statement only.
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        let mut tx = conn
            .begin_with("BEGIN; SET LOCAL jit = off")
            .await
            .map_err(db_err)?;
        let rows: Vec<(Uuid, i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT rm.room_id, rm.last_read_seq, r.last_seq,
                 CASE WHEN r.last_seq > rm.last_read_seq THEN
                     r.message_count - rm.read_ordinal - rm.own_after_read
                     - CASE WHEN r.deleted_count > 0 THEN
                         (SELECT count(*) FROM messages d
                          WHERE d.room_id = rm.room_id AND d.seq > rm.last_read_seq
                            AND d.is_deleted AND d.author_id <> $1)
                       ELSE 0 END
                 ELSE 0 END,
                 CASE WHEN r.last_seq > rm.last_read_seq THEN rm.mentions_after_read ELSE 0 END
             FROM room_members rm JOIN rooms r ON r.id = rm.room_id
             -- A room membership that outlived its event membership reads nothing.
             JOIN event_members em ON em.event_id = r.event_id AND em.user_id = rm.user_id
             WHERE rm.user_id = $1 AND NOT rm.banned AND ($2::uuid IS NULL OR rm.room_id = $2)",
        )
        .bind(user.as_uuid())
        .bind(room.map(|r| r.as_uuid()))
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        let count = |n: i64| u32::try_from(n.clamp(0, i64::from(UNREAD_CAP))).unwrap_or(UNREAD_CAP);
        Ok(rows
            .into_iter()
            .map(|(room, read, last, messages, mentions)| Unread {
                room_id: RoomId::from(room),
                last_read_seq: seq_from_db(read),
                last_seq: seq_from_db(last),
                messages: count(messages),
                mentions: count(mentions),
            })
            .collect())
    }

    async fn mentions_of(
        &self,
        user: UserId,
        rooms: &[RoomId],
        before: Option<MessageId>,
        limit: u32,
    ) -> Result<Vec<Message>> {
        // The partial GIN index `messages_mentions` finds the user's mentions; ids are UUIDv7,
        // so ordering by id is time order across rooms.
        let rows: Vec<MessageRow> = sqlx::query_as(&format!(
            "SELECT {MESSAGE_COLS} FROM messages
             WHERE mentions @> ARRAY[$1]::uuid[] AND NOT is_deleted AND room_id = ANY($2)
               AND ($3::uuid IS NULL OR id < $3)
             ORDER BY id DESC LIMIT $4"
        ))
        .bind(user.as_uuid())
        .bind(uuids(rooms))
        .bind(before.map(|b| b.as_uuid()))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(rows.into_iter().map(Message::from).collect())
    }

    async fn replies(&self, parent: MessageId, after: RoomSeq, limit: u32) -> Result<Vec<Message>> {
        // The partial index `messages_replies` (reply_to, seq) serves this as one range.
        let rows: Vec<MessageRow> = sqlx::query_as(&format!(
            "SELECT {MESSAGE_COLS} FROM messages
             WHERE reply_to = $1 AND seq > $2 ORDER BY seq LIMIT $3"
        ))
        .bind(parent.as_uuid())
        .bind(seq_to_db(after))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(rows.into_iter().map(Message::from).collect())
    }

    async fn set_reaction(
        &self,
        id: MessageId,
        user: UserId,
        key: &str,
        present: bool,
        at: Timestamp,
    ) -> Result<Option<RoomChange>> {
        let mut tx = self.begin().await?;
        let mut updated = message_for_update(&mut tx, id).await?;
        if updated.is_deleted {
            return Err(Error::conflict("message is deleted"));
        }
        if !updated.set_reaction(user, key, present) {
            return Ok(None);
        }
        let sql =
            format!("UPDATE messages SET reactions = $2 WHERE id = $1 RETURNING {MESSAGE_COLS}");
        let update = sqlx::query_as(&sql)
            .bind(id.as_uuid())
            .bind(Json(&updated.reactions));
        let change = rewrite_message(
            &mut tx,
            updated.room_id,
            at,
            update,
            ChangeKind::ReactionsChanged,
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(Some(change))
    }

    async fn update_payload(
        &self,
        id: MessageId,
        update: &PayloadUpdate<'_>,
        at: Timestamp,
    ) -> Result<Option<RoomChange>> {
        let mut tx = self.begin().await?;
        // The row lock makes racing updates take turns, each reading the other's result.
        let current = message_for_update(&mut tx, id).await?;
        if current.is_deleted {
            return Err(Error::conflict("message is deleted"));
        }
        let Some(payload) = update(&current)? else {
            return Ok(None);
        };
        let sql =
            format!("UPDATE messages SET payload = $2 WHERE id = $1 RETURNING {MESSAGE_COLS}");
        let update = sqlx::query_as(&sql).bind(id.as_uuid()).bind(Json(&payload));
        let change = rewrite_message(
            &mut tx,
            current.room_id,
            at,
            update,
            ChangeKind::PayloadUpdated,
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(Some(change))
    }

    async fn history(
        &self,
        room: RoomId,
        cursor: HistoryCursor,
        limit_: u32,
    ) -> Result<Vec<Message>> {
        let (sql, seq) = match cursor {
            HistoryCursor::Before(s) => (
                format!(
                    "SELECT {MESSAGE_COLS} FROM messages WHERE room_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3"
                ),
                s,
            ),
            HistoryCursor::After(s) => (
                format!(
                    "SELECT {MESSAGE_COLS} FROM messages WHERE room_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
                ),
                s,
            ),
        };
        let rows: Vec<MessageRow> = sqlx::query_as(&sql)
            .bind(room.as_uuid())
            .bind(seq_to_db(seq))
            .bind(limit(limit_))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(rows.into_iter().map(Message::from).collect())
    }

    async fn changes_after(
        &self,
        room: RoomId,
        after: RoomSeq,
        limit_: u32,
    ) -> Result<Vec<RoomChange>> {
        // Message changes render the message as it is now (chat_core::change).
        let rows: Vec<ChangeRow> = sqlx::query_as(&format!(
            "SELECT {} FROM room_changes c LEFT JOIN messages m ON m.id = c.message_id
             WHERE c.room_id = $1 AND c.seq > $2 ORDER BY c.seq LIMIT $3",
            change_cols()
        ))
        .bind(room.as_uuid())
        .bind(seq_to_db(after))
        .bind(limit(limit_))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(rows.into_iter().map(RoomChange::from).collect())
    }

    async fn changes_after_each(
        &self,
        reads: &[(RoomId, RoomSeq, u32)],
    ) -> Result<Vec<RoomChange>> {
        // One round trip for a whole feed page: each room's window read by the primary key,
        // in the order given.
        let rooms: Vec<Uuid> = reads.iter().map(|r| r.0.as_uuid()).collect();
        let afters: Vec<i64> = reads.iter().map(|r| seq_to_db(r.1)).collect();
        let limits: Vec<i64> = reads.iter().map(|r| limit(r.2)).collect();
        let rows: Vec<ChangeRow> = sqlx::query_as(&format!(
            "SELECT {} FROM unnest($1::uuid[], $2::bigint[], $3::bigint[])
                 WITH ORDINALITY AS r (room_id, after, n, i)
             CROSS JOIN LATERAL (
                 SELECT * FROM room_changes rc
                 WHERE rc.room_id = r.room_id AND rc.seq > r.after ORDER BY rc.seq LIMIT r.n
             ) c
             LEFT JOIN messages m ON m.id = c.message_id
             ORDER BY r.i, c.seq",
            change_cols()
        ))
        .bind(rooms)
        .bind(afters)
        .bind(limits)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(rows.into_iter().map(RoomChange::from).collect())
    }

    async fn search_messages(
        &self,
        rooms: &[RoomId],
        terms: &SearchTerms,
        limit_: u32,
    ) -> Result<Vec<Message>> {
        let (sql, binds) = search_statement(rooms.len() == 1, terms);
        // Unnamed statement: planned for these very words and rooms every time. A cached
        // generic plan cannot know whether a word is in half the messages or in none, and
        // picks a plan that is slow for one of the two (see BENCHMARKS.md).
        let mut query = sqlx::query_as(&sql).persistent(false).bind(uuids(rooms));
        for bind in binds {
            query = match bind {
                SearchBind::Words(words) => query.bind(words),
                SearchBind::Text(text) => query.bind(text),
            };
        }
        let rows: Vec<MessageRow> = query
            .bind(limit(limit_))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(rows.into_iter().map(Message::from).collect())
    }

    async fn system_metrics(&self, now: Timestamp) -> Result<SystemMetrics> {
        let hour_ago = dt(now.saturating_sub(Duration::from_secs(3600)));
        let day_ago = dt(now.saturating_sub(Duration::from_secs(24 * 3600)));
        // Each count walks an index over its window only; the totals read per-room counters
        // and the (small) rooms and events tables, never the message history.
        let row = sqlx::query(
            "SELECT
                 (SELECT count(*) FROM messages WHERE created_at > $1) AS last_hour,
                 (SELECT count(*) FROM messages WHERE created_at > $2) AS last_day,
                 (SELECT count(DISTINCT author_id) FROM messages WHERE created_at > $1) AS active,
                 (SELECT coalesce(sum(message_count), 0)::bigint FROM rooms) AS total_messages,
                 (SELECT count(*) FROM rooms) AS total_rooms,
                 (SELECT count(*) FROM events) AS total_events",
        )
        .bind(hour_ago)
        .bind(day_ago)
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        let get = |name: &str| -> Result<u64> {
            let v: i64 = row.try_get(name).map_err(db_err)?;
            Ok(u64::try_from(v).unwrap_or(0))
        };
        Ok(SystemMetrics {
            messages_last_hour: get("last_hour")?,
            messages_last_day: get("last_day")?,
            active_users_last_hour: get("active")?,
            total_messages: get("total_messages")?,
            total_rooms: get("total_rooms")?,
            total_events: get("total_events")?,
            timestamp: now,
        })
    }
}
