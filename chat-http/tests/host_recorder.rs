//! A host that installed its own metrics recorder first: `with_metrics()` must not panic, and
//! the host can hand chat-http its Prometheus handle. (A test binary of its own: the recorder
//! is process-wide.)

mod support;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt;

#[tokio::test]
async fn a_host_recorder_is_used_not_replaced() {
    let host = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .expect("the host installs first");
    let app = support::App::new(Arc::new(chat_store_memory::MemoryStore::new()));
    let state = app.state.clone().with_metrics();
    let get = |state: chat_http::AppState| async move {
        chat_http::metrics_router(state)
            .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
            .await
            .unwrap()
    };
    assert_eq!(get(state.clone()).await.status(), StatusCode::NOT_FOUND);
    // chat-engine's metrics still reach the host's recorder.
    app.user("Owner").await;
    let served = get(state.with_metrics_handle(host)).await;
    assert_eq!(served.status(), StatusCode::OK);
    let body = axum::body::to_bytes(served.into_body(), 1 << 20)
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&body);
    assert!(
        text.contains("chat_http_request_duration_seconds"),
        "{text}"
    );
}
