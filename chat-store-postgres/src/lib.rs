//! # chat-store-postgres
//!
//! [`PostgresStore`]: chat-engine's durable store on PostgreSQL 15+, through sqlx. An
//! acknowledged send is committed.
//!
//! ```no_run
//! use std::sync::Arc;
//! use chat_core::ChatService;
//! use chat_store_postgres::PostgresStore;
//!
//! # async fn run() -> chat_core::Result<()> {
//! let store = PostgresStore::connect("postgres://postgres@127.0.0.1:5432/chat").await?;
//! store.migrate().await?;
//! let chat = ChatService::new(Arc::new(store));
//! # let _ = chat; Ok(()) }
//! ```
//!
//! # How the guarantees hold under concurrency
//!
//! Everything a write needs is done in one transaction:
//! - **Gap-free seq.** `UPDATE rooms SET last_seq = last_seq + 1 … RETURNING last_seq` row-locks
//!   the room until commit, so writers to one room take turns and a rolled-back write gives its
//!   number back.
//! - **Idempotent sends and exact rate limits.** A send first takes `FOR NO KEY UPDATE` on the
//!   author's `users` row, so one author's sends take turns across every connection and server.
//!   After that lock, the duplicate check and the rate-limit read see every earlier send.
//!   (`NO KEY` because it must not block inserts that merely reference the user.)
//! - **Lock order** is author, then message, then room; nothing locks them the other way round,
//!   so these locks cannot deadlock.
//!
//! # Layout
//!
//! - `error`: sqlx errors to [`chat_core::Error`] (unique violation → `Conflict`, lost
//!   connection → `Unavailable`).
//! - `rows`: database rows and their conversion into domain types.
//! - [`notify_link`]: [`PgNotifyLink`], fan-out between instances over LISTEN/NOTIFY.
//! - `migrations/` (embedded as [`MIGRATOR`]): the schema, with the reason for every index.

mod error;
pub mod notify_link;
mod rows;

pub use notify_link::PgNotifyLink;

use std::collections::HashSet;
use std::time::Duration;

use async_trait::async_trait;
use chat_core::{
    Account, AccountStore, Admission, Appended, ChangeKind, Error, Event, EventId, EventMember,
    EventStore, EventSummary, HistoryCursor, MemberMatch, Message, MessageChange, MessageId,
    MessageStore, NewMessage, ProfileStore, Result, Room, RoomChange, RoomId, RoomMember,
    RoomPatch, RoomSeq, RoomStanding, RoomStore, SendHistory, SystemMetrics, Timestamp, User,
    UserId, search,
};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::types::Json;
use sqlx::{Connection, PgConnection, Row};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::{db_err, fk_as_not_found};
use crate::rows::{
    AccountRow, ChangeRow, EVENT_COLS, EVENT_MEMBER_COLS, EventMemberRow, EventRow, MESSAGE_COLS,
    MessageRow, ROOM_COLS, ROOM_MEMBER_COLS, RoomMemberRow, RoomRow, USER_COLS, UserRow,
    change_cols, event_role as event_role_of, event_role, message_change_json, message_cols,
    room_kind_str, room_role_str, seq_to_db, visibility_str,
};

/// The embedded migrations. `#[sqlx::test(migrator = "chat_store_postgres::MIGRATOR")]` and
/// [`PostgresStore::migrate`] apply them.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

fn uuids<T: Into<Uuid> + Copy>(ids: &[T]) -> Vec<Uuid> {
    ids.iter().map(|&id| id.into()).collect()
}

fn dt(t: Timestamp) -> OffsetDateTime {
    t.as_datetime()
}

fn limit(n: u32) -> i64 {
    i64::from(n)
}

fn distinct_tokens(text: &str) -> Vec<String> {
    let set: HashSet<String> = search::tokens(text).collect();
    set.into_iter().collect()
}

