// criterion_group! and criterion_main! generate undocumented items.
#![allow(missing_docs)]

//! Fan-out: deliveries per second from one publisher to 10, 100 and 1000 subscribers of one
//! room, through the hub (`InProcessBroker` + `Subscription`) and through a bare
//! `tokio::sync::broadcast` channel of the same capacity, in the same run.
//!
//! Each measured iteration publishes a burst of messages to subscriber tasks that are already
//! waiting, and ends when every subscriber has received the whole burst.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chat_engine::fanout::{Broker, InProcessBroker};
use chat_engine::{ChangeKind, RoomChange, RoomId, RoomSeq, Timestamp, UserId};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures::future::join_all;
use tokio::sync::broadcast;

const BURST: u64 = 256;
const CAPACITY: usize = 512;

fn change(room: RoomId, seq: u64) -> Arc<RoomChange> {
    Arc::new(RoomChange {
        room_id: room,
        seq: RoomSeq(seq),
        at: Timestamp::UNIX_EPOCH,
        kind: ChangeKind::MemberLeft {
            user_id: UserId::MIN,
        },
    })
}

async fn bare_round(subscribers: usize) -> Duration {
    let (tx, _) = broadcast::channel::<Arc<RoomChange>>(CAPACITY);
    let room = RoomId::new();
    let tasks: Vec<_> = (0..subscribers)
        .map(|_| {
            let mut rx = tx.subscribe();
            tokio::spawn(async move {
                for _ in 0..BURST {
                    rx.recv().await.expect("no lag within capacity");
                }
            })
        })
        .collect();
    tokio::task::yield_now().await;
    let start = Instant::now();
    for seq in 1..=BURST {
        let _ = tx.send(change(room, seq));
    }
    join_all(tasks).await;
    start.elapsed()
}

async fn hub_round(subscribers: usize) -> Duration {
    let hub = InProcessBroker::with_capacity(CAPACITY);
    let room = RoomId::new();
    let tasks: Vec<_> = (0..subscribers)
        .map(|_| {
            let mut sub = hub.subscribe(room, RoomSeq::ZERO);
            tokio::spawn(async move {
                for _ in 0..BURST {
                    sub.recv().await.expect("hub alive");
                }
            })
        })
        .collect();
    tokio::task::yield_now().await;
    let start = Instant::now();
    for seq in 1..=BURST {
        hub.publish(change(room, seq));
    }
    join_all(tasks).await;
    start.elapsed()
}

fn fanout(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("fanout");
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    for subscribers in [10usize, 100, 1000] {
        g.throughput(Throughput::Elements(BURST * subscribers as u64));
        g.bench_with_input(
            BenchmarkId::new("bare_broadcast", subscribers),
            &subscribers,
            |b, &n| {
                b.to_async(&rt).iter_custom(|iters| async move {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        total += bare_round(n).await;
                    }
                    total
                });
            },
        );
        g.bench_with_input(
            BenchmarkId::new("hub", subscribers),
            &subscribers,
            |b, &n| {
                b.to_async(&rt).iter_custom(|iters| async move {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        total += hub_round(n).await;
                    }
                    total
                });
            },
        );
    }
    g.finish();
}

/// The two arms measured in alternation, round by round, so machine noise (the other core,
/// frequency changes) hits both alike; prints the median of each and their ratio.
fn paired(_: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!("\npaired rounds ({BURST} messages per round), medians:");
    println!("| subscribers | bare broadcast deliveries/s | hub deliveries/s | hub / bare |");
    println!("|---|---|---|---|");
    for subscribers in [10usize, 100, 1000] {
        let rounds = if subscribers == 1000 { 40 } else { 200 };
        let (mut bare, mut hub) = (Vec::new(), Vec::new());
        rt.block_on(async {
            for i in 0..rounds {
                if i % 2 == 0 {
                    bare.push(bare_round(subscribers).await);
                    hub.push(hub_round(subscribers).await);
                } else {
                    hub.push(hub_round(subscribers).await);
                    bare.push(bare_round(subscribers).await);
                }
            }
        });
        let median = |v: &mut Vec<Duration>| {
            v.sort();
            v[v.len() / 2]
        };
        let deliveries = (BURST * subscribers as u64) as f64;
        let rate = |d: Duration| deliveries / d.as_secs_f64();
        let (b, h) = (rate(median(&mut bare)), rate(median(&mut hub)));
        println!(
            "| {subscribers} | {:.1} M | {:.1} M | {:.2} |",
            b / 1e6,
            h / 1e6,
            h / b
        );
    }
}

criterion_group!(benches, fanout, paired);
criterion_main!(benches);
