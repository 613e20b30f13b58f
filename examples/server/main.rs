//! The example server: chat-engine's REST API, live WebSocket, sign-up and sign-in, and a
//! browser client, on one port.
//!
//! ```sh
//! cargo run --example server                      # in memory, on 127.0.0.1:3000, with demo data
//! DATABASE_URL=postgres://… cargo run --example server   # on PostgreSQL (migrates on start);
//!                                                 # instances share live changes by LISTEN/NOTIFY
//! cargo run --example server -- --help            # every flag
//! ```
//!
//! Open the printed URL in two browser windows, sign in as two demo users (their passwords
//! are printed at start-up) or sign up, and chat.

mod demo;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chat_blob_fs::FsBlobStore;
use chat_blob_s3::{S3BlobStore, S3Config};
use chat_broker_nats::NatsLink;
use chat_core::relay::Relay;
use chat_core::{
    AttachmentPolicy, BlobStore, Broker, ChatService, InProcessBroker, Limits, MemoryBlobStore,
    OutboundPolicy, Store, WebhookRegistration,
};
use chat_http::accounts::{Accounts, AccountsConfig};
use chat_http::attachments::LinkKey;
use chat_http::background::{Background, BackgroundConfig};
use chat_http::client::{self, ClientConfig};
use chat_http::webhooks::DispatcherConfig;
use chat_http::{AppState, HttpConfig, JwtAuthenticator};
use chat_store_memory::MemoryStore;
use chat_store_postgres::{PgNotifyLink, PostgresOptions, PostgresStore};
use clap::Parser;