/// How a [`PostgresStore`] connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresOptions {
    /// Largest number of connections in the pool (default 16).
    pub max_connections: u32,
    /// How long a request waits for a connection before it fails with
    /// [`Error::Unavailable`] (default 1 s). While the database is down every request waits
    /// this long, so it is short: a chat client retries a failed send with the same
    /// `client_msg_id`, and a quick 503 with `Retry-After` serves it better than a hang. Under
    /// load, a request that cannot get one of the pool's connections within a second would
    /// miss every latency goal anyway.
    pub acquire_timeout: Duration,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(1),
        }
    }
}

impl PostgresOptions {
    fn pool(&self) -> PgPoolOptions {
        PgPoolOptions::new()
            .max_connections(self.max_connections)
            .acquire_timeout(self.acquire_timeout)
    }
}

impl PostgresStore {
    /// Connects a pool with the default [`PostgresOptions`] to `url`.
    ///
    /// # Errors
    /// [`Error::Unavailable`] when the database cannot be reached.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url, &PostgresOptions::default()).await
    }

    /// Connects a pool to `url`, opening one connection now to check the database is there.
    ///
    /// # Errors
    /// [`Error::Unavailable`] when the database cannot be reached or does not exist.
    pub async fn connect_with(url: &str, options: &PostgresOptions) -> Result<Self> {
        let pool = options.pool().connect(url).await.map_err(db_err)?;
        Ok(Self { pool })
    }

    /// A store whose pool connects on first use, for a server that may start before its
    /// database: until the database answers, every call fails with [`Error::Unavailable`]
    /// after at most `acquire_timeout`.
    ///
    /// # Errors
    /// [`Error::Internal`] when `url` is not a valid PostgreSQL URL.
    pub fn connect_lazy_with(url: &str, options: &PostgresOptions) -> Result<Self> {
        let pool = options.pool().connect_lazy(url).map_err(Error::internal)?;
        Ok(Self { pool })
    }

    /// Uses an existing pool.
    #[must_use]
    pub fn from_pool(pool: PgPool) -> Self {
        Self { pool }
    }

    /// The pool.
    #[must_use]
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Applies the embedded migrations. Safe to run on an empty database and to run again.
    ///
    /// # Errors
    /// [`Error::Unavailable`] when the database cannot be reached; [`Error::Internal`] when a
    /// migration fails.
    pub async fn migrate(&self) -> Result<()> {
        MIGRATOR.run(&self.pool).await.map_err(|e| match e {
            sqlx::migrate::MigrateError::Execute(inner) => db_err(inner),
            other => Error::internal(other),
        })
    }

    /// The plan PostgreSQL runs for a search, with timings (`EXPLAIN (ANALYZE, BUFFERS)`):
    /// a diagnostic for operators and the benchmarks.
    ///
    /// # Errors
    /// As any query.
    pub async fn explain_search(
        &self,
        rooms: &[RoomId],
        tokens: &[String],
        limit_: u32,
    ) -> Result<Vec<String>> {
        let sql = format!(
            "EXPLAIN (ANALYZE, BUFFERS) {}",
            search_sql(rooms.len() == 1)
        );
        sqlx::query_scalar(&sql)
            .persistent(false)
            .bind(uuids(rooms))
            .bind(tokens)
            .bind(limit(limit_))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)
    }

    async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>> {
        self.pool.begin().await.map_err(db_err)
    }
}

/// The search statement. One room is read newest-first by seq (its own index); several rooms
/// newest-first by id (UUIDv7: time order across rooms).
fn search_sql(one_room: bool) -> &'static str {
    if one_room {
        concat!(
            "SELECT ",
            message_cols!(),
            " FROM messages WHERE room_id = ($1::uuid[])[1] AND tokens @> $2 AND NOT is_deleted
              ORDER BY seq DESC LIMIT $3"
        )
    } else {
        concat!(
            "SELECT ",
            message_cols!(),
            " FROM messages WHERE room_id = ANY($1) AND tokens @> $2 AND NOT is_deleted
              ORDER BY id DESC LIMIT $3"
        )
    }
}

