//! Sign-up and sign-in over both stores: tokens that work, one generic answer to bad
//! credentials, hashes instead of passwords, bad input refused, attempts limited per email and
//! per client address.

#[path = "../../chat-store-postgres/tests/common/mod.rs"]
mod pg;
mod support;

use std::sync::Arc;

use axum::http::StatusCode;
use chat_core::Store;
use chat_http::accounts::AccountsConfig;
use serde_json::{Value, json};
use support::{App, code};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn accounts_app(store: Arc<dyn Store>) -> App {
    App::new(store).with_accounts(AccountsConfig::default())
}

async fn sign_up(app: &App, email: &str, password: &str, name: &str) -> (StatusCode, Value) {
    app.call(
        "POST",
        "/v1/auth/sign-up",
        None,
        Some(json!({"email": email, "password": password, "display_name": name})),
    )
    .await
}

async fn sign_in(app: &App, email: &str, password: &str) -> (StatusCode, Value) {
    app.call(
        "POST",
        "/v1/auth/sign-in",
        None,
        Some(json!({"email": email, "password": password})),
    )
    .await
}

async fn sign_up_and_in(store: Arc<dyn Store>) {
    let app = accounts_app(Arc::clone(&store));
    let (s, session) = sign_up(&app, "Sarah@Example.com", "correct horse", "Sarah Chen").await;
    assert_eq!(s, StatusCode::CREATED, "{session}");
    assert_eq!(session["user"]["display_name"], "Sarah Chen");
    let token = session["token"].as_str().unwrap();
    let (s, me) = app.call("GET", "/v1/me", Some(token), None).await;
    assert_eq!((s, &me["id"]), (StatusCode::OK, &session["user"]["id"]));

    // Only a hash is stored.
    let account = store
        .account_by_email("sarah@example.com")
        .await
        .unwrap()
        .unwrap();
    assert!(account.password_hash.starts_with("$argon2id$"));
    assert!(!account.password_hash.contains("correct horse"));

    let (s, again) = sign_in(&app, " SARAH@example.com ", "correct horse").await;
    assert_eq!(s, StatusCode::OK, "{again}");
    assert_eq!(again["user"]["id"], session["user"]["id"]);
    let (s, _) = app
        .call(
            "GET",
            "/v1/me",
            Some(again["token"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);

    // A wrong password and an unknown email get the very same answer.
    let (s1, wrong_password) = sign_in(&app, "sarah@example.com", "wrong horse").await;
    let (s2, unknown_email) = sign_in(&app, "nobody@example.com", "correct horse").await;
    let (s3, not_an_email) = sign_in(&app, "nobody", "correct horse").await;
    assert_eq!(
        (s1, s2, s3),
        (
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED
        )
    );
    assert_eq!(code(&wrong_password), "invalid_credentials");
    assert_eq!(wrong_password, unknown_email);
    assert_eq!(wrong_password, not_an_email);

    // A taken email is a conflict and changes nothing.
    let (s, taken) = sign_up(&app, "sarah@example.COM", "another password", "Impostor").await;
    assert_eq!((s, code(&taken)), (StatusCode::CONFLICT, "conflict"));
    let (s, _) = sign_in(&app, "sarah@example.com", "correct horse").await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = sign_in(&app, "sarah@example.com", "another password").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

async fn bad_sign_ups_are_refused_and_store_nothing(store: Arc<dyn Store>) {
    let app = accounts_app(Arc::clone(&store));
    for (email, password, name, field) in [
        ("not-an-email", "long enough", "Name", "email"),
        ("a@example.com", "short", "Name", "password"),
        ("a@example.com", "with a \u{0} nul", "Name", "password"),
        ("a@example.com", &"x".repeat(300), "Name", "password"),
        ("a@example.com", "long enough", "   ", "display_name"),
        ("a@example.com", "long enough", "Bell\u{7}", "display_name"),
        (
            "a@example.com",
            "long enough",
            &"n".repeat(65),
            "display_name",
        ),
    ] {
        let (s, body) = sign_up(&app, email, password, name).await;
        assert_eq!(
            (s, code(&body), body["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, "validation", Some(field)),
            "{email:?} {name:?}: {body}"
        );
    }
    assert!(
        store
            .account_by_email("a@example.com")
            .await
            .unwrap()
            .is_none()
    );
    let (s, body) = app
        .raw_unauthenticated(
            "POST",
            "/v1/auth/sign-up",
            "application/json",
            b"{\"email\": ".to_vec(),
        )
        .await;
    assert_eq!((s, code(&body)), (StatusCode::BAD_REQUEST, "validation"));
    let (s, body) = app
        .raw_unauthenticated(
            "POST",
            "/v1/auth/sign-in",
            "application/json",
            b"{\"email\": \"\xff\"}".to_vec(),
        )
        .await;
    assert_eq!((s, code(&body)), (StatusCode::BAD_REQUEST, "validation"));
}

async fn sign_ins_are_limited_per_email(store: Arc<dyn Store>) {
    let app = accounts_app(store);
    let (s, _) = sign_up(&app, "target@example.com", "correct horse", "Target").await;
    assert_eq!(s, StatusCode::CREATED);
    for _ in 0..10 {
        let (s, _) = sign_in(&app, "target@example.com", "guess guess").await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
    // The 11th attempt is refused before the password is even checked: the right one too.
    let (s, body) = sign_in(&app, "TARGET@example.com", "correct horse").await;
    assert_eq!(
        (s, code(&body)),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    let wait = body["error"]["retry_after_ms"].as_u64().unwrap();
    assert!(wait > 50_000 && wait <= 60_000, "{wait}");
    // Other emails are not affected.
    let (s, _) = sign_in(&app, "other@example.com", "whatever1").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

async fn accounts_are_off_unless_enabled(store: Arc<dyn Store>) {
    let app = App::new(store);
    let (s, body) = sign_in(&app, "a@example.com", "long enough").await;
    assert_eq!((s, code(&body)), (StatusCode::NOT_FOUND, "not_found"));
}

async fn new_accounts_join_the_welcome_event(store: Arc<dyn Store>) {
    let probe = App::new(Arc::clone(&store));
    let (owner, event, _) = probe.world().await;
    let (s, me) = probe.call("GET", "/v1/me", Some(&owner), None).await;
    assert_eq!(s, StatusCode::OK);
    let owner_id: chat_core::UserId = me["id"].as_str().unwrap().parse().unwrap();
    let event_id: chat_core::EventId = event.parse().unwrap();
    let app = App::new(store).with_accounts(AccountsConfig {
        welcome_event: Some((event_id, owner_id)),
        ..AccountsConfig::default()
    });
    let (s, session) = sign_up(&app, "new@example.com", "long enough", "Newcomer").await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, events) = app
        .call(
            "GET",
            "/v1/events",
            Some(session["token"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        events[0]["event"]["id"].as_str(),
        Some(event.as_str()),
        "{events}"
    );
}

support::on_both_stores!(
    sign_up_and_in,
    bad_sign_ups_are_refused_and_store_nothing,
    sign_ins_are_limited_per_email,
    accounts_are_off_unless_enabled,
    new_accounts_join_the_welcome_event,
);

/// Over a real socket the server knows the client's address, and limits attempts per address
/// across emails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempts_are_limited_per_client_address() {
    let app =
        App::new(Arc::new(chat_store_memory::MemoryStore::new())).with_accounts(AccountsConfig {
            attempts_per_ip: 3,
            ..AccountsConfig::default()
        });
    let (addr, _stop, _task) = app.spawn().await;
    let mut statuses = Vec::new();
    for i in 0..4 {
        let body =
            json!({"email": format!("user{i}@example.com"), "password": "long enough"}).to_string();
        let request = format!(
            "POST /v1/auth/sign-in HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        statuses.push(response.split(' ').nth(1).unwrap().to_owned());
        if i == 3 {
            assert!(
                response.to_ascii_lowercase().contains("retry-after:"),
                "{response}"
            );
        }
    }
    assert_eq!(statuses, ["401", "401", "401", "429"]);
}
