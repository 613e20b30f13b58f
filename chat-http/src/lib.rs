//! # chat-http
//!
//! The axum adapter for chat-engine: REST under `/v1` for every
//! [`ChatService`](chat_core::ChatService) use case, the live WebSocket at `/v1/ws` with
//! lossless resume, a pluggable [`Authenticator`] with an HS256 JWT reference, and one JSON
//! error shape for everything.
//!
//! ```no_run
//! use std::sync::Arc;
//! use chat_core::ChatService;
//! use chat_http::{AppState, JwtAuthenticator};
//! # async fn run(store: Arc<dyn chat_core::Store>) -> std::io::Result<()> {
//! let chat = Arc::new(ChatService::new(store));
//! let state = AppState::new(chat, Arc::new(JwtAuthenticator::new(b"a long random secret")));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! // Any future works as the shutdown signal; a real server would wait for Ctrl-C.
//! chat_http::serve(listener, state, std::future::pending()).await
//! # }
//! ```
//!
//! # Layout
//!
//! - [`auth`]: the [`Authenticator`] and [`TokenIssuer`] traits, and [`NoBearerTokens`].
//! - [`jwt`]: [`JwtAuthenticator`], the HS256 reference (feature `jwt`).
//! - [`host_auth`]: callers the host authenticates (its session cookie, its middleware).
//! - [`client`]: the browser client, served under the host's prefix (feature `client`).
//! - [`background`]: the one handle that stops every background task and waits.
//! - [`attachments`]: streamed uploads, and downloads safe to open in a browser (signed
//!   links, ranges, `nosniff`, a sandboxing CSP).
//! - [`bots`]: service accounts for bots (`POST /v1/events/{id}/bots`).
//! - [`polls`]: votes, closing polls, and payload updates of structured messages.
//! - [`direct`]: direct rooms of a set of people (`POST /v1/dms`).
//! - [`feed`]: the change feed for hosts and bots (`POST /v1/feed`, with a long poll).
//! - [`webhooks`]: outgoing webhooks: registration, signed deliveries, the dispatcher
//!   (feature `webhooks`, with [`outbound`], the address rules of outgoing requests).
//! - [`presence`]: who is online (`GET /v1/presence`; live over the WebSocket).
//! - [`accounts`]: optional email-and-password sign-up and sign-in that issue bearer tokens
//!   (feature `accounts`).
//! - [`error`]: errors as `{"error": {...}}` responses with the design's status codes.
//! - [`extract`]: extractors whose rejections are such errors, and the authenticated [`Caller`](extract::Caller).
//! - [`rest`]: the `/v1` handlers and their request bodies.
//! - `ws`: the WebSocket protocol and connection loop.
//! - `openapi_rules`: the enforced limits and the WebSocket frames, written into the OpenAPI
//!   document.
//! - `openapi_shapes`: the document's shapes in forms client generators turn into code (files,
//!   room changes); `clients/run` generates a Python and a TypeScript client and runs them.
//! - `unread_body`: `Connection: close` on responses that leave the request body unread.
//! - [`observability`]: metrics and request timing; the Prometheus exporter behind the
//!   feature `prometheus`.
//!
//! # Features
//!
//! All on by default; a host turns off what it does not use (`default-features = false`), and
//! compiles none of its dependencies:
//!
//! | feature | what | brings |
//! |---|---|---|
//! | `media` | image uploads and profile pictures (chat-core's `media`) | image decoders |
//! | `client` | the browser client | nothing |
//! | `accounts` | email-and-password sign-up and sign-in | argon2 |
//! | `webhooks` | outgoing webhooks and their dispatcher | reqwest, rustls |
//! | `prometheus` | `/metrics` in the Prometheus format | metrics-exporter-prometheus |
//! | `jwt` | [`JwtAuthenticator`] | jsonwebtoken |
//!
//! A [`Parts`] switch whose feature is off mounts nothing (and says so in the log).
//! - [`state`]: [`AppState`] and the transport limits ([`HttpConfig`]).
//! - `serve`: [`serve`] and [`serve_router`], the accept loop with graceful shutdown.
//! - [`request_limits`]: URI and header bounds, answered in JSON.

#[cfg(feature = "accounts")]
pub mod accounts;
pub mod attachments;
pub mod auth;
pub mod avatars;
pub mod background;
pub mod bots;
#[cfg(feature = "client")]
pub mod client;
pub mod direct;
pub mod error;
pub mod extract;
pub mod feed;
pub mod host_auth;
#[cfg(feature = "jwt")]
pub mod jwt;
pub mod observability;
mod openapi_rules;
mod openapi_shapes;
#[cfg(feature = "webhooks")]
pub mod outbound;
pub mod polls;
pub mod presence;
pub mod request_limits;
pub mod rest;
mod serve;
pub mod state;
mod unread_body;
#[cfg(feature = "webhooks")]
pub mod webhooks;
mod ws;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderName, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chat_core::UserId;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

