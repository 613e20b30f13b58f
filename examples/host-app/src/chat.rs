//! Chat, embedded: everything this app does to add chat-engine, through the library's public
//! API. Its tables go in the `chat` schema of the app's own database; its users are the app's
//! users (ids from theirs, profiles from their table); its caller is whoever the app's session
//! says; its client is served under `/chat`; its background work stops with the app.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use axum::http::{Extensions, HeaderMap};
use chat_blob_fs::FsBlobStore;
use chat_core::{
    ChatService, EventId, EventRole, NewEvent, NewRoom, ProfileInput, ProfileProvider, RoomKind,
    UserId, Visibility,
};
use chat_http::background::{Background, BackgroundConfig};
use chat_http::client::{self, ClientConfig, ClientSession};
use chat_http::{AppState, HttpConfig, NoBearerTokens, Parts, RequestAuthenticator};
use chat_store_postgres::{PostgresOptions, PostgresStore};
use sqlx::PgPool;
use sqlx::postgres::PgConnectOptions;
use tower_sessions::Session;

/// The namespace of this app's user numbers in chat's ids (see [`UserId::from_host_number`]).
const USERS: &str = "host-app";

/// The session key the app's sign-in writes its user's id under.
pub(crate) const SESSION_USER: &str = "user_id";

/// Where chat lives in the app's URL space.
pub(crate) const MOUNT: &str = "/chat";

/// The chat user of one of the app's users.
pub(crate) fn chat_user(id: i64) -> UserId {
    UserId::from_host_number(USERS, id)
}

/// Chat, running inside the app.
#[derive(Debug)]
pub(crate) struct Chat {
    /// The HTTP adapter's state: the app's shutdown tells its WebSockets to reconnect.
    pub(crate) state: AppState,
    /// The one event every user of the app is in: the team's.
    team: EventId,
}

impl Chat {
    /// Chat on the app's database (its own schema and pool), with attachments under `files`,
    /// and its background work (the upload collector), which the app stops after serving.
    pub(crate) async fn start(
        connect: PgConnectOptions,
        app_db: PgPool,
        files: PathBuf,
    ) -> chat_core::Result<(Self, Background)> {
        let store =
            PostgresStore::connect_with_options(connect, &PostgresOptions::default()).await?;
        store.migrate().await?;
        let blobs = FsBlobStore::open(files)
            .await
            .map_err(chat_core::Error::internal)?;
        let chat = Arc::new(
            ChatService::builder(Arc::new(store))
                .blobs(Arc::new(blobs))
                .profile_provider(Arc::new(AppUsers(app_db.clone())))
                .build(),
        );
        let team = team_event(&chat, &app_db).await?;
        let state = AppState::with_config(
            Arc::clone(&chat),
            Arc::new(NoBearerTokens),
            HttpConfig::default(),
        )
        .with_request_auth(Arc::new(AppSession));
        // The upload collector (chat-http is built without webhooks here, so no dispatcher).
        let background = Background::start(chat, BackgroundConfig::default());
        Ok((Self { state, team }, background))
    }

    /// Puts the app's user into the team's event and its main room (a no-op when they are
    /// already in): called at sign-up and sign-in.
    pub(crate) async fn admit(&self, user: i64) -> chat_core::Result<()> {
        self.state
            .chat
            .admit_to_event(self.team, chat_user(user), EventRole::Member)
            .await
            .map(|_| ())
    }

    /// The chat client and its API under [`MOUNT`]: the parts this app offers (no accounts,
    /// bots or webhooks: people sign in through the app), signed in by the app's session.
    pub(crate) fn router(&self) -> Router {
        let parts = Parts {
            accounts: false,
            bots: false,
            webhooks: false,
            ..Parts::ALL
        };
        let api = chat_http::router_with(self.state.clone(), parts);
        let config = ClientConfig {
            session: ClientSession::Host {
                sign_in: format!("/login?next={MOUNT}/"),
                sign_out: "/logout".into(),
            },
        };
        client::mount(MOUNT, api, &config)
    }
}

/// The team's event: made once, owned by a system user of the app's (`team`, who cannot sign
/// in), and remembered in the app's own settings table.
async fn team_event(chat: &ChatService, db: &PgPool) -> chat_core::Result<EventId> {
    let stored: Option<(String,)> =
        sqlx::query_as("SELECT value FROM settings WHERE key = 'team_event'")
            .fetch_optional(db)
            .await
            .map_err(chat_core::Error::internal)?;
    if let Some((id,)) = stored {
        return id.parse().map_err(chat_core::Error::internal);
    }
    let owner: (i64,) = sqlx::query_as(
        "INSERT INTO users (username, display_name, password_hash) VALUES ('team', 'Team', '!')
         ON CONFLICT (username) DO UPDATE SET username = EXCLUDED.username RETURNING id",
    )
    .fetch_one(db)
    .await
    .map_err(chat_core::Error::internal)?;
    let event = chat
        .create_event(
            chat_user(owner.0),
            NewEvent {
                name: "Team".into(),
                kind: "team".into(),
            },
        )
        .await?;
    let main = NewRoom {
        name: "Main".into(),
        kind: RoomKind::Main,
        visibility: Visibility::Public,
    };
    chat.create_room(chat_user(owner.0), event.id, main).await?;
    // Two instances starting at once: the first to store its event wins, and the other's
    // stays empty.
    let (id,): (String,) = sqlx::query_as(
        "INSERT INTO settings (key, value) VALUES ('team_event', $1)
         ON CONFLICT (key) DO UPDATE SET key = EXCLUDED.key RETURNING value",
    )
    .bind(event.id.to_string())
    .fetch_one(db)
    .await
    .map_err(chat_core::Error::internal)?;
    id.parse().map_err(chat_core::Error::internal)
}

/// Chat's caller is the user the app's session names, read on every request: signing out of
/// the app ends chat access at once.
#[derive(Debug)]
struct AppSession;

#[async_trait]
impl RequestAuthenticator for AppSession {
    async fn caller(
        &self,
        _headers: &HeaderMap,
        extensions: &Extensions,
    ) -> chat_core::Result<Option<UserId>> {
        // The app's session layer wraps every route, chat's included.
        let Some(session) = extensions.get::<Session>() else {
            return Ok(None);
        };
        let user: Option<i64> = session
            .get(SESSION_USER)
            .await
            .map_err(chat_core::Error::unavailable)?;
        Ok(user.map(chat_user))
    }
}

/// Profiles from the app's `users` table, asked the first time chat meets a user.
#[derive(Debug)]
struct AppUsers(PgPool);

#[async_trait]
impl ProfileProvider for AppUsers {
    async fn profile(&self, user: UserId) -> chat_core::Result<Option<ProfileInput>> {
        let Some(id) = user.host_number(USERS) else {
            return Ok(None);
        };
        let name: Option<(String,)> =
            sqlx::query_as("SELECT display_name FROM users WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.0)
                .await
                .map_err(chat_core::Error::unavailable)?;
        Ok(name.map(|(display_name,)| ProfileInput {
            display_name,
            avatar_url: None,
        }))
    }
}
