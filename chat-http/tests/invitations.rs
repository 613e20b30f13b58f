//! `POST /v1/events/{id}/invitations` on both stores: adding people to an event by the email
//! they sign in with.

#[path = "../../chat-store-postgres/tests/common/mod.rs"]
mod pg;
mod support;

use std::sync::Arc;

use axum::http::StatusCode;
use chat_core::Store;
use serde_json::json;
use support::{App, code};

/// `POST /v1/events/{id}/invitations`: an admin adds someone by the email they sign in with;
/// a plain member gets 403 for a known and an unknown address alike; an unknown address is
/// 404 `user` for the admin; malformed JSON is 400 and adds no one.
async fn invitations_by_email(store: Arc<dyn Store>) {
    let app = App::new(store);
    let (owner, event, _room) = app.world().await;
    let profile = chat_core::ProfileInput {
        display_name: "Sarah".into(),
        avatar_url: None,
    };
    let (_, sarah) = app
        .state
        .chat
        .create_account("sarah@example.com", "$hash".into(), profile)
        .await
        .unwrap();
    let (member, member_token) = app.user("Member").await;
    let path = format!("/v1/events/{event}/invitations");
    let (s, _) = app
        .call(
            "POST",
            &format!("/v1/events/{event}/members"),
            Some(&owner),
            Some(json!({"user_id": member})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);

    for email in ["sarah@example.com", "nobody@example.com"] {
        let (s, body) = app
            .call(
                "POST",
                &path,
                Some(&member_token),
                Some(json!({"email": email})),
            )
            .await;
        assert_eq!(
            (s, code(&body)),
            (StatusCode::FORBIDDEN, "forbidden"),
            "{body}"
        );
    }
    let (s, body) = app
        .call(
            "POST",
            &path,
            Some(&owner),
            Some(json!({"email": "nobody@example.com"})),
        )
        .await;
    assert_eq!(
        (s, code(&body)),
        (StatusCode::NOT_FOUND, "not_found"),
        "{body}"
    );
    let (s, body) = app
        .raw(
            "POST",
            &path,
            &owner,
            "application/json",
            b"{\"email\": ".to_vec(),
        )
        .await;
    assert_eq!(
        (s, code(&body)),
        (StatusCode::BAD_REQUEST, "validation"),
        "{body}"
    );

    let (s, body) = app
        .call(
            "POST",
            &path,
            Some(&owner),
            Some(json!({"email": "Sarah@Example.com", "role": "admin"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    assert_eq!(body["user_id"], sarah.id.to_string());
    assert_eq!(body["role"], "admin");
    let (s, body) = app
        .call(
            "POST",
            &path,
            Some(&owner),
            Some(json!({"email": "sarah@example.com"})),
        )
        .await;
    assert_eq!(
        (s, code(&body)),
        (StatusCode::CONFLICT, "conflict"),
        "{body}"
    );
}

support::on_both_stores!(invitations_by_email);
