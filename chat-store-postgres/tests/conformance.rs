//! The shared conformance suite, every case on a fresh PostgreSQL database.

mod common;

macro_rules! postgres_conformance {
    ([] $($case:ident)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let Some(db) = common::TestDb::fresh(8).await else { return };
                chat_core::testing::$case(db.store()).await;
                db.cleanup().await;
            }
        )*
    };
}

chat_core::for_each_conformance_case!([postgres_conformance]);
