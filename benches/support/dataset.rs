//! The benchmark data set: 1,000,000 messages in 1,000 rooms with Zipf-skewed sizes (room k
//! holds about 1/k of the messages of room 1; the largest holds about 133,000), 100 users who
//! belong to every room, spread over 90 days. Loaded server-side with `generate_series` in one
//! statement, then `VACUUM (ANALYZE)`d.
//!
//! Words by frequency class, so search can be measured per class:
//! `hello` in 50 % of messages, `pizza` in 5 %, `zanzibar` in 0.01 %, `xylophone` in none.
//! The loader writes messages and rooms directly; it does not write the room change log,
//! which no benchmark here reads.

use std::str::FromStr;
use std::time::Instant;

use chat_engine::postgres::PostgresStore;
use chat_engine::{RoomId, UserId};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Executor, Row};
use uuid::Uuid;

/// Bump when the data set's shape changes, to force a reload.
const VERSION: i32 = 7;
const DATABASE: &str = "chat_bench";
const ROOMS: usize = 1000;
const USERS: usize = 100;
const MESSAGES: u64 = 1_000_000;

pub(crate) const WORDS: [(&str, &str); 4] = [
    ("very common", "hello"),
    ("common", "pizza"),
    ("rare", "zanzibar"),
    ("absent", "xylophone"),
];

pub(crate) struct Dataset {
    pub(crate) pool: PgPool,
    /// Largest first.
    pub(crate) rooms: Vec<RoomId>,
    /// Eight empty rooms that the send benchmark writes to (and the next run empties).
    pub(crate) send_rooms: Vec<RoomId>,
    pub(crate) sizes: Vec<u64>,
    pub(crate) users: Vec<UserId>,
}

/// xorshift64: a tiny deterministic generator, so every run samples the same places.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

fn url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Zipf sizes over 1,000 rooms that add up to exactly 1,000,000.
fn room_sizes() -> Vec<u64> {
    let h: f64 = (1..=ROOMS).map(|k| 1.0 / k as f64).sum();
    let mut sizes: Vec<u64> = (1..=ROOMS)
        .map(|k| (MESSAGES as f64 / (k as f64 * h)) as u64)
        .collect();
    let missing = MESSAGES - sizes.iter().sum::<u64>();
    sizes[0] += missing;
    sizes
}

impl Dataset {
    pub(crate) async fn load_or_reuse() -> Self {
        let options = PgConnectOptions::from_str(&url()).expect("DATABASE_URL");
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .expect("PostgreSQL");
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .connect_with(options.clone().database(DATABASE));
        let reusable = match pool.await {
            Ok(pool) => {
                let v: Option<i32> = sqlx::query_scalar("SELECT version FROM bench_dataset")
                    .fetch_optional(&pool)
                    .await
                    .ok()
                    .flatten();
                (v == Some(VERSION)).then_some(pool)
            }
            Err(_) => None,
        };
        let pool = match reusable {
            Some(pool) => {
                // A reused data set gets the migrations added since it was loaded, as a
                // deployment would on start.
                PostgresStore::from_pool(pool.clone())
                    .migrate()
                    .await
                    .expect("migrations apply to the reused data set");
                pool
            }
            None => {
                admin
                    .execute(format!("DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)").as_str())
                    .await
                    .unwrap();
                admin
                    .execute(format!("CREATE DATABASE {DATABASE}").as_str())
                    .await
                    .unwrap();
                let pool = PgPoolOptions::new()
                    .max_connections(16)
                    .connect_with(options.database(DATABASE))
                    .await
                    .unwrap();
                load(&pool).await;
                pool
            }
        };
        // Undo earlier runs' send benchmarks, so every run reads the same data set: their
        // messages would fill the metrics windows and the search index's pending list.
        pool.execute(
            "TRUNCATE bench_bare;
             DELETE FROM room_changes WHERE room_id IN (SELECT id FROM rooms WHERE name LIKE 'send-%');
             DELETE FROM messages WHERE room_id IN (SELECT id FROM rooms WHERE name LIKE 'send-%');
             UPDATE rooms SET last_seq = 0, message_count = 0, deleted_count = 0, last_message_at = NULL WHERE name LIKE 'send-%';
             UPDATE room_members SET last_read_seq = 0, read_ordinal = 0, own_after_read = 0, mentions_after_read = 0
                 WHERE room_id IN (SELECT id FROM rooms WHERE name LIKE 'send-%');",
        )
        .await
        .unwrap();
        pool.execute("VACUUM (ANALYZE) messages").await.unwrap();
        let send_rooms: Vec<Uuid> =
            sqlx::query_scalar("SELECT id FROM rooms WHERE name LIKE 'send-%' ORDER BY name")
                .fetch_all(&pool)
                .await
                .unwrap();
        let rows = sqlx::query(
            "SELECT id, message_count FROM rooms WHERE name NOT LIKE 'send-%' ORDER BY message_count DESC, id",
        )
                .fetch_all(&pool)
                .await
                .unwrap();
        let rooms = rows
            .iter()
            .map(|r| RoomId::from(r.get::<Uuid, _>("id")))
            .collect();
        let sizes = rows
            .iter()
            .map(|r| r.get::<i64, _>("message_count") as u64)
            .collect();
        let users: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM users ORDER BY display_name")
            .fetch_all(&pool)
            .await
            .unwrap();
        Self {
            pool,
            send_rooms: send_rooms.into_iter().map(RoomId::from).collect(),
            rooms,
            sizes,
            users: users.into_iter().map(UserId::from).collect(),
        }
    }
}

