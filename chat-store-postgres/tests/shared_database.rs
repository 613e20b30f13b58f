//! chat-engine in a database a host already uses: the host's own `users` and `messages` tables
//! and its own sqlx migrations (`_sqlx_migrations`) stay exactly as they were, while chat's
//! tables and bookkeeping live in a schema of their own and work in full.

mod common;

use std::sync::Arc;

use chat_core::testing::{Harness, text};
use chat_core::{HistoryCursor, SearchRequest, Store};
use chat_store_postgres::{PostgresOptions, PostgresStore};
use sqlx::Row;

/// What the host's tables hold, as one comparable value.
async fn host_rows(pool: &sqlx::PgPool) -> Vec<String> {
    let mut rows = Vec::new();
    for sql in [
        "SELECT id::text || ':' || email FROM public.users ORDER BY id",
        "SELECT id::text || ':' || body FROM public.messages ORDER BY id",
        "SELECT version::text || ':' || description FROM public._sqlx_migrations ORDER BY version",
    ] {
        for row in sqlx::query(sql).fetch_all(pool).await.unwrap() {
            rows.push(row.get::<String, _>(0));
        }
    }
    rows
}

#[tokio::test]
async fn a_hosts_tables_and_migrations_are_untouched() {
    let Some(db) = common::TestDb::empty(4).await else {
        return;
    };
    // The host's database: integer-keyed users and messages, and its own migrations table
    // (sqlx's layout) with its own history.
    for sql in [
        "CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL UNIQUE)",
        "CREATE TABLE messages (id bigserial PRIMARY KEY, user_id integer REFERENCES users, body text)",
        "CREATE TABLE _sqlx_migrations (version bigint PRIMARY KEY, description text NOT NULL,
            installed_on timestamptz NOT NULL DEFAULT now(), success boolean NOT NULL,
            checksum bytea NOT NULL, execution_time bigint NOT NULL)",
        "INSERT INTO users (email) VALUES ('ada@host.example'), ('bob@host.example')",
        "INSERT INTO messages (user_id, body) VALUES (1, 'the host''s own message')",
        "INSERT INTO _sqlx_migrations VALUES (20240101000000, 'host users', now(), true, '\\x00', 1)",
    ] {
        sqlx::query(sql).execute(&db.pool).await.unwrap();
    }
    let before = host_rows(&db.pool).await;

    let connect = db.pool.connect_options().as_ref().clone();
    let store = PostgresStore::connect_with_options(connect.clone(), &PostgresOptions::default())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    // Twice, as every restart does.
    store.migrate().await.unwrap();

    // Chat works in full in its schema.
    let store: Arc<dyn Store> = Arc::new(store);
    let h = Harness::new(Arc::clone(&store)).await;
    let (owner, _event, room) = h.owner_event_room().await;
    h.chat
        .send_message(owner, room, text("hello from chat"))
        .await
        .unwrap();
    let page = h
        .chat
        .history(owner, room, HistoryCursor::LATEST, None)
        .await
        .unwrap();
    assert_eq!(page.messages.len(), 1);
    let hits = h
        .chat
        .search(
            owner,
            SearchRequest {
                query: "hello".into(),
                ..SearchRequest::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(hits.len(), 1);

    assert_eq!(
        host_rows(&db.pool).await,
        before,
        "the host's rows are untouched"
    );
    let public: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'
         ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        public,
        ["_sqlx_migrations", "messages", "users"],
        "nothing of chat's in public"
    );
    let chat_migrations: i64 = sqlx::query_scalar("SELECT count(*) FROM chat._sqlx_migrations")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(
        chat_migrations,
        i64::try_from(chat_store_postgres::MIGRATOR.iter().count()).unwrap(),
        "chat's bookkeeping is in its schema"
    );
    let chat_messages: i64 = sqlx::query_scalar("SELECT count(*) FROM chat.messages")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(chat_messages, 1);

    // A name that is not a plain identifier is refused before anything connects.
    let bad = PostgresOptions {
        schema: "chat; DROP TABLE users".into(),
        ..PostgresOptions::default()
    };
    assert!(matches!(
        PostgresStore::connect_with_options(connect, &bad).await,
        Err(chat_core::Error::Validation { .. })
    ));
    drop(h);
    db.cleanup().await;
}

