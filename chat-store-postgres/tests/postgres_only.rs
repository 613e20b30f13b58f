//! What only a real PostgreSQL can show: migrations, concurrency across many connections,
//! a 100,000-message room, and recovery from a server restart.

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use chat_core::testing::{Harness, text};
use chat_core::{
    Admission, Appended, ChatService, Error, EventRole, HistoryCursor, Limits, MessageId,
    MessageStore, NewMessage, RoomId, RoomSeq, SendMessage, SlidingWindow, Store, UserId,
};
use common::TestDb;
use futures::future::join_all;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn migrations_apply_to_an_empty_database_and_again() {
    let Some(db) = TestDb::empty(2).await else {
        return;
    };
    let store = db.postgres_store();
    store.migrate().await.expect("first run");
    store.migrate().await.expect("second run is harmless");
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    for t in [
        "event_members",
        "events",
        "messages",
        "room_changes",
        "room_members",
        "rooms",
        "users",
    ] {
        assert!(
            tables.iter().any(|x| x == t),
            "missing table {t}: {tables:?}"
        );
    }
    db.cleanup().await;
}

/// `n` services over `n` stores on one database, as `n` servers would be: each store has its
/// own group commit, so their batches race for the same author and room locks.
fn instances(db: &TestDb, h: &Harness, n: usize, limits: &Limits) -> Vec<Arc<ChatService>> {
    (0..n)
        .map(|_| {
            Arc::new(
                ChatService::builder(db.store())
                    .clock(h.clock.clone())
                    .limits(limits.clone())
                    .build(),
            )
        })
        .collect()
}

/// 40 senders in one room through 8 instances (8 group commits racing) on 40 connections:
/// seqs are 1..=n with no gap and no duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn seq_is_gap_free_across_40_connections() {
    let Some(db) = TestDb::fresh(40).await else {
        return;
    };
    let h = Harness::with_limits(
        db.store(),
        Limits {
            send_rate_max: 1_000_000,
            ..Limits::default()
        },
    )
    .await;
    let (owner, event, room) = h.owner_event_room().await;
    let mut users = Vec::new();
    for i in 0..40 {
        users.push(h.joined(&format!("Sender {i}"), owner, event, room).await);
    }
    let base = h
        .chat
        .get_room(owner, room)
        .await
        .unwrap()
        .room
        .last_seq
        .get();
    let services = instances(
        &db,
        &h,
        8,
        &Limits {
            send_rate_max: 1_000_000,
            ..Limits::default()
        },
    );
    let sends = users
        .iter()
        .flat_map(|&u| (0..10).map(move |i| (u, i)))
        .enumerate()
        .map(|(n, (u, i))| {
            let chat = Arc::clone(&services[n % services.len()]);
            tokio::spawn(async move {
                chat.send_message(u, room, text(&format!("{i}")))
                    .await
                    .unwrap()
                    .message
                    .seq
            })
        });
    let mut seqs: Vec<u64> = join_all(sends)
        .await
        .into_iter()
        .map(|r| r.unwrap().get())
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (base + 1..=base + 400).collect::<Vec<_>>());
    let logged: i64 = sqlx::query_scalar("SELECT count(*) FROM room_changes WHERE room_id = $1")
        .bind(room.as_uuid())
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(logged as u64, base + 400);
    db.cleanup().await;
}

/// One user's 100 sends racing through 8 instances over 40 connections: exactly 10 admitted.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rate_limit_is_exact_across_40_connections() {
    let Some(db) = TestDb::fresh(40).await else {
        return;
    };
    let h = Harness::new(db.store()).await;
    let (owner, _event, room) = h.owner_event_room().await;
    let services = instances(&db, &h, 8, &Limits::default());
    let sends = (0..100).map(|i| {
        let chat = Arc::clone(&services[i % services.len()]);
        tokio::spawn(async move { chat.send_message(owner, room, text(&format!("{i}"))).await })
    });
    let results: Vec<_> = join_all(sends)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 10);
    assert!(
        results
            .iter()
            .filter(|r| r.is_err())
            .all(|r| matches!(r, Err(Error::RateLimited { .. })))
    );
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM messages")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(stored, 10);
    db.cleanup().await;
}

