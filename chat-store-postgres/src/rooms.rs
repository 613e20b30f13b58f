//! [`RoomStore`]: rooms, memberships, read state and mention lookups.

use async_trait::async_trait;
use chat_core::{
    ChangeKind, Error, EventId, EventMember, EventRole, MemberMatch, NewDirectRoom, Result, Room,
    RoomChange, RoomId, RoomMember, RoomPatch, RoomRole, RoomSeq, RoomStanding, RoomStore,
    Timestamp, UserId,
};
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use crate::error::{db_err, fk_as_not_found};
use crate::rows::{
    ROOM_COLS, ROOM_MEMBER_COLS, RoomMemberRow, RoomRow, STANDING_COLS, room_cols_of,
    room_kind_str, room_role_str, seq_to_db, standing, standing_joins, visibility_str,
};

use crate::PostgresStore;
use crate::change_log::{log_change, next_seq};
use crate::events::{insert_event, insert_event_member};
use crate::{dt, limit, uuids};

/// Inserts a new room (at seq 0).
async fn insert_room(conn: &mut PgConnection, room: &Room) -> Result<Room> {
    let row: RoomRow = sqlx::query_as(&format!(
        "INSERT INTO rooms (id, event_id, name, kind, visibility, archived, slow_mode_secs,
             created_by, created_at, last_message_at, last_seq, read_receipts)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, $11)
         RETURNING {ROOM_COLS}"
    ))
    .bind(room.id.as_uuid())
    .bind(room.event_id.as_uuid())
    .bind(&room.name)
    .bind(room_kind_str(room.kind))
    .bind(visibility_str(room.visibility))
    .bind(room.archived)
    .bind(i32::try_from(room.slow_mode_secs).unwrap_or(i32::MAX))
    .bind(room.created_by.as_uuid())
    .bind(dt(room.created_at))
    .bind(room.last_message_at.map(dt))
    .bind(room.read_receipts)
    .fetch_one(conn)
    .await
    .map_err(|e| match e {
        sqlx::Error::Database(ref d) if d.constraint() == Some("rooms_event_name") => {
            Error::conflict("a room with this name exists in the event")
        }
        e => fk_as_not_found(
            e,
            &[
                ("rooms_event_id_fkey", "event"),
                ("rooms_created_by_fkey", "user"),
            ],
        ),
    })?;
    Room::try_from(row)
}

#[async_trait]
impl RoomStore for PostgresStore {
    async fn create_room(&self, room: Room, creator: RoomMember) -> Result<Room> {
        let mut tx = self.begin().await?;
        let room = insert_room(&mut tx, &room).await?;
        upsert_room_member(&mut tx, &creator).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(room)
    }