/// Two installs of chat in one database (two schemas) each relay on their own channel: one's
/// changes never reach the other's instances.
#[tokio::test]
async fn two_installs_in_one_database_do_not_hear_each_other() {
    use chat_core::relay::Relay;
    use chat_core::{ChatService, NewEvent, NewRoom, ProfileInput, RoomKind, UserId, Visibility};
    use chat_store_postgres::PgNotifyLink;
    use sqlx::postgres::PgListener;

    let Some(db) = common::TestDb::empty(8).await else {
        return;
    };
    let connect = db.pool.connect_options().as_ref().clone();
    let install = |schema: &str| PostgresOptions {
        schema: schema.into(),
        ..PostgresOptions::default()
    };
    let a = PostgresStore::connect_with_options(connect.clone(), &install("team_a"))
        .await
        .unwrap();
    let b = PostgresStore::connect_with_options(connect.clone(), &install("team_b"))
        .await
        .unwrap();
    a.migrate().await.unwrap();
    b.migrate().await.unwrap();
    let (link_a, link_b) = (PgNotifyLink::for_store(&a), PgNotifyLink::for_store(&b));
    assert_eq!(link_a.channel(), "team_a_relay");
    assert_eq!(link_b.channel(), "team_b_relay");

    // What travels on each channel, heard by a listener of its own.
    let mut hear_a = PgListener::connect_with(&db.pool).await.unwrap();
    hear_a.listen("team_a_relay").await.unwrap();
    let mut hear_b = PgListener::connect_with(&db.pool).await.unwrap();
    hear_b.listen("team_b_relay").await.unwrap();

    let a: Arc<dyn Store> = Arc::new(a);
    let relay_a = Relay::new(Arc::clone(&a), link_a);
    let chat_a = ChatService::builder(a).broker(relay_a.clone()).build();
    let b: Arc<dyn Store> = Arc::new(b);
    let relay_b = Relay::new(Arc::clone(&b), link_b);
    let _chat_b = ChatService::builder(b).broker(relay_b.clone()).build();

    let ada = UserId::new();
    let profile = ProfileInput {
        display_name: "Ada".into(),
        avatar_url: None,
    };
    chat_a.upsert_profile(ada, profile).await.unwrap();
    let event = NewEvent {
        name: "Team A".into(),
        kind: String::new(),
    };
    let event = chat_a.create_event(ada, event).await.unwrap();
    let main = NewRoom {
        name: "Main".into(),
        kind: RoomKind::Main,
        visibility: Visibility::Public,
    };
    let room = chat_a.create_room(ada, event.id, main).await.unwrap();
    chat_a
        .send_message(ada, room.id, text("for team A only"))
        .await
        .unwrap();

    // Team A's channel carries the message; team B's carries nothing of it (a presence beat
    // of B's own relay may pass; nothing names A's room).
    let within = std::time::Duration::from_secs(5);
    let room_id = room.id.to_string();
    loop {
        let heard = tokio::time::timeout(within, hear_a.recv()).await;
        let note = heard.expect("team A's change on its channel").unwrap();
        if note.payload().contains(&room_id) {
            break;
        }
    }
    let quiet = std::time::Duration::from_millis(500);
    while let Ok(note) = tokio::time::timeout(quiet, hear_b.recv()).await {
        let note = note.unwrap();
        assert!(
            !note.payload().contains(&room_id) && !note.payload().contains(&ada.to_string()),
            "team B heard team A: {}",
            note.payload()
        );
    }
    relay_a.shutdown().await;
    relay_b.shutdown().await;
    drop((hear_a, hear_b));
    db.cleanup().await;
}
