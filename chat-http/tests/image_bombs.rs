//! Image bombs over HTTP on both stores: twenty at once, from several accounts, as attachments
//! and as profile pictures, each answered 413 `payload_too_large`, with nothing stored.

#[path = "../../chat-store-postgres/tests/common/mod.rs"]
mod pg;
mod support;

use std::sync::Arc;

use axum::http::StatusCode;
use chat_core::Store;
use chat_core::testing::fixtures::{animated_webp_bomb, gif_bomb, jpeg_bomb, png_bomb, webp_bomb};
use support::{App, code};

/// Each format's bomb: a few bytes to a few KB declaring gigabytes of pixels or 2,000 frames.
fn bombs() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("image/jpeg", jpeg_bomb(65535, 65535)),
        ("image/png", png_bomb(20_000, 20_000)),
        ("image/webp", webp_bomb(16383, 16383)),
        ("image/webp", animated_webp_bomb(65535, 65535, 10)),
        ("image/gif", gif_bomb(65535, 65535, 2000)),
    ]
}

async fn twenty_bombs_at_once(store: Arc<dyn Store>) {
    let app = Arc::new(App::new(store));
    let (owner, event, room) = app.world().await;
    let mut members = vec![owner.clone()];
    for name in ["Mallory", "Trudy", "Eve"] {
        members.push(app.member(&owner, &event, &room, name).await.1);
    }
    let (_, before) = app.call("GET", "/v1/me", Some(&owner), None).await;
    let bombs = bombs();
    let answers = futures::future::join_all((0..20).map(|i| {
        let app = Arc::clone(&app);
        let token = members[i % members.len()].clone();
        let (kind, body) = bombs[i % bombs.len()].clone();
        let uri = if i % 2 == 0 {
            format!("/v1/rooms/{room}/uploads?file_name=bomb{i}")
        } else {
            "/v1/me/avatar".to_owned()
        };
        let method = if i % 2 == 0 { "POST" } else { "PUT" };
        async move {
            (
                uri.clone(),
                kind,
                app.raw(method, &uri, &token, kind, body).await,
            )
        }
    }))
    .await;
    for (uri, kind, (status, body)) in answers {
        assert_eq!(
            (status, code(&body)),
            (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            "{kind} to {uri}: {body}"
        );
    }
    let (_, after) = app.call("GET", "/v1/me", Some(&owner), None).await;
    assert_eq!(after, before, "the profile is untouched");
    let (s, page) = app
        .call(
            "GET",
            &format!("/v1/rooms/{room}/messages"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        page.to_string().find("bomb").is_none(),
        "no upload was attached or kept: {page}"
    );
}

support::on_both_stores!(twenty_bombs_at_once);