    async fn open_direct_room(&self, direct: NewDirectRoom) -> Result<(Room, bool)> {
        let mut tx = self.begin().await?;
        // Racing opens of one set of people queue here, so the first creates the room and
        // the others find it. The lock is the key's hash: a collision only serialises two
        // unrelated opens.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(&direct.key)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let existing: Option<RoomRow> = sqlx::query_as(&format!(
            "SELECT {ROOM_COLS} FROM rooms
             WHERE id = (SELECT room_id FROM direct_rooms WHERE key = $1)"
        ))
        .bind(&direct.key)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        if let Some(row) = existing {
            tx.commit().await.map_err(db_err)?;
            return Ok((Room::try_from(row)?, false));
        }
        let at = direct.room.created_at;
        insert_event(&mut tx, &direct.event).await?;
        let room = insert_room(&mut tx, &direct.room).await?;
        for user in &direct.members {
            insert_event_member(
                &mut tx,
                &EventMember {
                    event_id: direct.event.id,
                    user_id: *user,
                    role: EventRole::Member,
                    joined_at: at,
                },
            )
            .await?;
            upsert_room_member(
                &mut tx,
                &RoomMember::new(room.id, *user, RoomRole::Member, at),
            )
            .await?;
        }
        sqlx::query("INSERT INTO direct_rooms (key, room_id) VALUES ($1, $2)")
            .bind(&direct.key)
            .bind(room.id.as_uuid())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok((room, true))
    }

    async fn get_room(&self, id: RoomId) -> Result<Option<Room>> {
        let row: Option<RoomRow> =
            sqlx::query_as(&format!("SELECT {ROOM_COLS} FROM rooms WHERE id = $1"))
                .bind(id.as_uuid())
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
        row.map(Room::try_from).transpose()
    }

    async fn rooms_of_event(&self, event: EventId) -> Result<Vec<Room>> {
        let rows: Vec<RoomRow> = sqlx::query_as(&format!(
            "SELECT {ROOM_COLS} FROM rooms WHERE event_id = $1 ORDER BY id"
        ))
        .bind(event.as_uuid())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.into_iter().map(Room::try_from).collect()
    }

    async fn update_room(&self, id: RoomId, patch: RoomPatch, at: Timestamp) -> Result<RoomChange> {
        let mut tx = self.begin().await?;
        let row: Option<RoomRow> = sqlx::query_as(&format!(
            "UPDATE rooms SET name = COALESCE($2, name), archived = COALESCE($3, archived),
                 slow_mode_secs = COALESCE($4, slow_mode_secs),
                 read_receipts = COALESCE($5, read_receipts), last_seq = last_seq + 1
             WHERE id = $1 RETURNING {ROOM_COLS}"
        ))
        .bind(id.as_uuid())
        .bind(&patch.name)
        .bind(patch.archived)
        .bind(
            patch
                .slow_mode_secs
                .map(|s| i32::try_from(s).unwrap_or(i32::MAX)),
        )
        .bind(patch.read_receipts)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(ref d) if d.constraint() == Some("rooms_event_name") => {
                Error::conflict("a room with this name exists in the event")
            }
            e => db_err(e),
        })?;
        let room = Room::try_from(row.ok_or(Error::NotFound { what: "room" })?)?;
        let change = log_change(
            &mut tx,
            id,
            room.last_seq,
            at,
            ChangeKind::RoomUpdated(room),
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(change)
    }

    async fn get_room_member(&self, room: RoomId, user: UserId) -> Result<Option<RoomMember>> {
        let row: Option<RoomMemberRow> = sqlx::query_as(&format!(
            "SELECT {ROOM_MEMBER_COLS} FROM room_members WHERE room_id = $1 AND user_id = $2"
        ))
        .bind(room.as_uuid())
        .bind(user.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.map(RoomMember::try_from).transpose()
    }

    async fn room_standing(&self, room: RoomId, user: UserId) -> Result<Option<RoomStanding>> {
        // Every permission check reads this: one round trip instead of three.
        let row = sqlx::query(&format!(
            "SELECT {}, {STANDING_COLS} FROM rooms r {} WHERE r.id = $1",
            room_cols_of("r"),
            standing_joins("$2")
        ))
        .bind(room.as_uuid())
        .bind(user.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.as_ref().map(standing).transpose()
    }

    async fn room_members(&self, room: RoomId) -> Result<Vec<RoomMember>> {
        let rows: Vec<RoomMemberRow> = sqlx::query_as(&format!(
            "SELECT {ROOM_MEMBER_COLS} FROM room_members WHERE room_id = $1 ORDER BY joined_at, user_id"
        ))
        .bind(room.as_uuid())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.into_iter().map(RoomMember::try_from).collect()
    }

    async fn memberships_of_user(&self, user: UserId) -> Result<Vec<RoomMember>> {
        let rows: Vec<RoomMemberRow> = sqlx::query_as(&format!(
            "SELECT {ROOM_MEMBER_COLS} FROM room_members WHERE user_id = $1 ORDER BY room_id"
        ))
        .bind(user.as_uuid())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.into_iter().map(RoomMember::try_from).collect()
    }

    async fn put_room_member(&self, member: RoomMember, at: Timestamp) -> Result<RoomChange> {
        let mut tx = self.begin().await?;
        let seq = next_seq(&mut tx, member.room_id).await?;
        let (stored, inserted) = upsert_room_member(&mut tx, &member).await?;
        let kind = if inserted {
            ChangeKind::MemberJoined(stored)
        } else {
            ChangeKind::MemberUpdated(stored)
        };
        let change = log_change(&mut tx, member.room_id, seq, at, kind).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(change)
    }

    async fn remove_room_member(
        &self,
        room: RoomId,
        user: UserId,
        at: Timestamp,
    ) -> Result<Option<RoomChange>> {
        let mut tx = self.begin().await?;
        // The room's row before the member's, the order sends keep (they update the counters
        // of the members they mention); when nobody is removed, dropping the transaction
        // gives the seq back.
        let seq = next_seq(&mut tx, room).await?;
        let removed = sqlx::query("DELETE FROM room_members WHERE room_id = $1 AND user_id = $2")
            .bind(room.as_uuid())
            .bind(user.as_uuid())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        if removed.rows_affected() == 0 {
            return Ok(None);
        }
        let change = log_change(
            &mut tx,
            room,
            seq,
            at,
            ChangeKind::MemberLeft { user_id: user },
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(Some(change))
    }

    async fn set_last_read(&self, room: RoomId, user: UserId, seq: RoomSeq) -> Result<RoomMember> {
        // The row is locked first, in a statement of its own: a send that counted itself into
        // this member's counters has committed by then, so the recount below (a new snapshot)
        // sees its message, and a later send waits and adds to the recounted value.
        let mut tx = self.begin().await?;
        let locked: Option<i64> = sqlx::query_scalar(
            "SELECT last_read_seq FROM room_members WHERE room_id = $1 AND user_id = $2 FOR UPDATE",
        )
        .bind(room.as_uuid())
        .bind(user.as_uuid())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        let Some(current) = locked else {
            return Err(Error::NotFound { what: "membership" });
        };
        let sql = if current < seq_to_db(seq) {
            // The counters of migration 0010 for the new position: a walk of what is after it.
            format!(
                "UPDATE room_members SET last_read_seq = $3,
                     read_ordinal = coalesce((SELECT m.ordinal FROM messages m
                         WHERE m.room_id = $1 AND m.seq <= $3 ORDER BY m.seq DESC LIMIT 1), 0),
                     own_after_read = (SELECT count(*) FROM messages m
                         WHERE m.room_id = $1 AND m.seq > $3 AND m.author_id = $2),
                     mentions_after_read = (SELECT count(*) FROM messages m
                         WHERE m.room_id = $1 AND m.seq > $3 AND m.author_id <> $2
                           AND NOT m.is_deleted AND m.mentions @> ARRAY[$2]::uuid[])
                 WHERE room_id = $1 AND user_id = $2 RETURNING {ROOM_MEMBER_COLS}"
            )
        } else {
            format!(
                "SELECT {ROOM_MEMBER_COLS} FROM room_members
                 WHERE room_id = $1 AND user_id = $2 AND $3::bigint IS NOT NULL"
            )
        };
        let row: RoomMemberRow = sqlx::query_as(&sql)
            .bind(room.as_uuid())
            .bind(user.as_uuid())
            .bind(seq_to_db(seq))
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        RoomMember::try_from(row)
    }

    async fn members_among(&self, room: RoomId, users: &[UserId]) -> Result<Vec<MemberMatch>> {
        let rows = sqlx::query(
            "SELECT u.id, u.display_name, u.avatar_url
             FROM room_members m JOIN users u ON u.id = m.user_id
             WHERE m.room_id = $1 AND m.user_id = ANY($2) AND NOT m.banned",
        )
        .bind(room.as_uuid())
        .bind(uuids(users))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        let mut found = rows
            .iter()
            .map(member_match)
            .collect::<Result<std::collections::HashMap<UserId, MemberMatch>>>()?;
        Ok(users.iter().filter_map(|u| found.remove(u)).collect())
    }

    async fn members_by_name_prefix(
        &self,
        room: RoomId,
        prefix: &str,
        limit_: u32,
    ) -> Result<Vec<MemberMatch>> {
        // LIKE's wildcards in user input are literal text here.
        let mut pattern = String::with_capacity(prefix.len() + 1);
        for c in prefix.to_lowercase().chars() {
            if matches!(c, '%' | '_' | '\\') {
                pattern.push('\\');
            }
            pattern.push(c);
        }
        pattern.push('%');
        let rows = sqlx::query(
            r#"SELECT u.id, u.display_name, u.avatar_url
              FROM room_members m JOIN users u ON u.id = m.user_id
              WHERE m.room_id = $1 AND NOT m.banned AND lower(u.display_name) LIKE $2 ESCAPE '\'
              ORDER BY lower(u.display_name) COLLATE "C", u.id
              LIMIT $3"#,
        )
        .bind(room.as_uuid())
        .bind(pattern)
        .bind(limit(limit_))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|row| member_match(row).map(|(_, m)| m))
            .collect()
    }
}

/// A row of `id, display_name, avatar_url` as a mention or autocomplete match.
fn member_match(row: &sqlx::postgres::PgRow) -> Result<(UserId, MemberMatch)> {
    let user_id = UserId::from(row.try_get::<Uuid, _>("id").map_err(db_err)?);
    Ok((
        user_id,
        MemberMatch {
            user_id,
            display_name: row.try_get("display_name").map_err(db_err)?,
            avatar_url: row.try_get("avatar_url").map_err(db_err)?,
        },
    ))
}

async fn upsert_room_member(conn: &mut PgConnection, m: &RoomMember) -> Result<(RoomMember, bool)> {
    let row = sqlx::query(&format!(
        "INSERT INTO room_members ({ROOM_MEMBER_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (room_id, user_id) DO UPDATE SET role = EXCLUDED.role,
             muted_until = EXCLUDED.muted_until, banned = EXCLUDED.banned
         RETURNING {ROOM_MEMBER_COLS}, (xmax = 0) AS inserted"
    ))
    .bind(m.room_id.as_uuid())
    .bind(m.user_id.as_uuid())
    .bind(room_role_str(m.role))
    .bind(m.muted_until.map(dt))
    .bind(m.banned)
    .bind(seq_to_db(m.last_read_seq))
    .bind(dt(m.joined_at))
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| {
        fk_as_not_found(
            e,
            &[
                ("room_members_room_id_fkey", "room"),
                ("room_members_user_id_fkey", "user"),
            ],
        )
    })?;
    let inserted: bool = row.try_get("inserted").map_err(db_err)?;
    let member = <RoomMemberRow as sqlx::FromRow<_>>::from_row(&row).map_err(db_err)?;
    if inserted {
        // A new member's unread counters (migration 0010) for its read position. Someone who
        // left and came back may have messages and mentions there already: found through the
        // author and mention indexes, O(the user's own messages and mentions).
        sqlx::query(
            "UPDATE room_members rm SET
                 read_ordinal = coalesce((SELECT m.ordinal FROM messages m
                     WHERE m.room_id = $1 AND m.seq <= rm.last_read_seq
                     ORDER BY m.seq DESC LIMIT 1), 0),
                 own_after_read = (SELECT count(*) FROM messages m
                     WHERE m.author_id = $2 AND m.room_id = $1 AND m.seq > rm.last_read_seq),
                 mentions_after_read = (SELECT count(*) FROM messages m
                     WHERE m.mentions @> ARRAY[$2]::uuid[] AND NOT m.is_deleted
                       AND m.room_id = $1 AND m.seq > rm.last_read_seq AND m.author_id <> $2)
             WHERE rm.room_id = $1 AND rm.user_id = $2",
        )
        .bind(m.room_id.as_uuid())
        .bind(m.user_id.as_uuid())
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    }
    Ok((RoomMember::try_from(member)?, inserted))
}