/// 40 racing sends with one `client_msg_id` through 8 instances over 40 connections: one
/// message, all see it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_duplicates_across_40_connections_store_one_message() {
    let Some(db) = TestDb::fresh(40).await else {
        return;
    };
    let h = Harness::new(db.store()).await;
    let (owner, _event, room) = h.owner_event_room().await;
    let services = instances(&db, &h, 8, &Limits::default());
    let sends = (0..40).map(|i| {
        let chat = Arc::clone(&services[i % services.len()]);
        tokio::spawn(async move {
            let msg = SendMessage {
                client_msg_id: Some("same".into()),
                ..text("hello")
            };
            chat.send_message(owner, room, msg).await.unwrap()
        })
    });
    let sent: Vec<_> = join_all(sends)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    let ids: HashSet<_> = sent.iter().map(|s| s.message.id).collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(sent.iter().filter(|s| !s.replayed).count(), 1);
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM messages")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(stored, 1);
    db.cleanup().await;
}

/// Group commit answers each send on its own: 56 plain sends queued at once on one store go
/// in a few transactions, yet each author is admitted exactly up to the limit (batch-mates
/// counting for each other), a second send with a batch-mate's `client_msg_id` replays it,
/// sends to a missing room or by a missing author are refused, and each room's seqs and
/// unread counters come out exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn group_commit_answers_each_send_on_its_own() {
    let Some(db) = TestDb::fresh(8).await else {
        return;
    };
    let h = Harness::new(db.store()).await;
    let (owner, event, first) = h.owner_event_room().await;
    let second = h
        .room(owner, event, "Second", chat_core::Visibility::Public)
        .await;
    let mut authors = Vec::new();
    for i in 0..6 {
        let user = h.joined(&format!("Author {i}"), owner, event, first).await;
        h.chat.join_room(user, second).await.unwrap();
        authors.push(user);
    }
    let store = Arc::new(db.postgres_store());
    let policy: Arc<dyn chat_core::RateLimitPolicy> = Arc::new(SlidingWindow {
        max: 5,
        window: std::time::Duration::from_secs(60),
    });
    let now = h.chat.now();
    let new = |author: UserId, room: RoomId, key: Option<String>, n: usize| NewMessage {
        id: MessageId::new(),
        room_id: room,
        author_id: author,
        text: format!("send {n}"),
        mentions: vec![owner],
        attachments: Vec::new(),
        payload: None,
        reply_to: None,
        client_msg_id: key,
        is_ai_generated: false,
        created_at: now,
    };
    // 6 authors × 8 sends, alternating rooms; 4 to a missing room; 4 by a missing author;
    // author 0's sends 0 and 1 share a key.
    let mut inputs = Vec::new();
    for (a, &author) in authors.iter().enumerate() {
        for n in 0..8 {
            let room = if n % 2 == 0 { first } else { second };
            let key = (a == 0 && n < 2).then(|| "twice".to_owned());
            inputs.push(new(author, room, key, n));
        }
    }
    for n in 0..4 {
        inputs.push(new(authors[1], RoomId::new(), None, n));
        inputs.push(new(UserId::new(), first, None, n));
    }
    let before = store.group_commit_stats();
    let sends = inputs.clone().into_iter().map(|msg| {
        let (store, policy) = (Arc::clone(&store), Arc::clone(&policy));
        tokio::spawn(async move { store.append_message(msg, Admission { policy }).await })
    });
    let results: Vec<_> = join_all(sends)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    let stats = store.group_commit_stats();
    assert_eq!(stats.sends - before.sends, 56);
    assert!(
        stats.batches - before.batches <= 16,
        "56 sends queued at once share transactions: {stats:?}"
    );

    let mut created = Vec::new();
    for (input, result) in inputs.iter().zip(&results) {
        match result {
            Ok(Appended::Created { posted, thread }) => {
                assert!(thread.is_none());
                created.push(posted.kind.message().unwrap().clone());
            }
            Ok(Appended::Replayed(original)) => {
                assert_eq!(input.client_msg_id.as_deref(), Some("twice"));
                assert_eq!(original.client_msg_id.as_deref(), Some("twice"));
            }
            Err(Error::NotFound { what: "room" }) => {
                assert!(input.room_id != first && input.room_id != second)
            }
            Err(Error::NotFound { what: "user" }) => assert!(!authors.contains(&input.author_id)),
            Err(Error::RateLimited { .. }) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    // Exactly 5 admitted per author (author 0's replay takes no quota).
    for author in &authors {
        assert_eq!(created.iter().filter(|m| m.author_id == *author).count(), 5);
    }
    assert_eq!(
        results
            .iter()
            .filter(|r| matches!(r, Ok(Appended::Replayed(_))))
            .count(),
        1
    );
    // Each room's seqs are gap-free and match the stored messages and log.
    for room in [first, second] {
        let mut seqs: Vec<u64> = created
            .iter()
            .filter(|m| m.room_id == room)
            .map(|m| m.seq.get())
            .collect();
        seqs.sort_unstable();
        let last = h
            .chat
            .get_room(owner, room)
            .await
            .unwrap()
            .room
            .last_seq
            .get();
        assert_eq!(
            seqs,
            ((last - seqs.len() as u64 + 1)..=last).collect::<Vec<_>>()
        );
        let stored: Vec<(i64, String)> = sqlx::query_as(
            "SELECT c.seq, m.text FROM room_changes c JOIN messages m ON m.id = c.message_id
             WHERE c.room_id = $1 AND c.change ->> 'kind' = 'message_posted' ORDER BY c.seq",
        )
        .bind(room.as_uuid())
        .fetch_all(&db.pool)
        .await
        .unwrap();
        let logged: Vec<u64> = stored.iter().map(|(s, _)| *s as u64).collect();
        assert_eq!(logged, seqs, "every stored message logged under its seq");
    }
    // The owner was mentioned by all 30 and wrote none: 30 unread mentions; each author has
    // the others' messages unread, never their own.
    let owner_unread: u32 = h
        .chat
        .unread_counts(owner)
        .await
        .unwrap()
        .iter()
        .map(|u| u.mentions)
        .sum();
    assert_eq!(owner_unread, 30);
    let author_unread: u32 = h
        .chat
        .unread_counts(authors[2])
        .await
        .unwrap()
        .iter()
        .map(|u| u.messages)
        .sum();
    assert_eq!(author_unread, 25);
    db.cleanup().await;
}

/// A 100,000-message room, paged end to end in both directions with no gap or overlap.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_100k_message_room_pages_without_gap_or_overlap() {
    let Some(db) = TestDb::fresh(8).await else {
        return;
    };
    let h = Harness::with_limits(db.store(), Limits::default()).await;
    let (owner, _event, room) = h.owner_event_room().await;
    // Bulk-load through SQL: 100,000 sends through the API would test the rate limit, not paging.
    sqlx::query(
        "INSERT INTO messages (id, room_id, seq, author_id, author_name, text, tokens, mentions,
             attachments, reactions, created_at, ordinal)
         SELECT gen_random_uuid(), $1, s, $2, 'Owner', 'bulk ' || s, ARRAY['bulk', s::text],
             '{}', '[]', '{}', now(), s
         FROM generate_series(1, 100000) AS s",
    )
    .bind(room.as_uuid())
    .bind(owner.as_uuid())
    .execute(&db.pool)
    .await
    .unwrap();
    sqlx::query("UPDATE rooms SET last_seq = 100000, message_count = 100000 WHERE id = $1")
        .bind(room.as_uuid())
        .execute(&db.pool)
        .await
        .unwrap();

    let mut seen = Vec::with_capacity(100_000);
    let mut cursor = HistoryCursor::LATEST;
    loop {
        let page = h
            .chat
            .history(owner, room, cursor, Some(100))
            .await
            .unwrap();
        seen.extend(page.messages.iter().map(|m| m.seq.get()));
        match page.messages.last() {
            Some(m) if page.has_more => cursor = HistoryCursor::Before(m.seq),
            _ => break,
        }
    }
    assert_eq!(seen, (1..=100_000).rev().collect::<Vec<_>>());

    let mut forward = 0u64;
    let mut cursor = HistoryCursor::After(RoomSeq::ZERO);
    loop {
        let page = h
            .chat
            .history(owner, room, cursor, Some(100))
            .await
            .unwrap();
        for m in &page.messages {
            forward += 1;
            assert_eq!(m.seq.get(), forward);
        }
        match page.messages.last() {
            Some(m) if page.has_more => cursor = HistoryCursor::After(m.seq),
            _ => break,
        }
    }
    assert_eq!(forward, 100_000);
    db.cleanup().await;
}