/// chat-engine example server.
#[derive(Debug, Parser)]
#[command(about, long_about = None)]
struct Args {
    /// Address to listen on. Port 0 picks a free port (the URL is printed).
    #[arg(long, env = "CHAT_BIND", default_value = "127.0.0.1:3000")]
    bind: SocketAddr,
    /// PostgreSQL URL; without one, data lives in memory for the life of the process.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// HS256 secret for tokens (at least 32 bytes); without one, a random secret is generated
    /// for this run, and tokens stop working when the server restarts.
    #[arg(long, env = "CHAT_JWT_SECRET", hide_env_values = true)]
    jwt_secret: Option<String>,
    /// Seed "My Event" with a Main room and demo users (the default in memory; on PostgreSQL
    /// it is opt-in and idempotent).
    #[arg(long, overrides_with = "no_demo")]
    demo: bool,
    /// Do not seed demo data.
    #[arg(long)]
    no_demo: bool,
    /// The demo users' password; without one, each gets a random password, printed at start.
    #[arg(long, env = "CHAT_DEMO_PASSWORD", hide_env_values = true)]
    demo_password: Option<String>,
    /// Log as JSON lines instead of human-readable text.
    #[arg(long)]
    json_logs: bool,
    /// Messages a user may send per minute.
    #[arg(long, env = "CHAT_SEND_RATE", default_value_t = 10)]
    send_rate: u32,
    /// Longest message, in characters.
    #[arg(long, env = "CHAT_MAX_TEXT", default_value_t = 5000)]
    max_text: usize,
    /// Largest request body or WebSocket frame, in bytes.
    #[arg(long, env = "CHAT_MAX_BODY", default_value_t = 64 * 1024)]
    max_body: usize,
    /// Hours a signed-in session's token stays valid.
    #[arg(long, env = "CHAT_TOKEN_TTL_HOURS", default_value_t = 24)]
    token_ttl_hours: u64,
    /// Sign-in attempts allowed per email per minute.
    #[arg(long, env = "CHAT_SIGN_IN_RATE", default_value_t = 10)]
    sign_in_rate: usize,
    /// Where Prometheus metrics are served (`/metrics`), apart from the public port; `off`
    /// serves none. Keep it on a loopback or monitoring address.
    #[arg(long, env = "CHAT_METRICS_BIND", default_value = "127.0.0.1:9464")]
    metrics_bind: String,
    /// PostgreSQL connections in the pool.
    #[arg(long, env = "CHAT_DB_MAX_CONNECTIONS", default_value_t = 16)]
    db_max_connections: u32,
    /// How long a request waits for a database connection before failing with 503 and
    /// `Retry-After`, in milliseconds.
    #[arg(long, env = "CHAT_DB_ACQUIRE_TIMEOUT_MS", default_value_t = 1000)]
    db_acquire_timeout_ms: u64,
    /// The PostgreSQL schema chat's tables (and its migrations' bookkeeping) live in, so they
    /// share a database with other applications' tables without touching them.
    #[arg(long, env = "CHAT_DB_SCHEMA", default_value = chat_store_postgres::DEFAULT_SCHEMA)]
    db_schema: String,
    /// How long `/readyz` waits for the store before answering 503, in milliseconds.
    #[arg(long, env = "CHAT_READY_TIMEOUT_MS", default_value_t = 800)]
    ready_timeout_ms: u64,
    /// Serve everything (the client, the API, the WebSocket) under this path, such as `/chat`,
    /// as a host that nests the router under a prefix would. Empty: at the root.
    #[arg(long, env = "CHAT_BASE_PATH", default_value = "", value_parser = base_path)]
    base_path: String,
    /// How long a signed attachment link works, in seconds. A link keeps working for anyone
    /// who holds it until then, even after its requester leaves the room or is banned.
    #[arg(long, env = "CHAT_ATTACHMENT_LINK_TTL_SECS", default_value_t = 600)]
    attachment_link_ttl_secs: u64,
    /// Let event owners and admins register webhooks. Off by default: a webhook makes the
    /// server send requests to a URL a user chose (always to public addresses only; see
    /// `--webhook-allow`).
    #[arg(long, env = "CHAT_WEBHOOKS")]
    webhooks: bool,
    /// A network webhooks may reach beyond the public internet, such as `10.1.0.0/16` for the
    /// host's own receivers (repeatable). Loopback, private, link-local and reserved addresses
    /// are refused otherwise, however written.
    #[arg(
        long = "webhook-allow",
        env = "CHAT_WEBHOOK_ALLOW",
        value_delimiter = ','
    )]
    webhook_allow: Vec<chat_core::outbound::IpNet>,
    /// Do not deliver webhooks from this instance. Deliveries are at least once either way;
    /// with several instances, let one deliver, or each delivers every change.
    #[arg(long, env = "CHAT_NO_WEBHOOK_DISPATCH")]
    no_webhook_dispatch: bool,
    /// How live changes reach clients on other instances: `memory` (this process only),
    /// `postgres` (LISTEN/NOTIFY on the database; the default with `--database-url`) or
    /// `nats` (see `--nats-url`).
    #[arg(long, env = "CHAT_BROKER", value_enum)]
    broker: Option<BrokerKind>,
    /// The NATS server(s) for `--broker nats`, comma-separated.
    #[arg(long, env = "NATS_URL", default_value = "nats://127.0.0.1:4222")]
    nats_url: String,
    /// Where attachment bytes live: `memory` (the default with the in-memory store), `fs`
    /// (files under `--blob-dir`; the default with `--database-url`) or `s3` (an
    /// S3-compatible bucket, see `--s3-bucket`; credentials from the `AWS_*` variables).
    #[arg(long, env = "CHAT_BLOB_STORE", value_enum)]
    blob_store: Option<BlobKind>,
    /// The directory of `--blob-store fs` (created if missing).
    #[arg(long, env = "CHAT_BLOB_DIR", default_value = "chat-blobs")]
    blob_dir: std::path::PathBuf,
    /// The bucket of `--blob-store s3`.
    #[arg(long, env = "CHAT_S3_BUCKET")]
    s3_bucket: Option<String>,
    /// A custom S3 endpoint (MinIO, Ceph, R2, a local test server).
    #[arg(long, env = "CHAT_S3_ENDPOINT")]
    s3_endpoint: Option<String>,
    /// A key prefix inside the bucket.
    #[arg(long, env = "CHAT_S3_PREFIX")]
    s3_prefix: Option<String>,
    /// Hours an upload may wait to be attached to a message before it is deleted.
    #[arg(long, env = "CHAT_UPLOAD_TTL_HOURS", default_value_t = 24)]
    upload_ttl_hours: u64,
}

/// The fan-out between instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum BrokerKind {
    /// One process: the in-process hub.
    Memory,
    /// PostgreSQL LISTEN/NOTIFY (needs `--database-url`).
    Postgres,
    /// NATS core subjects.
    Nats,
}

/// Where attachment bytes live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum BlobKind {
    /// Process memory: gone on restart, like the in-memory store.
    Memory,
    /// Files in `--blob-dir`.
    Fs,
    /// An S3-compatible bucket.
    S3,
}

