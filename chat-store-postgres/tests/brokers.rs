//! The broker suite on PostgreSQL LISTEN/NOTIFY: several instances, each a service with its own
//! pool and a [`Relay`] over a [`PgNotifyLink`], sharing one fresh database.

mod common;

use std::sync::Arc;

use async_trait::async_trait;
use chat_core::relay::Relay;
use chat_core::testing::brokers::BrokerCluster;
use chat_core::{Broker, Store};
use chat_store_postgres::{PgNotifyLink, PostgresStore};
use common::TestDb;
use sqlx::postgres::PgPoolOptions;

struct Instances {
    db: TestDb,
}

#[async_trait]
impl BrokerCluster for Instances {
    fn store(&self) -> Arc<dyn Store> {
        self.db.store()
    }

    async fn broker(&self) -> Arc<dyn Broker> {
        // An instance of its own: its own pool, hence its own LISTEN connection.
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .connect_with(self.db.pool.connect_options().as_ref().clone())
            .await
            .expect("an instance's pool");
        let store: Arc<dyn Store> = Arc::new(PostgresStore::from_pool(pool.clone()));
        Relay::new(store, PgNotifyLink::new(pool))
    }

    async fn cut_connections(&self) {
        assert!(
            self.db.cut_listen_connections().await > 0,
            "LISTEN connections were found and cut"
        );
    }

    fn distributed(&self) -> bool {
        true
    }
}

macro_rules! notify_cases {
    ([] $($case:ident)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let Some(db) = TestDb::fresh(8).await else { return };
                let cluster = Instances { db };
                chat_core::testing::brokers::$case(&cluster).await;
                cluster.db.cleanup().await;
            }
        )*
    };
}

chat_core::for_each_broker_case!([notify_cases]);
