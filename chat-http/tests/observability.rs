//! `/metrics`: Prometheus text with request latency, sends and rate-limited sends, served by
//! `metrics_router` and never by the public router.

mod support;

use std::sync::Arc;

use axum::http::StatusCode;
use chat_store_memory::MemoryStore;
use serde_json::json;
use support::App;
use tower::ServiceExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_sends_and_rate_limits() {
    let mut app = App::new(Arc::new(MemoryStore::new()));
    app.state = app.state.clone().with_metrics();
    app.router = chat_http::router(app.state.clone());
    let (owner, _event, room) = app.world().await;
    for i in 0..11 {
        app.call(
            "POST",
            &format!("/v1/rooms/{room}/messages"),
            Some(&owner),
            Some(json!({"text": format!("m{i}")})),
        )
        .await;
    }
    // Never on the public API, whatever is installed.
    let (status, _) = app.call("GET", "/metrics", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let metrics = chat_http::metrics_router(app.state.clone());
    let response = metrics
        .oneshot(
            axum::http::Request::get("/metrics")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let (status, body) = support::split(response).await;
    assert_eq!(status, StatusCode::OK);
    let text = body.as_str().expect("Prometheus text");
    for expected in [
        "chat_messages_sent_total{transport=\"rest\"} 10",
        "chat_sends_rate_limited_total{transport=\"rest\"} 1",
        "chat_http_request_duration_seconds_count{method=\"POST\",route=\"/v1/rooms/{room_id}/messages\",status=\"201\"} 10",
        "chat_http_request_duration_seconds_count{method=\"POST\",route=\"/v1/rooms/{room_id}/messages\",status=\"429\"} 1",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}
