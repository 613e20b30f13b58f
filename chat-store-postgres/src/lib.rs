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
//!   and a transaction that locks several of a kind locks them in id order, so these locks
//!   cannot deadlock.
//!
//! # Group commit
//!
//! Concurrent plain sends (no reply, no attachment) of one store share a transaction: a
//! committer task takes whatever sends are queued, locks their authors and then their rooms,
//! reads what admission needs for all of them in one statement, admits each in turn (counting
//! the batch-mates before it), stores the admitted ones in one statement and commits: one WAL
//! flush for the batch, and a hot room's row lock taken once per batch, not once per message.
//! An idle database sees each send alone; a refused send is answered on its own. See
//! [`PostgresStore::group_commit_stats`].
//!
//! # Layout
//!
//! - `error`: sqlx errors to [`chat_core::Error`] (unique violation → `Conflict`, lost
//!   connection → `Unavailable`).
//! - `rows`: database rows and their conversion into domain types.
//! - One file per storage trait: `profiles` (profiles and accounts), `events`, `rooms`,
//!   `messages`; `change_log` takes seqs and appends log entries for the last two;
//!   `group_commit` batches plain sends.
//! - [`notify_link`]: [`PgNotifyLink`], fan-out between instances over LISTEN/NOTIFY.
//! - `migrations/` (embedded as [`MIGRATOR`]): the schema, with the reason for every index.

mod attachments;
mod bot_tokens;
mod change_log;
mod error;
mod events;
mod group_commit;
mod messages;
pub mod notify_link;
mod profiles;
mod rooms;
mod rows;
mod webhooks;

pub use group_commit::GroupCommitStats;
pub use notify_link::PgNotifyLink;

use std::collections::HashSet;
use std::str::FromStr;
use std::time::Duration;

use chat_core::{Error, Result, RoomId, Timestamp, search};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::db_err;

/// The embedded migrations. `#[sqlx::test(migrator = "chat_store_postgres::MIGRATOR")]` and
/// [`PostgresStore::migrate`] apply them.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// The schema [`migrate`](Self::migrate) creates, when the pool was made with one.
    schema: Option<String>,
    /// The queue to this store's group commit of sends (shared by clones).
    sends: std::sync::Arc<group_commit::GroupCommit>,
}

pub(crate) fn uuids<T: Into<Uuid> + Copy>(ids: &[T]) -> Vec<Uuid> {
    ids.iter().map(|&id| id.into()).collect()
}

pub(crate) fn dt(t: Timestamp) -> OffsetDateTime {
    t.as_datetime()
}

pub(crate) fn limit(n: u32) -> i64 {
    i64::from(n)
}

pub(crate) fn distinct_tokens(text: &str) -> Vec<String> {
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
    /// The schema every table of chat-engine, and the migrations' bookkeeping
    /// (`_sqlx_migrations`), live in (default `chat`): a host's own `users`, `messages` and
    /// migrations in the same database are never touched. Every connection of the pool has it
    /// as its only `search_path`; [`PostgresStore::migrate`] creates it. Lowercase letters,
    /// digits and `_`, starting with a letter or `_`, at most 63 bytes.
    pub schema: String,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(1),
            schema: DEFAULT_SCHEMA.to_owned(),
        }
    }
}

/// The schema chat-engine's tables live in unless [`PostgresOptions::schema`] says otherwise.
pub const DEFAULT_SCHEMA: &str = "chat";

impl PostgresOptions {
    fn pool(&self) -> PgPoolOptions {
        PgPoolOptions::new()
            .max_connections(self.max_connections)
            .acquire_timeout(self.acquire_timeout)
    }

