//! `GET /v1/presence`: who is online, for people who share an event with the caller. Live
//! changes come over the WebSocket (`presence_subscribe`).

use std::str::FromStr;

use axum::extract::State;
use chat_core::{Error, Presence, UserId};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::{ApiJson, ApiQuery, Caller};
use crate::state::AppState;

/// The routes of this module, documented.
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(presence))
}

/// Query of `GET /v1/presence`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PresenceQuery {
    /// Comma-separated user ids (1 to 256), each sharing an event with the caller.
    pub user_ids: String,
}

#[utoipa::path(
    get,
    path = "/presence",
    tag = "profiles",
    params(PresenceQuery),
    responses(
        (status = 200, body = Vec<Presence>, description = "each person's presence, in the order asked (repeats once): online when any of their connections is in use, away when all are away, offline otherwise, across every instance; with the last active time"),
        (status = "default", body = ErrorEnvelope, description = "an error; validation (user_ids) for no ids, too many or a malformed one; not_found (user) for someone who shares no event with the caller")
    ),
    security(("bearer" = []))
)]
async fn presence(
    State(s): State<AppState>,
    Caller(me): Caller,
    ApiQuery(query): ApiQuery<PresenceQuery>,
) -> Result<ApiJson<Vec<Presence>>, ApiError> {
    let ids = query
        .user_ids
        .split(',')
        .filter(|part| !part.trim().is_empty())
        .map(|part| {
            UserId::from_str(part.trim())
                .map_err(|_| Error::validation("user_ids", "comma-separated user ids"))
        })
        .collect::<Result<Vec<UserId>, Error>>()?;
    Ok(ApiJson(s.chat.presence(me, &ids).await?))
}