/// Database errors become clear errors: a unique violation is a Conflict, never a panic.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn database_rejections_map_to_clear_errors() {
    let Some(db) = TestDb::fresh(4).await else {
        return;
    };
    let store: Arc<dyn Store> = db.store();
    let h = Harness::new(Arc::clone(&store)).await;
    let owner = h.user("Owner").await;
    let event = h.event(owner).await;
    // The event id exists: inserting it again is a conflict from the primary key.
    let existing = store.get_event(event).await.unwrap().unwrap();
    let member = chat_core::EventMember {
        event_id: event,
        user_id: owner,
        role: EventRole::Owner,
        joined_at: h.chat.now(),
    };
    assert!(matches!(
        store.create_event(existing, member).await,
        Err(Error::Conflict { .. })
    ));
    // A membership for a user without a profile is NotFound, from the foreign key.
    let ghost = chat_core::EventMember {
        event_id: event,
        user_id: UserId::new(),
        role: EventRole::Member,
        joined_at: h.chat.now(),
    };
    assert!(matches!(
        store.put_event_member(ghost).await,
        Err(Error::NotFound { what: "user" })
    ));
    db.cleanup().await;
}

/// How many change-log entries hold `needle` in their stored JSON.
async fn stored_copies(db: &TestDb, needle: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM room_changes WHERE change::text LIKE '%' || $1 || '%'")
        .bind(needle)
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

/// Logs written before 0003 held a copy of each message, text included. The migration turns
/// those entries into references, so text deleted before the upgrade is gone after it too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_0003_migration_redacts_message_copies_in_old_logs() {
    let Some(db) = TestDb::fresh(4).await else {
        return;
    };
    let h = Harness::new(db.store()).await;
    let (owner, _event, room) = h.owner_event_room().await;
    let secret = h.send(owner, room, "the vault code is 0451").await;
    let kept = h.send(owner, room, "see you at the pier").await;
    h.chat.delete_message(owner, secret.id).await.unwrap();
    // Rewrite the log as the old code wrote it: a full copy of the message as it was when
    // posted, and no reference.
    for message in [&secret, &kept] {
        let copy =
            serde_json::to_value(chat_core::ChangeKind::MessagePosted(message.clone())).unwrap();
        sqlx::query(
            "UPDATE room_changes SET change = $3, message_id = NULL WHERE room_id = $1 AND seq = $2",
        )
        .bind(room.as_uuid())
        .bind(i64::try_from(message.seq.get()).unwrap())
        .bind(sqlx::types::Json(copy))
        .execute(&db.pool)
        .await
        .unwrap();
    }
    let leaked = stored_copies(&db, "0451").await;
    assert_eq!(
        leaked, 1,
        "the old-format copy holds the secret before the migration"
    );

    sqlx::raw_sql(include_str!(
        "../migrations/0003_change_log_references_messages.sql"
    ))
    .execute(&db.pool)
    .await
    .unwrap();
    let leaked = stored_copies(&db, "0451").await;
    assert_eq!(leaked, 0);
    let log = h
        .chat
        .changes(owner, room, RoomSeq::ZERO, None)
        .await
        .unwrap();
    let json = serde_json::to_string(&log).unwrap();
    assert!(!json.contains("0451"), "{json}");
    assert!(
        json.contains("see you at the pier"),
        "kept messages still render"
    );
    let posted: Vec<_> = log
        .changes
        .iter()
        .filter(|c| c.kind.name() == "message_posted")
        .filter_map(|c| c.kind.message())
        .collect();
    assert_eq!(posted.len(), 2);
    assert!(posted[0].is_deleted && posted[0].text.is_empty());
    db.cleanup().await;
}

