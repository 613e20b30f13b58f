//! One handle stops everything chat runs in the background. A real server on port 0 over
//! PostgreSQL, with a LISTEN/NOTIFY relay, the webhook dispatcher and the upload collector,
//! serves a WebSocket client a message sent through the group committer; after the server
//! stops and `Background::shutdown` returns, no task of chat's is left on the runtime.

#[path = "../../chat-store-postgres/tests/common/mod.rs"]
mod pg;

use std::sync::Arc;
use std::time::Duration;

use chat_core::relay::Relay;
use chat_core::{
    ChatService, NewEvent, NewRoom, ProfileInput, RoomKind, SendMessage, Store, UserId, Visibility,
};
use chat_http::background::{Background, BackgroundConfig};
use chat_http::{AppState, JwtAuthenticator};
use chat_store_postgres::PgNotifyLink;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// The next text frame of `ws` that is not a pong, as JSON.
async fn next_text<S>(ws: &mut S) -> Value
where
    S: futures::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a frame within 10 s");
        if let Some(Ok(Message::Text(text))) = frame {
            return serde_json::from_str(text.as_str()).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_runs_after_shutdown() {
    let Some(db) = pg::TestDb::fresh(8).await else {
        return;
    };
    let runtime = tokio::runtime::Handle::current();
    let before = runtime.metrics().num_alive_tasks();
    {
        let store: Arc<dyn Store> = Arc::new(db.postgres_store());
        let link = PgNotifyLink::new(db.pool.clone());
        let relay = Relay::new(Arc::clone(&store), link.clone());
        let chat = Arc::new(ChatService::builder(store).broker(relay.clone()).build());
        let jwt = Arc::new(JwtAuthenticator::new(b"lifecycle test secret"));
        let state = AppState::new(Arc::clone(&chat), jwt.clone());
        let background = Background::start(Arc::clone(&chat), BackgroundConfig::default());

        let ada = UserId::new();
        let profile = ProfileInput {
            display_name: "Ada".into(),
            avatar_url: None,
        };
        chat.upsert_profile(ada, profile).await.unwrap();
        let event = NewEvent {
            name: "Trip".into(),
            kind: String::new(),
        };
        let event = chat.create_event(ada, event).await.unwrap();
        let main = NewRoom {
            name: "Main".into(),
            kind: RoomKind::Main,
            visibility: Visibility::Public,
        };
        let room = chat.create_room(ada, event.id, main).await.unwrap();

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(chat_http::serve(listener, state, async move {
            let _ = stopped.await;
        }));

        // A live subscriber, and a plain send (the group committer's) relayed to it.
        let token = jwt.issue(ada, Duration::from_secs(600)).unwrap();
        let (mut ws, _) =
            tokio_tungstenite::connect_async(format!("ws://{addr}/v1/ws?token={token}"))
                .await
                .unwrap();
        let subscribe = json!({"type": "subscribe", "room_id": room.id});
        ws.send(Message::Text(subscribe.to_string().into()))
            .await
            .unwrap();
        assert_eq!(next_text(&mut ws).await["type"], "subscribed");
        let text = SendMessage {
            text: "still here?".into(),
            ..SendMessage::default()
        };
        chat.send_message(ada, room.id, text).await.unwrap();
        let change = next_text(&mut ws).await;
        assert_eq!(change["data"]["text"], "still here?", "{change}");

        assert!(relay.running_tasks() > 0 && link.running_tasks() > 0);
        assert_eq!(background.running(), 2, "the dispatcher and the collector");
        assert!(runtime.metrics().num_alive_tasks() > before);

        // The server tells the client to reconnect (1012) and waits for its answer.
        stop.send(()).unwrap();
        let closed = tokio::spawn(async move { while ws.next().await.is_some() {} });
        server.await.unwrap().unwrap();
        closed.await.unwrap();
        background.shutdown().await;
        assert_eq!(relay.running_tasks(), 0, "the relay's tasks");
        assert_eq!(link.running_tasks(), 0, "the link's send and listen loops");
    }
    // Ended tasks leave the count once the runtime has seen them end; a task still running
    // never does. (The pool's own tasks from before may have ended meanwhile: at most as many
    // as before.)
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while runtime.metrics().num_alive_tasks() > before && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let after = runtime.metrics().num_alive_tasks();
    assert!(
        after <= before,
        "{after} tasks alive after shutdown, {before} before chat started"
    );
    db.cleanup().await;
}