/// Takes the room's next seq (row-locking the room until commit).
async fn next_seq(conn: &mut PgConnection, room: RoomId) -> Result<RoomSeq> {
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
async fn log_change(
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

#[async_trait]
impl ProfileStore for PostgresStore {
    async fn upsert_user(&self, user: User) -> Result<User> {
        let row: UserRow = sqlx::query_as(&format!(
            "INSERT INTO users ({USER_COLS}) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (id) DO UPDATE SET display_name = EXCLUDED.display_name,
                 avatar_url = EXCLUDED.avatar_url, updated_at = EXCLUDED.updated_at
             RETURNING {USER_COLS}"
        ))
        .bind(user.id.as_uuid())
        .bind(&user.display_name)
        .bind(&user.avatar_url)
        .bind(dt(user.created_at))
        .bind(dt(user.updated_at))
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(row.into())
    }

    async fn get_user(&self, id: UserId) -> Result<Option<User>> {
        let row: Option<UserRow> =
            sqlx::query_as(&format!("SELECT {USER_COLS} FROM users WHERE id = $1"))
                .bind(id.as_uuid())
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
        Ok(row.map(User::from))
    }
}

#[async_trait]
impl AccountStore for PostgresStore {
    async fn create_account(&self, account: Account, profile: User) -> Result<User> {
        // One statement, so one round trip and atomic: the account's foreign key is checked
        // at the end of the statement, after the profile row exists. A taken email is the
        // primary key's unique violation, which rolls the profile back with it.
        let row: UserRow = sqlx::query_as(&format!(
            "WITH profile AS (
                 INSERT INTO users ({USER_COLS}) VALUES ($1, $2, $3, $4, $5) RETURNING {USER_COLS}
             ), account AS (
                 INSERT INTO accounts (email, user_id, password_hash, created_at)
                 VALUES ($6, $1, $7, $8)
             )
             SELECT {USER_COLS} FROM profile"
        ))
        .bind(profile.id.as_uuid())
        .bind(&profile.display_name)
        .bind(&profile.avatar_url)
        .bind(dt(profile.created_at))
        .bind(dt(profile.updated_at))
        .bind(&account.email)
        .bind(&account.password_hash)
        .bind(dt(account.created_at))
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(row.into())
    }

    async fn account_by_email(&self, email: &str) -> Result<Option<Account>> {
        let row: Option<AccountRow> = sqlx::query_as(
            "SELECT email, user_id, password_hash, created_at FROM accounts WHERE email = $1",
        )
        .bind(email)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(row.map(Account::from))
    }
}

#[async_trait]
impl EventStore for PostgresStore {
    async fn create_event(&self, event: Event, owner: EventMember) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(&format!(
            "INSERT INTO events ({EVENT_COLS}) VALUES ($1, $2, $3, $4, $5)"
        ))
        .bind(event.id.as_uuid())
        .bind(&event.name)
        .bind(&event.kind)
        .bind(event.created_by.as_uuid())
        .bind(dt(event.created_at))
        .execute(&mut *tx)
        .await
        .map_err(|e| fk_as_not_found(e, &[("events_created_by_fkey", "user")]))?;
        insert_event_member(&mut tx, &owner).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn get_event(&self, id: EventId) -> Result<Option<Event>> {
        let row: Option<EventRow> =
            sqlx::query_as(&format!("SELECT {EVENT_COLS} FROM events WHERE id = $1"))
                .bind(id.as_uuid())
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
        Ok(row.map(Event::from))
    }

    async fn events_of_user(&self, user: UserId) -> Result<Vec<EventSummary>> {
        let rows = sqlx::query(
            "SELECT e.id, e.name, e.kind, e.created_by, e.created_at, m.role
             FROM event_members m JOIN events e ON e.id = m.event_id
             WHERE m.user_id = $1 ORDER BY e.id",
        )
        .bind(user.as_uuid())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.into_iter()
            .map(|row| {
                let role: String = row.try_get("role").map_err(db_err)?;
                let event = <EventRow as sqlx::FromRow<_>>::from_row(&row).map_err(db_err)?;
                Ok(EventSummary {
                    event: event.into(),
                    role: event_role(&role)?,
                })
            })
            .collect()
    }

    async fn get_event_member(&self, event: EventId, user: UserId) -> Result<Option<EventMember>> {
        let row: Option<EventMemberRow> = sqlx::query_as(&format!(
            "SELECT {EVENT_MEMBER_COLS} FROM event_members WHERE event_id = $1 AND user_id = $2"
        ))
        .bind(event.as_uuid())
        .bind(user.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.map(EventMember::try_from).transpose()
    }

    async fn event_members(&self, event: EventId) -> Result<Vec<EventMember>> {
        let rows: Vec<EventMemberRow> = sqlx::query_as(&format!(
            "SELECT {EVENT_MEMBER_COLS} FROM event_members WHERE event_id = $1 ORDER BY joined_at, user_id"
        ))
        .bind(event.as_uuid())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.into_iter().map(EventMember::try_from).collect()
    }

    async fn put_event_member(&self, member: EventMember) -> Result<EventMember> {
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        insert_event_member(&mut conn, &member).await
    }

    async fn remove_event_member(&self, event: EventId, user: UserId) -> Result<bool> {
        let done = sqlx::query("DELETE FROM event_members WHERE event_id = $1 AND user_id = $2")
            .bind(event.as_uuid())
            .bind(user.as_uuid())
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected() > 0)
    }
}

async fn insert_event_member(conn: &mut PgConnection, m: &EventMember) -> Result<EventMember> {
    let row: EventMemberRow = sqlx::query_as(&format!(
        "INSERT INTO event_members ({EVENT_MEMBER_COLS}) VALUES ($1, $2, $3, $4)
         ON CONFLICT (event_id, user_id) DO UPDATE SET role = EXCLUDED.role
         RETURNING {EVENT_MEMBER_COLS}"
    ))
    .bind(m.event_id.as_uuid())
    .bind(m.user_id.as_uuid())
    .bind(m.role.as_str())
    .bind(dt(m.joined_at))
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| {
        fk_as_not_found(
            e,
            &[
                ("event_members_event_id_fkey", "event"),
                ("event_members_user_id_fkey", "user"),
            ],
        )
    })?;
    EventMember::try_from(row)
}

