//! What every handler shares: the service, the authenticator, the limits of the transport, and
//! the shutdown signal WebSocket connections watch.

use std::sync::Arc;
use std::time::Duration;

use chat_core::ChatService;
#[cfg(feature = "prometheus")]
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::sync::watch;

#[cfg(feature = "accounts")]
use crate::accounts::Accounts;
use crate::attachments::LinkKey;
use crate::auth::Authenticator;

/// Limits of the HTTP and WebSocket transport.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Largest JSON request body. 64 KiB holds a 5,000-character message several times over;
    /// anything larger is refused with 413 before it is parsed. Uploads are not JSON: they
    /// stream, bounded by [`Limits::max_attachment_bytes`](chat_core::Limits).
    pub body_limit: usize,
    /// Largest WebSocket message, in bytes (same reasoning as `body_limit`).
    pub ws_max_message: usize,
    /// Live frames queued for one connection before it counts as too slow and is closed.
    /// Replays from the store wait for the client instead (see the `ws` module docs).
    pub ws_outbound_queue: usize,
    /// Rooms one connection may follow at once. A client shows a few rooms at a time; the
    /// bound keeps one connection from making the server hold a subscription per room id.
    pub ws_max_subscriptions: usize,
    /// How often the server pings; a connection that shows no sign of life for two intervals
    /// is closed.
    pub ws_ping_interval: Duration,
    /// How long a connection without a `token` query parameter has to send its `auth` frame.
    pub ws_auth_timeout: Duration,
    /// The WebSocket read and write buffer size. With tungstenite's defaults an idle
    /// connection costs 134 KiB (measured, `cargo bench --bench ws_memory`); with 4 KiB a bare
    /// one costs 5.4 KiB and an authenticated, subscribed chat-http connection 11 KiB. 4 KiB
    /// still holds a typical frame; larger frames grow the buffer while they pass.
    pub ws_buffer: usize,
    /// How long a signed attachment link works (default 10 minutes). Links are for an
    /// `<img src>` or a download about to happen; clients ask for fresh ones as they render.
    ///
    /// A link is a capability: it is checked against its signature and expiry, not against
    /// who holds it. So a link handed out before its holder left the room, was removed or was
    /// banned keeps working until it expires, for at most this long. (Deleting the message
    /// ends every link at once.) Shorten it where that window matters more than re-fetching.
    pub attachment_link_ttl: Duration,
    /// How long `/readyz` waits for the store before answering 503. Probes usually give up
    /// after a second; answering within it tells them "unavailable" instead of timing out.
    pub ready_timeout: Duration,
    /// Where clients reach the router, such as `/chat`, when that is not the path it is nested
    /// under (a proxy in front strips or adds a prefix). Empty (the default): the prefix of
    /// the request itself, so `Router::new().nest("/chat", chat_http::router(state))` needs no
    /// setting. The OpenAPI document names it as its server, so generated clients call
    /// `/chat/v1/…` rather than `/v1/…`, and profile pictures' URLs carry it. Routing itself
    /// does not read it: nesting does that.
    pub mount_path: String,
    /// How long a bot's token from `POST /v1/events/{id}/bots` is valid (default 90 days):
    /// a service account's credential, rotated by issuing a new one
    /// (`POST …/bots/{id}/tokens`) and revoking the old.
    pub bot_token_ttl: Duration,
    /// Origins (`https://app.example`, scheme and authority exactly as browsers send them)
    /// besides the request's own host from which a caller authenticated by the host's cookies
    /// may change things or open a WebSocket (see [`crate::host_auth`]). Default: none.
    pub allowed_origins: Vec<String>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            body_limit: 64 * 1024,
            ws_max_message: 64 * 1024,
            ws_outbound_queue: 256,
            ws_max_subscriptions: 100,
            ws_ping_interval: Duration::from_secs(20),
            ws_auth_timeout: Duration::from_secs(10),
            ws_buffer: 4 * 1024,
            ready_timeout: Duration::from_millis(800),
            attachment_link_ttl: Duration::from_secs(10 * 60),
            mount_path: String::new(),
            bot_token_ttl: Duration::from_secs(90 * 24 * 3600),
            allowed_origins: Vec::new(),
        }
    }
}