/// The attribute [`Authenticator`] implementations need, re-exported so a host does not
/// depend on `async-trait` itself.
pub use async_trait::async_trait;
pub use auth::{Authenticator, NoBearerTokens, TokenIssuer};
pub use error::ApiError;
pub use host_auth::{FromExtensions, HostUser, RequestAuthenticator};
#[cfg(feature = "jwt")]
pub use jwt::{Claims, JwtAuthenticator};
pub use serve::{serve, serve_router};
pub use state::{AppState, HttpConfig};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "chat-engine", description = "Embeddable real-time group chat: REST API. Live updates use the WebSocket at /v1/ws."),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

/// Declares the `bearer` (JWT) security scheme the operations refer to.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .build();
        api.components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// The optional parts of the API a router mounts (see [`router_with`]). Events, rooms,
/// members, messages, reactions, direct rooms, search, unread counts, the WebSocket and the
/// health checks are always there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "one switch per part, named as the host reads them"
)]
pub struct Parts {
    /// Sign-up and sign-in (`/v1/auth/…`), for hosts without their own identity; they also
    /// need [`AppState::with_accounts`].
    pub accounts: bool,
    /// Attachments (`/v1/rooms/{id}/uploads`, `/v1/attachments/…`) and profile pictures
    /// (`/v1/me/avatar`, `/v1/avatars/…`).
    pub files: bool,
    /// Bots and their tokens (`/v1/events/{id}/bots…`).
    pub bots: bool,
    /// Poll votes and structured payloads (`/v1/messages/{id}/poll…`, `…/payload`).
    pub polls: bool,
    /// The change feed (`POST /v1/feed`).
    pub feed: bool,
    /// Webhook registration and dead letters (`/v1/events/{id}/webhooks…`).
    pub webhooks: bool,
    /// Presence (`GET /v1/presence`).
    pub presence: bool,
    /// The OpenAPI document (`/v1/openapi.json`), describing just the parts mounted.
    pub openapi: bool,
}

impl Parts {
    /// Every part.
    pub const ALL: Self = Self {
        accounts: true,
        files: true,
        bots: true,
        polls: true,
        feed: true,
        webhooks: true,
        presence: true,
        openapi: true,
    };

    /// None of the optional parts.
    pub const NONE: Self = Self {
        accounts: false,
        files: false,
        bots: false,
        polls: false,
        feed: false,
        webhooks: false,
        presence: false,
        openapi: false,
    };
}

/// The routes of `parts` with their OpenAPI document, built together.
fn documented(parts: Parts) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    use utoipa::OpenApi;
    use utoipa_axum::router::OpenApiRouter;
    use utoipa_axum::routes;
    let optional = [
        (
            parts.files,
            attachments::routes as fn() -> OpenApiRouter<AppState>,
        ),
        (parts.files, avatars::routes),
        (parts.bots, bots::routes),
        (parts.polls, polls::routes),
        (parts.feed, feed::routes),
        (parts.presence, presence::routes),
        #[cfg(feature = "accounts")]
        (parts.accounts, accounts::routes),
        #[cfg(feature = "webhooks")]
        (parts.webhooks, webhooks::routes),
    ];
    #[cfg(not(feature = "accounts"))]
    if parts.accounts {
        tracing::warn!("Parts::accounts is on, but chat-http was built without `accounts`");
    }
    #[cfg(not(feature = "webhooks"))]
    if parts.webhooks {
        tracing::warn!("Parts::webhooks is on, but chat-http was built without `webhooks`");
    }
    let v1 = optional
        .into_iter()
        .filter(|(on, _)| *on)
        .fold(rest::routes().merge(direct::routes()), |v1, (_, part)| {
            v1.merge(part())
        })
        .routes(routes!(ws::upgrade));
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest("/v1", v1)
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .split_for_parts()
}

/// The OpenAPI 3.1 document of every route and of the WebSocket frames, with the default
/// [`Limits`](chat_core::Limits) written into its schemas. The router serves the document of
/// its own limits at `/v1/openapi.json` (see [`openapi_for`]).
#[must_use]
pub fn openapi() -> serde_json::Value {
    openapi_for(&chat_core::Limits::default(), &HttpConfig::default())
}