/// How often unattached and deleted uploads are collected.
const COLLECT_EVERY: Duration = Duration::from_secs(10 * 60);

/// Shortest `--jwt-secret` accepted: HS256 keys shorter than the hash output are guessable.
const MIN_SECRET_BYTES: usize = 32;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    init_logging(args.json_logs);

    // The store, and with PostgreSQL the NOTIFY link of its schema.
    let (store, pg): (Arc<dyn Store>, Option<Arc<PgNotifyLink>>) = match &args.database_url {
        Some(url) => {
            let options = PostgresOptions {
                max_connections: args.db_max_connections,
                acquire_timeout: Duration::from_millis(args.db_acquire_timeout_ms),
                schema: args.db_schema.clone(),
            };
            let store = PostgresStore::connect_with(url, &options).await?;
            store.migrate().await?;
            tracing::info!("using PostgreSQL (migrations applied)");
            let link = PgNotifyLink::for_store(&store);
            (Arc::new(store), Some(link))
        }
        None => {
            tracing::info!("using the in-memory store: data lasts as long as this process");
            (Arc::new(MemoryStore::new()), None)
        }
    };
    let in_memory = pg.is_none();
    let broker_kind = args.broker.unwrap_or(if in_memory {
        BrokerKind::Memory
    } else {
        BrokerKind::Postgres
    });
    let relay: Option<Arc<Relay>> = match (broker_kind, &pg) {
        (BrokerKind::Memory, _) => None,
        (BrokerKind::Postgres, Some(link)) => {
            tracing::info!(
                channel = link.channel(),
                "live changes cross instances through PostgreSQL LISTEN/NOTIFY"
            );
            Some(Relay::new(Arc::clone(&store), Arc::clone(link) as Arc<_>))
        }
        (BrokerKind::Postgres, None) => {
            return Err("--broker postgres needs --database-url".into());
        }
        (BrokerKind::Nats, _) => {
            if in_memory {
                tracing::warn!(
                    "--broker nats with the in-memory store: instances do not share data, only live signals"
                );
            }
            tracing::info!(url = %args.nats_url, "live changes cross instances through NATS");
            Some(Relay::new(
                Arc::clone(&store),
                NatsLink::connect(&args.nats_url).await?,
            ))
        }
    };
    let broker: Arc<dyn Broker> = match &relay {
        Some(relay) => Arc::clone(relay) as Arc<dyn Broker>,
        None => Arc::new(InProcessBroker::new()),
    };
    let secret = match args.jwt_secret {
        Some(s) if s.len() >= MIN_SECRET_BYTES => s,
        Some(_) => {
            return Err(format!("--jwt-secret must be at least {MIN_SECRET_BYTES} bytes").into());
        }
        None => {
            tracing::warn!(
                "no --jwt-secret given: generated a random one for this run; sessions end when the server restarts"
            );
            format!(
                "{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            )
        }
    };
    let limits = Limits {
        send_rate_max: args.send_rate,
        max_text_chars: args.max_text,
        ..Limits::default()
    };
    let blobs: Arc<dyn BlobStore> = match args.blob_store.unwrap_or(if in_memory {
        BlobKind::Memory
    } else {
        BlobKind::Fs
    }) {
        BlobKind::Memory => Arc::new(MemoryBlobStore::new()),
        BlobKind::Fs => {
            tracing::info!(dir = %args.blob_dir.display(), "attachments are stored as files");
            Arc::new(FsBlobStore::open(&args.blob_dir).await?)
        }
        BlobKind::S3 => {
            let bucket = args
                .s3_bucket
                .clone()
                .ok_or("--blob-store s3 needs --s3-bucket")?;
            tracing::info!(%bucket, "attachments are stored in S3");
            Arc::new(S3BlobStore::new(S3Config {
                bucket,
                endpoint: args.s3_endpoint.clone(),
                prefix: args.s3_prefix.clone(),
                ..S3Config::default()
            })?)
        }
    };
    let chat = Arc::new(
        ChatService::builder(store)
            .broker(broker)
            .limits(limits)
            .blobs(blobs)
            .attachment_policy(AttachmentPolicy {
                unattached_ttl: Duration::from_secs(args.upload_ttl_hours * 3600),
                ..AttachmentPolicy::default()
            })
            .webhook_registration(if args.webhooks {
                WebhookRegistration::EventAdmins
            } else {
                WebhookRegistration::Off
            })
            .outbound_policy(
                args.webhook_allow
                    .iter()
                    .fold(OutboundPolicy::public_only(), |p, net| p.allow(*net)),
            )
            .build(),
    );
    let jwt = Arc::new(JwtAuthenticator::new(secret.as_bytes()));

    let seed = if args.demo {
        true
    } else {
        !args.no_demo && in_memory
    };
    let welcome_event = if seed {
        Some(demo::seed(&chat, args.demo_password.as_deref()).await?)
    } else {
        None
    };
    let accounts = Accounts::new(
        Arc::clone(&jwt) as Arc<dyn chat_http::TokenIssuer>,
        AccountsConfig {
            token_ttl: Duration::from_secs(args.token_ttl_hours * 3600),
            attempts_per_email: args.sign_in_rate,
            welcome_event,
            ..AccountsConfig::default()
        },
    )?;
    let config = HttpConfig {
        body_limit: args.max_body,
        ws_max_message: args.max_body,
        ready_timeout: Duration::from_millis(args.ready_timeout_ms),
        mount_path: args.base_path.clone(),
        attachment_link_ttl: Duration::from_secs(args.attachment_link_ttl_secs),
        ..HttpConfig::default()
    };
    // Links signed on one instance must verify on every other: derive the key from the shared
    // JWT secret (with a label, so the two keys differ).
    let link_key = LinkKey::new(format!("chat-engine attachment links\0{secret}"));
    let state = AppState::with_config(
        chat,
        Arc::clone(&jwt) as Arc<dyn chat_http::Authenticator>,
        config,
    )
    .with_link_key(link_key)
    .with_metrics()
    .with_accounts(accounts);

    // The webhook dispatcher and the upload collector, stopped and waited for at shutdown.
    let background = Background::start(
        Arc::clone(&state.chat),
        BackgroundConfig {
            webhooks: (!args.no_webhook_dispatch).then(DispatcherConfig::default),
            collect_uploads_every: Some(COLLECT_EVERY),
        },
    );
    let listener = tokio::net::TcpListener::bind(args.bind).await?;
    let addr = listener.local_addr()?;
    serve_metrics(&args.metrics_bind, &state).await?;
    let api = chat_http::router(state.clone());
    let app = if args.base_path.is_empty() {
        api.merge(client::routes(&ClientConfig::default()))
    } else {
        client::mount(&args.base_path, api, &ClientConfig::default())
    };
    let base = &args.base_path;
    println!(
        "chat-engine listening on http://{addr}{base}/  (open it in a browser; API under {base}/v1)"
    );
    chat_http::serve_router(listener, app, state, shutdown_signal()).await?;
    // The dispatcher and collector, then the relay (and its link) and the store's committer.
    background.shutdown().await;
    Ok(())
}

