//! Rooms, their members, moderation and read positions.

use axum::extract::State;
use axum::http::StatusCode;
use chat_core::{
    EventId, MemberMatch, NewRoom, Receipt, Room, RoomFilter, RoomMember, RoomPatch, RoomRole,
    RoomSeq, RoomView, Timestamp, UserId,
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
        .routes(routes!(create_room))
        .routes(routes!(list_rooms))
        .routes(routes!(get_room, update_room))
        .routes(routes!(join_room))
        .routes(routes!(leave_room))
        .routes(routes!(room_members, invite))
        .routes(routes!(lookup_members))
        .routes(routes!(moderate_member))
        .routes(routes!(mark_read))
        .routes(routes!(receipts))
}

#[utoipa::path(post, path = "/events/{event_id}/rooms", tag = "rooms", params(("event_id" = EventId, Path)), request_body = NewRoom, responses((status = 201, body = Room, description = "the new room; the caller moderates it"), (status = "default", body = ErrorEnvelope, description = "an error; see the error codes")), security(("bearer" = [])))]
async fn create_room(
    State(s): State<AppState>,
    Caller(me): Caller,
    ApiPath(event): ApiPath<EventId>,
    ApiJson(input): ApiJson<NewRoom>,
) -> Result<(StatusCode, ApiJson<Room>), ApiError> {
    Ok((
        StatusCode::CREATED,
        ApiJson(s.chat.create_room(me, event, input).await?),
    ))
}

/// Query of `GET /v1/rooms`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RoomQuery {
    /// Only this event's rooms.
    pub event_id: Option<EventId>,
    /// Only rooms whose name contains this, ignoring case.
    pub name: Option<String>,
}

#[utoipa::path(get, path = "/rooms", tag = "rooms", params(RoomQuery), responses((status = 200, body = Vec<RoomView>, description = "the rooms the caller can see, with the caller's membership"), (status = "default", body = ErrorEnvelope, description = "an error; see the error codes")), security(("bearer" = [])))]
async fn list_rooms(
    State(s): State<AppState>,
    Caller(me): Caller,
    ApiQuery(q): ApiQuery<RoomQuery>,
) -> ApiResult<Vec<RoomView>> {
    let filter = RoomFilter {
        event_id: q.event_id,
        name_contains: q.name,
    };
    Ok(ApiJson(s.chat.list_rooms(me, filter).await?))
}

#[utoipa::path(get, path = "/rooms/{room_id}", tag = "rooms", params(("room_id" = RoomId, Path)), responses((status = 200, body = RoomView, description = "the room with the caller's membership"), (status = "default", body = ErrorEnvelope, description = "an error; see the error codes")), security(("bearer" = [])))]
async fn get_room(
    State(s): State<AppState>,
    Caller(me): Caller,
    ApiPath(room): ApiPath<RoomId>,
) -> ApiResult<RoomView> {
    Ok(ApiJson(s.chat.get_room(me, room).await?))
}

#[utoipa::path(patch, path = "/rooms/{room_id}", tag = "rooms", params(("room_id" = RoomId, Path)), request_body = RoomPatch, responses((status = 200, body = Room, description = "the room after the change"), (status = "default", body = ErrorEnvelope, description = "an error; see the error codes")), security(("bearer" = [])))]
async fn update_room(
    State(s): State<AppState>,
    Caller(me): Caller,
    ApiPath(room): ApiPath<RoomId>,
    ApiJson(patch): ApiJson<RoomPatch>,
) -> ApiResult<Room> {
    Ok(ApiJson(s.chat.update_room(me, room, patch).await?))
}

#[utoipa::path(post, path = "/rooms/{room_id}/join", tag = "members", params(("room_id" = RoomId, Path)), responses((status = 200, body = RoomMember, description = "the caller's membership (also when already a member)"), (status = "default", body = ErrorEnvelope, description = "an error; see the error codes")), security(("bearer" = [])))]
async fn join_room(
    State(s): State<AppState>,
    Caller(me): Caller,
    ApiPath(room): ApiPath<RoomId>,
) -> ApiResult<RoomMember> {
    Ok(ApiJson(s.chat.join_room(me, room).await?))
}

#[utoipa::path(post, path = "/rooms/{room_id}/leave", tag = "members", params(("room_id" = RoomId, Path)), responses((status = 204, description = "left the room"), (status = "default", body = ErrorEnvelope, description = "an error; see the error codes")), security(("bearer" = [])))]
async fn leave_room(
    State(s): State<AppState>,
    Caller(me): Caller,
    ApiPath(room): ApiPath<RoomId>,
) -> Result<StatusCode, ApiError> {
    s.chat.leave_room(me, room).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/rooms/{room_id}/members", tag = "members", params(("room_id" = RoomId, Path)), responses((status = 200, body = Vec<RoomMember>, description = "the room's members, in join order"), (status = "default", body = ErrorEnvelope, description = "an error; see the error codes")), security(("bearer" = [])))]
async fn room_members(
    State(s): State<AppState>,
    Caller(me): Caller,
    ApiPath(room): ApiPath<RoomId>,
) -> ApiResult<Vec<RoomMember>> {
    Ok(ApiJson(s.chat.room_members(me, room).await?))
}

/// Body of `POST /v1/rooms/{id}/members` (an invitation).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Invite {
    /// Who to invite.
    pub user_id: UserId,
}

