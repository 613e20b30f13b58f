//! The broker suite over a real NATS server (`NATS_URL`, default `nats://127.0.0.1:4222`):
//! several instances, each a service with its own NATS connection and a [`Relay`], sharing
//! one store.
//!
//! Without a reachable server the tests fail, saying so, unless `CHAT_SKIP_NATS=1` asks to
//! skip them (never under `CI=true`).

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chat_broker_nats::NatsLink;
use chat_core::relay::Relay;
use chat_core::testing::brokers::BrokerCluster;
use chat_core::{Broker, Store};
use chat_store_memory::MemoryStore;

fn nats_url() -> String {
    std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned())
}

fn flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| v == "1" || v == "true")
}

struct Instances {
    store: Arc<dyn Store>,
    links: Mutex<Vec<Arc<NatsLink>>>,
}

impl Instances {
    /// `None` (skip) only when asked to; otherwise a missing server fails the test.
    async fn new() -> Option<Self> {
        if let Err(e) = NatsLink::connect(&nats_url()).await {
            assert!(
                flag("CHAT_SKIP_NATS") && !flag("CI"),
                "NATS is unavailable at {} ({e}). Start nats-server, point NATS_URL at one, or \
                 set CHAT_SKIP_NATS=1 to skip the NATS tests (never in CI)",
                nats_url()
            );
            eprintln!("SKIPPED: NATS unavailable ({e}); CHAT_SKIP_NATS=1 is set");
            return None;
        }
        Some(Self {
            store: Arc::new(MemoryStore::new()),
            links: Mutex::new(Vec::new()),
        })
    }
}

#[async_trait]
impl BrokerCluster for Instances {
    fn store(&self) -> Arc<dyn Store> {
        Arc::clone(&self.store)
    }

    async fn broker(&self) -> Arc<dyn Broker> {
        let link = NatsLink::connect(&nats_url()).await.expect("connect");
        self.links.lock().unwrap().push(Arc::clone(&link));
        Relay::new(Arc::clone(&self.store), link)
    }

    async fn cut_connections(&self) {
        let links: Vec<Arc<NatsLink>> = self.links.lock().unwrap().clone();
        for link in links {
            link.client().force_reconnect().await.expect("reconnect");
        }
    }

    fn distributed(&self) -> bool {
        true
    }
}

macro_rules! nats_cases {
    ([] $($case:ident)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let Some(cluster) = Instances::new().await else { return };
                chat_core::testing::brokers::$case(&cluster).await;
            }
        )*
    };
}

chat_core::for_each_broker_case!([nats_cases]);

/// A private nats-server on a free port, so a test can stop and restart it without touching
/// the shared one.
struct PrivateServer {
    port: u16,
    child: Option<std::process::Child>,
}

impl PrivateServer {
    fn start(port: u16) -> std::io::Result<Self> {
        let binary = std::env::var("NATS_SERVER_BIN").unwrap_or_else(|_| "nats-server".into());
        let child = std::process::Command::new(binary)
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()?;
        Ok(Self {
            port,
            child: Some(child),
        })
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The NATS server itself restarts while messages flow: both instances reconnect by
/// themselves, and the receiving one misses nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_nats_server_restart_loses_nothing() {
    use chat_core::testing::Harness;
    use chat_core::{ChatService, Delivery, Limits, SendMessage};
    use std::time::Duration;

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = match PrivateServer::start(port) {
        Ok(s) => s,
        Err(e) => {
            assert!(
                flag("CHAT_SKIP_NATS") && !flag("CI"),
                "cannot start nats-server ({e}); install it or set CHAT_SKIP_NATS=1"
            );
            eprintln!("SKIPPED: cannot start nats-server ({e})");
            return;
        }
    };
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let mut links = Vec::new();
    for _ in 0..50 {
        if let Ok(link) = NatsLink::connect(&server.url()).await {
            links.push(link);
            if links.len() == 2 {
                break;
            }
        } else {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    assert_eq!(links.len(), 2, "the private server answers");
    let limits = Limits {
        send_rate_max: 1_000_000,
        ..Limits::default()
    };
    let chats: Vec<ChatService> = links
        .iter()
        .map(|link| {
            ChatService::builder(Arc::clone(&store))
                .broker(Relay::new(Arc::clone(&store), link.clone()))
                .limits(limits.clone())
                .build()
        })
        .collect();
    let h = Harness::new(Arc::clone(&store)).await;
    let (owner, event, room) = h.owner_event_room().await;
    let sender = h.joined("Sender", owner, event, room).await;
    let mut sub = chats[1].subscribe(owner, room, None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let send = |n: usize| SendMessage {
        text: format!("message {n}"),
        ..SendMessage::default()
    };
    chats[0].send_message(sender, room, send(0)).await.unwrap();

    server.stop();
    for n in 1..=5 {
        chats[0].send_message(sender, room, send(n)).await.unwrap();
    }
    let server = PrivateServer::start(port).unwrap();
    let last = chats[0]
        .send_message(sender, room, send(6))
        .await
        .unwrap()
        .message
        .seq;
    let mut seen = sub.last_seq();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while seen < last {
        match tokio::time::timeout_at(deadline, sub.recv()).await {
            Ok(Some(Delivery::Change(c))) => {
                assert_eq!(c.seq, seen.next(), "in order, once");
                seen = c.seq;
            }
            Ok(Some(Delivery::Resync { from_seq, .. })) => {
                let page = store.changes_after(room, from_seq, 100).await.unwrap();
                for c in &page {
                    assert_eq!(c.seq, seen.next(), "in order, once");
                    seen = c.seq;
                }
                sub.advance_to(seen);
            }
            Ok(Some(Delivery::Typing(_))) => {}
            other => panic!("reached {seen:?} of {last:?}: {other:?}"),
        }
    }
    drop(server);
}
