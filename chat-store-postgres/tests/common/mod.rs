//! A fresh database per test, on the server `DATABASE_URL` names (default: the local
//! PostgreSQL at 127.0.0.1:5432 with user `postgres`).
//!
//! Without a reachable server a test is skipped with a message, except under `CI=true`, where
//! a missing database is a failure: CI never skips a PostgreSQL test.

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
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Skips (returns `None`) or, in CI, fails.
pub fn unavailable(why: impl std::fmt::Display) -> Option<TestDb> {
    assert!(!in_ci(), "PostgreSQL is required in CI: {why}");
    eprintln!("skipping: PostgreSQL unavailable ({why}); set DATABASE_URL to run this test");
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
        admin
            .execute(format!(r#"CREATE DATABASE "{name}""#).as_str())
            .await
            .expect("create database");
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

    /// Drops the database. A failing test skips this and leaves it for inspection.
    pub async fn cleanup(self) {
        self.pool.close().await;
        let _ = self
            .admin
            .execute(format!(r#"DROP DATABASE IF EXISTS "{}" WITH (FORCE)"#, self.name).as_str())
            .await;
    }
}
