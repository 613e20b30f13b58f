//! The caller and other people: profiles, unread counts, mentions.

use axum::extract::State;
use chat_core::{MentionPage, MessageId, ProfileInput, Unread, User, UserId};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ErrorEnvelope;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Caller};
use crate::state::AppState;

use super::ApiResult;

/// This resource's routes, each with its OpenAPI description.
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_me, put_me))
        .routes(routes!(my_unread))
        .routes(routes!(my_mentions))
        .routes(routes!(get_user))
}

#[utoipa::path(get, path = "/me", tag = "profiles", responses((status = 200, body = User, description = "the caller's profile"), (status = "default", body = ErrorEnvelope, description = "an error; see the error codes")), security(("bearer" = [])))]
async fn get_me(State(s): State<AppState>, Caller(me): Caller) -> ApiResult<User> {
    Ok(ApiJson(s.chat.get_profile(me, me).await?))
}

#[utoipa::path(put, path = "/me", tag = "profiles", request_body = ProfileInput, responses((status = 200, body = User, description = "the stored profile"), (status = "default", body = ErrorEnvelope, description = "an error; see the error codes")), security(("bearer" = [])))]
async fn put_me(
    State(s): State<AppState>,
    Caller(me): Caller,
    ApiJson(input): ApiJson<ProfileInput>,
) -> ApiResult<User> {
    Ok(ApiJson(s.chat.upsert_profile(me, input).await?))
}

#[utoipa::path(get, path = "/me/unread", tag = "profiles", responses((status = 200, body = Vec<Unread>, description = "per room with anything unread: messages by others after the caller's read position, not deleted, and those that mention the caller; each stops at 1000 (\"999+\"). O(unread) per room, never a scan of history"), (status = "default", body = ErrorEnvelope, description = "an error; see the error codes")), security(("bearer" = [])))]
async fn my_unread(State(s): State<AppState>, Caller(me): Caller) -> ApiResult<Vec<Unread>> {
    Ok(ApiJson(s.chat.unread_counts(me).await?))
}

/// Query of `GET /v1/me/mentions`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MentionsQuery {
    /// The id of the last message of the previous page; none for the newest.
    pub before: Option<MessageId>,
    /// Page size, 1 to 100 (default 50).
    pub limit: Option<i64>,
}

#[utoipa::path(get, path = "/me/mentions", tag = "profiles", params(MentionsQuery), responses((status = 200, body = MentionPage, description = "messages that mention the caller, newest first, from rooms the caller can still read"), (status = "default", body = ErrorEnvelope, description = "an error; see the error codes")), security(("bearer" = [])))]
async fn my_mentions(
    State(s): State<AppState>,
    Caller(me): Caller,
    ApiQuery(q): ApiQuery<MentionsQuery>,
) -> ApiResult<MentionPage> {
    Ok(ApiJson(
        s.chat
            .mention_feed(me, q.before, crate::extract::page_size(q.limit))
            .await?,
    ))
}

#[utoipa::path(get, path = "/users/{user_id}", tag = "profiles", params(("user_id" = UserId, Path)), responses((status = 200, body = User, description = "the profile of a user who shares an event with the caller"), (status = "default", body = ErrorEnvelope, description = "an error; see the error codes")), security(("bearer" = [])))]
async fn get_user(
    State(s): State<AppState>,
    Caller(me): Caller,
    ApiPath(user): ApiPath<UserId>,
) -> ApiResult<User> {
    Ok(ApiJson(s.chat.get_profile(me, user).await?))
}
