//! The browser client, shipped with the library: static HTML, CSS and JavaScript modules
//! compiled into the host's binary, so it runs from any directory and nothing is copied. No
//! build step: edit a file under `chat-http/client/` and rebuild.
//!
//! The client finds the API beside its page (`v1/` relative to it), so it works at the root or
//! under any prefix. It signs its user in one of two ways ([`ClientSession`]):
//!
//! - [`ClientSession::Chat`]: chat's own sign-in and sign-up form (the accounts part mounted),
//!   with a bearer token per browser tab. The example server runs this way.
//! - [`ClientSession::Host`]: the host's own session. The page carries no token; the host's
//!   cookies go with every request and with the WebSocket upgrade, and the router's
//!   [`RequestAuthenticator`](crate::RequestAuthenticator) reads them. When the API answers 401
//!   (signed out, session expired) the page sends the browser to the host's sign-in page; its
//!   Sign out button posts to the host's sign-out URL. Chat's own form never shows.
//!
//! ```no_run
//! # fn app(api: axum::Router) -> axum::Router {
//! use chat_http::client::{self, ClientConfig, ClientSession};
//! let config = ClientConfig {
//!     session: ClientSession::Host {
//!         sign_in: "/login?next=/chat/".into(),
//!         sign_out: "/logout".into(),
//!     },
//! };
//! // The client at /chat/, the API at /chat/v1: merge it into the host's router.
//! client::mount("/chat", api, &config)
//! # }
//! ```

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
        include_str!("../client/index.html"),
    ),
    (
        "/style.css",
        "text/css; charset=utf-8",
        include_str!("../client/style.css"),
    ),
    (
        "/app.js",
        "text/javascript; charset=utf-8",
        include_str!("../client/app.js"),
    ),
    (
        "/ui.js",
        "text/javascript; charset=utf-8",
        include_str!("../client/ui.js"),
    ),
    (
        "/profile.js",
        "text/javascript; charset=utf-8",
        include_str!("../client/profile.js"),
    ),
    (
        "/theme.js",
        "text/javascript; charset=utf-8",
        include_str!("../client/theme.js"),
    ),
    (
        "/api.js",
        "text/javascript; charset=utf-8",
        include_str!("../client/api.js"),
    ),
    (
        "/live.js",
        "text/javascript; charset=utf-8",
        include_str!("../client/live.js"),
    ),
    (
        "/render.js",
        "text/javascript; charset=utf-8",
        include_str!("../client/render.js"),
    ),
    (
        "/markup.js",
        "text/javascript; charset=utf-8",
        include_str!("../client/markup.js"),
    ),
    (
        "/mentions.js",
        "text/javascript; charset=utf-8",
        include_str!("../client/mentions.js"),
    ),
    (
        "/attachments.js",
        "text/javascript; charset=utf-8",
        include_str!("../client/attachments.js"),
    ),
    (
        "/conversation.js",
        "text/javascript; charset=utf-8",
        include_str!("../client/conversation.js"),
    ),
    (
        "/reading.js",
        "text/javascript; charset=utf-8",
        include_str!("../client/reading.js"),
    ),
    (
        "/composer.js",
        "text/javascript; charset=utf-8",
        include_str!("../client/composer.js"),
    ),
    (
        "/search.js",
        "text/javascript; charset=utf-8",
        include_str!("../client/search.js"),
    ),
    (
        "/members.js",
        "text/javascript; charset=utf-8",
        include_str!("../client/members.js"),
    ),
    (
        "/polls.js",
        "text/javascript; charset=utf-8",
        include_str!("../client/polls.js"),
    ),
    (
        "/keyboard.js",
        "text/javascript; charset=utf-8",
        include_str!("../client/keyboard.js"),
    ),
];

/// How the page signs its user in; see the module docs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ClientSession {
    /// Chat's own sign-in and sign-up form, and a bearer token per tab. Needs the accounts
    /// part ([`Parts::accounts`](crate::Parts::accounts)).
    #[default]
    Chat,
    /// The host's session, read from its cookies by the router's request authenticator.
    Host {
        /// Where the browser goes when the API says it is not signed in: the host's sign-in
        /// page, same origin (for example `/login?next=/chat/`).
        sign_in: String,
        /// Where the Sign out button posts a form: the host's sign-out handler, same origin
        /// (the page's policy allows forms to its own origin only).
        sign_out: String,
    },
}

/// How the client is served.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientConfig {
    /// How the page signs its user in.
    pub session: ClientSession,
}

/// The whole app (API and client) under `base`, such as `/chat`, for the host to merge into
/// its router. The page is at `/chat/` (its files and the API resolve relative to it), so
/// `/chat` redirects there.
pub fn mount(base: &str, api: Router, config: &ClientConfig) -> Router {
    let page = format!("{base}/");
    let index = page_for(config);
    Router::new()
        .route(base, get(move || async move { Redirect::permanent(&page) }))
        .route(
            &format!("{base}/"),
            get(move || async move { index.response() }),
        )
        .nest(base, api.merge(assets()))
}

/// The client at the root, to merge beside the API router's routes.
pub fn routes(config: &ClientConfig) -> Router {
    let index = page_for(config);
    assets().route("/", get(move || async move { index.response() }))
}

/// The page, with the session mode written into its `chat-engine-session` meta tag (the
/// policy forbids inline script, so configuration travels as markup).
#[derive(Debug, Clone)]
struct Page(axum::body::Bytes);

impl Page {
    fn response(&self) -> Response {
        file("text/html; charset=utf-8", self.0.clone())
    }
}

/// The meta tag the page ships with: chat's own sign-in.
const SESSION_META: &str = r#"<meta name="chat-engine-session" content="chat">"#;

fn page_for(config: &ClientConfig) -> Page {
    let (_, _, html) = FILES[0];
    debug_assert!(
        html.contains(SESSION_META),
        "index.html lost its session tag"
    );
    let meta = match &config.session {
        ClientSession::Chat => SESSION_META.to_owned(),
        ClientSession::Host { sign_in, sign_out } => format!(
            r#"<meta name="chat-engine-session" content="host" data-sign-in="{}" data-sign-out="{}">"#,
            attribute(sign_in),
            attribute(sign_out)
        ),
    };
    Page(html.replacen(SESSION_META, &meta, 1).into())
}

/// `value` escaped for a double-quoted HTML attribute.
fn attribute(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Every file but the page.
fn assets() -> Router {
    FILES[1..]
        .iter()
        .fold(Router::new(), |router, &(path, content_type, body)| {
            router.route(path, get(move || async move { file(content_type, body) }))
        })
}

fn file(content_type: &'static str, body: impl Into<axum::body::Body>) -> Response {
    let mut response = body.into().into_response();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_session_is_written_into_the_page_escaped() {
        let host = page_for(&ClientConfig {
            session: ClientSession::Host {
                sign_in: "/login?next=/chat/&x=\"><script>".into(),
                sign_out: "/logout".into(),
            },
        });
        let host = std::str::from_utf8(&host.0).unwrap();
        assert!(host.contains(
            r#"content="host" data-sign-in="/login?next=/chat/&amp;x=&quot;&gt;&lt;script&gt;" data-sign-out="/logout">"#
        ));
        assert!(!host.contains(SESSION_META));
        let own = page_for(&ClientConfig::default());
        assert!(std::str::from_utf8(&own.0).unwrap().contains(SESSION_META));
    }
}
