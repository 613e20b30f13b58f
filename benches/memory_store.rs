// criterion_group! and criterion_main! generate undocumented items.
#![allow(missing_docs)]

//! MemoryStore through `ChatService`, each beside a raw baseline in the same run:
//! - send (the whole pipeline) beside a bare `RwLock<BTreeMap>` insert of a prebuilt message;
//! - a 50-message history page at random depths of a 100,000-message room beside a bare
//!   `BTreeMap::range` over the same number of messages.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chat_engine::{
    ChatService, HistoryCursor, Limits, MemoryStore, Message, RoomId, RoomSeq, SendMessage, UserId,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

#[path = "support/world.rs"]
mod world;

const ROOM_SIZE: u64 = 100_000;

async fn setup() -> (Arc<ChatService>, UserId, RoomId) {
    // The rate limit would stop a benchmark after ten sends. Keep the check in the pipeline but
    // make it admit every send: ten per microsecond.
    let limits = Limits {
        send_rate_window: Duration::from_micros(1),
        ..Limits::default()
    };
    let chat = Arc::new(
        ChatService::builder(Arc::new(MemoryStore::new()))
            .limits(limits)
            .build(),
    );
    let user = UserId::new();
    world::profile(&chat, user, "Bench").await;
    let (_, room) = world::main_room(&chat, user).await;
    (chat, user, room.id)
}

fn text(i: u64) -> SendMessage {
    SendMessage {
        text: format!("message number {i} about the keynote"),
        ..SendMessage::default()
    }
}

fn send(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (chat, user, room) = rt.block_on(setup());
    let template: Message = rt
        .block_on(chat.send_message(user, room, text(0)))
        .unwrap()
        .message;
    let bare: RwLock<BTreeMap<u64, Message>> = RwLock::new(BTreeMap::new());
    let mut g = c.benchmark_group("memory_send");
    g.throughput(Throughput::Elements(1));
    let mut n = 0u64;
    g.bench_function("bare_btreemap_insert", |b| {
        b.iter(|| {
            n += 1;
            let mut m = template.clone();
            m.seq = RoomSeq(n);
            bare.write().unwrap().insert(n, m);
        })
    });
    let mut i = 0u64;
    g.bench_function("chat_service_send", |b| {
        b.to_async(&rt).iter(|| {
            i += 1;
            let chat = Arc::clone(&chat);
            async move { chat.send_message(user, room, text(i)).await.unwrap() }
        })
    });
    g.finish();
}

fn history(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (chat, user, room) = rt.block_on(setup());
    let mut bare: BTreeMap<u64, Message> = BTreeMap::new();
    rt.block_on(async {
        for i in 0..ROOM_SIZE {
            let m = chat
                .send_message(user, room, text(i))
                .await
                .unwrap()
                .message;
            bare.insert(m.seq.get(), m);
        }
    });
    let mut g = c.benchmark_group("memory_history_page_50");
    g.measurement_time(Duration::from_secs(4));
    // A cheap deterministic walk over depths, the same for both arms.
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut depth = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        51 + x % (ROOM_SIZE - 50)
    };
    g.bench_function("bare_btreemap_range", |b| {
        b.iter(|| {
            let before = depth();
            bare.range(..before)
                .rev()
                .take(50)
                .map(|(_, m)| m.clone())
                .collect::<Vec<_>>()
        })
    });
    g.bench_function("chat_service_history", |b| {
        b.to_async(&rt).iter(|| {
            let before = RoomSeq(depth());
            let chat = Arc::clone(&chat);
            async move {
                black_box(
                    chat.history(user, room, HistoryCursor::Before(before), Some(50))
                        .await
                        .unwrap(),
                )
            }
        })
    });
    g.finish();
}

criterion_group!(benches, send, history);
criterion_main!(benches);
