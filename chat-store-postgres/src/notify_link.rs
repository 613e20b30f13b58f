//! [`PgNotifyLink`]: fan-out between instances over PostgreSQL LISTEN/NOTIFY, with nothing to
//! run beyond the database.
//!
//! - **One channel per install, one LISTEN connection per instance.** Every envelope goes to
//!   the channel of the store's schema, `<schema>_relay` (`chat_relay` by default, see
//!   [`PgNotifyLink::for_store`]), so two installs in one database (two schemas) never hear
//!   each other; the relay keeps the rooms it follows and drops the rest. One connection per
//!   instance, whatever the number of rooms or clients.
//! - **NOTIFY after commit, in batches.** The relay sends after the change is committed; a
//!   sender task gathers what is queued and sends it in one statement
//!   (`SELECT pg_notify(…) FROM unnest(…)`), so a burst costs one round trip and one commit
//!   of the notify queue, off the send path. NOTIFY inside the send transaction would make the
//!   notification atomic with the change, but every NOTIFY takes a database-wide lock at
//!   commit, which serialises all sends; the relay's store check makes the atomicity
//!   unnecessary.
//! - **Payloads over 8,000 bytes** (PostgreSQL's limit) travel as a `(room, seq)` wake-up;
//!   receivers read the change from the store.
//! - **Reconnects by itself.** When the LISTEN connection fails, a new one is made (with
//!   backoff), and the relay checks every followed room against the store.
//! - **Owns its tasks.** The sender and the listener run until
//!   [`Relay::shutdown`](chat_core::relay::Relay::shutdown) (which waits for them) or until the
//!   link drops. Envelopes still queued then are not sent: other instances catch up from the
//!   store, as after any lost notification.

use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use async_trait::async_trait;
use chat_core::relay::{RelayEnvelope, RelayHandler, RelayLink};
use chat_core::{Error, Result, RoomId};
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::{CancellationToken, DropGuard};
use tokio_util::task::TaskTracker;

/// The notification channel of the default schema ([`crate::DEFAULT_SCHEMA`]), and of
/// [`PgNotifyLink::new`].
pub const CHANNEL: &str = "chat_relay";

/// PostgreSQL refuses payloads of 8,000 bytes or more.
const MAX_PAYLOAD: usize = 7_999;

/// Envelopes queued for the sender task. Beyond it an envelope is dropped (and logged): other
/// instances then learn of the change from the next one, or from their gap timeout.
const SEND_QUEUE: usize = 16_384;

/// Envelopes sent in one statement.
const SEND_BATCH: usize = 256;

/// How long `join` waits for the LISTEN connection before reporting the engine unavailable.
const JOIN_TIMEOUT: Duration = Duration::from_secs(5);

/// The LISTEN/NOTIFY [`RelayLink`]; see the [module docs](self).
#[derive(Debug)]
pub struct PgNotifyLink {
    pool: PgPool,
    channel: String,
    queue: mpsc::Sender<String>,
    queue_rx: std::sync::Mutex<Option<mpsc::Receiver<String>>>,
    listening: watch::Sender<bool>,
    handler: OnceLock<Weak<dyn RelayHandler>>,
    tasks: TaskTracker,
    /// Cancels the tasks when the link drops, whoever held it last.
    stop: DropGuard,
}

impl PgNotifyLink {
    /// A link over `pool`: notifications are sent through it, and the LISTEN connection is
    /// opened with its settings. Start it by giving it to
    /// [`Relay::new`](chat_core::relay::Relay::new) (inside a tokio runtime).
    /// The channel is [`CHANNEL`]; prefer [`for_store`](Self::for_store), which keeps one
    /// install's notifications to itself.
    #[must_use]
    pub fn new(pool: PgPool) -> Arc<Self> {
        Self::on_channel(pool, CHANNEL.to_owned())
    }

    /// A link for the instances of `store`'s install: over its pool, on the channel of its
    /// schema (`<schema>_relay`; [`CHANNEL`] for the default schema or a pool without one).
    #[must_use]
    pub fn for_store(store: &crate::PostgresStore) -> Arc<Self> {
        let channel = store
            .schema()
            .map_or_else(|| CHANNEL.to_owned(), |schema| format!("{schema}_relay"));
        Self::on_channel(store.pool().clone(), channel)
    }

    /// The channel this link sends and listens on.
    #[must_use]
    pub fn channel(&self) -> &str {
        &self.channel
    }