    /// `connect` with this schema as its `search_path`, set when each connection starts (no
    /// extra round trip): what a host passes when it builds chat's pool from its own
    /// connection settings.
    ///
    /// # Errors
    /// [`Error::Validation`] on `schema` for a name that is not a plain identifier.
    pub fn in_schema(&self, connect: PgConnectOptions) -> Result<PgConnectOptions> {
        let valid = !self.schema.is_empty()
            && self.schema.len() <= 63
            && self
                .schema
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            && !self.schema.as_bytes()[0].is_ascii_digit();
        if !valid {
            return Err(Error::validation(
                "schema",
                "lowercase letters, digits and _, not starting with a digit, at most 63 bytes",
            ));
        }
        Ok(connect.options([("search_path", self.schema.as_str())]))
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
        let connect = PgConnectOptions::from_str(url).map_err(Error::internal)?;
        Self::connect_with_options(connect, options).await
    }

    /// Connects a pool with a host's own connection settings (the database it already uses)
    /// and chat's [`PostgresOptions`]: chat's tables live in [`PostgresOptions::schema`] of
    /// that database, beside the host's.
    ///
    /// # Errors
    /// As [`connect_with`](Self::connect_with), and [`Error::Validation`] on `schema`.
    pub async fn connect_with_options(
        connect: PgConnectOptions,
        options: &PostgresOptions,
    ) -> Result<Self> {
        let pool = options
            .pool()
            .connect_with(options.in_schema(connect)?)
            .await
            .map_err(db_err)?;
        Ok(Self::from_pool(pool).with_schema(&options.schema))
    }

    /// A store whose pool connects on first use, for a server that may start before its
    /// database: until the database answers, every call fails with [`Error::Unavailable`]
    /// after at most `acquire_timeout`.
    ///
    /// # Errors
    /// [`Error::Internal`] when `url` is not a valid PostgreSQL URL.
    pub fn connect_lazy_with(url: &str, options: &PostgresOptions) -> Result<Self> {
        let connect = PgConnectOptions::from_str(url).map_err(Error::internal)?;
        let pool = options
            .pool()
            .connect_lazy_with(options.in_schema(connect)?);
        Ok(Self::from_pool(pool).with_schema(&options.schema))
    }

    /// Uses an existing pool, whose connections' `search_path` decides where the tables are:
    /// build it with [`PostgresOptions::in_schema`] to keep chat in a schema of its own (then
    /// say which with [`with_schema`](Self::with_schema), so that `migrate` creates it), or
    /// pass any pool to use its first schema (`public` by default).
    #[must_use]
    pub fn from_pool(pool: PgPool) -> Self {
        Self {
            pool,
            schema: None,
            sends: std::sync::Arc::default(),
        }
    }

    /// Names the schema the pool's `search_path` points at, for
    /// [`migrate`](Self::migrate) to create.
    #[must_use]
    pub fn with_schema(mut self, schema: &str) -> Self {
        self.schema = Some(schema.to_owned());
        self
    }

    /// How this store's plain sends were grouped into transactions (see "Group commit" in the
    /// crate docs): for operators, benchmarks and tests.
    #[must_use]
    pub fn group_commit_stats(&self) -> GroupCommitStats {
        self.sends.stats()
    }

    /// The schema named with the pool ([`with_schema`](Self::with_schema), or the
    /// [`PostgresOptions`] it was connected with).
    #[must_use]
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
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
        if let Some(schema) = &self.schema {
            // Validated by `PostgresOptions::in_schema`, or named by the host with its pool;
            // quoted either way.
            let quoted = format!("\"{}\"", schema.replace('"', "\"\""));
            sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {quoted}"))
                .execute(&self.pool)
                .await
                .map_err(db_err)?;
        }
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
        terms: &chat_core::SearchTerms,
        limit_: u32,
    ) -> Result<Vec<String>> {
        let (sql, binds) = messages::search_statement(rooms.len() == 1, terms);
        let sql = format!("EXPLAIN (ANALYZE, BUFFERS) {sql}");
        let mut query = sqlx::query_scalar(&sql)
            .persistent(false)
            .bind(uuids(rooms));
        for bind in binds {
            query = match bind {
                messages::SearchBind::Words(words) => query.bind(words),
                messages::SearchBind::Text(text) => query.bind(text),
            };
        }
        query
            .bind(limit(limit_))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)
    }

    async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>> {
        self.pool.begin().await.map_err(db_err)
    }
}
