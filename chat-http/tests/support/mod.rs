//! A chat service over a store, its router, tokens, and a real server on port 0.

#![allow(dead_code, unreachable_pub)]

pub mod schema;
pub mod ws_client;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use chat_core::{ChatService, Limits, Store, UserId};
use chat_http::{AppState, HttpConfig, JwtAuthenticator};
use serde_json::Value;
use tower::ServiceExt;

/// The router, with every answer checked against the document it serves (see [`schema`]).
pub fn checked_router(state: &AppState) -> Router {
    let served =
        schema::ServedSchema::new(chat_http::openapi_for(state.chat.limits(), &state.config));
    chat_http::router(state.clone()).layer(axum::middleware::from_fn(move |req, next| {
        schema::check_response(std::sync::Arc::clone(&served), req, next)
    }))
}

pub struct App {
    pub state: AppState,
    pub router: Router,
    pub jwt: Arc<JwtAuthenticator>,
    pub admin: UserId,
}

impl App {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self::with(store, Limits::default(), HttpConfig::default())
    }

    pub fn with(store: Arc<dyn Store>, limits: Limits, config: HttpConfig) -> Self {
        Self::build(ChatService::builder(store).limits(limits), config)
    }

    /// An app whose senders are never rate limited, for filling rooms with a long history:
    /// admission then reads no send history at all.
    pub fn unlimited(store: Arc<dyn Store>, config: HttpConfig) -> Self {
        Self::build(
            ChatService::builder(store).rate_limit_policy(Arc::new(AdmitAll)),
            config,
        )
    }

    /// An app whose event admins may register webhooks to loopback receivers (the test's own),
    /// as a host would allow its internal ones.
    pub fn with_loopback_webhooks(builder: chat_core::ChatServiceBuilder) -> Self {
        let policy = chat_core::OutboundPolicy::public_only().allow("127.0.0.0/8".parse().unwrap());
        Self::build(
            builder
                .webhook_registration(chat_core::WebhookRegistration::EventAdmins)
                .outbound_policy(policy),
            HttpConfig::default(),
        )
    }

    /// An app over a service the test configured.
    pub fn build_with(builder: chat_core::ChatServiceBuilder) -> Self {
        Self::build(builder, HttpConfig::default())
    }

    fn build(builder: chat_core::ChatServiceBuilder, config: HttpConfig) -> Self {
        let admin = UserId::new();
        // Files in memory on both stores: a test's app lives no longer than its database.
        let blobs = Arc::new(chat_core::MemoryBlobStore::new());
        let chat = Arc::new(builder.blobs(blobs).server_admin(admin).build());
        let jwt = Arc::new(JwtAuthenticator::new(b"test secret, not for production"));
        let state = AppState::with_config(chat, jwt.clone(), config);
        Self {
            router: checked_router(&state),
            state,
            jwt,
            admin,
        }
    }

    /// The same app with sign-up and sign-in enabled.
    pub fn with_accounts(mut self, config: chat_http::accounts::AccountsConfig) -> Self {
        let accounts = chat_http::accounts::Accounts::new(self.jwt.clone(), config).unwrap();
        self.state = self.state.with_accounts(accounts);
        self.router = checked_router(&self.state);
        self
    }

    pub fn token(&self, user: UserId) -> String {
        self.jwt.issue(user, Duration::from_secs(3600)).unwrap()
    }

    /// A user with a profile, and their token.
    pub async fn user(&self, name: &str) -> (UserId, String) {
        let id = UserId::new();
        let token = self.token(id);
        let (status, _) = self
            .call(
                "PUT",
                "/v1/me",
                Some(&token),
                Some(serde_json::json!({"display_name": name})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        (id, token)
    }

    /// A new user added to `event` by its owner and joined to `room`: their id and token.
    pub async fn member(
        &self,
        owner: &str,
        event: &str,
        room: &str,
        name: &str,
    ) -> (UserId, String) {
        let (id, token) = self.user(name).await;
        let (s, body) = self
            .call(
                "POST",
                &format!("/v1/events/{event}/members"),
                Some(owner),
                Some(serde_json::json!({"user_id": id})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{body}");
        let (s, body) = self
            .call(
                "POST",
                &format!("/v1/rooms/{room}/join"),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{body}");
        (id, token)
    }

    /// An owner with an event and a public Main room: the owner's token, the event id and the
    /// room id.
    pub async fn world(&self) -> (String, String, String) {
        let (_, owner) = self.user("Owner").await;
        let (s, event) = self
            .call(
                "POST",
                "/v1/events",
                Some(&owner),
                Some(serde_json::json!({"name": "My Event", "kind": "party"})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{event}");
        let event_id = event["id"].as_str().unwrap().to_owned();
        let room_body = serde_json::json!({"name": "Main", "kind": "main", "visibility": "public"});
        let (s, room) = self
            .call(
                "POST",
                &format!("/v1/events/{event_id}/rooms"),
                Some(&owner),
                Some(room_body),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{room}");
        (owner, event_id, room["id"].as_str().unwrap().to_owned())
    }

    /// Sends a request through the router (no network) and parses the JSON answer.
    pub async fn call(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let req = match body {
            Some(b) => req
                .header("content-type", "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        }
        .unwrap();
        let response = self.router.clone().oneshot(req).await.unwrap();
        split(response).await
    }

    /// Sends raw bytes with a content type.
    pub async fn raw(
        &self,
        method: &str,
        uri: &str,
        token: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        self.raw_as(method, uri, Some(token), content_type, body)
            .await
    }

    /// Sends raw bytes with a content type and no token.
    pub async fn raw_unauthenticated(
        &self,
        method: &str,
        uri: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        self.raw_as(method, uri, None, content_type, body).await
    }

    async fn raw_as(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", content_type);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        split(
            self.router
                .clone()
                .oneshot(req.body(Body::from(body)).unwrap())
                .await
                .unwrap(),
        )
        .await
    }

    /// Serves on 127.0.0.1:0; returns the address and a handle that shuts the server down.
    pub async fn spawn(&self) -> (std::net::SocketAddr, Stop, tokio::task::JoinHandle<()>) {
        self.spawn_with_send_buffer(None).await
    }

    /// As [`spawn`](Self::spawn), with the kernel send buffer of accepted sockets capped (they
    /// inherit it from the listener), as on a constrained network.
    pub async fn spawn_with_send_buffer(
        &self,
        send_buffer: Option<u32>,
    ) -> (std::net::SocketAddr, Stop, tokio::task::JoinHandle<()>) {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        if let Some(size) = send_buffer {
            socket.set_send_buffer_size(size).unwrap();
        }
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = socket.listen(1024).unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let state = self.state.clone();
        let task = tokio::spawn(async move {
            chat_http::serve(listener, state, async move {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        (addr, stop, task)
    }
}

/// A rate-limit policy that admits every send and needs no history.
#[derive(Debug)]
pub struct AdmitAll;

impl chat_core::RateLimitPolicy for AdmitAll {
    fn lookback(&self) -> Duration {
        Duration::ZERO
    }

    fn history_limit(&self) -> usize {
        0
    }

    fn check(&self, _: &chat_core::SendHistory<'_>) -> Result<(), Duration> {
        Ok(())
    }
}

/// Sending on it (or dropping it) shuts the spawned server down.
pub type Stop = tokio::sync::oneshot::Sender<()>;

pub async fn split(response: Response<Body>) -> (StatusCode, Value) {
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
    };
    (status, value)
}

/// The error code of an error body.
pub fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("<no error code>")
}

/// Expands each named `async fn case(store: Arc<dyn Store>)` of the calling test file into
/// two tests: `memory::case` on a `MemoryStore` and `postgres::case` on a fresh PostgreSQL
/// database (the caller includes the PostgreSQL test helpers as module `pg`).
#[allow(unused_macros)] // Not every test file runs on both stores.
macro_rules! on_both_stores {
    ($($case:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(std::sync::Arc::new(chat_store_memory::MemoryStore::new())).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(db) = super::pg::TestDb::fresh(8).await else { return };
                    super::$case(db.store()).await;
                    db.cleanup().await;
                }
            )*
        }
    };
}
#[allow(unused_imports)]
pub(crate) use on_both_stores;
