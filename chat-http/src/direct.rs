//! `POST /v1/dms`: the direct room of the caller and a set of people.

use axum::extract::State;
use axum::http::StatusCode;
use chat_core::{RoomView, UserId};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::{ApiJson, Caller};
use crate::state::AppState;

/// The routes of this module, documented.
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(open_direct_room))
}

/// Body of `POST /v1/dms`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenDirectRoom {
    /// The other people (1 to 8), each sharing an event with the caller. The caller, if
    /// listed, and repeated ids are ignored.
    pub user_ids: Vec<UserId>,
}

#[utoipa::path(
    post,
    path = "/dms",
    tag = "rooms",
    request_body = OpenDirectRoom,
    responses(
        (status = 201, body = RoomView, description = "the new direct room of these people"),
        (status = 200, body = RoomView, description = "their direct room, which already existed: the same set of people always gets the same room"),
        (status = "default", body = ErrorEnvelope, description = "an error; not_found (user) for someone who shares no event with the caller")
    ),
    security(("bearer" = []))
)]
async fn open_direct_room(
    State(s): State<AppState>,
    Caller(me): Caller,
    ApiJson(body): ApiJson<OpenDirectRoom>,
) -> Result<(StatusCode, ApiJson<RoomView>), ApiError> {
    let (view, created) = s.chat.open_direct_room(me, &body.user_ids).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, ApiJson(view)))
}
