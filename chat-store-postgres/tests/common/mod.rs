//! A fresh database per test, on the server `DATABASE_URL` names (default: the local
//! PostgreSQL at 127.0.0.1:5432 with user `postgres`).
//!
//! Without a reachable server a test **fails**, saying why: a test that passes without running
//! would report "ok" for code nobody tried. Set `CHAT_SKIP_POSTGRES=1` to skip them instead
//! (each prints that it was skipped); under `CI=true` they never skip.

#![allow(dead_code, unreachable_pub)]

use std::str::FromStr;
use std::sync::Arc;

use chat_core::Store;
use chat_store_postgres::PostgresStore;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Executor};

pub const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

pub fn database_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned())
}

pub fn in_ci() -> bool {
    flag("CI")
}

fn flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| v == "true" || v == "1")
}

/// Whether PostgreSQL tests may be skipped: only when asked for, and never in CI.
pub fn skip_allowed() -> bool {
    flag("CHAT_SKIP_POSTGRES") && !in_ci()
}

/// Fails, or skips (returns `None`) when `CHAT_SKIP_POSTGRES=1` asks for it.
pub fn unavailable(why: impl std::fmt::Display) -> Option<TestDb> {
    assert!(
        skip_allowed(),
        "PostgreSQL is unavailable at {} ({why}). Start it, point DATABASE_URL at one, or set \
         CHAT_SKIP_POSTGRES=1 to skip the PostgreSQL tests (never in CI)",
        database_url()
    );
    eprintln!("SKIPPED: PostgreSQL unavailable ({why}); CHAT_SKIP_POSTGRES=1 is set");
    None
}

pub struct TestDb {
    pub pool: PgPool,
    name: String,
    admin: PgPool,
}

impl TestDb {
    /// A new, empty, migrated database with a pool of `max_connections`.
    pub async fn fresh(max_connections: u32) -> Option<Self> {
        let db = Self::empty(max_connections).await?;
        PostgresStore::from_pool(db.pool.clone())
            .migrate()
            .await
            .expect("migrations apply");
        Some(db)
    }

    /// A new database with nothing in it, not even the migrations.
    pub async fn empty(max_connections: u32) -> Option<Self> {
        let url = database_url();
        let options = match PgConnectOptions::from_str(&url) {
            Ok(o) => o.disable_statement_logging(),
            Err(e) => return unavailable(format!("bad DATABASE_URL: {e}")),
        };
        let admin = match PgPoolOptions::new()
            .max_connections(2)
            .connect_with(options.clone())
            .await
        {
            Ok(p) => p,
            Err(e) => return unavailable(e),
        };
        let name = format!("chat_test_{}", uuid::Uuid::now_v7().simple());
        // A server that is up but refuses (a missing database, a bad role) is as unavailable
        // as one that is down: the same rule applies.
        if let Err(e) = admin
            .execute(format!(r#"CREATE DATABASE "{name}""#).as_str())
            .await
        {
            return unavailable(e);
        }
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .connect_with(options.database(&name))
            .await
            .expect("connect to the test database");
        Some(Self { pool, name, admin })
    }

    pub fn store(&self) -> Arc<dyn Store> {
        Arc::new(PostgresStore::from_pool(self.pool.clone()))
    }

    pub fn postgres_store(&self) -> PostgresStore {
        PostgresStore::from_pool(self.pool.clone())
    }

    /// Terminates every LISTEN connection to this database (what the PostgreSQL broker's
    /// instances hold), as a network cut or a server restart would; returns how many.
    pub async fn cut_listen_connections(&self) -> usize {
        let cut: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND query ILIKE 'LISTEN%'",
        )
        .fetch_all(&self.pool)
        .await
        .expect("terminate LISTEN connections");
        cut.len()
    }

    /// Drops the database. A failing test skips this and leaves it for inspection.
    pub async fn cleanup(self) {
        self.pool.close().await;
        let _ = self
            .admin
            .execute(format!(r#"DROP DATABASE IF EXISTS "{}" WITH (FORCE)"#, self.name).as_str())
            .await;
    }
}
