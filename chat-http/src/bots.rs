//! Service accounts for bots and AI features (see
//! [`ChatService::create_bot`](chat_core::ChatService::create_bot)) and their tokens:
//!
//! - `POST /v1/events/{id}/bots`: a bot, with its first token;
//! - `POST /v1/events/{id}/bots/{bot_id}/tokens`: another token (shown once);
//! - `GET /v1/events/{id}/bots/{bot_id}/tokens`: its tokens, without their secrets;
//! - `DELETE /v1/events/{id}/bots/{bot_id}/tokens/{token_id}`: revokes one, at once, on every
//!   instance (each use is checked against the store).

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use chat_core::{
    BotToken, BotTokenId, EventId, IssuedBotToken, ProfileInput, RoomId, User, UserId,
};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::{ApiJson, ApiPath, Caller};
use crate::state::AppState;

/// The routes of this module, documented.
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_bot))
        .routes(routes!(issue_token, list_tokens))
        .routes(routes!(revoke_token))
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

/// A new bot and its first token.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BotSession {
    /// The bot's profile (`is_bot: true`).
    pub user: User,
    /// Its bearer token (`cbt_…`), shown this once; valid for the server's bot token lifetime
    /// (90 days by default) unless revoked.
    pub token: String,
    /// The token's record: its id (to revoke it) and expiry.
    pub token_info: BotToken,
}

/// Body of `POST /v1/events/{id}/bots/{bot_id}/tokens`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct NewBotToken {
    /// How long it works, in seconds (1 to 31,536,000: a year). Default: the server's bot token
    /// lifetime (90 days unless configured).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 31_536_000)]
    pub ttl_secs: Option<u64>,
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
    let issued = s
        .chat
        .issue_bot_token(me, event, user.id, s.config.bot_token_ttl)
        .await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(BotSession {
            user,
            token: issued.token,
            token_info: issued.record,
        }),
    ))
}

#[utoipa::path(post, path = "/events/{event_id}/bots/{bot_id}/tokens", tag = "events", params(("event_id" = EventId, Path), ("bot_id" = UserId, Path)), request_body = NewBotToken, responses((status = 201, body = IssuedBotToken, description = "a new token for the bot, shown this once, with its record"), (status = "default", body = ErrorEnvelope, description = "an error; forbidden for members who are not owner or admin, not_found (bot) for a user that is not a bot of the event, validation on `ttl`")), security(("bearer" = [])))]
async fn issue_token(
    State(s): State<AppState>,
    Caller(me): Caller,
    ApiPath((event, bot)): ApiPath<(EventId, UserId)>,
    ApiJson(body): ApiJson<NewBotToken>,
) -> Result<(StatusCode, ApiJson<IssuedBotToken>), ApiError> {
    let ttl = body
        .ttl_secs
        .map_or(s.config.bot_token_ttl, Duration::from_secs);
    let issued = s.chat.issue_bot_token(me, event, bot, ttl).await?;
    Ok((StatusCode::CREATED, ApiJson(issued)))
}

#[utoipa::path(get, path = "/events/{event_id}/bots/{bot_id}/tokens", tag = "events", params(("event_id" = EventId, Path), ("bot_id" = UserId, Path)), responses((status = 200, body = Vec<BotToken>, description = "the bot's tokens, newest first, revoked and expired ones included, without their secrets"), (status = "default", body = ErrorEnvelope, description = "an error; see the error codes")), security(("bearer" = [])))]
async fn list_tokens(
    State(s): State<AppState>,
    Caller(me): Caller,
    ApiPath((event, bot)): ApiPath<(EventId, UserId)>,
) -> Result<ApiJson<Vec<BotToken>>, ApiError> {
    Ok(ApiJson(s.chat.bot_tokens(me, event, bot).await?))
}

#[utoipa::path(delete, path = "/events/{event_id}/bots/{bot_id}/tokens/{token_id}", tag = "events", params(("event_id" = EventId, Path), ("bot_id" = UserId, Path), ("token_id" = BotTokenId, Path)), responses((status = 200, body = BotToken, description = "the token's record, revoked: from now on it is 401 on every instance"), (status = "default", body = ErrorEnvelope, description = "an error; not_found (bot token) for a token that is not this bot's")), security(("bearer" = [])))]
async fn revoke_token(
    State(s): State<AppState>,
    Caller(me): Caller,
    ApiPath((event, bot, token)): ApiPath<(EventId, UserId, BotTokenId)>,
) -> Result<ApiJson<BotToken>, ApiError> {
    Ok(ApiJson(
        s.chat.revoke_bot_token(me, event, bot, token).await?,
    ))
}
