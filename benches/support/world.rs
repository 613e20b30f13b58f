//! The smallest chat world a benchmark needs: profiles, and an event with a public Main room.

use chat_engine::{
    ChatService, Event, NewEvent, NewRoom, ProfileInput, Room, RoomKind, UserId, Visibility,
};

/// Stores a profile for `user`.
pub(crate) async fn profile(chat: &ChatService, user: UserId, name: &str) {
    chat.upsert_profile(
        user,
        ProfileInput {
            display_name: name.into(),
            avatar_url: None,
        },
    )
    .await
    .unwrap();
}

/// An event owned by `owner` (who must have a profile) with a public Main room.
pub(crate) async fn main_room(chat: &ChatService, owner: UserId) -> (Event, Room) {
    let event = chat
        .create_event(
            owner,
            NewEvent {
                name: "Bench".into(),
                kind: String::new(),
            },
        )
        .await
        .unwrap();
    let room = chat
        .create_room(
            owner,
            event.id,
            NewRoom {
                name: "Main".into(),
                kind: RoomKind::Main,
                visibility: Visibility::Public,
            },
        )
        .await
        .unwrap();
    (event, room)
}
