//! The example server.
//!
//! The HTTP and WebSocket server arrives with the chat-http milestone. Until then this example
//! runs the engine in process on the in-memory store and walks through what the server will
//! expose: a demo event, live fan-out to a subscriber, mentions, an idempotent retry, the rate
//! limit, history and search.

use std::sync::Arc;

use chat_engine::{
    ChatService, Delivery, EventRole, HistoryCursor, MemoryStore, NewEvent, NewRoom, ProfileInput,
    RoomKind, SearchRequest, SendMessage, UserId, Visibility, mention,
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("chat-engine example (in-memory store)");
    println!("The HTTP + WebSocket server and browser client are coming in chat-http;");
    println!("this run exercises the same ChatService they will serve.\n");

    let chat = Arc::new(ChatService::new(Arc::new(MemoryStore::new())));
    let profile = |name: &str| ProfileInput {
        display_name: name.into(),
        avatar_url: None,
    };
    let (user1, user2, sarah) = (UserId::new(), UserId::new(), UserId::new());
    chat.upsert_profile(user1, profile("User One")).await?;
    chat.upsert_profile(user2, profile("User Two")).await?;
    chat.upsert_profile(sarah, profile("Sarah Chen")).await?;

    let event = chat
        .create_event(
            user1,
            NewEvent {
                name: "My Event".into(),
                kind: "party".into(),
            },
        )
        .await?;
    let main_room = NewRoom {
        name: "Main".into(),
        kind: RoomKind::Main,
        visibility: Visibility::Public,
    };
    let room = chat.create_room(user1, event.id, main_room).await?;
    for user in [user2, sarah] {
        chat.add_event_member(user1, event.id, user, EventRole::Member)
            .await?;
        chat.join_room(user, room.id).await?;
    }
    println!(
        "event {:?} with room {:?} and 3 members",
        event.name, room.name
    );

    let mut live = chat.subscribe(user2, room.id, None).await?;
    let text = format!(
        "Hey {} check this out!",
        mention::render("Sarah Chen", sarah)
    );
    let send = SendMessage {
        text,
        client_msg_id: Some("demo-1".into()),
        ..SendMessage::default()
    };
    let sent = chat.send_message(user1, room.id, send.clone()).await?;
    println!(
        "sent seq {} mentioning {} user(s)",
        sent.message.seq,
        sent.message.mentions.len()
    );
    if let Some(Delivery::Change(change)) = live.recv().await {
        println!(
            "User Two received {} #{} live",
            change.kind.name(),
            change.seq
        );
    }
    let retry = chat.send_message(user1, room.id, send).await?;
    println!(
        "retry with the same client_msg_id replayed: {}",
        retry.replayed
    );

    for i in 0..12 {
        let msg = SendMessage {
            text: format!("message {i}"),
            ..SendMessage::default()
        };
        if let Err(err) = chat.send_message(user2, room.id, msg).await {
            println!("send {} refused: {err} ({})", i + 1, err.code());
            break;
        }
    }
    let page = chat
        .history(sarah, room.id, HistoryCursor::LATEST, Some(3))
        .await?;
    println!("newest 3 of the history (more: {}):", page.has_more);
    for m in &page.messages {
        println!("  #{} {}: {}", m.seq, m.author_name, m.text);
    }
    let hits = chat
        .search(
            sarah,
            SearchRequest {
                query: "check".into(),
                room_id: None,
                limit: None,
            },
        )
        .await?;
    println!("search \"check\": {} hit(s)", hits.len());
    Ok(())
}