/// The shared state of the router.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The use cases.
    pub chat: Arc<ChatService>,
    /// Turns tokens into users: bots' tokens against the store, the rest with the
    /// authenticator the state was made with.
    pub auth: Arc<dyn Authenticator>,
    /// The host's own authentication of requests without a bearer token (cookies,
    /// extensions), if any (see [`AppState::with_request_auth`]).
    pub request_auth: Option<Arc<dyn crate::RequestAuthenticator>>,
    /// Transport limits.
    pub config: Arc<HttpConfig>,
    /// The Prometheus recorder `/metrics` renders, if installed (see [`AppState::with_metrics`]).
    #[cfg(feature = "prometheus")]
    pub metrics: Option<PrometheusHandle>,
    /// Sign-up and sign-in, if offered (see [`AppState::with_accounts`]).
    #[cfg(feature = "accounts")]
    pub accounts: Option<Arc<Accounts>>,
    /// Signs attachment links (see [`AppState::with_link_key`]).
    pub(crate) link_key: LinkKey,
    pub(crate) event_frames: Arc<crate::ws::EventFrames>,
    shutdown: Arc<watch::Sender<bool>>,
    /// Every WebSocket connection, from its handshake to its last frame: a graceful shutdown
    /// waits for them to send their Close (see [`crate::serve`]).
    pub(crate) websockets: tokio_util::task::TaskTracker,
}

impl AppState {
    /// State with the default [`HttpConfig`].
    #[must_use]
    pub fn new(chat: Arc<ChatService>, auth: Arc<dyn Authenticator>) -> Self {
        Self::with_config(chat, auth, HttpConfig::default())
    }

    /// State with the given limits.
    #[must_use]
    pub fn with_config(
        chat: Arc<ChatService>,
        auth: Arc<dyn Authenticator>,
        config: HttpConfig,
    ) -> Self {
        let auth = Arc::new(crate::auth::WithBotTokens {
            chat: Arc::clone(&chat),
            people: auth,
        });
        Self {
            chat,
            auth,
            request_auth: None,
            config: Arc::new(config),
            #[cfg(feature = "prometheus")]
            metrics: None,
            #[cfg(feature = "accounts")]
            accounts: None,
            link_key: LinkKey::random(),
            event_frames: Arc::default(),
            shutdown: Arc::new(watch::channel(false).0),
            websockets: tokio_util::task::TaskTracker::new(),
        }
    }

    /// Serves Prometheus metrics at `/metrics`, installing the process-wide recorder. It never
    /// panics: when the host installed a recorder first, chat-engine's metrics go to that one
    /// and `/metrics` answers 404 (use [`with_metrics_handle`](Self::with_metrics_handle) to
    /// serve a Prometheus recorder of the host's).
    #[cfg(feature = "prometheus")]
    #[must_use]
    pub fn with_metrics(mut self) -> Self {
        self.metrics = crate::observability::install();
        if self.metrics.is_none() {
            tracing::warn!(
                "another metrics recorder is installed: chat-engine's metrics go to it, and /metrics answers 404"
            );
        }
        self
    }

    /// Serves `/metrics` from a Prometheus recorder the host installed itself.
    #[cfg(feature = "prometheus")]
    #[must_use]
    pub fn with_metrics_handle(mut self, handle: PrometheusHandle) -> Self {
        self.metrics = Some(handle);
        self
    }

    /// Authenticates requests that carry no bearer token the host's way: from its session
    /// cookie, or from what its middleware put in the extensions ([`crate::FromExtensions`]).
    /// WebSocket upgrades too. Such callers are refused cross-site changes (see
    /// [`crate::host_auth`] and [`HttpConfig::allowed_origins`]).
    #[must_use]
    pub fn with_request_auth(mut self, auth: Arc<dyn crate::RequestAuthenticator>) -> Self {
        self.request_auth = Some(auth);
        self
    }

    /// Offers sign-up and sign-in at `/v1/auth/…` (see [`crate::accounts`]).
    #[cfg(feature = "accounts")]
    #[must_use]
    pub fn with_accounts(mut self, accounts: Accounts) -> Self {
        self.accounts = Some(Arc::new(accounts));
        self
    }

    /// Signs attachment links with `key` instead of a random per-process key. Every
    /// instance behind one load balancer needs the same key.
    #[must_use]
    pub fn with_link_key(mut self, key: LinkKey) -> Self {
        self.link_key = key;
        self
    }

    /// Tells every WebSocket connection to close (with 1012, so clients reconnect), however
    /// young: one still authenticating closes too.
    pub fn begin_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// Waits, at most `within`, until every WebSocket connection has closed (after
    /// [`begin_shutdown`](Self::begin_shutdown), each sends its Close frame and waits a
    /// bounded time for the client's answer). `false` when some were still open.
    pub async fn websockets_closed(&self, within: std::time::Duration) -> bool {
        self.websockets.close();
        tokio::time::timeout(within, self.websockets.wait())
            .await
            .is_ok()
    }

    /// A receiver that turns true when shutdown begins.
    #[must_use]
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }
}
