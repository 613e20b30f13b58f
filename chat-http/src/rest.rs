//! The REST API under `/v1`: one handler per `ChatService` use case, and the request bodies
//! and queries they take.

use axum::extract::State;
use axum::http::StatusCode;
use chat_core::{
    ChangePage, Event, EventId, EventMember, EventRole, EventSummary, HistoryCursor, HistoryPage,
    MemberMatch, MentionPage, Message, MessageId, NewEvent, NewRoom, ProfileInput, Receipt, Room,
    RoomFilter, RoomMember, RoomPatch, RoomRole, RoomSeq, RoomView, SearchHit, SearchRequest,
    SendMessage, Sent, SystemMetrics, Timestamp, Unread, User, UserId,
};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::{ApiJson, ApiPath, ApiQuery, Caller};
use crate::state::AppState;
use chat_core::RoomId;

type ApiResult<T> = Result<ApiJson<T>, ApiError>;

/// The `/v1` routes (without the WebSocket), each registered together with its OpenAPI
/// description, so the document cannot miss a route.
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_me, put_me))
        .routes(routes!(my_unread))
        .routes(routes!(my_mentions))
        .routes(routes!(get_user))
        .routes(routes!(list_events, create_event))
        .routes(routes!(get_event))
        .routes(routes!(event_members, add_event_member))
        .routes(routes!(add_event_member_by_email))
        .routes(routes!(set_event_role, remove_event_member))
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
        .routes(routes!(typing))
        .routes(routes!(history, send_message))
        .routes(routes!(changes))
        .routes(routes!(get_message, edit_message, delete_message))
        .routes(routes!(replies))
        .routes(routes!(add_reaction, remove_reaction))
        .routes(routes!(search))
        .routes(routes!(system_metrics))
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

#[utoipa::path(get, path = "/events", tag = "events", responses((status = 200, body = Vec<EventSummary>, description = "the caller's events with their role, oldest first"), (status = "default", body = ErrorEnvelope, description = "an error; see the error codes")), security(("bearer" = [])))]
async fn list_events(
    State(s): State<AppState>,
    Caller(me): Caller,
) -> ApiResult<Vec<EventSummary>> {
    Ok(ApiJson(s.chat.list_my_events(me).await?))
}

#[utoipa::path(post, path = "/events", tag = "events", request_body = NewEvent, responses((status = 201, body = Event, description = "the new event; the caller is its owner"), (status = "default", body = ErrorEnvelope, description = "an error; see the error codes")), security(("bearer" = [])))]
async fn create_event(
    State(s): State<AppState>,
    Caller(me): Caller,
    ApiJson(input): ApiJson<NewEvent>,
) -> Result<(StatusCode, ApiJson<Event>), ApiError> {
    Ok((
        StatusCode::CREATED,
        ApiJson(s.chat.create_event(me, input).await?),
    ))
}

#[utoipa::path(get, path = "/events/{event_id}", tag = "events", params(("event_id" = EventId, Path)), responses((status = 200, body = EventSummary, description = "the event with the caller's role"), (status = "default", body = ErrorEnvelope, description = "an error; see the error codes")), security(("bearer" = [])))]
async fn get_event(
    State(s): State<AppState>,
    Caller(me): Caller,
    ApiPath(event): ApiPath<EventId>,
) -> ApiResult<EventSummary> {
    Ok(ApiJson(s.chat.get_event(me, event).await?))
}

#[utoipa::path(get, path = "/events/{event_id}/members", tag = "events", params(("event_id" = EventId, Path)), responses((status = 200, body = Vec<EventMember>, description = "the event's members, in join order"), (status = "default", body = ErrorEnvelope, description = "an error; see the error codes")), security(("bearer" = [])))]
async fn event_members(
    State(s): State<AppState>,
    Caller(me): Caller,
    ApiPath(event): ApiPath<EventId>,
) -> ApiResult<Vec<EventMember>> {
    Ok(ApiJson(s.chat.event_members(me, event).await?))
}

/// Body of `POST /v1/events/{id}/members`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct AddEventMember {
    /// Who to add.
    pub user_id: UserId,
    /// Their role (default `member`).
    #[serde(default = "member_role")]
    pub role: EventRole,
}

