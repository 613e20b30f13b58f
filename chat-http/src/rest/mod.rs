//! The REST API under `/v1`: one handler per `ChatService` use case, and the request bodies
//! and queries they take.

use axum::extract::State;
use chat_core::SystemMetrics;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::{ApiJson, Caller};
use crate::state::AppState;

mod events;
mod messages;
mod profiles;
mod rooms;

pub use events::{AddEventMember, InviteByEmail, SetEventRole};
pub use messages::{ChangesQuery, EditMessage, HistoryQuery, RepliesQuery, SearchQuery};
pub use profiles::MentionsQuery;
pub use rooms::{Invite, LookupQuery, MarkRead, ModerateMember, RoomQuery};

type ApiResult<T> = Result<ApiJson<T>, ApiError>;

/// The `/v1` routes (without the WebSocket), each registered together with its OpenAPI
/// description, so the document cannot miss a route.
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    profiles::routes()
        .merge(events::routes())
        .merge(rooms::routes())
        .merge(messages::routes())
        .routes(routes!(system_metrics))
}

#[utoipa::path(get, path = "/admin/metrics", tag = "operations", responses((status = 200, body = SystemMetrics, description = "activity counts"), (status = "default", body = ErrorEnvelope, description = "an error; see the error codes")), security(("bearer" = [])))]
async fn system_metrics(State(s): State<AppState>, Caller(me): Caller) -> ApiResult<SystemMetrics> {
    Ok(ApiJson(s.chat.system_metrics(me).await?))
}