#[async_trait]
impl RoomStore for PostgresStore {
    async fn create_room(&self, room: Room, creator: RoomMember) -> Result<Room> {
        let mut tx = self.begin().await?;
        let row: RoomRow = sqlx::query_as(&format!(
            "INSERT INTO rooms (id, event_id, name, kind, visibility, archived, slow_mode_secs,
                 created_by, created_at, last_message_at, last_seq)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0)
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
        .fetch_one(&mut *tx)
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
        upsert_room_member(&mut tx, &creator).await?;
        tx.commit().await.map_err(db_err)?;
        Room::try_from(row)
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
                 slow_mode_secs = COALESCE($4, slow_mode_secs), last_seq = last_seq + 1
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
        let row = sqlx::query(
            "SELECT r.id, r.event_id, r.name, r.kind, r.visibility, r.archived, r.slow_mode_secs,
                 r.created_by, r.created_at, r.last_message_at, r.last_seq,
                 em.role AS event_role,
                 rm.room_id, rm.user_id, rm.role, rm.muted_until, rm.banned, rm.last_read_seq,
                 rm.joined_at
             FROM rooms r
             LEFT JOIN event_members em ON em.event_id = r.event_id AND em.user_id = $2
             LEFT JOIN room_members rm ON rm.room_id = r.id AND rm.user_id = $2
             WHERE r.id = $1",
        )
        .bind(room.as_uuid())
        .bind(user.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        let Some(row) = row else { return Ok(None) };
        let room = Room::try_from(<RoomRow as sqlx::FromRow<_>>::from_row(&row).map_err(db_err)?)?;
        let event_role: Option<String> = row.try_get("event_role").map_err(db_err)?;
        let has_member = row
            .try_get::<Option<Uuid>, _>("room_id")
            .map_err(db_err)?
            .is_some();
        let member = if has_member {
            Some(RoomMember::try_from(
                <RoomMemberRow as sqlx::FromRow<_>>::from_row(&row).map_err(db_err)?,
            )?)
        } else {
            None
        };
        Ok(Some(RoomStanding {
            room,
            event_role: event_role.as_deref().map(event_role_of).transpose()?,
            member,
        }))
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
        let removed = sqlx::query("DELETE FROM room_members WHERE room_id = $1 AND user_id = $2")
            .bind(room.as_uuid())
            .bind(user.as_uuid())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        if removed.rows_affected() == 0 {
            return Ok(None);
        }
        let seq = next_seq(&mut tx, room).await?;
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
        let row: Option<RoomMemberRow> = sqlx::query_as(&format!(
            "UPDATE room_members SET last_read_seq = GREATEST(last_read_seq, $3)
             WHERE room_id = $1 AND user_id = $2 RETURNING {ROOM_MEMBER_COLS}"
        ))
        .bind(room.as_uuid())
        .bind(user.as_uuid())
        .bind(seq_to_db(seq))
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        RoomMember::try_from(row.ok_or(Error::NotFound { what: "membership" })?)
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
    Ok((RoomMember::try_from(member)?, inserted))
}

#[async_trait]
impl MessageStore for PostgresStore {
    async fn append_message(&self, msg: NewMessage, admission: Admission<'_>) -> Result<Appended> {
        // Four round trips: BEGIN with the author lock, one read of everything admission
        // needs, one write of the seq, message and change, COMMIT.
        //
        // The lock serialises this author's sends (see the crate docs). It must be a statement
        // of its own: the reads below take their snapshot after it is granted, so they see every
        // earlier send of this author, including one that committed while we waited. Sending it
        // with BEGIN saves a round trip; the id is a UUID we format, so inlining it is safe.
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        let mut tx = conn
            .begin_with(format!(
                // The admission read below has a subquery with LIMIT $5; a generic plan cannot
                // see the limit and costs itself out, so PostgreSQL would re-plan it on every
                // send (0.2 ms measured at a million messages). Its shape never varies: plan once.
                "BEGIN; SET LOCAL plan_cache_mode = force_generic_plan;
                 SELECT 1 FROM users WHERE id = '{}' FOR NO KEY UPDATE",
                msg.author_id.as_uuid().hyphenated()
            ))
            .await
            .map_err(db_err)?;
        let now = msg.created_at;
        let policy = admission.policy;
        let facts = sqlx::query(&format!(
            "SELECT {ROOM_COLS},
                 (SELECT id FROM messages WHERE author_id = $2 AND client_msg_id = $3) AS replay_of,
                 (SELECT display_name FROM users WHERE id = $2) AS author_name,
                 (SELECT avatar_url FROM users WHERE id = $2) AS author_avatar,
                 ARRAY(SELECT created_at FROM messages WHERE author_id = $2 AND created_at > $4
                       ORDER BY created_at DESC LIMIT $5) AS recent,
                 -- Only slow mode reads the last send here; the CASE skips it when it is off.
                 CASE WHEN slow_mode_secs > 0 THEN
                     (SELECT max(created_at) FROM messages WHERE author_id = $2 AND room_id = $1)
                 END AS last_in_room
             FROM rooms WHERE id = $1"
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
        let author_name: Option<String> = facts.try_get("author_name").map_err(db_err)?;
        let author_name = author_name.ok_or(Error::NotFound { what: "user" })?;
        let author_avatar: Option<String> = facts.try_get("author_avatar").map_err(db_err)?;
        let room =
            Room::try_from(<RoomRow as sqlx::FromRow<_>>::from_row(&facts).map_err(db_err)?)?;
        let mut recent: Vec<OffsetDateTime> = facts.try_get("recent").map_err(db_err)?;
        recent.reverse();
        let recent: Vec<Timestamp> = recent.into_iter().map(Timestamp::from).collect();
        let last_in_room: Option<OffsetDateTime> = facts.try_get("last_in_room").map_err(db_err)?;
        admission.check(&SendHistory {
            now,
            room: &room,
            is_moderator: admission.is_moderator,
            recent_sends: &recent,
            last_send_in_room: last_in_room.map(Timestamp::from),
        })?;

        let message = msg.into_message(RoomSeq::ZERO, author_name, author_avatar);
        let seq: i64 = sqlx::query_scalar(
            "WITH room AS (
                 UPDATE rooms SET last_seq = last_seq + 1, last_message_at = $14,
                     message_count = message_count + 1
                 WHERE id = $2 RETURNING last_seq
             ), message AS (
                 INSERT INTO messages (id, room_id, seq, author_id, author_name, author_avatar,
                     text, tokens, mentions, attachments, reply_to, reactions, client_msg_id,
                     is_ai_generated, created_at)
                 SELECT $1, $2, room.last_seq, $3, $4, $5, $6, $7, $8, $9, $10, '{}'::jsonb,
                     $11, $12, $14
                 FROM room RETURNING seq
             ), change AS (
                 INSERT INTO room_changes (room_id, seq, at, change, message_id)
                 SELECT $2, message.seq, $14, $13, $1
                 FROM message
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
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        let seq = RoomSeq(u64::try_from(seq).unwrap_or(0));
        let message = Message { seq, ..message };
        Ok(Appended::Created(RoomChange {
            room_id: message.room_id,
            seq,
            at: now,
            kind: ChangeKind::MessagePosted(message),
        }))
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
            "UPDATE messages SET text = $2, tokens = $3, mentions = $4, is_edited = true, edited_at = $5
             WHERE id = $1 RETURNING {MESSAGE_COLS}"
        );
        let update = sqlx::query_as(&sql)
            .bind(id.as_uuid())
            .bind(&text)
            .bind(distinct_tokens(&text))
            .bind(uuids(&mentions))
            .bind(dt(at));
        let change =
            rewrite_message(&mut tx, old.room_id, at, update, ChangeKind::MessageEdited).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(change)
    }

    async fn delete_message(&self, id: MessageId, at: Timestamp) -> Result<Option<RoomChange>> {
        let mut tx = self.begin().await?;
        let old = message_for_update(&mut tx, id).await?;
        if old.is_deleted {
            return Ok(None);
        }
        let sql = format!(
            "UPDATE messages SET text = '', tokens = '{{}}', mentions = '{{}}', attachments = '[]'::jsonb,
                 reactions = '{{}}'::jsonb, is_deleted = true, deleted_at = $2
             WHERE id = $1 RETURNING {MESSAGE_COLS}"
        );
        let update = sqlx::query_as(&sql).bind(id.as_uuid()).bind(dt(at));
        let change =
            rewrite_message(&mut tx, old.room_id, at, update, ChangeKind::MessageDeleted).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(Some(change))
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

    async fn search_messages(
        &self,
        rooms: &[RoomId],
        tokens: &[String],
        limit_: u32,
    ) -> Result<Vec<Message>> {
        let rows: Vec<MessageRow> = sqlx::query_as(search_sql(rooms.len() == 1))
            // Unnamed statement: planned for these very words and rooms every time. A cached
            // generic plan cannot know whether a word is in half the messages or in none, and
            // picks a plan that is slow for one of the two (see BENCHMARKS.md).
            .persistent(false)
            .bind(uuids(rooms))
            .bind(tokens)
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
