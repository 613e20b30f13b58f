// criterion_group! and criterion_main! generate undocumented items.
#![allow(missing_docs)]

//! PostgresStore at a million messages. Run with
//! `cargo bench --features postgres --bench postgres` (PostgreSQL at `DATABASE_URL`, default
//! the local server). The first run loads the data set into database `chat_bench`; later runs
//! reuse it.
//!
//! - **send**: `ChatService::send_message` with 1 and 8 concurrent senders (each in a room of
//!   their own), and 64 senders in one room, beside a bare single-row `INSERT … RETURNING`
//!   into a table with the same columns and indexes by as many senders, same run;
//!   and the choice of `PgNotifyLink`: the service with the PostgreSQL broker on (NOTIFY after
//!   commit, batched) beside it off, and a bare insert with a NOTIFY inside its transaction
//!   beside the bare insert.
//! - **latency** (HdrHistogram, printed as a table): history pages of 50 at random depths in
//!   rooms of every size; search in one room and across all 1,000 readable rooms for words
//!   that are very common (50 % of messages), common (5 %), rare (0.01 %) and absent; system
//!   metrics. Plans of the search queries are printed with `EXPLAIN ANALYZE`.
//! - **feed**: the change feed's throughput (changes/s) beside a bare query of the same rows.

#[path = "support/dataset.rs"]
mod dataset;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chat_engine::postgres::{PgNotifyLink, PostgresStore};
use chat_engine::relay::Relay;
use chat_engine::{ChatService, HistoryCursor, Limits, RoomSeq, SearchRequest, SendMessage};
use criterion::{BenchmarkId, Criterion, Throughput};
use hdrhistogram::Histogram;
use sqlx::PgPool;
use uuid::Uuid;

use dataset::Dataset;

fn service(pool: &PgPool) -> Arc<ChatService> {
    Arc::new(builder(pool).build())
}

/// The service with the PostgreSQL broker on: each send is also NOTIFYed, after commit and in
/// batches, through `PgNotifyLink` (a LISTEN connection is open, as on a real instance).
fn service_with_relay(pool: &PgPool) -> Arc<ChatService> {
    let store: Arc<dyn chat_engine::Store> = Arc::new(PostgresStore::from_pool(pool.clone()));
    let relay = Relay::new(store, PgNotifyLink::new(pool.clone()));
    Arc::new(builder(pool).broker(relay).build())
}

fn builder(pool: &PgPool) -> chat_engine::ChatServiceBuilder {
    builder_over(Arc::new(PostgresStore::from_pool(pool.clone())))
}

fn builder_over(store: Arc<dyn chat_engine::Store>) -> chat_engine::ChatServiceBuilder {
    // Keep the rate-limit check in the pipeline but let every send through.
    let limits = Limits {
        send_rate_window: Duration::from_micros(1),
        ..Limits::default()
    };
    ChatService::builder(store).limits(limits)
}

