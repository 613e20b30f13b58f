//! # chat-broker-nats
//!
//! Fan-out between chat-engine server instances over [NATS](https://nats.io), for deployments
//! that outgrow one database's LISTEN/NOTIFY. [`NatsLink`] is a
//! [`chat_core::relay::RelayLink`]: give it to a
//! [`Relay`](chat_core::relay::Relay), and use the relay as the service's broker.
//!
//! ```no_run
//! use std::sync::Arc;
//! use chat_broker_nats::NatsLink;
//! use chat_core::{ChatService, Store, relay::Relay};
//! # async fn run(store: Arc<dyn Store>) -> chat_core::Result<()> {
//! let link = NatsLink::connect("nats://127.0.0.1:4222").await?;
//! let chat = ChatService::builder(Arc::clone(&store))
//!     .broker(Relay::new(store, link))
//!     .build();
//! # Ok(()) }
//! ```
//!
//! # How it uses NATS
//!
//! - **Core NATS, one subject per room** (`chat.room.<room id>`). An instance subscribes to a
//!   room's subject while it has local subscribers to that room, so each instance receives
//!   only the rooms its clients follow; NATS does the routing. No JetStream: the store is the
//!   source of truth, and the relay reads from it whatever NATS did not deliver, so a
//!   persistent stream would only store every change twice.
//! - **Publishing never waits**: envelopes go to a bounded queue drained by one task.
//! - **Reconnects** are the client's: async-nats reconnects and resubscribes by itself; once it
//!   is connected again the relay checks every followed room against the store.
//! - A change over the server's `max_payload` (1 MiB by default; chat changes are far
//!   smaller) travels as a wake-up, read from the store by the receivers.
//! - **The link owns its tasks** (the publisher, one receiver per joined room, reconnect
//!   checks): [`Relay::shutdown`](chat_core::relay::Relay::shutdown) stops them, waits, and
//!   closes the connection; dropping the link stops them too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use async_nats::{Client, ConnectOptions, Event};
use async_trait::async_trait;
use chat_core::relay::{RelayEnvelope, RelayHandler, RelayLink};
use chat_core::{Error, Result, RoomId};
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::{CancellationToken, DropGuard};
use tokio_util::task::TaskTracker;

/// The subject prefix; a room's subject is `chat.room.<room id>`.
pub const SUBJECT_PREFIX: &str = "chat.room.";

/// Envelopes queued for publishing. Beyond it an envelope is dropped (and logged): other
/// instances then learn of the change from the next one, or from their gap timeout.
const SEND_QUEUE: usize = 16_384;

fn subject(room: RoomId) -> String {
    format!("{SUBJECT_PREFIX}{room}")
}

/// What the publishing task takes: a subject and a payload.
type Outgoing = (String, Vec<u8>);

/// The NATS [`RelayLink`]; see the [crate docs](crate).
#[derive(Debug)]
pub struct NatsLink {
    client: Client,
    queue: mpsc::Sender<Outgoing>,
    queue_rx: Mutex<Option<mpsc::Receiver<Outgoing>>>,
    handler: Arc<OnceLock<Weak<dyn RelayHandler>>>,
    /// Each joined room's receiver, cancelled by `leave`.
    rooms: Mutex<HashMap<RoomId, CancellationToken>>,
    tasks: TaskTracker,
    /// Cancels every task when the link drops, whoever held it last.
    stop: DropGuard,
}

impl NatsLink {
    /// Connects to the NATS server(s) at `url` (comma-separated for a cluster).
    ///
    /// # Errors
    /// [`Error::Unavailable`] when no server can be reached.
    pub async fn connect(url: &str) -> Result<Arc<Self>> {
        let handler: Arc<OnceLock<Weak<dyn RelayHandler>>> = Arc::new(OnceLock::new());
        let on_event = Arc::clone(&handler);
        let tasks = TaskTracker::new();
        let stop = CancellationToken::new();
        let (event_tasks, event_stop) = (tasks.clone(), stop.clone());
        let client = ConnectOptions::new()
            .event_callback(move |event| {
                let handler = Arc::clone(&on_event);
                let (tasks, stop) = (event_tasks.clone(), event_stop.clone());
                async move {
                    match event {
                        // Connected is only reported after a disconnection: the first
                        // connection happens before `connect` returns.
                        Event::Connected => {
                            if let Some(h) = handler.get().and_then(Weak::upgrade) {
                                // On a task of its own: the callback must stay short.
                                let check = async move { h.reconnected().await };
                                tasks.spawn(stop.run_until_cancelled_owned(check));
                            }
                        }
                        Event::Disconnected => tracing::warn!("NATS connection lost; reconnecting"),
                        other => tracing::debug!(event = %other, "NATS event"),
                    }
                }
            })
            .connect(url)
            .await
            .map_err(|e| Error::Unavailable {
                source: Box::new(e),
            })?;
        let (queue, queue_rx) = mpsc::channel(SEND_QUEUE);
        Ok(Arc::new(Self {
            client,
            queue,
            queue_rx: Mutex::new(Some(queue_rx)),
            handler,
            rooms: Mutex::new(HashMap::new()),
            tasks,
            stop: stop.drop_guard(),
        }))
    }