async fn load(pool: &PgPool) {
    let started = Instant::now();
    PostgresStore::from_pool(pool.clone())
        .migrate()
        .await
        .unwrap();
    let users: Vec<Uuid> = (0..USERS).map(|_| Uuid::now_v7()).collect();
    let names: Vec<String> = (0..USERS).map(|i| format!("user{i:03}")).collect();
    sqlx::query(
        "INSERT INTO users (id, display_name, created_at, updated_at)
         SELECT id, name, now(), now() FROM UNNEST($1::uuid[], $2::text[]) AS t(id, name)",
    )
    .bind(&users)
    .bind(&names)
    .execute(pool)
    .await
    .unwrap();
    let event = Uuid::now_v7();
    sqlx::query("INSERT INTO events (id, name, kind, created_by, created_at) VALUES ($1, 'Bench', 'conference', $2, now())")
        .bind(event)
        .bind(users[0])
        .execute(pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO event_members (event_id, user_id, role, joined_at)
         SELECT $1, id, CASE WHEN id = $2 THEN 'owner' ELSE 'member' END, now() FROM UNNEST($3::uuid[]) AS id",
    )
    .bind(event)
    .bind(users[0])
    .bind(&users)
    .execute(pool)
    .await
    .unwrap();
    let sizes = room_sizes();
    let rooms: Vec<Uuid> = (0..ROOMS).map(|_| Uuid::now_v7()).collect();
    let sizes_db: Vec<i64> = sizes.iter().map(|&s| s as i64).collect();
    let idx: Vec<i32> = (0..ROOMS as i32).collect();
    sqlx::query(
        "INSERT INTO rooms (id, event_id, name, kind, visibility, created_by, created_at, last_message_at, last_seq, message_count)
         SELECT id, $1, 'room-' || lpad(i::text, 4, '0'), 'topic', 'public', $2, now() - interval '90 days', now(), size, size
         FROM UNNEST($3::uuid[], $4::bigint[], $5::int[]) AS t(id, size, i)",
    )
    .bind(event)
    .bind(users[0])
    .bind(&rooms)
    .bind(&sizes_db)
    .bind(&idx)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO rooms (id, event_id, name, kind, visibility, created_by, created_at)
         SELECT gen_random_uuid(), $1, 'send-' || i, 'topic', 'public', $2, now() - interval '90 days'
         FROM generate_series(0, 7) AS i",
    )
    .bind(event)
    .bind(users[0])
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO room_members (room_id, user_id, role, joined_at)
         SELECT r.id, u.id, 'member', now() - interval '90 days' FROM rooms r CROSS JOIN users u",
    )
    .execute(pool)
    .await
    .unwrap();
    // One statement: per room, seq 1..size spread evenly over 90 days; a UUIDv7 from each
    // message's own time; words chosen by a multiplicative hash of (room, seq).
    sqlx::query(
        "INSERT INTO messages (id, room_id, seq, author_id, author_name, text, tokens, mentions,
             attachments, reactions, created_at, prefixes, ordinal)
         SELECT
             (lpad(to_hex((extract(epoch FROM ts) * 1000)::bigint), 12, '0') || '7'
                 || substr(md5(random()::text), 1, 3) || '8' || substr(md5(random()::text), 1, 15))::uuid,
             r.id, s, u.id, u.display_name, array_to_string(words, ' '), words, '{}', '[]', '{}', ts,
             -- chat_core::search::prefixes, as migration 0008 computes it.
             (SELECT coalesce(array_agg(DISTINCT left(t, n)), '{}')
              FROM unnest(words) AS t, generate_series(3, least(length(t), 16)) AS n),
             -- Every change of these rooms is a message: the ordinal is the seq.
             s
         FROM (SELECT id, last_seq AS size, row_number() OVER (ORDER BY id) AS ri
               FROM rooms WHERE name NOT LIKE 'send-%') r
         CROSS JOIN LATERAL generate_series(1, r.size) AS s
         CROSS JOIN LATERAL (SELECT
             now() - interval '90 days' + (s::float8 / r.size) * interval '90 days' + r.ri * interval '1 ms' AS ts,
             (s * 2654435761 + r.ri * 40503) % 1000003 AS h) x
         CROSS JOIN LATERAL (SELECT array_remove(ARRAY[
             'message',
             CASE WHEN x.h % 2 = 0 THEN 'hello' END,
             CASE WHEN x.h % 20 = 1 THEN 'pizza' END,
             CASE WHEN x.h % 10000 = 7 THEN 'zanzibar' END,
             'w' || (x.h % 20000)], NULL) AS words) w
         JOIN LATERAL (SELECT id, display_name FROM users ORDER BY display_name
                       OFFSET ((s + r.ri) % 100) LIMIT 1) u ON true",
    )
    .execute(pool)
    .await
    .unwrap();
    // Each message's entry in its room's change log, as a send writes it: the change feed
    // reads these.
    pool.execute(
        "INSERT INTO room_changes (room_id, seq, at, change, message_id)
         SELECT room_id, seq, created_at, '{\"kind\": \"message_posted\"}'::jsonb, id FROM messages",
    )
    .await
    .unwrap();
    // Every member has read nothing: their own messages are the only counter to fill
    // (migration 0010).
    pool.execute(
        "UPDATE room_members rm SET own_after_read = c.n
         FROM (SELECT room_id, author_id, count(*) AS n FROM messages GROUP BY 1, 2) c
         WHERE rm.room_id = c.room_id AND rm.user_id = c.author_id",
    )
    .await
    .unwrap();
    pool.execute("CREATE TABLE bench_bare (LIKE messages INCLUDING ALL)")
        .await
        .unwrap();
    // As autovacuum would in a live database: statistics for the planner, and a visibility map
    // so the metrics counts can be answered from the index alone.
    pool.execute("VACUUM (ANALYZE)").await.unwrap();
    pool.execute("CREATE TABLE bench_dataset (version int NOT NULL)")
        .await
        .unwrap();
    sqlx::query("INSERT INTO bench_dataset VALUES ($1)")
        .bind(VERSION)
        .execute(pool)
        .await
        .unwrap();
    println!(
        "loaded {MESSAGES} messages in {ROOMS} rooms in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// The bare arm: one single-row `INSERT … RETURNING` into a table with the same columns and
/// indexes as `messages`.
pub(crate) async fn bare_insert(pool: &PgPool, room: RoomId, user: UserId, k: u64) {
    let mut conn = pool.acquire().await.unwrap();
    insert_bare_row(&mut conn, room, user, k).await;
}

/// The bare row: one `INSERT … RETURNING` with the columns and indexes of `messages`.
async fn insert_bare_row(
    conn: &mut sqlx::PgConnection,
    room: RoomId,
    user: UserId,
    k: u64,
) -> (Uuid, String) {
    static NEXT: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(1);
    let seq = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let text = format!("bench send {k} hello");
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO bench_bare (id, room_id, seq, author_id, author_name, text, tokens, mentions,
             attachments, reactions, created_at, prefixes, ordinal)
         VALUES ($1, $2, $3, $4, 'Bench', $5, $6, '{}', '[]', '{}', now(), $7, $3) RETURNING id",
    )
    .bind(Uuid::now_v7())
    .bind(room.as_uuid())
    .bind(seq)
    .bind(user.as_uuid())
    .bind(&text)
    .bind(vec!["bench", "send", "hello"])
    .bind(chat_engine::search::prefixes(&text))
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    (id, text)
}

