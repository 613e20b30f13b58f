//! Rows as sqlx reads them, and their conversion into domain types.

use std::collections::BTreeMap;

use chat_core::{
    Account, Attachment, Error, Event, EventId, EventMember, EventRole, Message, MessageChange,
    MessageId, Payload, Result, Room, RoomChange, RoomId, RoomKind, RoomMember, RoomRole, RoomSeq,
    RoomStanding, Timestamp, Upload, User, UserId, Visibility,
};
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::{FromRow, Row};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::db_err;

pub(crate) const USER_COLS: &str = "id, display_name, avatar_url, created_at, updated_at, is_bot";
pub(crate) const EVENT_COLS: &str = "id, name, kind, created_by, created_at";
pub(crate) const EVENT_MEMBER_COLS: &str = "event_id, user_id, role, joined_at";
pub(crate) const ROOM_COLS: &str = "id, event_id, name, kind, visibility, archived, \
    slow_mode_secs, created_by, created_at, last_message_at, last_seq, read_receipts";
pub(crate) const ROOM_MEMBER_COLS: &str =
    "room_id, user_id, role, muted_until, banned, last_read_seq, joined_at";

/// [`ROOM_COLS`] of the table aliased `alias`, for reads that join rooms to others.
pub(crate) fn room_cols_of(alias: &str) -> String {
    ROOM_COLS
        .split(", ")
        .map(|c| format!("{alias}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A user's standing in a room (`RoomStanding`): the columns beside the room's (`ROOM_COLS`
/// of `r`), read with [`STANDING_JOINS`] and decoded by [`standing`].
pub(crate) const STANDING_COLS: &str = "em.role AS event_role, rm.room_id, rm.user_id, rm.role, \
    rm.muted_until, rm.banned, rm.last_read_seq, rm.joined_at";

/// The joins [`STANDING_COLS`] read: rooms `r`, the user's id in `{user}`.
pub(crate) fn standing_joins(user: &str) -> String {
    format!(
        "LEFT JOIN event_members em ON em.event_id = r.event_id AND em.user_id = {user}
         LEFT JOIN room_members rm ON rm.room_id = r.id AND rm.user_id = {user}"
    )
}

/// Decodes a row of `ROOM_COLS` and [`STANDING_COLS`].
pub(crate) fn standing(row: &PgRow) -> Result<RoomStanding> {
    let room = Room::try_from(RoomRow::from_row(row).map_err(db_err)?)?;
    let role: Option<String> = row.try_get("event_role").map_err(db_err)?;
    let is_member = row
        .try_get::<Option<Uuid>, _>("room_id")
        .map_err(db_err)?
        .is_some();
    let member = if is_member {
        Some(RoomMember::try_from(
            RoomMemberRow::from_row(row).map_err(db_err)?,
        )?)
    } else {
        None
    };
    Ok(RoomStanding {
        room,
        event_role: role.as_deref().map(event_role).transpose()?,
        member,
    })
}
/// The message columns, as a literal so `concat!` can build static statements from it.
macro_rules! message_cols {
    () => {
        "id, room_id, seq, author_id, author_name, author_avatar, text, mentions, attachments, \
         reply_to, reactions, client_msg_id, is_edited, edited_at, is_deleted, deleted_at, \
         is_ai_generated, created_at, reply_count, last_reply_at, payload"
    };
}
pub(crate) use message_cols;

pub(crate) const MESSAGE_COLS: &str = message_cols!();

/// Sequence numbers are `bigint` in the database; they start at 1 and only grow.
pub(crate) fn seq_to_db(seq: RoomSeq) -> i64 {
    i64::try_from(seq.get()).unwrap_or(i64::MAX)
}

pub(crate) fn seq_from_db(seq: i64) -> RoomSeq {
    RoomSeq(u64::try_from(seq).unwrap_or(0))
}

fn ts(t: OffsetDateTime) -> Timestamp {
    Timestamp::from(t)
}

fn unknown(what: &str, value: &str) -> Error {
    Error::internal(format!("unknown {what} {value:?} in the database"))
}

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    id: Uuid,
    display_name: String,
    avatar_url: Option<String>,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
    is_bot: bool,
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        User {
            id: UserId::from(r.id),
            display_name: r.display_name,
            avatar_url: r.avatar_url,
            created_at: ts(r.created_at),
            updated_at: ts(r.updated_at),
            is_bot: r.is_bot,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AccountRow {
    email: String,
    user_id: Uuid,
    password_hash: String,
    created_at: OffsetDateTime,
}

impl From<AccountRow> for Account {
    fn from(r: AccountRow) -> Self {
        Account {
            user_id: UserId::from(r.user_id),
            email: r.email,
            password_hash: r.password_hash,
            created_at: ts(r.created_at),
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct EventRow {
    id: Uuid,
    name: String,
    kind: String,
    created_by: Uuid,
    created_at: OffsetDateTime,
}

impl From<EventRow> for Event {
    fn from(r: EventRow) -> Self {
        Event {
            id: EventId::from(r.id),
            name: r.name,
            kind: r.kind,
            created_by: UserId::from(r.created_by),
            created_at: ts(r.created_at),
        }
    }
}

pub(crate) fn event_role(s: &str) -> Result<EventRole> {
    match s {
        "owner" => Ok(EventRole::Owner),
        "admin" => Ok(EventRole::Admin),
        "member" => Ok(EventRole::Member),
        other => Err(unknown("event role", other)),
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct EventMemberRow {
    event_id: Uuid,
    user_id: Uuid,
    role: String,
    joined_at: OffsetDateTime,
}

impl TryFrom<EventMemberRow> for EventMember {
    type Error = Error;

    fn try_from(r: EventMemberRow) -> Result<Self> {
        Ok(EventMember {
            event_id: EventId::from(r.event_id),
            user_id: UserId::from(r.user_id),
            role: event_role(&r.role)?,
            joined_at: ts(r.joined_at),
        })
    }
}

pub(crate) fn room_kind_str(k: RoomKind) -> &'static str {
    match k {
        RoomKind::Main => "main",
        RoomKind::Topic => "topic",
        RoomKind::Announcement => "announcement",
        RoomKind::Direct => "direct",
    }
}

pub(crate) fn visibility_str(v: Visibility) -> &'static str {
    match v {
        Visibility::Public => "public",
        Visibility::Private => "private",
    }
}

pub(crate) fn room_role_str(r: RoomRole) -> &'static str {
    match r {
        RoomRole::Moderator => "moderator",
        RoomRole::Member => "member",
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct RoomRow {
    id: Uuid,
    event_id: Uuid,
    name: String,
    kind: String,
    visibility: String,
    archived: bool,
    slow_mode_secs: i32,
    read_receipts: bool,
    created_by: Uuid,
    created_at: OffsetDateTime,
    last_message_at: Option<OffsetDateTime>,
    last_seq: i64,
}

impl TryFrom<RoomRow> for Room {
    type Error = Error;

    fn try_from(r: RoomRow) -> Result<Self> {
        Ok(Room {
            id: RoomId::from(r.id),
            event_id: EventId::from(r.event_id),
            name: r.name,
            kind: match r.kind.as_str() {
                "main" => RoomKind::Main,
                "topic" => RoomKind::Topic,
                "announcement" => RoomKind::Announcement,
                "direct" => RoomKind::Direct,
                other => return Err(unknown("room kind", other)),
            },
            visibility: match r.visibility.as_str() {
                "public" => Visibility::Public,
                "private" => Visibility::Private,
                other => return Err(unknown("visibility", other)),
            },
            archived: r.archived,
            slow_mode_secs: u32::try_from(r.slow_mode_secs).unwrap_or(0),
            read_receipts: r.read_receipts,
            created_by: UserId::from(r.created_by),
            created_at: ts(r.created_at),
            last_message_at: r.last_message_at.map(ts),
            last_seq: seq_from_db(r.last_seq),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct RoomMemberRow {
    room_id: Uuid,
    user_id: Uuid,
    role: String,
    muted_until: Option<OffsetDateTime>,
    banned: bool,
    last_read_seq: i64,
    joined_at: OffsetDateTime,
}

impl TryFrom<RoomMemberRow> for RoomMember {
    type Error = Error;

    fn try_from(r: RoomMemberRow) -> Result<Self> {
        Ok(RoomMember {
            room_id: RoomId::from(r.room_id),
            user_id: UserId::from(r.user_id),
            role: match r.role.as_str() {
                "moderator" => RoomRole::Moderator,
                "member" => RoomRole::Member,
                other => return Err(unknown("room role", other)),
            },
            muted_until: r.muted_until.map(ts),
            banned: r.banned,
            last_read_seq: seq_from_db(r.last_read_seq),
            joined_at: ts(r.joined_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct MessageRow {
    id: Uuid,
    room_id: Uuid,
    seq: i64,
    author_id: Uuid,
    author_name: String,
    author_avatar: Option<String>,
    text: String,
    mentions: Vec<Uuid>,
    attachments: Json<Vec<Attachment>>,
    reply_to: Option<Uuid>,
    pub(crate) reactions: Json<BTreeMap<String, Vec<UserId>>>,
    client_msg_id: Option<String>,
    is_edited: bool,
    edited_at: Option<OffsetDateTime>,
    is_deleted: bool,
    deleted_at: Option<OffsetDateTime>,
    is_ai_generated: bool,
    created_at: OffsetDateTime,
    reply_count: i32,
    last_reply_at: Option<OffsetDateTime>,
    payload: Option<Json<Payload>>,
}

impl From<MessageRow> for Message {
    fn from(r: MessageRow) -> Self {
        Message {
            id: MessageId::from(r.id),
            room_id: RoomId::from(r.room_id),
            seq: seq_from_db(r.seq),
            author_id: UserId::from(r.author_id),
            author_name: r.author_name,
            author_avatar: r.author_avatar,
            text: r.text,
            mentions: r.mentions.into_iter().map(UserId::from).collect(),
            attachments: r.attachments.0,
            payload: r.payload.map(|p| p.0),
            reply_to: r.reply_to.map(MessageId::from),
            reply_count: u32::try_from(r.reply_count).unwrap_or(0),
            last_reply_at: r.last_reply_at.map(ts),
            reactions: r.reactions.0,
            client_msg_id: r.client_msg_id,
            is_edited: r.is_edited,
            edited_at: r.edited_at.map(ts),
            is_deleted: r.is_deleted,
            deleted_at: r.deleted_at.map(ts),
            is_ai_generated: r.is_ai_generated,
            created_at: ts(r.created_at),
        }
    }
}

/// The columns of a log read: the entry, then the message it names (NULL for other changes).
pub(crate) fn change_cols() -> String {
    let message = MESSAGE_COLS
        .split(", ")
        .map(|c| format!("m.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    format!("c.room_id AS change_room, c.seq AS change_seq, c.at AS change_at, c.change, {message}")
}

/// What the `change` column holds for a message change: its kind, never the message.
pub(crate) fn message_change_json(change: MessageChange) -> serde_json::Value {
    serde_json::json!({ "kind": change.name() })
}

/// One entry of the log joined with the message it names (see [`change_cols`]).
pub(crate) struct ChangeRow(RoomChange);

impl<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> for ChangeRow {
    fn from_row(row: &'r sqlx::postgres::PgRow) -> sqlx::Result<Self> {
        use sqlx::Row;
        let room: Uuid = row.try_get("change_room")?;
        let seq: i64 = row.try_get("change_seq")?;
        let at: OffsetDateTime = row.try_get("change_at")?;
        let Json(change): Json<serde_json::Value> = row.try_get("change")?;
        let message_change = change
            .get("kind")
            .and_then(serde_json::Value::as_str)
            .and_then(MessageChange::from_name);
        let kind = match message_change {
            Some(mc) => mc.with(MessageRow::from_row(row)?.into()),
            None => serde_json::from_value(change).map_err(|e| sqlx::Error::ColumnDecode {
                index: "change".into(),
                source: Box::new(e),
            })?,
        };
        Ok(Self(RoomChange {
            room_id: RoomId::from(room),
            seq: seq_from_db(seq),
            at: ts(at),
            kind,
        }))
    }
}

impl From<ChangeRow> for RoomChange {
    fn from(r: ChangeRow) -> Self {
        r.0
    }
}

/// An `uploads` row, as `get_upload` reads it.
#[derive(sqlx::FromRow)]
pub(crate) struct UploadRow {
    room_id: Uuid,
    attachment: Json<Attachment>,
    message_id: Option<Uuid>,
    discarded: bool,
    created_at: OffsetDateTime,
}

impl From<UploadRow> for Upload {
    fn from(r: UploadRow) -> Self {
        Upload {
            attachment: r.attachment.0,
            room_id: RoomId::from(r.room_id),
            message_id: r.message_id.map(MessageId::from),
            discarded: r.discarded,
            created_at: ts(r.created_at),
        }
    }
}