/// The OpenAPI document for a service with these limits and transport settings: every length,
/// page size and character rule the server enforces appears in the schemas.
#[must_use]
pub fn openapi_for(limits: &chat_core::Limits, config: &HttpConfig) -> serde_json::Value {
    with_rules(documented(Parts::ALL).1, limits, config)
}

fn with_rules(
    api: utoipa::openapi::OpenApi,
    limits: &chat_core::Limits,
    config: &HttpConfig,
) -> serde_json::Value {
    // Serializing the document's own types cannot fail.
    let mut api = serde_json::to_value(api).unwrap_or_default();
    openapi_shapes::apply(&mut api);
    openapi_rules::apply(&mut api, limits, config);
    api
}

/// The public HTTP surface: `/v1/…`, `/v1/ws`, `/v1/openapi.json`, `/healthz`, `/readyz`.
///
/// Prometheus metrics are not on it: they describe the whole server, so they are served by
/// [`metrics_router`] on a listener of their own, which operators keep on their monitoring
/// network. Nothing mounted here can expose them by accident.
pub fn router(state: AppState) -> Router {
    router_with(state, Parts::ALL)
}

/// As [`router`], with only the optional [`Parts`] a host wants: the others are not routed
/// (404 `no such route`) and not in the OpenAPI document.
pub fn router_with(state: AppState, parts: Parts) -> Router {
    let body_limit = state.config.body_limit;
    let (mut routes, api) = documented(parts);
    if parts.openapi {
        let api = std::sync::Arc::new(with_rules(api, state.chat.limits(), &state.config));
        let declared = !state.config.mount_path.is_empty();
        routes = routes.route(
            "/v1/openapi.json",
            get(
                move |axum::extract::OriginalUri(uri): axum::extract::OriginalUri| {
                    let api = std::sync::Arc::clone(&api);
                    async move {
                        // Nested without a declared mount path: the prefix the request came in
                        // under is where the API is, so the document says so.
                        match mount_prefix(uri.path(), "/v1/openapi.json") {
                            Some(prefix) if !declared => {
                                let mut api = (*api).clone();
                                api["servers"] = serde_json::json!([
                                    {"url": prefix, "description": "where the host mounts the API"}
                                ]);
                                axum::Json(api)
                            }
                            _ => axum::Json((*api).clone()),
                        }
                    }
                },
            ),
        );
    }
    routes
        .fallback(|| async { error::error_response(StatusCode::NOT_FOUND, "not_found", "no such route") })
        .method_not_allowed_fallback(|| async {
            error::error_response(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "method not allowed on this route")
        })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn(unread_body::close_if_body_unread))
        .layer(axum::middleware::from_fn(observability::track))
        .layer(axum::middleware::from_fn(request_limits::enforce))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<Body>| {
                let id = req.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
                // The path only: a query may carry a WebSocket token, and tokens never reach logs.
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
            }),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(state)
}

/// The prefix a nested router was reached under: `/chat` for `/chat/v1/me` and the route
/// `/v1/me`; `None` at the root.
pub(crate) fn mount_prefix<'a>(original: &'a str, route: &str) -> Option<&'a str> {
    original.strip_suffix(route).filter(|p| !p.is_empty())
}

/// `GET /metrics` only: the Prometheus text of [`AppState::with_metrics`] (404 without it;
/// feature `prometheus`).
/// Serve it on its own listener, such as `127.0.0.1:9464`:
///
/// ```no_run
/// # async fn run(state: chat_http::AppState) -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:9464").await?;
/// axum::serve(listener, chat_http::metrics_router(state)).await
/// # }
/// ```
#[cfg(feature = "prometheus")]
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(observability::render))
        .fallback(|| async {
            error::error_response(StatusCode::NOT_FOUND, "not_found", "no such route")
        })
        .with_state(state)
}

/// `/healthz`: 200 while the process serves requests.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "alive")))]
async fn healthz() -> &'static str {
    "ok"
}

/// `/readyz`: 200 when the store answers within `ready_timeout`, 503 otherwise. A load
/// balancer probing it gets an answer in time even while the database is unreachable.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses(
    (status = 200, description = "the store answers"),
    (status = 503, description = "the store did not answer in time, or failed", body = error::ErrorEnvelope)
))]
async fn readyz(State(state): State<AppState>) -> Response {
    let probe = state.chat.store().get_user(UserId::MIN);
    match tokio::time::timeout(state.config.ready_timeout, probe).await {
        Ok(Ok(_)) => "ready".into_response(),
        Ok(Err(e)) => ApiError(e).into_response(),
        Err(_) => ApiError(chat_core::Error::Unavailable {
            source: "the store did not answer within ready_timeout".into(),
        })
        .into_response(),
    }
}