    fn on_channel(pool: PgPool, channel: String) -> Arc<Self> {
        let (queue, queue_rx) = mpsc::channel(SEND_QUEUE);
        Arc::new(Self {
            pool,
            channel,
            queue,
            queue_rx: std::sync::Mutex::new(Some(queue_rx)),
            listening: watch::channel(false).0,
            handler: OnceLock::new(),
            tasks: TaskTracker::new(),
            stop: CancellationToken::new().drop_guard(),
        })
    }

    /// Runs `work` as one of the link's tasks, until it ends or the link shuts down.
    fn spawn(&self, work: impl std::future::Future<Output = ()> + Send + 'static) {
        let stop = self.stop.token().clone();
        self.tasks.spawn(stop.run_until_cancelled_owned(work));
    }

    /// How many of the link's tasks are running.
    #[must_use]
    pub fn running_tasks(&self) -> usize {
        self.tasks.len()
    }
}

/// The payload of an envelope: the whole JSON if it fits, else its wake-up.
fn payload(envelope: &RelayEnvelope) -> Option<String> {
    let whole = serde_json::to_string(envelope).ok()?;
    if whole.len() <= MAX_PAYLOAD {
        return Some(whole);
    }
    let wake_up = RelayEnvelope {
        origin: envelope.origin,
        message: envelope.message.wake_up()?,
    };
    serde_json::to_string(&wake_up).ok()
}

async fn send_loop(pool: PgPool, channel: String, mut rx: mpsc::Receiver<String>) {
    let mut batch = Vec::with_capacity(SEND_BATCH);
    while rx.recv_many(&mut batch, SEND_BATCH).await > 0 {
        let sent = sqlx::query("SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p")
            .bind(&channel)
            .bind(&batch)
            .execute(&pool)
            .await;
        if let Err(e) = sent {
            // Receivers recover what this loses from the store (next change or reconnect).
            tracing::warn!(error = %e, count = batch.len(), "NOTIFY failed");
        }
        batch.clear();
    }
}

async fn listen_loop(
    pool: PgPool,
    channel: String,
    handler: Weak<dyn RelayHandler>,
    listening: watch::Sender<bool>,
) {
    let mut backoff = Duration::from_millis(50);
    let mut first = true;
    loop {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "LISTEN connection failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        if let Err(e) = listener.listen(&channel).await {
            tracing::warn!(error = %e, "LISTEN failed; retrying");
            tokio::time::sleep(backoff).await;
            continue;
        }
        backoff = Duration::from_millis(50);
        listening.send_replace(true);
        if !first {
            let Some(h) = handler.upgrade() else { return };
            h.reconnected().await;
        }
        first = false;
        // `Ok(None)` or an error: the connection was lost. Make a new one, then check every
        // followed room against the store.
        while let Ok(Some(notification)) = listener.try_recv().await {
            let Some(h) = handler.upgrade() else { return };
            match serde_json::from_str::<RelayEnvelope>(notification.payload()) {
                Ok(envelope) => h.received(envelope).await,
                Err(e) => tracing::warn!(error = %e, "unreadable notification"),
            }
        }
        listening.send_replace(false);
        tracing::warn!("LISTEN connection lost; reconnecting");
    }
}

#[async_trait]
impl RelayLink for PgNotifyLink {
    fn attach(&self, handler: Weak<dyn RelayHandler>) {
        if self.handler.set(handler.clone()).is_err() {
            return;
        }
        if let Some(rx) = self
            .queue_rx
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
        {
            self.spawn(send_loop(self.pool.clone(), self.channel.clone(), rx));
        }
        self.spawn(listen_loop(
            self.pool.clone(),
            self.channel.clone(),
            handler,
            self.listening.clone(),
        ));
    }

    fn send(&self, envelope: RelayEnvelope) {
        let Some(payload) = payload(&envelope) else {
            return;
        };
        if self.queue.try_send(payload).is_err() {
            tracing::warn!("NOTIFY queue full; an envelope was dropped");
        }
    }

    async fn join(&self, _room: RoomId) -> Result<()> {
        // One channel carries every room: joining is waiting until it is listened to.
        let mut listening = self.listening.subscribe();
        let ready = tokio::time::timeout(JOIN_TIMEOUT, listening.wait_for(|l| *l)).await;
        match ready {
            Ok(Ok(_)) => Ok(()),
            _ => Err(Error::Unavailable {
                source: "the LISTEN connection is not up".into(),
            }),
        }
    }

    async fn leave(&self, _room: RoomId) {}

    async fn shutdown(&self) {
        self.stop.token().cancel();
        self.tasks.close();
        self.tasks.wait().await;
        self.listening.send_replace(false);
    }
}
