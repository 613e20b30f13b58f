//! The browser client: static HTML, CSS and JavaScript modules, compiled into the binary so
//! the server runs from any directory. No build step: edit a file under `client/` and rebuild.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

/// The page may load its own scripts and styles and talk to its own origin (REST and the
/// WebSocket), and nothing else: no inline script, no third-party anything. Even if user text
/// ever reached the DOM as HTML, a script in it would not run.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// (path, content type, body) of every file.
const FILES: &[(&str, &str, &str)] = &[
    (
        "/",
        "text/html; charset=utf-8",
        include_str!("client/index.html"),
    ),
    (
        "/style.css",
        "text/css; charset=utf-8",
        include_str!("client/style.css"),
    ),
    (
        "/app.js",
        "text/javascript; charset=utf-8",
        include_str!("client/app.js"),
    ),
    (
        "/ui.js",
        "text/javascript; charset=utf-8",
        include_str!("client/ui.js"),
    ),
    (
        "/profile.js",
        "text/javascript; charset=utf-8",
        include_str!("client/profile.js"),
    ),
    (
        "/theme.js",
        "text/javascript; charset=utf-8",
        include_str!("client/theme.js"),
    ),
    (
        "/api.js",
        "text/javascript; charset=utf-8",
        include_str!("client/api.js"),
    ),
    (
        "/live.js",
        "text/javascript; charset=utf-8",
        include_str!("client/live.js"),
    ),
    (
        "/render.js",
        "text/javascript; charset=utf-8",
        include_str!("client/render.js"),
    ),
    (
        "/markup.js",
        "text/javascript; charset=utf-8",
        include_str!("client/markup.js"),
    ),
    (
        "/mentions.js",
        "text/javascript; charset=utf-8",
        include_str!("client/mentions.js"),
    ),
    (
        "/attachments.js",
        "text/javascript; charset=utf-8",
        include_str!("client/attachments.js"),
    ),
    (
        "/conversation.js",
        "text/javascript; charset=utf-8",
        include_str!("client/conversation.js"),
    ),
    (
        "/reading.js",
        "text/javascript; charset=utf-8",
        include_str!("client/reading.js"),
    ),
    (
        "/composer.js",
        "text/javascript; charset=utf-8",
        include_str!("client/composer.js"),
    ),
    (
        "/search.js",
        "text/javascript; charset=utf-8",
        include_str!("client/search.js"),
    ),
    (
        "/members.js",
        "text/javascript; charset=utf-8",
        include_str!("client/members.js"),
    ),
    (
        "/polls.js",
        "text/javascript; charset=utf-8",
        include_str!("client/polls.js"),
    ),
    (
        "/keyboard.js",
        "text/javascript; charset=utf-8",
        include_str!("client/keyboard.js"),
    ),
];

/// The whole app (API and client) under `base`, such as `/chat`, as a host that nests the
/// router would serve it. The page is at `/chat/` (its files and the API resolve relative to
/// it), so `/chat` redirects there.
pub(crate) fn mount(base: &str, api: Router) -> Router {
    let page = format!("{base}/");
    Router::new()
        .route(base, get(move || async move { Redirect::permanent(&page) }))
        .route(&format!("{base}/"), get(|| async { index() }))
        .nest(base, api.merge(assets()))
}

fn index() -> Response {
    let (_, content_type, body) = FILES[0];
    file(content_type, body)
}

/// The client at the root, beside the API router's routes.
pub(crate) fn routes() -> Router {
    assets().route("/", get(|| async { index() }))
}

/// Every file but the page.
fn assets() -> Router {
    FILES[1..]
        .iter()
        .fold(Router::new(), |router, &(path, content_type, body)| {
            router.route(path, get(move || async move { file(content_type, body) }))
        })
}

fn file(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // The files change with the binary; revalidating each load keeps a rebuilt server's
    // client current.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}
