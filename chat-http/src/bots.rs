//! `POST /v1/events/{id}/bots`: service accounts for bots and AI features (see
//! [`ChatService::create_bot`](chat_core::ChatService::create_bot)).

use axum::extract::State;
use axum::http::StatusCode;
use chat_core::{EventId, ProfileInput, RoomId, User};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::{ApiJson, ApiPath, Caller};
use crate::state::AppState;

/// The routes of this module, documented.
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_bot))
}

/// Body of `POST /v1/events/{id}/bots`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewBot {
    /// Its name, as people's (1 to 64 characters).
    pub display_name: String,
    /// An optional http(s) avatar URL.
    #[serde(default)]
    pub avatar_url: Option<String>,
    /// The rooms of the event it is put in: the only ones it can read and write.
    #[serde(default)]
    pub room_ids: Vec<RoomId>,
}

/// A new bot and its token.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BotSession {
    /// The bot's profile (`is_bot: true`).
    pub user: User,
    /// Its bearer token, when chat-http issues tokens (`AppState::with_token_issuer`); shown
    /// this once. Otherwise `null`, and the host issues one for `user.id`.
    pub token: Option<String>,
}

#[utoipa::path(post, path = "/events/{event_id}/bots", tag = "events", params(("event_id" = EventId, Path)), request_body = NewBot, responses((status = 201, body = BotSession, description = "the bot, a member of the event and of the rooms given, and its token"), (status = "default", body = ErrorEnvelope, description = "an error; forbidden for members who are not owner or admin, not_found (room) for a room of another event")), security(("bearer" = [])))]
async fn create_bot(
    State(s): State<AppState>,
    Caller(me): Caller,
    ApiPath(event): ApiPath<EventId>,
    ApiJson(body): ApiJson<NewBot>,
) -> Result<(StatusCode, ApiJson<BotSession>), ApiError> {
    let profile = ProfileInput {
        display_name: body.display_name,
        avatar_url: body.avatar_url,
    };
    let user = s
        .chat
        .create_bot(me, event, profile, &body.room_ids)
        .await?;
    let token = match &s.token_issuer {
        Some(issuer) => Some(issuer.issue(user.id, s.config.bot_token_ttl)?),
        None => None,
    };
    Ok((StatusCode::CREATED, ApiJson(BotSession { user, token })))
}
