//! Outgoing webhooks against a real receiving HTTP server started by the test, on both stores:
//! signed deliveries in order; a receiver that is down for a while and comes back gets
//! everything; one that keeps failing fills the dead letters; a dispatcher killed in the
//! middle of its deliveries and started again on the same store delivers every change at
//! least once, in order.

#[path = "../../chat-store-postgres/tests/common/mod.rs"]
mod pg;
mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use chat_core::ChatService;
use chat_core::Store;
use chat_core::webhook::WebhookPolicy;
use chat_http::background::{Background, BackgroundConfig};
use chat_http::webhooks::{Delivery, DispatcherConfig, verify};
use serde_json::{Value, json};
use support::{AdmitAll, App, code};

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    signature: String,
    delivery: String,
    body: Bytes,
}

#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    /// How long each answer takes, in milliseconds.
    delay_ms: Arc<AtomicU64>,
}

async fn hook(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let delay = r.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    r.got.lock().unwrap().push(Received {
        signature: header("chat-signature"),
        delivery: header("chat-delivery"),
        body,
    });
    StatusCode::NO_CONTENT
}

async fn always_fails() -> StatusCode {
    StatusCode::INTERNAL_SERVER_ERROR
}

impl Receiver {
    /// Serves on `port` (0: any) until the returned task is aborted.
    async fn serve(&self, port: u16) -> (u16, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let app = axum::Router::new()
            .route("/hook", post(hook))
            .route("/fails", post(always_fails))
            .with_state(self.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        (port, task)
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// What arrived, each delivery once: delivery is at least once (a store hiccup after a
    /// delivery repeats it), and receivers deduplicate by `Chat-Delivery`, as the docs say.
    fn distinct(&self) -> Vec<Received> {
        let mut seen = std::collections::HashSet::new();
        self.received()
            .into_iter()
            .filter(|r| seen.insert(r.delivery.clone()))
            .collect()
    }

    /// Waits until `n` distinct deliveries have arrived; returns them in arrival order.
    async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let got = self.distinct();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "only {} of {n} arrived",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn config(max_attempts: u32) -> DispatcherConfig {
    DispatcherConfig {
        poll_every: Duration::from_millis(20),
        timeout: Duration::from_secs(5),
        policy: WebhookPolicy {
            max_attempts,
            first_backoff: Duration::from_millis(300),
            max_backoff: Duration::from_millis(600),
        },
    }
}

/// The dispatcher alone, owned by a background handle.
fn dispatcher(chat: Arc<chat_core::ChatService>, config: DispatcherConfig) -> Background {
    Background::start(
        chat,
        BackgroundConfig {
            webhooks: Some(config),
            collect_uploads_every: None,
        },
    )
}

fn now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

/// The texts of deliveries, checking each signature under `secret` on the way.
fn texts(got: &[Received], secret: &str) -> Vec<String> {
    got.iter()
        .map(|r| {
            assert!(
                verify(secret, &r.signature, &r.body, now(), 300),
                "a valid signature: {}",
                r.signature
            );
            let delivery: Delivery = serde_json::from_slice(&r.body).unwrap();
            assert_eq!(
                r.delivery,
                format!("{}:{}", delivery.change.room_id, delivery.change.seq)
            );
            match delivery.change.kind {
                chat_core::ChangeKind::MessagePosted(m) => m.text,
                other => format!("({})", other.name()),
            }
        })
        .collect()
}

/// Sends are never rate limited (twelve in a row are not what these tests are about).
fn unlimited(store: Arc<dyn Store>) -> App {
    App::with_loopback_webhooks(ChatService::builder(store).rate_limit_policy(Arc::new(AdmitAll)))
}

async fn register(app: &App, owner: &str, event: &str, url: &str) -> Value {
    let (s, hook) = app
        .call(
            "POST",
            &format!("/v1/events/{event}/webhooks"),
            Some(owner),
            Some(json!({"url": url})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{hook}");
    hook
}

async fn say(app: &App, token: &str, room: &str, text: &str) {
    let (s, body) = app
        .call(
            "POST",
            &format!("/v1/rooms/{room}/messages"),
            Some(token),
            Some(json!({"text": text})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
}

async fn deliveries_survive_a_receiver_that_is_down(store: Arc<dyn Store>) {
    let app = App::with_loopback_webhooks(ChatService::builder(store));
    let (owner, event, room) = app.world().await;
    let receiver = Receiver::default();
    let (port, server) = receiver.serve(0).await;
    let hook = register(
        &app,
        &owner,
        &event,
        &format!("http://127.0.0.1:{port}/hook"),
    )
    .await;
    let secret = hook["secret"].as_str().unwrap().to_owned();
    let dispatcher = dispatcher(Arc::clone(&app.state.chat), config(5));

    for text in ["one", "two", "three"] {
        say(&app, &owner, &room, text).await;
    }
    assert_eq!(
        texts(&receiver.wait_for(3).await, &secret),
        ["one", "two", "three"]
    );

    // Down for a while: deliveries fail, then arrive once it is back, in order.
    server.abort();
    let _ = server.await;
    for text in ["four", "five"] {
        say(&app, &owner, &room, text).await;
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(receiver.distinct().len(), 3, "nothing while it is down");
    let (_, server) = receiver.serve(port).await;
    let got = receiver.wait_for(5).await;
    assert_eq!(
        texts(&got, &secret),
        ["one", "two", "three", "four", "five"]
    );

    // A receiver that always fails: after the last attempt, a dead letter in the API.
    let failing = register(
        &app,
        &owner,
        &event,
        &format!("http://127.0.0.1:{port}/fails"),
    )
    .await;
    say(&app, &owner, &room, "six").await;
    let letters_path = format!(
        "/v1/events/{event}/webhooks/{}/dead-letters",
        failing["id"].as_str().unwrap()
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    let letters = loop {
        let (s, letters) = app.call("GET", &letters_path, Some(&owner), None).await;
        assert_eq!(s, StatusCode::OK, "{letters}");
        if letters.as_array().is_some_and(|l| !l.is_empty()) {
            break letters;
        }
        assert!(Instant::now() < deadline, "no dead letter");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(letters[0]["attempts"], 5);
    assert_eq!(letters[0]["room_id"], room);
    assert_eq!(letters[0]["last_error"], "answered 5xx");
    // The first webhook got "six" meanwhile: one failing receiver holds up no other.
    assert_eq!(texts(&receiver.wait_for(6).await, &secret)[5], "six");

    // Listed without secrets; removed, it gets nothing more.
    let (_, listed) = app
        .call(
            "GET",
            &format!("/v1/events/{event}/webhooks"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert!(listed[0].get("secret").is_none(), "{listed}");
    let (s, _) = app
        .call(
            "DELETE",
            &format!(
                "/v1/events/{event}/webhooks/{}",
                hook["id"].as_str().unwrap()
            ),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    say(&app, &owner, &room, "seven").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.distinct().len(), 6);
    dispatcher.shutdown().await;
    server.abort();
}

async fn a_dispatcher_killed_mid_delivery_resumes(store: Arc<dyn Store>) {
    // Twelve sends in a row: past the default rate limit, which is not what this is about.
    let app = unlimited(Arc::clone(&store));
    let (owner, event, room) = app.world().await;
    let receiver = Receiver::default();
    receiver.delay_ms.store(50, Ordering::SeqCst);
    let (port, server) = receiver.serve(0).await;
    let hook = register(
        &app,
        &owner,
        &event,
        &format!("http://127.0.0.1:{port}/hook"),
    )
    .await;
    let secret = hook["secret"].as_str().unwrap().to_owned();
    let sent: Vec<String> = (0..12).map(|i| format!("message {i}")).collect();
    for text in &sent {
        say(&app, &owner, &room, text).await;
    }

    // Killed while deliveries are in flight...
    let first = dispatcher(Arc::clone(&app.state.chat), config(5));
    receiver.wait_for(4).await;
    // Cancelled wherever it is, mid-delivery included, as a crash would stop it.
    first.shutdown().await;
    let before = receiver.received().len();
    assert!(before < sent.len(), "killed before the end ({before})");

    // ...and a new service on the same store takes over: a restarted server.
    let restarted = unlimited(store);
    let second = dispatcher(Arc::clone(&restarted.state.chat), config(5));
    let got = texts(&receiver.wait_for(sent.len()).await, &secret);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let got = if got.len() < receiver.received().len() {
        texts(&receiver.received(), &secret)
    } else {
        got
    };
    // At least once, in order: the first arrival of each message keeps the send order, and at
    // most the one in flight at the kill came twice.
    let mut firsts = Vec::new();
    for text in &got {
        if !firsts.contains(text) {
            firsts.push(text.clone());
        }
    }
    assert_eq!(firsts, sent);
    assert!(got.len() <= sent.len() + 1, "{got:?}");
    second.shutdown().await;
    server.abort();
}

/// SSRF: with webhooks on and the default (public-only) outbound policy, every form of a
/// loopback address of a real listener is refused at registration, and a webhook stored under
/// a host's wider allow-list is never connected to once the policy no longer permits it. The
/// listener counts connections: it must accept none. Webhooks are off unless the host turns
/// them on.
async fn webhooks_never_reach_inside_the_network(store: Arc<dyn Store>) {
    let accepted = Arc::new(AtomicU64::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let counter = Arc::clone(&accepted);
    let accepting = tokio::spawn(async move {
        while listener.accept().await.is_ok() {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });

    let off = App::new(Arc::clone(&store));
    let (owner, event, _) = off.world().await;
    let body = json!({"url": "https://example.com/hook"});
    let (s, refused) = off
        .call(
            "POST",
            &format!("/v1/events/{event}/webhooks"),
            Some(&owner),
            Some(body),
        )
        .await;
    assert_eq!(
        (s, code(&refused)),
        (StatusCode::FORBIDDEN, "forbidden"),
        "{refused}"
    );

    let public = App::build_with(
        ChatService::builder(Arc::clone(&store))
            .webhook_registration(chat_core::WebhookRegistration::EventAdmins),
    );
    let (owner, event, room) = public.world().await;
    for url in [
        format!("http://127.0.0.1:{port}/hook"),
        format!("http://localhost:{port}/hook"),
        format!("http://2130706433:{port}/hook"),
        format!("http://0x7f000001:{port}/hook"),
        format!("http://0x7f.0.0.1:{port}/hook"),
        format!("http://0177.0.0.1:{port}/hook"),
        format!("http://127.1:{port}/hook"),
        format!("http://0.0.0.0:{port}/hook"),
        format!("http://[::1]:{port}/hook"),
        format!("http://[::ffff:127.0.0.1]:{port}/hook"),
        format!("http://user:pass@127.0.0.1:{port}/hook"),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://10.0.0.1/hook".to_owned(),
        "https://example.com/\u{202e}kooh".to_owned(),
    ] {
        let (s, refused) = public
            .call(
                "POST",
                &format!("/v1/events/{event}/webhooks"),
                Some(&owner),
                Some(json!({"url": url})),
            )
            .await;
        assert_eq!(
            (s, code(&refused), refused["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, "validation", Some("url")),
            "{url}: {refused}"
        );
    }

    // Stored while a host allowed loopback; delivered by an instance whose policy does not.
    let wide = App::with_loopback_webhooks(ChatService::builder(Arc::clone(&store)));
    let hook = register(
        &wide,
        &owner,
        &event,
        &format!("http://localhost:{port}/hook"),
    )
    .await;
    say(&public, &owner, &room, "to nobody inside").await;
    let dispatcher = dispatcher(Arc::clone(&public.state.chat), config(2));
    let letters_path = format!(
        "/v1/events/{event}/webhooks/{}/dead-letters",
        hook["id"].as_str().unwrap()
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    let letters = loop {
        let (_, letters) = public.call("GET", &letters_path, Some(&owner), None).await;
        if letters.as_array().is_some_and(|l| !l.is_empty()) {
            break letters;
        }
        assert!(Instant::now() < deadline, "no dead letter");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(letters[0]["last_error"], "address not allowed");
    dispatcher.shutdown().await;
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        0,
        "the listener was never reached"
    );
    accepting.abort();
}

/// The background handle owns the dispatcher (and the collector): it delivers while running,
/// and after `shutdown().await` returns nothing of it runs and nothing more is delivered.
async fn background_work_stops_and_is_waited_for(store: Arc<dyn Store>) {
    use chat_http::background::{Background, BackgroundConfig};
    let app = unlimited(store);
    let (owner, event, room) = app.world().await;
    let receiver = Receiver::default();
    let (port, server) = receiver.serve(0).await;
    register(
        &app,
        &owner,
        &event,
        &format!("http://127.0.0.1:{port}/hook"),
    )
    .await;
    let background = Background::start(
        Arc::clone(&app.state.chat),
        BackgroundConfig {
            webhooks: Some(config(5)),
            collect_uploads_every: Some(Duration::from_millis(20)),
        },
    );
    assert_eq!(background.running(), 2);
    say(&app, &owner, &room, "while running").await;
    receiver.wait_for(1).await;
    background.shutdown().await;
    say(&app, &owner, &room, "after the shutdown").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        receiver.distinct().len(),
        1,
        "nothing is delivered after the shutdown"
    );
    server.abort();
}

support::on_both_stores!(
    background_work_stops_and_is_waited_for,
    deliveries_survive_a_receiver_that_is_down,
    a_dispatcher_killed_mid_delivery_resumes,
    webhooks_never_reach_inside_the_network,
);
