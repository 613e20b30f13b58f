//! # chat-http
//!
//! The axum adapter for chat-engine: REST under `/v1`, the live WebSocket at `/v1/ws`, the
//! pluggable `Authenticator` with an HS256 JWT reference, the error → HTTP mapping, the OpenAPI
//! document and `serve(listener, shutdown)`. Its own milestone fills it in; until then it
//! re-exports the service it will put on the network.

pub use chat_core::{ChatService, Error};
