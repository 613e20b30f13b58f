//! Messages: history, sends, edits, deletions, reactions, threads, the change log, typing and
//! search.

use axum::extract::State;
use axum::http::StatusCode;
use chat_core::{
    ChangePage, HistoryCursor, HistoryPage, Message, MessageId, RoomSeq, SearchHit, SearchRequest,
    SendMessage, Sent,
};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::{ApiJson, ApiPath, ApiQuery, Caller};
use crate::state::AppState;
use chat_core::RoomId;

use super::ApiResult;

/// This resource's routes, each with its OpenAPI description.
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(typing))
        .routes(routes!(history, send_message))
        .routes(routes!(changes))
        .routes(routes!(get_message, edit_message, delete_message))
        .routes(routes!(replies))
        .routes(routes!(add_reaction, remove_reaction))
        .routes(routes!(search))
}

#[utoipa::path(post, path = "/rooms/{room_id}/typing", tag = "messages", params(("room_id" = RoomId, Path)), responses((status = 204, description = "the signal was relayed (or dropped by the typing throttle)"), (status = "default", body = ErrorEnvelope, description = "an error; see the error codes")), security(("bearer" = [])))]
async fn typing(
    State(s): State<AppState>,
    Caller(me): Caller,
    ApiPath(room): ApiPath<RoomId>,
) -> Result<StatusCode, ApiError> {
    s.chat.typing(me, room).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Query of `GET /v1/rooms/{id}/messages`: `before` (newest first, the default) or `after`
/// (oldest first) a seq.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Messages below this seq, newest first.
    pub before: Option<u64>,
    /// Messages above this seq, oldest first.
    pub after: Option<u64>,
    /// The page centred on this seq, newest first: to open a search result or a reply in
    /// context. `has_more` then says whether older messages exist, `has_newer` newer ones.
    pub around: Option<u64>,
    /// Page size, 1 to 100 (default 50).
    pub limit: Option<i64>,
}

#[utoipa::path(get, path = "/rooms/{room_id}/messages", tag = "messages", params(("room_id" = RoomId, Path), HistoryQuery), responses((status = 200, body = HistoryPage, description = "a page of history"), (status = "default", body = ErrorEnvelope, description = "an error; see the error codes")), security(("bearer" = [])))]
async fn history(
    State(s): State<AppState>,
    Caller(me): Caller,
    ApiPath(room): ApiPath<RoomId>,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> ApiResult<HistoryPage> {
    let cursor = match (q.before, q.after, q.around) {
        (None, None, Some(around)) => {
            return Ok(ApiJson(
                s.chat
                    .history_around(
                        me,
                        room,
                        RoomSeq(around),
                        crate::extract::page_size(q.limit),
                    )
                    .await?,
            ));
        }
        (None, Some(after), None) => HistoryCursor::After(RoomSeq(after)),
        (Some(before), None, None) => HistoryCursor::Before(RoomSeq(before)),
        (None, None, None) => HistoryCursor::LATEST,
        _ => {
            return Err(ApiError(chat_core::Error::validation(
                "query",
                "give one of before, after and around",
            )));
        }
    };
    Ok(ApiJson(
        s.chat
            .history(me, room, cursor, crate::extract::page_size(q.limit))
            .await?,
    ))
}

#[utoipa::path(get, path = "/messages/{message_id}", tag = "messages", params(("message_id" = MessageId, Path)), responses((status = 200, body = Message, description = "the message (a tombstone if deleted), with its reply count"), (status = "default", body = ErrorEnvelope, description = "an error; not_found for anyone who may not read its room")), security(("bearer" = [])))]
async fn get_message(
    State(s): State<AppState>,
    Caller(me): Caller,
    ApiPath(id): ApiPath<MessageId>,
) -> ApiResult<Message> {
    Ok(ApiJson(s.chat.get_message(me, id).await?))
}

/// Query of `GET /v1/messages/{id}/replies`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RepliesQuery {
    /// Replies after this one's seq (the last of the previous page); none for the first page.
    pub after: Option<u64>,
    /// Page size, 1 to 100 (default 50).
    pub limit: Option<i64>,
}

#[utoipa::path(get, path = "/messages/{message_id}/replies", tag = "messages", params(("message_id" = MessageId, Path), RepliesQuery), responses((status = 200, body = HistoryPage, description = "a page of the message's thread, oldest first"), (status = "default", body = ErrorEnvelope, description = "an error; not_found for anyone who may not read its room")), security(("bearer" = [])))]
async fn replies(
    State(s): State<AppState>,
    Caller(me): Caller,
    ApiPath(id): ApiPath<MessageId>,
    ApiQuery(q): ApiQuery<RepliesQuery>,
) -> ApiResult<HistoryPage> {
    let after = RoomSeq(q.after.unwrap_or(0));
    Ok(ApiJson(
        s.chat
            .replies(me, id, after, crate::extract::page_size(q.limit))
            .await?,
    ))
}