/// Serves `/metrics` on its own listener, unless `bind` is `off`. An address already in use
/// (a second server on one machine) costs the metrics, not the server.
async fn serve_metrics(bind: &str, state: &AppState) -> Result<(), Box<dyn std::error::Error>> {
    if bind.eq_ignore_ascii_case("off") {
        return Ok(());
    }
    let addr: SocketAddr = bind
        .parse()
        .map_err(|e| format!("--metrics-bind {bind:?}: {e}"))?;
    match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => {
            let local = listener.local_addr()?;
            println!("Prometheus metrics on http://{local}/metrics");
            let metrics = chat_http::metrics_router(state.clone());
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, metrics).await {
                    tracing::warn!(error = %e, "the metrics listener stopped");
                }
            });
        }
        Err(e) => tracing::warn!(%addr, error = %e, "not serving metrics: cannot bind"),
    }
    Ok(())
}

/// `--base-path`: empty, or `/` and path segments of URL-safe characters, without a trailing
/// slash (`/chat`, `/apps/chat`).
fn base_path(value: &str) -> Result<String, String> {
    let trimmed = value.trim_end_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    let segments_ok = trimmed.strip_prefix('/').is_some_and(|rest| {
        rest.split('/').all(|s| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c))
        })
    });
    if segments_ok {
        Ok(trimmed.to_owned())
    } else {
        Err(format!("{value:?} is not a path such as /chat"))
    }
}

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,tower_http=info".into());
    if json {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .json()
            .init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
}

/// Ctrl-C or SIGTERM (what `kill` and container runtimes send).
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