fn member_role() -> EventRole {
    EventRole::Member
}

#[utoipa::path(post, path = "/events/{event_id}/members", tag = "events", params(("event_id" = EventId, Path)), request_body = AddEventMember, responses((status = 201, body = EventMember, description = "the new membership"), (status = "default", body = ErrorEnvelope, description = "an error; see the error codes")), security(("bearer" = [])))]
async fn add_event_member(
    State(s): State<AppState>,
    Caller(me): Caller,
    ApiPath(event): ApiPath<EventId>,
    ApiJson(body): ApiJson<AddEventMember>,
) -> Result<(StatusCode, ApiJson<EventMember>), ApiError> {
    let member = s
        .chat
        .add_event_member(me, event, body.user_id, body.role)
        .await?;
    Ok((StatusCode::CREATED, ApiJson(member)))
}

/// Body of `POST /v1/events/{id}/invitations`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct InviteByEmail {
    /// The address the person signs in with (any casing).
    pub email: String,
    /// Their role (default `member`).
    #[serde(default = "member_role")]
    pub role: EventRole,
}

/// Adds the person who signs in with an email address. Only owners and admins learn whether
/// an address has an account; anyone else gets 403 whatever the address.
#[utoipa::path(post, path = "/events/{event_id}/invitations", tag = "events", params(("event_id" = EventId, Path)), request_body = InviteByEmail, responses((status = 201, body = EventMember, description = "the new membership"), (status = 404, body = ErrorEnvelope, description = "no such event for the caller, or no account with this email (`what`: `user`)"), (status = "default", body = ErrorEnvelope, description = "an error; see the error codes")), security(("bearer" = [])))]
async fn add_event_member_by_email(
    State(s): State<AppState>,
    Caller(me): Caller,
    ApiPath(event): ApiPath<EventId>,
    ApiJson(body): ApiJson<InviteByEmail>,
) -> Result<(StatusCode, ApiJson<EventMember>), ApiError> {
    let member = s
        .chat
        .add_event_member_by_email(me, event, &body.email, body.role)
        .await?;
    Ok((StatusCode::CREATED, ApiJson(member)))
}

/// Body of `PUT /v1/events/{id}/members/{user}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct SetEventRole {
    /// The new role.
    pub role: EventRole,
}

#[utoipa::path(put, path = "/events/{event_id}/members/{user_id}", tag = "events", params(("event_id" = EventId, Path), ("user_id" = UserId, Path)), request_body = SetEventRole, responses((status = 200, body = EventMember, description = "the membership with its new role"), (status = "default", body = ErrorEnvelope, description = "an error; see the error codes")), security(("bearer" = [])))]
async fn set_event_role(
    State(s): State<AppState>,
    Caller(me): Caller,
    ApiPath((event, user)): ApiPath<(EventId, UserId)>,
    ApiJson(body): ApiJson<SetEventRole>,
) -> ApiResult<EventMember> {
    Ok(ApiJson(
        s.chat.set_event_role(me, event, user, body.role).await?,
    ))
}

#[utoipa::path(delete, path = "/events/{event_id}/members/{user_id}", tag = "events", params(("event_id" = EventId, Path), ("user_id" = UserId, Path)), responses((status = 204, description = "removed from the event and its rooms"), (status = "default", body = ErrorEnvelope, description = "an error; see the error codes")), security(("bearer" = [])))]
async fn remove_event_member(
    State(s): State<AppState>,
    Caller(me): Caller,
    ApiPath((event, user)): ApiPath<(EventId, UserId)>,
) -> Result<StatusCode, ApiError> {
    s.chat.remove_event_member(me, event, user).await?;
    Ok(StatusCode::NO_CONTENT)
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

#[utoipa::path(get, path = "/admin/metrics", tag = "operations", responses((status = 200, body = SystemMetrics, description = "activity counts"), (status = "default", body = ErrorEnvelope, description = "an error; see the error codes")), security(("bearer" = [])))]
async fn system_metrics(State(s): State<AppState>, Caller(me): Caller) -> ApiResult<SystemMetrics> {
    Ok(ApiJson(s.chat.system_metrics(me).await?))
}
