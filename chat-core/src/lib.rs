//! # chat-core
//!
//! The transport-agnostic core of chat-engine: the domain, validation, mention parsing,
//! permissions, rate limits, fan-out, and the [`ChatService`] use cases, over storage and
//! broker traits. It does no I/O: stores and transports live in crates of their own.
//!
//! ```
//! use std::sync::Arc;
//! use chat_core::{ChatService, Store, UserId, ProfileInput, NewEvent, NewRoom, RoomKind,
//!     Visibility, SendMessage};
//! # // A store from another crate would be used here; the conformance suite's harness shows how.
//! # async fn demo(store: Arc<dyn Store>) -> chat_core::Result<()> {
//! let chat = ChatService::new(store);
//! let alice = UserId::new();
//! chat.upsert_profile(alice, ProfileInput { display_name: "Alice".into(), avatar_url: None }).await?;
//! let event = chat.create_event(alice, NewEvent { name: "Trip".into(), kind: "trip".into() }).await?;
//! let room = chat
//!     .create_room(alice, event.id, NewRoom {
//!         name: "Main".into(), kind: RoomKind::Main, visibility: Visibility::Public,
//!     })
//!     .await?;
//! let sent = chat
//!     .send_message(alice, room.id, SendMessage { text: "hello".into(), ..Default::default() })
//!     .await?;
//! assert_eq!(sent.message.seq.get(), 1);
//! # Ok(()) }
//! ```
//!
//! # Layout
//!
//! - [`id`]: UUIDv7 id newtypes.
//! - [`clock`]: [`Timestamp`] and the injectable [`Clock`].
//! - [`error`]: the one [`Error`] enum, its codes and HTTP statuses.
//! - [`limits`] and [`validation`]: every bound, and the checks that enforce them.
//! - [`mention`]: `@[Name](userId)` parsing and rendering.
//! - [`user`], [`event`], [`room`], [`message`], [`change`]: the domain.
//! - [`payload`] and [`poll`]: structured messages, and polls, the built-in kind.
//! - [`attachment`] and [`blob`]: uploads, their content checks and image pipeline, and the
//!   [`BlobStore`] their bytes live in.
//! - [`bot_token`]: bots' opaque, stored, revocable tokens.
//! - [`account`]: optional sign-in accounts (email and password hash) for hosts without their
//!   own identity.
//! - [`host`]: what a host plugs in: its users' profiles and its say on who creates what.
//! - [`permission`]: who may do what in a room.
//! - [`rate_limit`]: send policies and the typing throttle.
//! - [`fanout`]: the [`Broker`] trait and the in-process hub.
//! - [`presence`]: who is online, away or offline, across connections and instances.
//! - [`relay`]: fan-out across instances: the [`Relay`](relay::Relay) broker over a
//!   [`RelayLink`](relay::RelayLink) to a distributed engine.
//! - [`search`]: the search semantics every store implements.
//! - [`metrics`]: system metrics.
//! - [`outbound`]: where user-chosen requests (webhooks) may go: the [`OutboundPolicy`].
//! - [`store`]: the storage traits and the guarantees a store keeps.
//! - [`service`]: [`ChatService`], the use cases.
//! - `testing` (feature `testing`): the conformance suite every store must pass.

pub mod account;
pub mod attachment;
pub mod blob;
pub mod bot_token;
pub mod change;
pub mod clock;
pub mod error;
pub mod event;
pub mod fanout;
pub mod host;
pub mod id;
pub mod limits;
pub mod mention;
pub mod message;
pub mod metrics;
pub mod outbound;
pub mod page;
pub mod payload;
pub mod permission;
pub mod poll;
pub mod presence;
pub mod rate_limit;
pub mod relay;
pub mod room;
pub mod search;
pub mod service;
pub mod store;
pub mod user;
pub mod validation;
pub mod webhook;

// The suite uploads images made in code, so it needs the image crates (`testing` turns on `media`).
#[cfg(all(any(test, feature = "testing"), feature = "media"))]
pub mod testing;

pub use account::Account;
/// The attribute the storage, broker and blob traits are implemented with, re-exported so a
/// custom backend does not depend on `async-trait` itself.
pub use async_trait::async_trait;
pub use attachment::{AttachmentPolicy, ImageBudget, Upload, UploadInput, Variant};
pub use blob::{BlobKey, BlobStore, ByteStream, MemoryBlobStore};
pub use bot_token::{BotToken, IssuedBotToken};
pub use change::{ChangeKind, ChangePage, MessageChange, RoomChange};
pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use error::{BoxError, Error, Result};
pub use event::{DIRECT_EVENT_KIND, Event, EventMember, EventRole, EventSummary, NewEvent};
pub use fanout::{
    Broker, Delivery, InProcessBroker, ReadSignal, Subscription, TypingSignal, UserSignal,
    UserSignalKind,
};
pub use host::{AllowAll, HostPolicy, ProfileProvider};
pub use id::{
    AttachmentId, BotTokenId, DeadLetterId, EventId, MessageId, RoomId, UserId, WebhookId,
};
pub use limits::Limits;
pub use message::{
    Attachment, HistoryCursor, HistoryPage, MentionPage, Message, SendMessage, Sent, Thumbnail,
};
pub use metrics::SystemMetrics;
pub use outbound::OutboundPolicy;
pub use page::PageSize;
pub use payload::{Payload, PayloadKind, PayloadKinds};
pub use poll::{POLL_KIND, Poll, PollKind};
pub use presence::{Presence, PresenceBoard, PresenceSession, PresenceStatus};
pub use rate_limit::{RateLimitPolicy, SendHistory, SlidingWindow, SlowMode, TypingThrottle};
pub use room::{
    NewRoom, Receipt, Room, RoomFilter, RoomKind, RoomMember, RoomPatch, RoomRole, RoomSeq,
    RoomView, UNREAD_CAP, Unread, Visibility,
};
pub use search::{SearchHit, SearchRequest, SearchTerms, SnippetPart};
pub use service::{
    AVATAR_PX, AvatarImage, ChatService, ChatServiceBuilder, DispatchStats, FeedCursor,
    FeedFollower, FeedPage, PresenceWatch, UnreadFeed, UnreadUpdate, WebhookSender,
};
pub use store::{
    AccountStore, Admission, Appended, AttachmentStore, AuthorSnapshot, BotTokenStore, EventStore,
    MessageStore, NewDirectRoom, NewMessage, PayloadUpdate, ProfileStore, RoomStanding, RoomStore,
    Store, WebhookStore,
};
pub use user::{MemberMatch, ProfileInput, User};
pub use webhook::{DeliveryFailure, WebhookRegistration};