#[utoipa::path(post, path = "/rooms/{room_id}/members", tag = "members", params(("room_id" = RoomId, Path)), request_body = Invite, responses((status = 201, body = RoomMember, description = "the invited member's new membership"), (status = "default", body = ErrorEnvelope, description = "an error; see the error codes")), security(("bearer" = [])))]
async fn invite(
    State(s): State<AppState>,
    Caller(me): Caller,
    ApiPath(room): ApiPath<RoomId>,
    ApiJson(body): ApiJson<Invite>,
) -> Result<(StatusCode, ApiJson<RoomMember>), ApiError> {
    Ok((
        StatusCode::CREATED,
        ApiJson(s.chat.invite(me, room, body.user_id).await?),
    ))
}

/// Query of `GET /v1/rooms/{id}/members/lookup`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LookupQuery {
    /// Display-name prefix.
    #[serde(default)]
    pub prefix: String,
    /// Most results.
    pub limit: Option<i64>,
}

#[utoipa::path(get, path = "/rooms/{room_id}/members/lookup", tag = "members", params(("room_id" = RoomId, Path), LookupQuery), responses((status = 200, body = Vec<MemberMatch>, description = "members whose display name starts with the prefix, by name"), (status = "default", body = ErrorEnvelope, description = "an error; see the error codes")), security(("bearer" = [])))]
async fn lookup_members(
    State(s): State<AppState>,
    Caller(me): Caller,
    ApiPath(room): ApiPath<RoomId>,
    ApiQuery(q): ApiQuery<LookupQuery>,
) -> ApiResult<Vec<MemberMatch>> {
    Ok(ApiJson(
        s.chat
            .lookup_members(me, room, &q.prefix, crate::extract::page_size(q.limit))
            .await?,
    ))
}

/// Body of `PATCH /v1/rooms/{id}/members/{user}`: any of role, mute and ban.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ModerateMember {
    /// A new room role.
    pub role: Option<RoomRole>,
    /// Mute until this time; `null` unmutes. Absent leaves the mute as it is.
    #[serde(default, deserialize_with = "present")]
    pub muted_until: Option<Option<Timestamp>>,
    /// Ban (true) or unban (false).
    pub banned: Option<bool>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[utoipa::path(patch, path = "/rooms/{room_id}/members/{user_id}", tag = "members", params(("room_id" = RoomId, Path), ("user_id" = UserId, Path)), request_body = ModerateMember, responses((status = 200, body = RoomMember, description = "the membership after the change"), (status = "default", body = ErrorEnvelope, description = "an error; see the error codes")), security(("bearer" = [])))]
async fn moderate_member(
    State(s): State<AppState>,
    Caller(me): Caller,
    ApiPath((room, user)): ApiPath<(RoomId, UserId)>,
    ApiJson(body): ApiJson<ModerateMember>,
) -> ApiResult<RoomMember> {
    let mut member = None;
    if let Some(role) = body.role {
        member = Some(s.chat.set_member_role(me, room, user, role).await?);
    }
    if let Some(until) = body.muted_until {
        member = Some(s.chat.mute_member(me, room, user, until).await?);
    }
    if let Some(banned) = body.banned {
        member = Some(s.chat.ban_member(me, room, user, banned).await?);
    }
    member.map(ApiJson).ok_or_else(|| {
        ApiError(chat_core::Error::validation(
            "body",
            "give role, muted_until or banned",
        ))
    })
}

/// Body of `POST /v1/rooms/{id}/read`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct MarkRead {
    /// The last seq the caller has seen.
    pub seq: RoomSeq,
}

#[utoipa::path(get, path = "/rooms/{room_id}/receipts", tag = "members", params(("room_id" = RoomId, Path)), responses((status = 200, body = Vec<Receipt>, description = "how far each member (banned ones left out) has read the room, in join order"), (status = "default", body = ErrorEnvelope, description = "an error; forbidden when the room has read receipts off")), security(("bearer" = [])))]
async fn receipts(
    State(s): State<AppState>,
    Caller(me): Caller,
    ApiPath(room): ApiPath<RoomId>,
) -> ApiResult<Vec<Receipt>> {
    Ok(ApiJson(s.chat.receipts(me, room).await?))
}

#[utoipa::path(post, path = "/rooms/{room_id}/read", tag = "members", params(("room_id" = RoomId, Path)), request_body = MarkRead, responses((status = 200, body = RoomMember, description = "the caller's membership with its read position"), (status = "default", body = ErrorEnvelope, description = "an error; see the error codes")), security(("bearer" = [])))]
async fn mark_read(
    State(s): State<AppState>,
    Caller(me): Caller,
    ApiPath(room): ApiPath<RoomId>,
    ApiJson(body): ApiJson<MarkRead>,
) -> ApiResult<RoomMember> {
    Ok(ApiJson(s.chat.mark_read(me, room, body.seq).await?))
}
