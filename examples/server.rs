//! The example server: chat-engine's REST API and live WebSocket on one port.
//!
//! ```sh
//! cargo run --example server                      # in memory, on 127.0.0.1:3000
//! DATABASE_URL=postgres://… cargo run --example server   # on PostgreSQL (migrates on start)
//! cargo run --example server -- --help            # every flag
//! ```
//!
//! Accounts (sign-up, sign-in) and the browser client come with the next milestone; until
//! then the server seeds a demo event and prints a token for each demo user, so the API can be
//! tried with curl or any WebSocket client.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chat_core::{
    ChatService, EventRole, Limits, NewEvent, NewRoom, ProfileInput, RoomKind, Store, UserId,
    Visibility,
};
use chat_http::{AppState, JwtAuthenticator};
use chat_store_memory::MemoryStore;
use chat_store_postgres::PostgresStore;
use clap::Parser;

/// chat-engine example server.
#[derive(Debug, Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "CHAT_BIND", default_value = "127.0.0.1:3000")]
    bind: SocketAddr,
    /// PostgreSQL URL; without one, data lives in memory for the life of the process.
    #[arg(long, env = "DATABASE_URL")]
    database_url: Option<String>,
    /// HS256 secret for tokens; without one, a random secret is generated for this run.
    #[arg(long, env = "CHAT_JWT_SECRET", hide_env_values = true)]
    jwt_secret: Option<String>,
    /// Do not seed the demo event and users.
    #[arg(long)]
    no_demo: bool,
    /// Log as JSON lines instead of human-readable text.
    #[arg(long)]
    json_logs: bool,
    /// Messages a user may send per minute.
    #[arg(long, env = "CHAT_SEND_RATE", default_value_t = 10)]
    send_rate: u32,
    /// Longest message, in characters.
    #[arg(long, env = "CHAT_MAX_TEXT", default_value_t = 5000)]
    max_text: usize,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,tower_http=info".into());
    if args.json_logs {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .json()
            .init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }

    let store: Arc<dyn Store> = match &args.database_url {
        Some(url) => {
            let store = PostgresStore::connect(url).await?;
            store.migrate().await?;
            tracing::info!("using PostgreSQL (migrations applied)");
            Arc::new(store)
        }
        None => {
            tracing::info!("using the in-memory store: data lasts as long as this process");
            Arc::new(MemoryStore::new())
        }
    };
    let secret = match args.jwt_secret {
        Some(s) => s,
        None => {
            tracing::warn!(
                "no --jwt-secret given: generated a random one; tokens stop working when the server restarts"
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
    let chat = Arc::new(ChatService::builder(store).limits(limits).build());
    let jwt = Arc::new(JwtAuthenticator::new(secret.as_bytes()));
    let listener = tokio::net::TcpListener::bind(args.bind).await?;
    let addr = listener.local_addr()?;
    if !args.no_demo {
        seed_demo(&chat, &jwt, addr).await?;
    }
    println!(
        "chat-engine listening on http://{addr}  (REST under /v1, WebSocket at ws://{addr}/v1/ws, Prometheus at /metrics)"
    );
    let state = AppState::new(chat, jwt).with_metrics();
    chat_http::serve(listener, state, async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
    })
    .await?;
    Ok(())
}

/// "My Event" with a Main room and three members, and a token for each printed to the console.
async fn seed_demo(
    chat: &ChatService,
    jwt: &JwtAuthenticator,
    bind: SocketAddr,
) -> Result<(), Box<dyn std::error::Error>> {
    let names = ["User One", "User Two", "Sarah Chen"];
    let users: Vec<UserId> = names.iter().map(|_| UserId::new()).collect();
    for (user, name) in users.iter().zip(names) {
        chat.upsert_profile(
            *user,
            ProfileInput {
                display_name: name.into(),
                avatar_url: None,
            },
        )
        .await?;
    }
    let event = chat
        .create_event(
            users[0],
            NewEvent {
                name: "My Event".into(),
                kind: "party".into(),
            },
        )
        .await?;
    let room = chat
        .create_room(
            users[0],
            event.id,
            NewRoom {
                name: "Main".into(),
                kind: RoomKind::Main,
                visibility: Visibility::Public,
            },
        )
        .await?;
    for user in &users[1..] {
        chat.add_event_member(users[0], event.id, *user, EventRole::Member)
            .await?;
        chat.join_room(*user, room.id).await?;
    }
    println!(
        "demo: event \"My Event\" ({}) with room \"Main\" ({})",
        event.id, room.id
    );
    for (user, name) in users.iter().zip(names) {
        let token = jwt.issue(*user, Duration::from_secs(24 * 3600))?;
        println!("demo user {name:<11} token: {token}");
    }
    println!(
        "try: curl -H \"Authorization: Bearer <token>\" http://{bind}/v1/rooms/{}/messages",
        room.id
    );
    Ok(())
}
