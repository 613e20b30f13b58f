//! The room change log: taking the next seq and appending an entry.

use chat_core::{ChangeKind, Error, Result, RoomChange, RoomId, RoomSeq, Timestamp};
use sqlx::PgConnection;
use sqlx::types::Json;

use crate::error::db_err;
use crate::rows::{message_change_json, seq_to_db};

use crate::dt;

/// Takes the room's next seq (row-locking the room until commit).
pub(crate) async fn next_seq(conn: &mut PgConnection, room: RoomId) -> Result<RoomSeq> {
    let seq: Option<i64> = sqlx::query_scalar(
        "UPDATE rooms SET last_seq = last_seq + 1 WHERE id = $1 RETURNING last_seq",
    )
    .bind(room.as_uuid())
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    seq.map(|s| RoomSeq(u64::try_from(s).unwrap_or(0)))
        .ok_or(Error::NotFound { what: "room" })
}

/// Appends a change to the room's log.
pub(crate) async fn log_change(
    conn: &mut PgConnection,
    room: RoomId,
    seq: RoomSeq,
    at: Timestamp,
    kind: ChangeKind,
) -> Result<RoomChange> {
    // A message change is logged by reference (see the 0003 migration): the log never holds a
    // copy of a message's text.
    let (change, message_id) = match kind.message_change() {
        Some((change, message)) => (message_change_json(change), Some(message.id.as_uuid())),
        None => (serde_json::to_value(&kind).map_err(Error::internal)?, None),
    };
    sqlx::query(
        "INSERT INTO room_changes (room_id, seq, at, change, message_id) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(room.as_uuid())
    .bind(seq_to_db(seq))
    .bind(dt(at))
    .bind(Json(change))
    .bind(message_id)
    .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(RoomChange {
        room_id: room,
        seq,
        at,
        kind,
    })
}