/// Migration 0010 derives the unread counters from the messages alone: with every counter
/// scrambled (as a database written before it has none), running it gives back exactly the
/// counts the store kept, mentions, edits, deletions and partial reads included.
#[tokio::test]
async fn the_0010_migration_derives_unread_counters_from_the_messages() {
    let Some(db) = TestDb::fresh(4).await else {
        return;
    };
    let h = Harness::new(db.store()).await;
    let (owner, event, room) = h.owner_event_room().await;
    let alice = h.joined("Alice", owner, event, room).await;
    let ping = format!("{} look", chat_core::mention::render("Alice", alice));
    let first = h.send(owner, room, "first").await;
    h.chat.mark_read(alice, room, first.seq).await.unwrap();
    let pinged = h.send(owner, room, &ping).await;
    let doomed = h.send(owner, room, &ping).await;
    h.send(alice, room, "mine").await;
    h.send(owner, room, "last").await;
    h.chat.delete_message(owner, doomed.id).await.unwrap();
    h.chat
        .edit_message(owner, first.id, ping.clone())
        .await
        .unwrap();
    let _ = pinged;
    let before = h.store.unread_counts(alice, None).await.unwrap();
    assert_eq!(
        before
            .iter()
            .map(|u| (u.messages, u.mentions))
            .collect::<Vec<_>>(),
        [(2, 1)],
        "pinged and last; the edited mention is before the read position"
    );

    sqlx::raw_sql(
        "UPDATE messages SET ordinal = 0;
         UPDATE rooms SET message_count = 7, deleted_count = 0;
         UPDATE room_members SET read_ordinal = 5, own_after_read = 9, mentions_after_read = 3;",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    assert_ne!(h.store.unread_counts(alice, None).await.unwrap(), before);
    sqlx::raw_sql(include_str!("../migrations/0010_unread_counters.sql"))
        .execute(&db.pool)
        .await
        .unwrap();
    assert_eq!(h.store.unread_counts(alice, None).await.unwrap(), before);
    db.cleanup().await;
}