#[utoipa::path(post, path = "/rooms/{room_id}/messages", tag = "messages", params(("room_id" = RoomId, Path)), request_body = SendMessage, responses((status = 201, body = Sent, description = "the new message"), (status = 200, body = Sent, description = "a retried `client_msg_id`: the original message, nothing stored"), (status = 200, body = Sent, description = "a replayed client_msg_id: the original message"), (status = "default", body = ErrorEnvelope, description = "an error; see the error codes")), security(("bearer" = [])))]
async fn send_message(
    State(s): State<AppState>,
    Caller(me): Caller,
    ApiPath(room): ApiPath<RoomId>,
    ApiJson(input): ApiJson<SendMessage>,
) -> Result<(StatusCode, ApiJson<Sent>), ApiError> {
    let result = s.chat.send_message(me, room, input).await;
    crate::observability::record_send("rest", &result);
    let sent = result?;
    // A replayed send created nothing: 200, not 201.
    let status = if sent.replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, ApiJson(sent)))
}

/// Query of `GET /v1/rooms/{id}/changes`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChangesQuery {
    /// Changes after this seq (default 0: from the start).
    #[serde(default)]
    pub after: u64,
    /// Page size, 1 to 100 (default 50).
    pub limit: Option<i64>,
}

#[utoipa::path(get, path = "/rooms/{room_id}/changes", tag = "messages", params(("room_id" = RoomId, Path), ChangesQuery), responses((status = 200, body = ChangePage, description = "a page of the change log after `after`; messages as they are now"), (status = "default", body = ErrorEnvelope, description = "an error; see the error codes")), security(("bearer" = [])))]
async fn changes(
    State(s): State<AppState>,
    Caller(me): Caller,
    ApiPath(room): ApiPath<RoomId>,
    ApiQuery(q): ApiQuery<ChangesQuery>,
) -> ApiResult<ChangePage> {
    Ok(ApiJson(
        s.chat
            .changes(
                me,
                room,
                RoomSeq(q.after),
                crate::extract::page_size(q.limit),
            )
            .await?,
    ))
}

/// Body of `PATCH /v1/messages/{id}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct EditMessage {
    /// The new text.
    pub text: String,
}

#[utoipa::path(patch, path = "/messages/{message_id}", tag = "messages", params(("message_id" = MessageId, Path)), request_body = EditMessage, responses((status = 200, body = Message, description = "the edited message"), (status = "default", body = ErrorEnvelope, description = "an error; see the error codes")), security(("bearer" = [])))]
async fn edit_message(
    State(s): State<AppState>,
    Caller(me): Caller,
    ApiPath(id): ApiPath<MessageId>,
    ApiJson(body): ApiJson<EditMessage>,
) -> ApiResult<Message> {
    Ok(ApiJson(s.chat.edit_message(me, id, body.text).await?))
}

#[utoipa::path(delete, path = "/messages/{message_id}", tag = "messages", params(("message_id" = MessageId, Path)), responses((status = 200, body = Message, description = "the tombstone"), (status = "default", body = ErrorEnvelope, description = "an error; see the error codes")), security(("bearer" = [])))]
async fn delete_message(
    State(s): State<AppState>,
    Caller(me): Caller,
    ApiPath(id): ApiPath<MessageId>,
) -> ApiResult<Message> {
    Ok(ApiJson(s.chat.delete_message(me, id).await?))
}

#[utoipa::path(put, path = "/messages/{message_id}/reactions/{key}", tag = "messages", params(("message_id" = MessageId, Path), ("key" = String, Path)), responses((status = 200, body = Message, description = "the message with its reactions"), (status = "default", body = ErrorEnvelope, description = "an error; see the error codes")), security(("bearer" = [])))]
async fn add_reaction(
    State(s): State<AppState>,
    Caller(me): Caller,
    ApiPath((id, key)): ApiPath<(MessageId, String)>,
) -> ApiResult<Message> {
    Ok(ApiJson(s.chat.react(me, id, &key, true).await?))
}

#[utoipa::path(delete, path = "/messages/{message_id}/reactions/{key}", tag = "messages", params(("message_id" = MessageId, Path), ("key" = String, Path)), responses((status = 200, body = Message, description = "the message with its reactions"), (status = "default", body = ErrorEnvelope, description = "an error; see the error codes")), security(("bearer" = [])))]
async fn remove_reaction(
    State(s): State<AppState>,
    Caller(me): Caller,
    ApiPath((id, key)): ApiPath<(MessageId, String)>,
) -> ApiResult<Message> {
    Ok(ApiJson(s.chat.react(me, id, &key, false).await?))
}

/// Query of `GET /v1/search`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// The words to find.
    pub q: String,
    /// Only this room.
    pub room_id: Option<RoomId>,
    /// Most results, 1 to 100 (default 50).
    pub limit: Option<i64>,
}

#[utoipa::path(get, path = "/search", tag = "search", params(SearchQuery), responses((status = 200, body = Vec<SearchHit>, description = "matching messages, newest first, each with its room's name and a snippet marking the matching words; the last word of the query matches the start of words from three characters on"), (status = "default", body = ErrorEnvelope, description = "an error; see the error codes")), security(("bearer" = [])))]
async fn search(
    State(s): State<AppState>,
    Caller(me): Caller,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> ApiResult<Vec<SearchHit>> {
    let request = SearchRequest {
        query: q.q,
        room_id: q.room_id,
        limit: crate::extract::page_size(q.limit),
    };
    Ok(ApiJson(s.chat.search(me, request).await?))
}
