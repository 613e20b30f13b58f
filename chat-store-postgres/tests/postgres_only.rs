//! What only a real PostgreSQL can show: migrations, concurrency across many connections,
//! a 100,000-message room, and recovery from a server restart.

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use chat_core::testing::{Harness, text};
use chat_core::{Error, EventRole, HistoryCursor, Limits, RoomSeq, SendMessage, Store, UserId};
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

/// 40 connections, 40 senders in one room: seqs are 1..=n with no gap and no duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn seq_is_gap_free_across_40_connections() {
    let Some(db) = TestDb::fresh(40).await else {
        return;
    };
    let h = Harness::new(db.store()).await;
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
    let sends = users
        .iter()
        .flat_map(|&u| (0..10).map(move |i| (u, i)))
        .map(|(u, i)| {
            let h = h.clone();
            tokio::spawn(async move { h.send(u, room, &format!("{i}")).await.seq })
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

/// One user's 100 sends racing over 40 connections: exactly 10 admitted.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rate_limit_is_exact_across_40_connections() {
    let Some(db) = TestDb::fresh(40).await else {
        return;
    };
    let h = Harness::new(db.store()).await;
    let (owner, _event, room) = h.owner_event_room().await;
    let sends = (0..100).map(|i| {
        let h = h.clone();
        tokio::spawn(async move {
            h.chat
                .send_message(owner, room, text(&format!("{i}")))
                .await
        })
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

/// 40 racing sends with one `client_msg_id` over 40 connections: one message, all see it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_duplicates_across_40_connections_store_one_message() {
    let Some(db) = TestDb::fresh(40).await else {
        return;
    };
    let h = Harness::new(db.store()).await;
    let (owner, _event, room) = h.owner_event_room().await;
    let sends = (0..40).map(|_| {
        let h = h.clone();
        tokio::spawn(async move {
            let msg = SendMessage {
                client_msg_id: Some("same".into()),
                ..text("hello")
            };
            h.chat.send_message(owner, room, msg).await.unwrap()
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
