//! Demo data: "My Event" with a Main room and three accounts, so a newcomer can sign in from
//! two windows and chat at once.

use chat_core::{
    ChatService, EventId, EventRole, NewEvent, NewRoom, ProfileInput, RoomKind, UserId, Visibility,
};

/// The demo accounts: (email, display name).
const USERS: [(&str, &str); 3] = [
    ("user1@example.com", "User One"),
    ("user2@example.com", "User Two"),
    ("sarah@example.com", "Sarah Chen"),
];

/// Seeds the demo event, room and accounts, or finds them when an earlier run (on
/// PostgreSQL) already did. Returns the event and its owner, which new sign-ups join.
pub(crate) async fn seed(
    chat: &ChatService,
    password: Option<&str>,
) -> Result<(EventId, UserId), Box<dyn std::error::Error>> {
    if let Some(owner) = chat.account_by_email(USERS[0].0).await? {
        let events = chat.list_my_events(owner.user_id).await?;
        let event = events
            .iter()
            .find(|e| e.event.name == "My Event")
            .ok_or("demo account exists but \"My Event\" does not")?;
        tracing::info!(
            "demo data exists already: sign in as {} with the passwords printed when it was created",
            USERS.map(|u| u.0).join(", ")
        );
        return Ok((event.event.id, owner.user_id));
    }

    let mut users = Vec::new();
    for (email, name) in USERS {
        let password = password.map_or_else(random_password, str::to_owned);
        let hash = chat_http::accounts::hash_password(&password)?;
        let (_, user) = chat
            .create_account(
                email,
                hash,
                ProfileInput {
                    display_name: name.into(),
                    avatar_url: None,
                },
            )
            .await?;
        // Printed, not logged through tracing's JSON: the operator asked for demo data and
        // needs these to sign in. No real password ever takes this path.
        println!("demo account {email:<18} password: {password}   ({name})");
        users.push(user.id);
    }
    let owner = users[0];
    let event = chat
        .create_event(
            owner,
            NewEvent {
                name: "My Event".into(),
                kind: "party".into(),
            },
        )
        .await?;
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
        .await?;
    for user in &users[1..] {
        chat.add_event_member(owner, event.id, *user, EventRole::Member)
            .await?;
        chat.join_room(*user, room.id).await?;
    }
    tracing::info!(event = %event.id, room = %room.id, "demo: seeded \"My Event\" with room \"Main\"");
    Ok((event.id, owner))
}

/// 16 random hex characters (60 random bits from the OS's generator, through UUIDv4).
fn random_password() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..16].to_owned()
}
