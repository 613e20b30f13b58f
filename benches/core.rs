// criterion_group! and criterion_main! generate undocumented items.
#![allow(missing_docs)]

//! Core hot paths, each beside a raw baseline in the same run:
//! - mention parsing (MB/s) beside a bare substring scan for `@[`;
//! - text validation beside a bare `chars().count()`;
//! - a rate-limit check (ns) beside a bare `partition_point` over the same send times.

use std::hint::black_box;
use std::time::Duration;

use chat_engine::rate_limit::{RateLimitPolicy, SendHistory, SlidingWindow, default_policy};
use chat_engine::{
    EventId, Limits, Room, RoomId, RoomKind, RoomSeq, Timestamp, UserId, Visibility, mention,
    validation,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// About 4 KiB of chat text with a mention every ~200 bytes.
fn chat_text() -> String {
    let mut text = String::new();
    while text.len() < 4096 {
        text.push_str("Are we still meeting at the food trucks after the keynote? ");
        text.push_str(&mention::render("Sarah Chen", UserId::new()));
        text.push_str(" said the line is short. Bring cash! 🎉 ");
    }
    text
}

fn mentions(c: &mut Criterion) {
    let text = chat_text();
    let mut g = c.benchmark_group("mentions");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("bare_scan_for_openers", |b| {
        b.iter(|| black_box(&text).matches("@[").count())
    });
    g.bench_function("parse", |b| {
        b.iter(|| mention::parse(black_box(&text)).count())
    });
    g.bench_function("mentioned_user_ids", |b| {
        b.iter(|| mention::mentioned_user_ids(black_box(&text), 50))
    });
    g.finish();
}

fn validation(c: &mut Criterion) {
    let limits = Limits::default();
    let text = "Grüße aus Köln! ".repeat(5000 / 16);
    let mut g = c.benchmark_group("validation");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("bare_chars_count", |b| {
        b.iter(|| black_box(&text).chars().count())
    });
    g.bench_function("validate_text_5000", |b| {
        b.iter(|| validation::validate_text(black_box(&text), false, &limits))
    });
    g.finish();
}

fn rate_limit(c: &mut Criterion) {
    let room = Room {
        id: RoomId::new(),
        event_id: EventId::new(),
        name: "Main".into(),
        kind: RoomKind::Main,
        visibility: Visibility::Public,
        archived: false,
        slow_mode_secs: 0,
        read_receipts: true,
        created_by: UserId::new(),
        created_at: Timestamp::UNIX_EPOCH,
        last_message_at: None,
        last_seq: RoomSeq::ZERO,
    };
    let now = Timestamp::UNIX_EPOCH.saturating_add(Duration::from_secs(3600));
    // Nine sends in the window: the most work an admitted send can cost.
    let sends: Vec<Timestamp> = (1..=9)
        .map(|i| now.saturating_sub(Duration::from_secs(i * 5)))
        .rev()
        .collect();
    let history = SendHistory {
        now,
        room: &room,
        is_moderator: false,
        recent_sends: &sends,
        last_send_in_room: sends.last().copied(),
    };
    let window = SlidingWindow {
        max: 10,
        window: Duration::from_secs(60),
    };
    let default = default_policy(&Limits::default());
    let start = now.saturating_sub(Duration::from_secs(60));
    let mut g = c.benchmark_group("rate_limit");
    g.bench_function("bare_partition_point", |b| {
        b.iter(|| black_box(&sends).partition_point(|t| *t <= start) < 10)
    });
    g.bench_function("sliding_window_check", |b| {
        b.iter(|| window.check(black_box(&history)))
    });
    g.bench_function("default_policy_check", |b| {
        b.iter(|| default.check(black_box(&history)))
    });
    g.finish();
}

criterion_group!(benches, mentions, validation, rate_limit);
criterion_main!(benches);