    /// How many of the link's tasks are running.
    #[must_use]
    pub fn running_tasks(&self) -> usize {
        self.tasks.len()
    }

    /// The client, for tests and operations (such as forcing a reconnect).
    #[must_use]
    pub fn client(&self) -> &Client {
        &self.client
    }

    fn rooms(&self) -> std::sync::MutexGuard<'_, HashMap<RoomId, CancellationToken>> {
        self.rooms
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

async fn publish_loop(client: Client, mut rx: mpsc::Receiver<Outgoing>) {
    while let Some((subject, payload)) = rx.recv().await {
        if let Err(e) = client.publish(subject, payload.into()).await {
            tracing::warn!(error = %e, "NATS publish failed");
        }
    }
}

#[async_trait]
impl RelayLink for NatsLink {
    fn attach(&self, handler: Weak<dyn RelayHandler>) {
        if self.handler.set(handler).is_err() {
            return;
        }
        if let Some(rx) = self
            .queue_rx
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
        {
            let publish = publish_loop(self.client.clone(), rx);
            self.tasks
                .spawn(self.stop.token().clone().run_until_cancelled_owned(publish));
        }
    }

    fn send(&self, envelope: RelayEnvelope) {
        let room = envelope.message.room_id();
        let max = self.client.server_info().max_payload;
        let Ok(mut payload) = serde_json::to_vec(&envelope) else {
            return;
        };
        if payload.len() > max {
            let Some(message) = envelope.message.wake_up() else {
                return;
            };
            let wake_up = RelayEnvelope {
                origin: envelope.origin,
                message,
            };
            let Ok(small) = serde_json::to_vec(&wake_up) else {
                return;
            };
            payload = small;
        }
        if self.queue.try_send((subject(room), payload)).is_err() {
            tracing::warn!("NATS publish queue full; an envelope was dropped");
        }
    }

    async fn join(&self, room: RoomId) -> Result<()> {
        if self.rooms().contains_key(&room) {
            return Ok(());
        }
        let unavailable =
            |e: Box<dyn std::error::Error + Send + Sync>| Error::Unavailable { source: e };
        let mut subscriber = self
            .client
            .subscribe(subject(room))
            .await
            .map_err(|e| unavailable(Box::new(e)))?;
        // The server has the subscription once it answers the flush's ping.
        self.client
            .flush()
            .await
            .map_err(|e| unavailable(Box::new(e)))?;
        let handler = self.handler.get().cloned();
        let receiving = self.stop.token().child_token();
        let receive = async move {
            while let Some(message) = subscriber.next().await {
                let Some(h) = handler.as_ref().and_then(Weak::upgrade) else {
                    return;
                };
                match serde_json::from_slice::<RelayEnvelope>(&message.payload) {
                    Ok(envelope) => h.received(envelope).await,
                    Err(e) => tracing::warn!(error = %e, "unreadable NATS message"),
                }
            }
        };
        self.tasks
            .spawn(receiving.clone().run_until_cancelled_owned(receive));
        if let Some(old) = self.rooms().insert(room, receiving) {
            old.cancel();
        }
        Ok(())
    }

    async fn leave(&self, room: RoomId) {
        // Dropping the subscriber with its task unsubscribes.
        if let Some(receiving) = self.rooms().remove(&room) {
            receiving.cancel();
        }
    }

    async fn shutdown(&self) {
        self.stop.token().cancel();
        self.tasks.close();
        self.tasks.wait().await;
        self.rooms().clear();
        // What was published reaches the server; then the connection closes.
        let _ = self.client.flush().await;
        let _ = self.client.drain().await;
    }
}
