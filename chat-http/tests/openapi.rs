//! The OpenAPI document: served, complete, and naming only routes that exist.
//!
//! Routes are registered together with their descriptions (utoipa-axum), so a route cannot be
//! added without appearing here; this test pins the contract and checks each documented
//! operation reaches a handler rather than the router's "no such route".

mod support;

use std::sync::Arc;

use axum::http::StatusCode;
use chat_store_memory::MemoryStore;
use support::App;

const EXPECTED: &[(&str, &str)] = &[
    ("post", "/v1/auth/sign-up"),
    ("post", "/v1/auth/sign-in"),
    ("get", "/v1/me"),
    ("put", "/v1/me"),
    ("get", "/v1/users/{user_id}"),
    ("get", "/v1/events"),
    ("post", "/v1/events"),
    ("get", "/v1/events/{event_id}"),
    ("get", "/v1/events/{event_id}/members"),
    ("post", "/v1/events/{event_id}/members"),
    ("put", "/v1/events/{event_id}/members/{user_id}"),
    ("delete", "/v1/events/{event_id}/members/{user_id}"),
    ("post", "/v1/events/{event_id}/rooms"),
    ("get", "/v1/rooms"),
    ("get", "/v1/rooms/{room_id}"),
    ("patch", "/v1/rooms/{room_id}"),
    ("post", "/v1/rooms/{room_id}/join"),
    ("post", "/v1/rooms/{room_id}/leave"),
    ("get", "/v1/rooms/{room_id}/members"),
    ("post", "/v1/rooms/{room_id}/members"),
    ("get", "/v1/rooms/{room_id}/members/lookup"),
    ("patch", "/v1/rooms/{room_id}/members/{user_id}"),
    ("post", "/v1/rooms/{room_id}/read"),
    ("post", "/v1/rooms/{room_id}/typing"),
    ("get", "/v1/rooms/{room_id}/messages"),
    ("post", "/v1/rooms/{room_id}/messages"),
    ("get", "/v1/rooms/{room_id}/changes"),
    ("patch", "/v1/messages/{message_id}"),
    ("delete", "/v1/messages/{message_id}"),
    ("put", "/v1/messages/{message_id}/reactions/{key}"),
    ("delete", "/v1/messages/{message_id}/reactions/{key}"),
    ("get", "/v1/search"),
    ("get", "/v1/admin/metrics"),
    ("get", "/v1/ws"),
    ("get", "/healthz"),
    ("get", "/readyz"),
];

#[tokio::test]
async fn the_document_covers_every_route_and_only_real_ones() {
    let app = App::new(Arc::new(MemoryStore::new()));
    let (status, served) = app.call("GET", "/v1/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(served["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(served, serde_json::to_value(chat_http::openapi()).unwrap());
    assert!(served["components"]["securitySchemes"]["bearer"].is_object());

    let mut documented = Vec::new();
    for (path, item) in served["paths"].as_object().unwrap() {
        for method in ["get", "put", "post", "delete", "patch"] {
            if item.get(method).is_some() {
                documented.push((method.to_owned(), path.clone()));
            }
        }
    }
    let mut expected: Vec<(String, String)> = EXPECTED
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    documented.sort();
    expected.sort();
    assert_eq!(documented, expected);

    let id = uuid::Uuid::now_v7().to_string();
    for (method, path) in &documented {
        let uri = path
            .replace("{user_id}", &id)
            .replace("{event_id}", &id)
            .replace("{room_id}", &id)
            .replace("{message_id}", &id)
            .replace("{key}", "x");
        let (status, body) = app.call(&method.to_uppercase(), &uri, None, None).await;
        let unrouted = status == StatusCode::METHOD_NOT_ALLOWED
            || (status == StatusCode::NOT_FOUND && body["error"]["message"] == "no such route");
        assert!(
            !unrouted,
            "{method} {path} is documented but not routed ({status})"
        );
    }
}
