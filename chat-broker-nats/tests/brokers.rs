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
