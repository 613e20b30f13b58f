//! The fast seeding path: users, events and rooms made through the REST API, with tokens the
//! load generator mints itself from the server's JWT secret instead of signing every user up
//! (argon2 makes 10,000 sign-ups take minutes, and sign-up is not what is being measured).

use std::sync::Arc;
use std::time::Duration;

use chat_core::UserId;
use chat_http::JwtAuthenticator;
use futures::{StreamExt, TryStreamExt, stream};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// One simulated user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct User {
    pub(crate) id: UserId,
    pub(crate) token: String,
    /// Index into [`World::rooms`].
    pub(crate) room: usize,
}

/// One room and its members.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Room {
    pub(crate) id: String,
    /// Indices into [`World::users`]; the first created the room.
    pub(crate) members: Vec<usize>,
}

/// Everything the run acts on; handed to the other processes of a run as JSON.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct World {
    pub(crate) users: Vec<User>,
    pub(crate) rooms: Vec<Room>,
}

/// Room sizes between `min` and `max` (uniform, from a fixed seed so runs are comparable)
/// that add up to `users`; a remainder too small for a room joins the last one.
pub(crate) fn room_sizes(users: usize, min: usize, max: usize) -> Vec<usize> {
    let mut sizes = Vec::new();
    let mut left = users;
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    while left > 0 {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let span = (max - min + 1) as u64;
        let size = (min + ((state >> 33) % span) as usize).min(left);
        if size < min && !sizes.is_empty() {
            *sizes.last_mut().expect("not empty") += size;
        } else {
            sizes.push(size);
        }
        left -= size;
    }
    sizes
}

/// A REST client for one base URL.
#[derive(Debug, Clone)]
pub(crate) struct Rest {
    pub(crate) http: reqwest::Client,
    pub(crate) base: String,
}

impl Rest {
    pub(crate) async fn call(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}/v1{path}", self.base))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| format!("{method} {path}: {e}"))?;
        let status = response.status();
        let value: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            Ok(value)
        } else {
            Err(format!("{method} {path}: {status} {value}"))
        }
    }
}

/// Creates `users` users in rooms of `min..=max` members, each room in an event of its own
/// owned by its first member.
pub(crate) async fn seed(
    rest: &Rest,
    jwt: &JwtAuthenticator,
    users: usize,
    (min, max): (usize, usize),
    concurrency: usize,
) -> Result<World, String> {
    let sizes = room_sizes(users, min, max);
    let mut all = Vec::with_capacity(users);
    let mut rooms = Vec::with_capacity(sizes.len());
    for (room, size) in sizes.iter().enumerate() {
        let first = all.len();
        for _ in 0..*size {
            let id = UserId::new();
            let token = jwt
                .issue(id, Duration::from_secs(24 * 3600))
                .map_err(|e| e.to_string())?;
            all.push(User { id, token, room });
        }
        rooms.push(Room {
            id: String::new(),
            members: (first..first + size).collect(),
        });
    }

    stream::iter(all.iter().enumerate())
        .map(|(i, user)| async move {
            rest.call(
                &user.token,
                reqwest::Method::PUT,
                "/me",
                Some(json!({"display_name": format!("Load User {i}")})),
            )
            .await
        })
        .buffer_unordered(concurrency)
        .try_collect::<Vec<_>>()
        .await?;

    let all = Arc::new(all);
    let ids: Vec<String> = stream::iter(rooms.iter().enumerate())
        .map(|(i, room)| {
            let all = Arc::clone(&all);
            async move { create_room(rest, &all, i, &room.members).await }
        })
        .buffered(concurrency.div_ceil(8).max(1))
        .try_collect()
        .await?;
    for (room, id) in rooms.iter_mut().zip(ids) {
        room.id = id;
    }
    let users = Arc::try_unwrap(all).unwrap_or_else(|a| (*a).clone());
    Ok(World { users, rooms })
}

async fn create_room(
    rest: &Rest,
    users: &[User],
    index: usize,
    members: &[usize],
) -> Result<String, String> {
    let owner = &users[members[0]];
    let event = rest
        .call(
            &owner.token,
            reqwest::Method::POST,
            "/events",
            Some(json!({"name": format!("Load event {index}"), "kind": "load"})),
        )
        .await?;
    let event_id = event["id"].as_str().ok_or("event without id")?.to_owned();
    let room = rest
        .call(
            &owner.token,
            reqwest::Method::POST,
            &format!("/events/{event_id}/rooms"),
            Some(json!({"name": format!("Room {index}"), "kind": "main", "visibility": "public"})),
        )
        .await?;
    let room_id = room["id"].as_str().ok_or("room without id")?.to_owned();
    stream::iter(&members[1..])
        .map(|&m| {
            let (event_id, room_id) = (&event_id, &room_id);
            async move {
                let member = &users[m];
                rest.call(
                    &owner.token,
                    reqwest::Method::POST,
                    &format!("/events/{event_id}/members"),
                    Some(json!({"user_id": member.id})),
                )
                .await?;
                rest.call(
                    &member.token,
                    reqwest::Method::POST,
                    &format!("/rooms/{room_id}/join"),
                    None,
                )
                .await
            }
        })
        .buffer_unordered(8)
        .try_collect::<Vec<_>>()
        .await?;
    Ok(room_id)
}

#[cfg(test)]
mod tests {
    use super::room_sizes;

    #[test]
    fn sizes_cover_every_user_within_bounds() {
        for users in [100, 1_000, 10_000, 137] {
            let sizes = room_sizes(users, 10, 100);
            assert_eq!(sizes.iter().sum::<usize>(), users);
            // Only the last room may exceed max, by less than min.
            assert!(sizes.iter().all(|s| (10..110).contains(s)), "{sizes:?}");
        }
    }
}
