//! # chat-engine
//!
//! Embeddable real-time group chat: events hold rooms, members post messages with
//! `@[Name](userId)` mentions, attachments, replies and reactions, and see each other's
//! messages live. Validation, permissions and rate limits live in one transport-agnostic core
//! ([`ChatService`]), behind storage and broker traits.
//!
//! This crate is the facade. It re-exports:
//! - everything in [`chat_core`] at the top level (and as [`core`]);
//! - `MemoryStore` and `memory` (the `chat-store-memory` crate) with the `memory` feature (on
//!   by default);
//! - `postgres` (`chat-store-postgres`) with the `postgres` feature;
//! - `http` (`chat-http`, the axum adapter) with the `http` feature;
//! - `nats` (`chat-broker-nats`) with the `nats` feature;
//! - `blob_fs` and `blob_s3` (`chat-blob-fs`, `chat-blob-s3`, where attachment bytes live)
//!   with the `blob-fs` and `blob-s3` features.
//!
//! The names are plain text rather than links because each exists only with its feature.
//!
//! ```
//! use std::sync::Arc;
//! use chat_engine::{ChatService, MemoryStore, NewEvent, NewRoom, ProfileInput, RoomKind,
//!     SendMessage, UserId, Visibility};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> chat_engine::Result<()> {
//! let chat = ChatService::new(Arc::new(MemoryStore::new()));
//! let ada = UserId::new();
//! chat.upsert_profile(ada, ProfileInput { display_name: "Ada".into(), avatar_url: None }).await?;
//! let event = chat.create_event(ada, NewEvent { name: "Launch party".into(), kind: "party".into() }).await?;
//! let room = chat
//!     .create_room(ada, event.id, NewRoom {
//!         name: "Main".into(), kind: RoomKind::Main, visibility: Visibility::Public,
//!     })
//!     .await?;
//! let sent = chat
//!     .send_message(ada, room.id, SendMessage { text: "Welcome!".into(), ..Default::default() })
//!     .await?;
//! assert_eq!(sent.message.author_name, "Ada");
//! # Ok(()) }
//! ```

pub use chat_core::*;

/// The core crate, under its own name.
pub use chat_core as core;

/// The in-memory store crate.
#[cfg(feature = "memory")]
pub use chat_store_memory as memory;
#[cfg(feature = "memory")]
pub use chat_store_memory::MemoryStore;

/// The PostgreSQL store crate.
#[cfg(feature = "postgres")]
pub use chat_store_postgres as postgres;

/// The axum adapter crate.
#[cfg(feature = "http")]
pub use chat_http as http;

/// Fan-out between instances over NATS (feature `nats`).
#[cfg(feature = "nats")]
pub use chat_broker_nats as nats;

/// Attachment bytes in a directory (feature `blob-fs`).
#[cfg(feature = "blob-fs")]
pub use chat_blob_fs as blob_fs;

/// Attachment bytes in an S3-compatible bucket (feature `blob-s3`).
#[cfg(feature = "blob-s3")]
pub use chat_blob_s3 as blob_s3;

// The README's code blocks compile and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
