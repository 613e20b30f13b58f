//! A host that authenticates with its own session cookie, on both stores: chat takes the
//! caller from the host's [`RequestAuthenticator`] for REST and WebSocket upgrades, refuses
//! cross-site changes and WebSockets from other origins (storing nothing), keeps bearer
//! tokens working, and loses access the moment the host's session ends.

#[path = "../../chat-store-postgres/tests/common/mod.rs"]
mod pg;
mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Extensions, HeaderMap, Request, StatusCode};
use chat_core::{Result, Store, UserId};
use chat_http::RequestAuthenticator;
use serde_json::{Value, json};
use support::App;
use support::ws_client::{next, send};
use tower::ServiceExt;

/// The host's session table: cookie `sid` → user.
#[derive(Debug, Default)]
struct Sessions(Mutex<HashMap<String, UserId>>);

#[chat_http::async_trait]
impl RequestAuthenticator for Sessions {
    async fn caller(&self, headers: &HeaderMap, _: &Extensions) -> Result<Option<UserId>> {
        let sid = headers
            .get_all("cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|c| c.trim().strip_prefix("sid="));
        Ok(sid.and_then(|sid| self.0.lock().unwrap().get(sid).copied()))
    }
}

/// A request with the session cookie and the given extra headers.
async fn call(
    app: &App,
    method: &str,
    uri: &str,
    sid: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "chat.example")
        .header("cookie", format!("theme=dark; sid={sid}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = match body {
        Some(b) => req
            .header("content-type", "application/json")
            .body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    }
    .unwrap();
    support::split(app.router.clone().oneshot(req).await.unwrap()).await
}

async fn cookie_sessions(store: Arc<dyn Store>) {
    let mut app = App::new(store);
    let (owner_token, _event, room) = app.world().await;
    let (_, me) = app.call("GET", "/v1/me", Some(&owner_token), None).await;
    let owner: UserId = me["id"].as_str().unwrap().parse().unwrap();
    let sessions = Arc::new(Sessions::default());
    sessions.lock_insert("s3cret", owner);
    let mut config = (*app.state.config).clone();
    config.allowed_origins = vec!["https://app.example".into()];
    app.state =
        chat_http::AppState::with_config(Arc::clone(&app.state.chat), app.jwt.clone(), config)
            .with_request_auth(sessions.clone());
    app.router = support::checked_router(&app.state);
    let messages = format!("/v1/rooms/{room}/messages");
    let say = |text: &str| Some(json!({"text": text}));

    // Reads and same-site changes by cookie.
    let (s, me) = call(&app, "GET", "/v1/me", "s3cret", &[], None).await;
    assert_eq!(
        (s, me["id"].as_str()),
        (StatusCode::OK, Some(owner.to_string().as_str()))
    );
    for origin in ["https://chat.example", "https://app.example"] {
        let (s, sent) = call(
            &app,
            "POST",
            &messages,
            "s3cret",
            &[("origin", origin)],
            say(origin),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{origin}: {sent}");
    }
    // Cross-site changes are refused and store nothing.
    for headers in [
        &[("origin", "https://evil.example")][..],
        &[("sec-fetch-site", "cross-site")][..],
    ] {
        let (s, refused) = call(&app, "POST", &messages, "s3cret", headers, say("forged")).await;
        assert_eq!(
            (s, support::code(&refused)),
            (StatusCode::FORBIDDEN, "forbidden"),
            "{headers:?}"
        );
    }
    let (_, page) = app.call("GET", &messages, Some(&owner_token), None).await;
    let texts: Vec<&str> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["text"].as_str())
        .collect();
    assert!(!texts.contains(&"forged"), "{texts:?}");
    assert_eq!(texts.len(), 2, "{texts:?}");
    // A bearer token still works, and is not subject to the origin rule.
    let bearer = format!("Bearer {owner_token}");
    let headers = [
        ("origin", "https://evil.example"),
        ("authorization", bearer.as_str()),
    ];
    let (s, _) = call(&app, "POST", &messages, "none", &headers, say("by token")).await;
    assert_eq!(s, StatusCode::CREATED);

    // WebSocket upgrades: the cookie authenticates; another site's page may not open one.
    let (addr, _stop, _server) = app.spawn().await;
    let upgrade = |origin: &'static str| {
        let mut req =
            tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
                format!("ws://{addr}/v1/ws"),
            )
            .unwrap();
        req.headers_mut()
            .insert("cookie", "sid=s3cret".parse().unwrap());
        req.headers_mut().insert("origin", origin.parse().unwrap());
        tokio_tungstenite::connect_async(req)
    };
    let refused = upgrade("https://evil.example").await;
    assert!(refused.is_err(), "a cross-site WebSocket is refused");
    let (mut ws, _) = upgrade("https://app.example").await.unwrap();
    send(&mut ws, json!({"type": "subscribe", "room_id": room})).await;
    assert_eq!(
        next(&mut ws).await["type"],
        "subscribed",
        "authenticated by the cookie"
    );

    // The host's logout ends access at once.
    sessions.0.lock().unwrap().clear();
    let (s, _) = call(&app, "GET", "/v1/me", "s3cret", &[], None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = call(
        &app,
        "POST",
        &messages,
        "s3cret",
        &[("origin", "https://chat.example")],
        say("after"),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

impl Sessions {
    fn lock_insert(&self, sid: &str, user: UserId) {
        self.0.lock().unwrap().insert(sid.to_owned(), user);
    }
}

support::on_both_stores!(cookie_sessions);
