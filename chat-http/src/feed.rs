//! `POST /v1/feed`: the change feed over HTTP, for hosts and bots. Every change in every room
//! the caller can read, after a cursor the caller keeps, with an optional long poll. See
//! [`chat_core::FeedCursor`] for the guarantees (durable, at least once, in order per room).

use std::time::Duration;

use axum::extract::State;
use chat_core::{Error, FeedCursor, FeedPage};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::{ApiJson, Caller};
use crate::state::AppState;

/// The longest a request may wait for a change. Under the 30 s that proxies commonly allow an
/// idle response.
pub const MAX_WAIT_MS: u64 = 25_000;

/// The routes of this module, documented.
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(feed))
}

/// Body of `POST /v1/feed`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct FeedRequest {
    /// Where to read from: the `cursor` of the previous answer. Absent: from now (the answer
    /// has no changes and the cursor to start from).
    pub cursor: Option<FeedCursor>,
    /// Most changes in the answer (default and bounds as for history pages).
    pub limit: Option<i64>,
    /// When there is nothing new, how long to wait for a change before answering with none,
    /// in milliseconds (0, the default, to 25,000).
    #[serde(default)]
    pub wait_ms: u64,
}

#[utoipa::path(
    post,
    path = "/feed",
    tag = "messages",
    request_body = FeedRequest,
    responses(
        (status = 200, body = FeedPage, description = "changes after the cursor in every room the caller can read, in seq order within each room, and the cursor after them (save it once they are handled); a room that became readable is read from its start"),
        (status = "default", body = ErrorEnvelope, description = "an error; validation on `limit`, `wait_ms`, or `cursor` when it claims a seq a room has not reached")
    ),
    security(("bearer" = []))
)]
async fn feed(
    State(s): State<AppState>,
    Caller(me): Caller,
    ApiJson(body): ApiJson<FeedRequest>,
) -> Result<ApiJson<FeedPage>, ApiError> {
    if body.wait_ms > MAX_WAIT_MS {
        return Err(Error::validation("wait_ms", format!("at most {MAX_WAIT_MS}")).into());
    }
    // Checked before anything is read: the feed's start (no cursor) reads no page, but a bad
    // size is still refused, not ignored.
    let limit = crate::extract::page_size(body.limit);
    chat_core::validation::validate_page_size(limit, s.chat.limits())?;
    let Some(cursor) = body.cursor else {
        return Ok(ApiJson(FeedPage {
            changes: Vec::new(),
            cursor: s.chat.feed_cursor(me).await?,
            has_more: false,
        }));
    };
    // Read first: only an empty answer waits, and only then are the rooms listened to (the
    // follower reads again after listening, so nothing committed in between is missed).
    let page = s.chat.read_feed(me, &cursor, limit).await?;
    if body.wait_ms == 0 || !page.changes.is_empty() {
        return Ok(ApiJson(page));
    }
    let mut follower = s.chat.clone().follow_feed(me, page.cursor, limit).await?;
    match tokio::time::timeout(Duration::from_millis(body.wait_ms), follower.next()).await {
        Ok(Some(page)) => Ok(ApiJson(page?)),
        // Nothing within the wait (or the broker is shutting down): an empty page, with the
        // cursor as read (it may list rooms that became readable).
        Ok(None) | Err(_) => Ok(ApiJson(FeedPage {
            changes: Vec::new(),
            cursor: follower.cursor().clone(),
            has_more: false,
        })),
    }
}
