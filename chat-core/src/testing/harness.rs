//! Builders for conformance cases: a service on a manual clock, and one-line setup helpers.

use std::sync::Arc;

use time::macros::datetime;

use crate::attachment::UploadInput;
use crate::blob::{self, MemoryBlobStore};
use crate::clock::Clock;
use crate::{
    Attachment, ChatService, EventId, EventRole, Limits, ManualClock, Message, NewEvent, NewRoom,
    ProfileInput, RoomId, RoomKind, SendMessage, Store, Timestamp, UserId, Visibility,
    WebhookRegistration,
};

/// A [`ChatService`] over the store under test, with a [`ManualClock`] and a server admin.
#[derive(Debug, Clone)]
pub struct Harness {
    /// The service.
    pub chat: Arc<ChatService>,
    /// Its clock; cases move it to cross windows.
    pub clock: Arc<ManualClock>,
    /// The store under test.
    pub store: Arc<dyn Store>,
    /// A user with server-admin rights (and a profile).
    pub server_admin: UserId,
    /// Where the service keeps attachment bytes, on the same manual clock.
    pub blobs: Arc<MemoryBlobStore>,
}

/// A plain-text message.
#[must_use]
pub fn text(t: &str) -> SendMessage {
    SendMessage {
        text: t.to_owned(),
        ..SendMessage::default()
    }
}

impl Harness {
    /// A harness with default limits, starting at 2026-01-01T00:00:00Z.
    pub async fn new(store: Arc<dyn Store>) -> Self {
        Self::with_limits(store, Limits::default()).await
    }

    /// A harness with the given limits.
    pub async fn with_limits(store: Arc<dyn Store>, limits: Limits) -> Self {
        let clock = Arc::new(ManualClock::new(Timestamp::from(
            datetime!(2026-01-01 0:00 UTC),
        )));
        let server_admin = UserId::new();
        let blobs = Arc::new(MemoryBlobStore::with_clock(clock.clone()));
        let chat = Arc::new(
            ChatService::builder(Arc::clone(&store))
                .clock(clock.clone())
                .blobs(blobs.clone())
                .limits(limits)
                .server_admin(server_admin)
                .webhook_registration(WebhookRegistration::EventAdmins)
                .build(),
        );
        let h = Self {
            chat,
            clock,
            store,
            server_admin,
            blobs,
        };
        h.chat
            .upsert_profile(
                server_admin,
                ProfileInput {
                    display_name: "Operator".into(),
                    avatar_url: None,
                },
            )
            .await
            .expect("admin profile");
        h
    }

    /// Uploads `bytes` as `file_name` (no declared type) into `room`.
    ///
    /// # Panics
    /// When the upload is refused.
    pub async fn upload(
        &self,
        actor: UserId,
        room: RoomId,
        file_name: &str,
        bytes: Vec<u8>,
    ) -> Attachment {
        self.chat
            .upload(
                actor,
                room,
                UploadInput {
                    file_name: file_name.into(),
                    declared_type: None,
                    body: blob::once(bytes.into()),
                },
            )
            .await
            .expect("upload")
    }

    /// How many blobs the service's blob store holds.
    pub async fn blob_count(&self) -> usize {
        use crate::BlobStore;
        let far = self
            .clock
            .now()
            .saturating_add(std::time::Duration::from_secs(1 << 32));
        self.blobs
            .list_written_before(far, usize::MAX)
            .await
            .expect("list")
            .len()
    }

    /// A new user with a profile.
    pub async fn user(&self, name: &str) -> UserId {
        let id = UserId::new();
        self.chat
            .upsert_profile(
                id,
                ProfileInput {
                    display_name: name.into(),
                    avatar_url: None,
                },
            )
            .await
            .expect("profile");
        id
    }

    /// A new event owned by `owner`.
    pub async fn event(&self, owner: UserId) -> EventId {
        self.chat
            .create_event(
                owner,
                NewEvent {
                    name: "My Event".into(),
                    kind: "party".into(),
                },
            )
            .await
            .expect("event")
            .id
    }

    /// A new room in `event`, created by `creator` (its moderator).
    pub async fn room(
        &self,
        creator: UserId,
        event: EventId,
        name: &str,
        visibility: Visibility,
    ) -> RoomId {
        let kind = if name == "Main" {
            RoomKind::Main
        } else {
            RoomKind::Topic
        };
        self.chat
            .create_room(
                creator,
                event,
                NewRoom {
                    name: name.into(),
                    kind,
                    visibility,
                },
            )
            .await
            .expect("room")
            .id
    }

    /// An owner, an event and a public "Main" room.
    pub async fn owner_event_room(&self) -> (UserId, EventId, RoomId) {
        let owner = self.user("Owner").await;
        let event = self.event(owner).await;
        let room = self.room(owner, event, "Main", Visibility::Public).await;
        (owner, event, room)
    }

    /// A new user who is an event member and has joined `room` (public).
    pub async fn joined(&self, name: &str, owner: UserId, event: EventId, room: RoomId) -> UserId {
        let user = self.user(name).await;
        self.chat
            .add_event_member(owner, event, user, EventRole::Member)
            .await
            .expect("event member");
        self.chat.join_room(user, room).await.expect("join");
        user
    }

    /// Sends a plain-text message, expecting success.
    pub async fn send(&self, user: UserId, room: RoomId, t: &str) -> Message {
        self.chat
            .send_message(user, room, text(t))
            .await
            .expect("send")
            .message
    }

    /// Moves the clock forward by whole seconds.
    pub fn advance_secs(&self, secs: u64) {
        self.clock.advance(std::time::Duration::from_secs(secs));
    }
}
