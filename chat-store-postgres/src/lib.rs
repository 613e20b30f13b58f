//! # chat-store-postgres
//!
//! The PostgreSQL store for chat-engine. This crate is reserved for `PostgresStore` (sqlx,
//! embedded migrations, `store.migrate()`), which its own milestone fills in; until then it
//! only re-exports the storage traits it will implement, so downstream code can already name
//! them from here.

pub use chat_core::store::{EventStore, MessageStore, ProfileStore, RoomStore, Store};
