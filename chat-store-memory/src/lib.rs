//! # chat-store-memory
//!
//! [`MemoryStore`]: chat-engine's embedded default store. It keeps everything in process memory,
//! indexed for the access paths the [`ChatService`](chat_core::ChatService) uses.
//!
//! **It is not durable.** Data lives exactly as long as the process: an acknowledged message
//! survives anything but a restart. Use `chat-store-postgres` when data must outlive the
//! process.
//!
//! ```
//! use std::sync::Arc;
//! use chat_core::ChatService;
//! use chat_store_memory::MemoryStore;
//!
//! let chat = ChatService::new(Arc::new(MemoryStore::new()));
//! # let _ = chat;
//! ```
//!
//! # Costs
//!
//! - A history page, a change-log catch-up and a member prefix lookup cost O(log n + page):
//!   messages sit in a per-room `BTreeMap` by seq, the change log in a per-room vector indexed
//!   by seq, and member names in a per-room ordered set.
//! - Search walks per-room posting lists from the newest message and stops at the page size.
//! - System metrics walk only the last day's sends, through a time-ordered index.
//!
//! # Concurrency
//!
//! One `RwLock` guards the whole state. Every write is a short, synchronous critical section
//! (no await inside), which is what makes seq assignment gap-free, `client_msg_id`
//! deduplication race-free and rate-limit admission exact: the check and the insert happen
//! under the same lock.

mod attachments;
mod bot_tokens;
mod events;
mod messages;
mod profiles;
mod rooms;
mod state;
mod webhooks;

use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use chat_core::Error;

use crate::state::State;

/// The in-memory store. See the [crate docs](crate) for what it keeps and for how long.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: RwLock<State>,
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    // A panic while holding the lock cannot leave the state half-written in a way that matters
    // more than losing the whole store would, so poisoning is ignored rather than propagated.
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }
}

pub(crate) const ROOM_NOT_FOUND: Error = Error::NotFound { what: "room" };
pub(crate) const MESSAGE_NOT_FOUND: Error = Error::NotFound { what: "message" };

#[cfg(test)]
mod conformance {
    use std::sync::Arc;

    use chat_core::Store;

    use super::MemoryStore;

    async fn store() -> Arc<dyn Store> {
        Arc::new(MemoryStore::new())
    }

    chat_core::conformance_tests!(store);
}

/// The broker suite on one process: every "instance" is a service over the same store and
/// the same in-process hub.
#[cfg(test)]
mod brokers {
    use std::sync::Arc;

    use async_trait::async_trait;
    use chat_core::testing::brokers::BrokerCluster;
    use chat_core::{Broker, InProcessBroker, Store};

    use super::MemoryStore;

    struct OneProcess {
        store: Arc<dyn Store>,
        hub: Arc<InProcessBroker>,
    }

    #[async_trait]
    impl BrokerCluster for OneProcess {
        fn store(&self) -> Arc<dyn Store> {
            Arc::clone(&self.store)
        }

        async fn broker(&self) -> Arc<dyn Broker> {
            self.hub.clone()
        }

        async fn cut_connections(&self) {}

        fn distributed(&self) -> bool {
            false
        }
    }

    macro_rules! hub_cases {
        ([] $($case:ident)*) => {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let cluster = OneProcess {
                        store: Arc::new(MemoryStore::new()),
                        hub: Arc::new(InProcessBroker::new()),
                    };
                    chat_core::testing::brokers::$case(&cluster).await;
                }
            )*
        };
    }

    chat_core::for_each_broker_case!([hub_cases]);
}
