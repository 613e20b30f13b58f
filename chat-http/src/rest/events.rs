//! Events and their members.

use axum::extract::State;
use axum::http::StatusCode;
use chat_core::{Event, EventId, EventMember, EventRole, EventSummary, NewEvent, UserId};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::{ApiJson, ApiPath, Caller};
use crate::state::AppState;

use super::ApiResult;

/// This resource's routes, each with its OpenAPI description.
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_events, create_event))
        .routes(routes!(get_event))
        .routes(routes!(event_members, add_event_member))
        .routes(routes!(add_event_member_by_email))
        .routes(routes!(set_event_role, remove_event_member))
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
