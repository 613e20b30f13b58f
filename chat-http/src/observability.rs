//! Metrics. Handlers record through the `metrics` facade, to whatever recorder the process
//! has. With the feature `prometheus`, `install` sets up the Prometheus recorder whose
//! rendering `metrics_router` serves at `/metrics`, on a listener apart from the public API.
//!
//! | metric | kind | what |
//! |---|---|---|
//! | `chat_http_request_duration_seconds{method,route,status}` | histogram | request latency |
//! | `chat_messages_sent_total{transport}` | counter | new messages (replays excluded) |
//! | `chat_sends_rate_limited_total{transport}` | counter | sends refused by the rate limit |
//! | `chat_ws_connections` | gauge | open WebSocket connections |
//! | `chat_ws_deliveries_total` | counter | room changes delivered live to WebSocket subscribers |
//! | `chat_ws_resyncs_total` | counter | subscribers that fell behind the hub and were reloaded from the store |
//! | `chat_ws_slow_closes_total` | counter | connections closed because their outbound queue filled |
//! | `chat_ws_replayed_total` | counter | changes replayed from the store to resuming subscribers |

#[cfg(feature = "prometheus")]
use std::sync::OnceLock;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
#[cfg(feature = "prometheus")]
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Latency buckets in seconds: fine below 10 ms, where this server's requests live, up to 5 s.
#[cfg(feature = "prometheus")]
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Installs the process-wide Prometheus recorder (once; later calls return the same handle).
/// `None` when the host installed a `metrics` recorder of its own first: chat-engine's
/// metrics then go to the host's recorder, and the host serves them (a host with its own
/// Prometheus recorder can hand its handle to [`AppState::with_metrics_handle`](crate::AppState::with_metrics_handle)).
#[cfg(feature = "prometheus")]
pub fn install() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("duration_seconds".into()), LATENCY_BUCKETS)
                .ok()?;
            builder.install_recorder().ok()
        })
        .clone()
}

/// Times every request, labelled by its route pattern (not its path, so ids do not explode
/// the label set).
pub(crate) async fn track(req: Request<Body>, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(req).await;
    let labels = [
        ("method", method),
        ("route", route),
        ("status", response.status().as_u16().to_string()),
    ];
    metrics::histogram!("chat_http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}

/// `GET /metrics`: the Prometheus text format, or 404 when no recorder was installed.
#[cfg(feature = "prometheus")]
pub(crate) async fn render(
    axum::extract::State(state): axum::extract::State<crate::AppState>,
) -> Response {
    use axum::response::IntoResponse;
    match &state.metrics {
        Some(handle) => handle.render().into_response(),
        None => crate::error::error_response(
            axum::http::StatusCode::NOT_FOUND,
            "not_found",
            "metrics are not enabled",
        ),
    }
}

/// Records the outcome of a send.
pub(crate) fn record_send(transport: &'static str, result: &chat_core::Result<chat_core::Sent>) {
    match result {
        Ok(sent) if !sent.replayed => {
            metrics::counter!("chat_messages_sent_total", "transport" => transport).increment(1)
        }
        Err(chat_core::Error::RateLimited { .. }) => {
            metrics::counter!("chat_sends_rate_limited_total", "transport" => transport)
                .increment(1);
        }
        _ => {}
    }
}