/// Runs `n` senders at once, sender `i` calling `one(i, k)` for `k` in `0..iters`; the time
/// until all are done.
async fn senders<F, Fut>(n: usize, iters: u64, one: F) -> Duration
where
    F: Fn(usize, u64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let start = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let one = one.clone();
            tokio::spawn(async move {
                for k in 0..iters {
                    one(i, k).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    start.elapsed()
}

fn send(c: &mut Criterion, rt: &tokio::runtime::Runtime, data: &Dataset) {
    // The plain service's store is kept, to report how its sends were grouped.
    let store = Arc::new(PostgresStore::from_pool(data.pool.clone()));
    let chat = Arc::new(builder_over(Arc::clone(&store) as Arc<dyn chat_engine::Store>).build());
    let relayed = rt.block_on(async { service_with_relay(&data.pool) });
    let mut g = c.benchmark_group("postgres_send");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(8));
    for n in [1usize, 8] {
        g.throughput(Throughput::Elements(n as u64));
        // Each sender on its own connection, user and room.
        let (pool, rooms, users) = (
            data.pool.clone(),
            data.send_rooms.clone(),
            data.users.clone(),
        );
        g.bench_with_input(BenchmarkId::new("bare_insert_returning", n), &n, |b, &n| {
            b.to_async(rt).iter_custom(|iters| {
                let (pool, rooms, users) = (pool.clone(), rooms.clone(), users.clone());
                senders(n, iters, move |i, k| {
                    let (pool, room, user) = (pool.clone(), rooms[i], users[i]);
                    async move { dataset::bare_insert(&pool, room, user, k).await }
                })
            });
        });
        g.bench_with_input(
            BenchmarkId::new("bare_insert_notify_in_tx", n),
            &n,
            |b, &n| {
                b.to_async(rt).iter_custom(|iters| {
                    let (pool, rooms, users) = (pool.clone(), rooms.clone(), users.clone());
                    senders(n, iters, move |i, k| {
                        let (pool, room, user) = (pool.clone(), rooms[i], users[i]);
                        async move { dataset::bare_insert_notify_in_tx(&pool, room, user, k).await }
                    })
                });
            },
        );
        for (name, chat) in [
            ("chat_service_send", &chat),
            ("chat_service_send_notify_relay", &relayed),
        ] {
            g.bench_with_input(BenchmarkId::new(name, n), &n, |b, &n| {
                b.to_async(rt).iter_custom(|iters| {
                    let (chat, rooms, users) = (Arc::clone(chat), rooms.clone(), users.clone());
                    senders(n, iters, move |i, k| {
                        let (chat, room, user) = (Arc::clone(&chat), rooms[i], users[i]);
                        async move {
                            let msg = SendMessage {
                                text: format!("bench send {k} hello"),
                                ..SendMessage::default()
                            };
                            chat.send_message(user, room, msg).await.unwrap();
                        }
                    })
                });
            });
        }
    }
    // A hot room: 64 senders in one room, each their own user, on the same 16-connection pool
    // as the baseline's 64 bare inserters.
    let n = 64usize;
    g.throughput(Throughput::Elements(n as u64));
    let (pool, room, users) = (data.pool.clone(), data.send_rooms[0], data.users.clone());
    g.bench_with_input(BenchmarkId::new("bare_insert_one_room", n), &n, |b, &n| {
        b.to_async(rt).iter_custom(|iters| {
            let (pool, users) = (pool.clone(), users.clone());
            senders(n, iters, move |i, k| {
                let (pool, user) = (pool.clone(), users[i]);
                async move { dataset::bare_insert(&pool, room, user, k).await }
            })
        });
    });
    g.bench_with_input(
        BenchmarkId::new("chat_service_send_one_room", n),
        &n,
        |b, &n| {
            b.to_async(rt).iter_custom(|iters| {
                let (chat, users) = (Arc::clone(&chat), users.clone());
                senders(n, iters, move |i, k| {
                    let (chat, user) = (Arc::clone(&chat), users[i]);
                    async move {
                        let msg = SendMessage {
                            text: format!("bench send {k} hello"),
                            ..SendMessage::default()
                        };
                        chat.send_message(user, room, msg).await.unwrap();
                    }
                })
            });
        },
    );
    g.finish();
    let stats = store.group_commit_stats();
    println!(
        "group commit of chat_service_send: {} sends in {} transactions ({:.1} per transaction, at most {})",
        stats.sends,
        stats.batches,
        stats.sends as f64 / stats.batches.max(1) as f64,
        stats.largest
    );
}

struct Row {
    name: String,
    hist: Histogram<u64>,
}

fn print_rows(title: &str, rows: &[Row]) {
    println!("\n{title}");
    println!("| measure | samples | p50 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|");
    for r in rows {
        let ms = |q: f64| r.hist.value_at_quantile(q) as f64 / 1000.0;
        println!(
            "| {} | {} | {:.2} | {:.2} | {:.2} |",
            r.name,
            r.hist.len(),
            ms(0.5),
            ms(0.99),
            r.hist.max() as f64 / 1000.0
        );
    }
}

async fn sample<F, Fut>(name: &str, n: usize, mut f: F) -> Row
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut hist = Histogram::<u64>::new(3).unwrap();
    for i in 0..n {
        let t = Instant::now();
        f(i).await;
        hist.record(t.elapsed().as_micros() as u64).unwrap();
    }
    Row {
        name: name.to_owned(),
        hist,
    }
}

async fn latency(data: &Dataset) {
    let chat = service(&data.pool);
    let reader = data.users[0];
    let mut rng = dataset::Rng(0x2545_F491_4F6C_DD1D);
    let mut rows = Vec::new();

    // Warm the caches the same way for every measure.
    for room in data.rooms.iter().take(50) {
        let _ = chat
            .history(reader, *room, HistoryCursor::LATEST, Some(50))
            .await
            .unwrap();
    }
    let rooms = data.rooms.clone();
    let sizes = data.sizes.clone();
    rows.push(
        sample(
            "history page of 50, random room, random depth",
            2000,
            |_| {
                let i = rng.below(rooms.len() as u64) as usize;
                let depth = 1 + rng.below(sizes[i].max(1));
                let (chat, room) = (Arc::clone(&chat), rooms[i]);
                async move {
                    chat.history(
                        reader,
                        room,
                        HistoryCursor::Before(RoomSeq(depth)),
                        Some(50),
                    )
                    .await
                    .unwrap();
                }
            },
        )
        .await,
    );
    let largest = (data.rooms[0], data.sizes[0]);
    rows.push(
        sample(
            &format!("history page of 50, largest room ({} messages)", largest.1),
            2000,
            |_| {
                let depth = 1 + rng.below(largest.1);
                let chat = Arc::clone(&chat);
                async move {
                    chat.history(
                        reader,
                        largest.0,
                        HistoryCursor::Before(RoomSeq(depth)),
                        Some(50),
                    )
                    .await
                    .unwrap();
                }
            },
        )
        .await,
    );
    print_rows("History (ChatService::history on PostgresStore)", &rows);

    let rows = search_rows(data, &chat, "search", &dataset::WORDS).await;
    print_rows(
        "Search (ChatService::search on PostgresStore, 50 results)",
        &rows,
    );
    // Prefix search: the last word as the start of a word, in the same frequency classes.
    let prefixes = [
        ("very common", "hel"),
        ("common", "piz"),
        ("rare", "zanz"),
        ("absent", "xylo"),
    ];
    let rows = search_rows(data, &chat, "prefix search", &prefixes).await;
    print_rows(
        "Prefix search (ChatService::search on PostgresStore, 50 results)",
        &rows,
    );

    unread(data, &chat).await;

    let admin_chat = Arc::new(
        ChatService::builder(Arc::new(PostgresStore::from_pool(data.pool.clone())))
            .server_admin(reader)
            .build(),
    );
    let metrics = sample("system metrics", 200, |_| {
        let chat = Arc::clone(&admin_chat);
        async move {
            chat.system_metrics(reader).await.unwrap();
        }
    })
    .await;
    print_rows("System metrics", &[metrics]);

    dataset::explain_searches(&data.pool, data).await;
}

/// Search latency for each (frequency class, query) in a large, a mid-size and a small room,
/// and across every readable room.
async fn search_rows(
    data: &Dataset,
    chat: &Arc<ChatService>,
    label: &str,
    queries: &[(&'static str, &'static str)],
) -> Vec<Row> {
    let reader = data.users[0];
    let mut rows = Vec::new();
    for &(class, query) in queries {
        for (scope, room) in [
            ("largest room", Some(data.rooms[0])),
            ("mid-size room", Some(data.rooms[30])),
            ("small room", Some(data.rooms[999])),
            ("all 1,008 readable rooms", None),
        ] {
            let chat = Arc::clone(chat);
            rows.push(
                sample(
                    &format!("{label} {class} \"{query}\", {scope}"),
                    200,
                    move |_| {
                        let chat = Arc::clone(&chat);
                        async move {
                            let req = SearchRequest {
                                query: query.into(),
                                room_id: room,
                                limit: chat_engine::PageSize::of(50),
                            };
                            chat.search(reader, req).await.unwrap();
                        }
                    },
                )
                .await,
            );
        }
    }
    rows
}

/// Unread counts for a reader in all 1,000 rooms, in three states of reading, beside the
/// floor of any per-room answer: reading the reader's 1,000 memberships.
async fn unread(data: &Dataset, chat: &Arc<ChatService>) {
    let reader = data.users[1];
    let set_read = |behind: i64| {
        let pool = data.pool.clone();
        async move {
            // Moves the read position back as well as forward (the store only moves it
            // forward), keeping the unread counters of migration 0010 as marking read does.
            sqlx::query(
                "UPDATE room_members rm SET last_read_seq = x.seq,
                     read_ordinal = coalesce((SELECT m.ordinal FROM messages m
                         WHERE m.room_id = rm.room_id AND m.seq <= x.seq
                         ORDER BY m.seq DESC LIMIT 1), 0),
                     own_after_read = (SELECT count(*) FROM messages m
                         WHERE m.room_id = rm.room_id AND m.seq > x.seq AND m.author_id = rm.user_id),
                     mentions_after_read = (SELECT count(*) FROM messages m
                         WHERE m.room_id = rm.room_id AND m.seq > x.seq AND m.author_id <> rm.user_id
                           AND NOT m.is_deleted AND m.mentions @> ARRAY[rm.user_id])
                 FROM (SELECT id, greatest(last_seq - $2, 0) AS seq FROM rooms) x
                 WHERE x.id = rm.room_id AND rm.user_id = $1",
            )
            .bind(reader.as_uuid())
            .bind(behind)
            .execute(&pool)
            .await
            .unwrap();
        }
    };
    let pool = data.pool.clone();
    let mut rows = vec![
        sample(
            "baseline: the reader's 1,000 memberships (bare SELECT)",
            200,
            |_| {
                let pool = pool.clone();
                async move {
                    let _: Vec<(Uuid, i64)> = sqlx::query_as(
                        "SELECT room_id, last_read_seq FROM room_members WHERE user_id = $1",
                    )
                    .bind(reader.as_uuid())
                    .fetch_all(&pool)
                    .await
                    .unwrap();
                }
            },
        )
        .await,
    ];
    for (state, behind) in [
        ("every room read to its end", 0),
        ("10 unread in every room", 10),
        ("100 unread in every room", 100),
        ("everything unread (999+ in most rooms)", 1_000_000),
    ] {
        set_read(behind).await;
        let chat = Arc::clone(chat);
        rows.push(
            sample(
                &format!("unread counts, 1,000 rooms, {state}"),
                200,
                move |_| {
                    let chat = Arc::clone(&chat);
                    async move {
                        chat.unread_counts(reader).await.unwrap();
                    }
                },
            )
            .await,
        );
    }
    set_read(0).await;
    print_rows(
        "Unread counts (ChatService::unread_counts on PostgresStore)",
        &rows,
    );
}

/// The change feed: a reader 100 changes behind in each of the 1,000 rooms (100,000 changes)
/// reads `ChatService::read_feed` pages of 100 until the feed is dry, beside the same rows
/// (the same columns, messages rendered as now) read by a bare keyset-paged query in pages of
/// 100, in the same run. Three rounds each, alternating; the best of each is reported.
async fn feed(data: &Dataset) {
    let chat = service(&data.pool);
    let reader = data.users[1];
    let now = chat.feed_cursor(reader).await.unwrap();
    let mut start = now.clone();
    for seq in start.positions.values_mut() {
        *seq = RoomSeq(seq.get().saturating_sub(100));
    }
    let rooms: Vec<Uuid> = start.positions.keys().map(|r| r.as_uuid()).collect();
    let afters: Vec<i64> = start
        .positions
        .values()
        .map(|s| i64::try_from(s.get()).unwrap())
        .collect();
    let (mut best_feed, mut best_bare) = (f64::MAX, f64::MAX);
    let mut total = 0;
    for _ in 0..3 {
        let began = Instant::now();
        let mut cursor = start.clone();
        let mut read = 0;
        loop {
            let page = chat.read_feed(reader, &cursor, Some(100)).await.unwrap();
            if page.changes.is_empty() {
                break;
            }
            read += page.changes.len();
            cursor = page.cursor;
        }
        best_feed = best_feed.min(began.elapsed().as_secs_f64());
        total = read;

        let began = Instant::now();
        let (mut key_room, mut key_seq) = (Uuid::nil(), 0i64);
        let mut bare = 0;
        loop {
            let rows: Vec<(Uuid, i64, serde_json::Value, Option<String>)> = sqlx::query_as(
                "SELECT c.room_id, c.seq, c.change, m.text
                 FROM unnest($1::uuid[], $2::bigint[]) w (room_id, after)
                 JOIN room_changes c ON c.room_id = w.room_id AND c.seq > w.after
                 LEFT JOIN messages m ON m.id = c.message_id
                 WHERE (c.room_id, c.seq) > ($3, $4)
                 ORDER BY c.room_id, c.seq LIMIT 100",
            )
            .bind(&rooms)
            .bind(&afters)
            .bind(key_room)
            .bind(key_seq)
            .fetch_all(&data.pool)
            .await
            .unwrap();
            let Some(last) = rows.last() else { break };
            (key_room, key_seq) = (last.0, last.1);
            bare += rows.len();
        }
        best_bare = best_bare.min(began.elapsed().as_secs_f64());
        assert_eq!(bare, total, "both read the same rows");
    }
    let (feed_rate, bare_rate) = (total as f64 / best_feed, total as f64 / best_bare);
    println!(
        "\nChange feed throughput ({total} changes behind in {} rooms, pages of 100)",
        rooms.len()
    );
    println!("| measure | changes/s |");
    println!("|---|---|");
    println!("| baseline: bare keyset-paged SELECT of the same rows | {bare_rate:.0} |");
    println!(
        "| ChatService::read_feed | {feed_rate:.0} ({:.2}x) |",
        feed_rate / bare_rate
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let data = rt.block_on(Dataset::load_or_reuse());
    // CHAT_BENCH_FEED_ONLY=1 runs the change feed's throughput alone.
    if std::env::var_os("CHAT_BENCH_FEED_ONLY").is_some() {
        rt.block_on(feed(&data));
        return;
    }
    rt.block_on(feed(&data));
    // CHAT_BENCH_SEND_ONLY=1 skips the latency tables, for quicker send experiments.
    if std::env::var_os("CHAT_BENCH_SEND_ONLY").is_none() {
        rt.block_on(latency(&data));
    }
    // CHAT_BENCH_LATENCY_ONLY=1 skips the send benchmarks, for quicker read experiments.
    if std::env::var_os("CHAT_BENCH_LATENCY_ONLY").is_some() {
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    send(&mut c, &rt, &data);
    c.final_summary();
}
