//! The background work a host runs beside the router, owned by one handle: the webhook
//! dispatcher and the upload collector it starts, and the service's own (through
//! [`ChatService::shutdown`]: a relay with its link's loops, presence beat and gap fills, and
//! the store's committer of batched sends). [`Background::shutdown`] stops them all and waits
//! until they have; call it once the server has stopped serving.
//!
//! ```no_run
//! # async fn run(chat: std::sync::Arc<chat_core::ChatService>) {
//! use chat_http::background::{Background, BackgroundConfig};
//! let background = Background::start(chat, BackgroundConfig::default());
//! // … serve until the host shuts down …
//! background.shutdown().await;
//! # }
//! ```
//!
//! A dispatch pass cut short by the shutdown repeats at most the delivery in flight when the
//! next one starts (positions are stored after every delivery); a collection pass cut short
//! leaves the rest for the next.

use std::sync::Arc;
use std::time::Duration;

use chat_core::ChatService;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

#[cfg(feature = "webhooks")]
use crate::webhooks::{DispatcherConfig, HttpWebhookSender};

/// What runs in the background.
#[derive(Debug, Clone, Copy)]
pub struct BackgroundConfig {
    /// Deliver webhooks from this instance, so (`None` on all instances but one: two
    /// dispatchers would each deliver every change). Default: on, with
    /// [`DispatcherConfig::default`]. Feature `webhooks`.
    #[cfg(feature = "webhooks")]
    pub webhooks: Option<DispatcherConfig>,
    /// Collect unattached uploads past their time and the bytes of deleted messages'
    /// attachments this often (`None`: never). Default: every 10 minutes.
    pub collect_uploads_every: Option<Duration>,
}

impl Default for BackgroundConfig {
    fn default() -> Self {
        Self {
            #[cfg(feature = "webhooks")]
            webhooks: Some(DispatcherConfig::default()),
            collect_uploads_every: Some(Duration::from_secs(10 * 60)),
        }
    }
}

/// The running background work; see the module docs.
#[derive(Debug)]
pub struct Background {
    chat: Arc<ChatService>,
    tasks: TaskTracker,
    stop: CancellationToken,
}

/// Uploads collected per pass: a backlog is worked through over several passes.
const COLLECT_BATCH: u32 = 1000;

impl Background {
    /// Starts the work `config` names for `chat`. Must be called within a tokio runtime.
    #[must_use]
    pub fn start(chat: Arc<ChatService>, config: BackgroundConfig) -> Self {
        let tasks = TaskTracker::new();
        let stop = CancellationToken::new();
        #[cfg(feature = "webhooks")]
        if let Some(dispatch) = config.webhooks {
            let work = dispatch_webhooks(Arc::clone(&chat), dispatch);
            tasks.spawn(stop.clone().run_until_cancelled_owned(work));
        }
        if let Some(every) = config.collect_uploads_every {
            let work = collect_uploads(Arc::clone(&chat), every);
            tasks.spawn(stop.clone().run_until_cancelled_owned(work));
        }
        tasks.close();
        Self { chat, tasks, stop }
    }

    /// Stops the tasks it started, then the service's ([`ChatService::shutdown`]), and waits
    /// until each has.
    pub async fn shutdown(self) {
        self.stop.cancel();
        self.tasks.wait().await;
        self.chat.shutdown().await;
    }

    /// How many of the tasks it started are running.
    #[must_use]
    pub fn running(&self) -> usize {
        self.tasks.len()
    }
}

/// Dispatch passes every `config.poll_every`, for as long as the future is polled.
#[cfg(feature = "webhooks")]
async fn dispatch_webhooks(chat: Arc<ChatService>, config: DispatcherConfig) {
    let sender = HttpWebhookSender::new(
        config.timeout,
        chat.outbound_policy(),
        Arc::clone(chat.clock()),
    );
    let mut every = tokio::time::interval(config.poll_every);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        match chat.dispatch_webhooks(&sender, &config.policy).await {
            Ok(stats) if stats.failed > 0 => {
                tracing::warn!(
                    delivered = stats.delivered,
                    failed = stats.failed,
                    dead = stats.dead,
                    "webhook deliveries failed; they will be retried"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "webhook dispatch failed; will retry"),
        }
    }
}

/// Collection passes every `every`, for as long as the future is polled.
async fn collect_uploads(chat: Arc<ChatService>, every: Duration) {
    let mut every = tokio::time::interval(every);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        match chat.collect_uploads(COLLECT_BATCH).await {
            Ok(c) if c.uploads + c.orphan_blobs > 0 => {
                tracing::info!(
                    uploads = c.uploads,
                    orphan_blobs = c.orphan_blobs,
                    "collected uploads"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "collecting uploads failed; will retry"),
        }
    }
}
