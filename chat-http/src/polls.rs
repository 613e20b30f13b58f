//! Polls and structured messages after sending (see [`chat_core::payload`]): votes, closing,
//! and a host's payload updates. A poll is sent like any message, with
//! `"payload": {"kind": "poll", "data": {"options": […]}}` and its question as text.

use axum::extract::State;
use chat_core::{Message, MessageId};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::{ApiJson, ApiPath, Caller};
use crate::state::AppState;

/// The routes of this module, documented.
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(vote, withdraw_vote))
        .routes(routes!(close_poll))
        .routes(routes!(update_payload))
}

/// Body of `PUT /v1/messages/{id}/poll/vote`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Vote {
    /// The option's index in the poll's `options`.
    pub option: u32,
}

/// Body of `PUT /v1/messages/{id}/payload`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayloadData {
    /// The payload's new data, checked by its kind's validator.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

#[utoipa::path(put, path = "/messages/{message_id}/poll/vote", tag = "messages", params(("message_id" = MessageId, Path)), request_body = Vote, responses((status = 200, body = Message, description = "the poll with the caller's vote counted (replacing an earlier one)"), (status = "default", body = ErrorEnvelope, description = "an error; conflict when the message is not a poll, is deleted or the poll is closed; validation (`option`) for an option the poll does not have")), security(("bearer" = [])))]
async fn vote(
    State(s): State<AppState>,
    Caller(me): Caller,
    ApiPath(id): ApiPath<MessageId>,
    ApiJson(body): ApiJson<Vote>,
) -> Result<ApiJson<Message>, ApiError> {
    Ok(ApiJson(
        s.chat.vote_in_poll(me, id, Some(body.option)).await?,
    ))
}

#[utoipa::path(delete, path = "/messages/{message_id}/poll/vote", tag = "messages", params(("message_id" = MessageId, Path)), responses((status = 200, body = Message, description = "the poll without the caller's vote"), (status = "default", body = ErrorEnvelope, description = "an error; conflict when the message is not a poll, is deleted or the poll is closed")), security(("bearer" = [])))]
async fn withdraw_vote(
    State(s): State<AppState>,
    Caller(me): Caller,
    ApiPath(id): ApiPath<MessageId>,
) -> Result<ApiJson<Message>, ApiError> {
    Ok(ApiJson(s.chat.vote_in_poll(me, id, None).await?))
}

#[utoipa::path(post, path = "/messages/{message_id}/poll/close", tag = "messages", params(("message_id" = MessageId, Path)), responses((status = 200, body = Message, description = "the closed poll (closing a closed poll returns it)"), (status = "default", body = ErrorEnvelope, description = "an error; forbidden unless the caller wrote the poll or moderates the room")), security(("bearer" = [])))]
async fn close_poll(
    State(s): State<AppState>,
    Caller(me): Caller,
    ApiPath(id): ApiPath<MessageId>,
) -> Result<ApiJson<Message>, ApiError> {
    Ok(ApiJson(s.chat.close_poll(me, id).await?))
}

#[utoipa::path(put, path = "/messages/{message_id}/payload", tag = "messages", params(("message_id" = MessageId, Path)), request_body = PayloadData, responses((status = 200, body = Message, description = "the message with its new payload"), (status = "default", body = ErrorEnvelope, description = "an error; forbidden for someone else's message or a poll, conflict for a message without a payload, validation for data its kind refuses")), security(("bearer" = [])))]
async fn update_payload(
    State(s): State<AppState>,
    Caller(me): Caller,
    ApiPath(id): ApiPath<MessageId>,
    ApiJson(body): ApiJson<PayloadData>,
) -> Result<ApiJson<Message>, ApiError> {
    Ok(ApiJson(s.chat.update_payload(me, id, body.data).await?))
}