/// As [`bare_insert`], with a `NOTIFY` of about the size of a change inside the same
/// transaction: the alternative to notifying after commit that `PgNotifyLink` chose against.
pub(crate) async fn bare_insert_notify_in_tx(pool: &PgPool, room: RoomId, user: UserId, k: u64) {
    let mut tx = pool.begin().await.unwrap();
    let (id, text) = insert_bare_row(&mut tx, room, user, k).await;
    sqlx::query("SELECT pg_notify('chat_bench', $1)")
        .bind(format!(
            "{{\"id\":\"{id}\",\"text\":\"{text}\",\"pad\":\"{}\"}}",
            "x".repeat(400)
        ))
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

/// Prints the plans PostgreSQL chooses for the store's search, per word class and scope.
pub(crate) async fn explain_searches(pool: &PgPool, data: &Dataset) {
    let store = PostgresStore::from_pool(pool.clone());
    for (class, word) in WORDS {
        for (scope, rooms) in [
            ("largest room", vec![data.rooms[0]]),
            ("all 1,000 rooms", data.rooms.clone()),
        ] {
            let plan = store
                .explain_search(
                    &rooms,
                    &chat_core::SearchTerms::from_tokens(vec![word.to_owned()]),
                    50,
                )
                .await
                .unwrap();
            let plan: Vec<String> = plan.iter().map(|line| elide_room_list(line)).collect();
            println!("\nPlan: {class} \"{word}\", {scope}\n{}", plan.join("\n"));
        }
    }
}

/// Shortens the 1,000 room ids of an `= ANY ('{…}')` filter so a plan stays readable.
fn elide_room_list(line: &str) -> String {
    match (line.find("ANY ('{"), line.find("}'::uuid[]")) {
        (Some(start), Some(end)) if end > start => {
            format!(
                "{}ANY ('{{…1,000 room ids…}}{}",
                &line[..start],
                &line[end + 1..]
            )
        }
        _ => line.to_owned(),
    }
}
