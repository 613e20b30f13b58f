//! An existing app that adds chat: an axum server with cookie sessions (tower-sessions, stored
//! in PostgreSQL), its own `users` table with integer ids and its own sqlx migrations, into
//! which chat-engine is embedded under `/chat` with its browser client. Everything chat-specific
//! is in `chat.rs`, on the library's public API only.
//!
//! ```text
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo run -p host-app
//! ```
//!
//! Then open <http://127.0.0.1:3100/>, sign up, and open the team chat.

mod chat;
mod pages;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use clap::Parser;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::chat::Chat;
use crate::pages::App;

/// The host app's settings.
#[derive(Debug, Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:3100")]
    bind: SocketAddr,
    /// The app's PostgreSQL database, which chat shares (in a schema of its own).
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    /// Where attachments and pictures are kept.
    #[arg(long, default_value = "host-app-files")]
    files: PathBuf,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();

    // The app's own database, tables and migrations (in `public`, with their own
    // `_sqlx_migrations`), and its sessions (in `tower_sessions`).
    let connect = PgConnectOptions::from_str(&args.database_url)?;
    let db = PgPoolOptions::new()
        .max_connections(5)
        .connect_with(connect.clone())
        .await?;
    sqlx::migrate!("./migrations").run(&db).await?;
    let sessions = tower_sessions_sqlx_store::PostgresStore::new(db.clone());
    sessions.migrate().await?;

    // Chat, in the `chat` schema of the same database.
    let (chat, background) = Chat::start(connect, db.clone(), args.files).await?;
    let chat = Arc::new(chat);
    let state = chat.state.clone();
    let app = pages::router(App {
        db,
        chat: Arc::clone(&chat),
    })
    .merge(chat.router())
    // The session wraps chat's routes too: chat reads its user from it on every request.
    .layer(
        SessionManagerLayer::new(sessions)
            // Plain HTTP on loopback here; behind TLS, secure cookies.
            .with_secure(false)
            .with_same_site(SameSite::Lax)
            .with_expiry(Expiry::OnInactivity(time::Duration::hours(8))),
    );

    let listener = tokio::net::TcpListener::bind(args.bind).await?;
    println!("host app listening on http://{}/", listener.local_addr()?);
    // chat-http's server: on Ctrl-C or SIGTERM it stops accepting, tells chat's WebSockets to
    // reconnect elsewhere (close code 1012) and waits for requests in flight.
    chat_http::serve_router(listener, app, state, shutdown_signal()).await?;
    background.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            term.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
