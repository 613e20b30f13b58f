//! Property tests of the core's pure parts: mentions, validation, the rate limiter and the
//! fan-out hub's ordering.

use std::sync::Arc;
use std::time::Duration;

use chat_core::fanout::{Broker, Delivery, InProcessBroker};
use chat_core::mention::{self, MAX_NAME_CHARS};
use chat_core::rate_limit::{RateLimitPolicy, SendHistory, SlidingWindow};
use chat_core::validation::validate_text;
use chat_core::{
    ChangeKind, Error, EventId, Limits, Room, RoomChange, RoomId, RoomKind, RoomSeq, Timestamp,
    UserId, Visibility,
};
use proptest::prelude::*;

/// Text biased towards mention syntax, so the parser's edge cases come up often.
fn mentionish() -> impl Strategy<Value = String> {
    let id = UserId::new().to_string();
    let pieces = prop_oneof![
        Just("@[".to_owned()),
        Just("](".to_owned()),
        Just(")".to_owned()),
        Just("]".to_owned()),
        Just("\\".to_owned()),
        Just(id),
        "[a-zé ]{0,4}",
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(pieces, 0..64).prop_map(|v| v.concat())
}

fn display_name() -> impl Strategy<Value = String> {
    // Any non-control characters, including the ones that need escaping.
    prop::collection::vec(
        prop_oneof![
            Just('['),
            Just(']'),
            Just('\\'),
            Just('@'),
            Just('('),
            any::<char>()
        ],
        1..40,
    )
    .prop_map(|cs| {
        cs.into_iter()
            .filter(|c| !c.is_control())
            .collect::<String>()
    })
    .prop_filter("needs a visible character", |s| !s.trim().is_empty())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn mention_parser_never_panics_and_ranges_are_sound(text in mentionish()) {
        let mut last_end = 0;
        for m in mention::parse(&text) {
            prop_assert!(m.range.start >= last_end);
            prop_assert!(text.is_char_boundary(m.range.start) && text.is_char_boundary(m.range.end));
            prop_assert!(text[m.range.clone()].starts_with("@["));
            last_end = m.range.end;
        }
        let segments = mention::segments(&text);
        let rebuilt: String = segments
            .iter()
            .map(|s| match s {
                mention::Segment::Text(t) => (*t).to_owned(),
                mention::Segment::Mention(m) => text[m.range.clone()].to_owned(),
            })
            .collect();
        prop_assert_eq!(rebuilt, text);
    }

    #[test]
    fn arbitrary_unicode_never_panics(text in any::<String>()) {
        let _ = mention::parse(&text).count();
        let _ = mention::mentioned_user_ids(&text, 50);
    }

    #[test]
    fn render_then_parse_round_trips(names in prop::collection::vec(display_name(), 1..6), filler in "[a-z ]{0,8}") {
        let users: Vec<UserId> = names.iter().map(|_| UserId::new()).collect();
        let text: String = names
            .iter()
            .zip(&users)
            .map(|(n, u)| format!("{filler}{}", mention::render(n, *u)))
            .collect();
        let parsed: Vec<_> = mention::parse(&text).collect();
        prop_assert_eq!(parsed.len(), names.len());
        for ((m, name), user) in parsed.iter().zip(&names).zip(&users) {
            prop_assert_eq!(&m.name, name);
            prop_assert_eq!(m.user_id, *user);
        }
    }

    #[test]
    fn mentioned_ids_are_distinct_first_seen_and_capped(picks in prop::collection::vec(0usize..80, 0..200), cap in 0usize..60) {
        let pool: Vec<UserId> = (0..80).map(|_| UserId::new()).collect();
        let text: String = picks.iter().map(|&i| mention::render("U", pool[i]) + " ").collect();
        let ids = mention::mentioned_user_ids(&text, cap);
        let mut expected = Vec::new();
        for &i in &picks {
            if !expected.contains(&pool[i]) {
                expected.push(pool[i]);
            }
        }
        expected.truncate(cap);
        prop_assert_eq!(ids, expected);
    }

    #[test]
    fn text_length_is_counted_in_scalar_values(
        unit in prop_oneof![Just("a"), Just("é"), Just("e\u{301}"), Just("😀"), Just("字")],
        extra in -2i64..=1,
    ) {
        let limits = Limits::default();
        let scalars_per_unit = unit.chars().count();
        let units = (5000 / scalars_per_unit) as i64 + extra;
        let text = unit.repeat(units.max(0) as usize);
        let n = text.chars().count();
        let result = validate_text(&text, false, &limits);
        if n <= 5000 {
            prop_assert!(result.is_ok(), "{n} scalars should pass");
        } else {
            let too_long = matches!(&result, Err(Error::Validation { field, .. }) if field == "text");
            prop_assert!(too_long, "{n} scalars should fail");
        }
    }

    #[test]
    fn nul_is_refused_anywhere(prefix in "[a-zé]{0,100}", suffix in "[a-zé]{0,100}") {
        let text = format!("{prefix}\0{suffix}");
        let refused = matches!(validate_text(&text, true, &Limits::default()), Err(Error::Validation { .. }));
        prop_assert!(refused);
    }

    #[test]
    fn sliding_window_matches_a_reference_model(gaps_ms in prop::collection::vec(0u64..20_000, 1..120)) {
        let policy = SlidingWindow { max: 10, window: Duration::from_secs(60) };
        let room = room();
        let mut admitted: Vec<Timestamp> = Vec::new();
        let mut now = Timestamp::UNIX_EPOCH.saturating_add(Duration::from_secs(1_000_000));
        for gap in gaps_ms {
            now = now.saturating_add(Duration::from_millis(gap));
            let lookback_start = now.saturating_sub(policy.lookback());
            let mut recent: Vec<Timestamp> = admitted.iter().copied().filter(|t| *t > lookback_start).collect();
            // As a store does: only the newest `history_limit()` sends.
            recent.drain(..recent.len().saturating_sub(policy.history_limit()));
            // The model: admit when fewer than 10 admitted sends lie in (now - 60 s, now].
            let in_window = admitted.iter().filter(|t| now.duration_since(**t) < Duration::from_secs(60)).count();
            let h = SendHistory { now, room: &room, is_moderator: false, recent_sends: &recent, last_send_in_room: None };
            match policy.check(&h) {
                Ok(()) => {
                    prop_assert!(in_window < 10);
                    admitted.push(now);
                }
                Err(wait) => {
                    prop_assert!(in_window >= 10);
                    prop_assert!(wait > Duration::ZERO && wait <= Duration::from_secs(60));
                    // Waiting exactly `wait` is enough, and it is the least wait that is.
                    let then = now.saturating_add(wait);
                    let at_then = SendHistory { now: then, ..h };
                    prop_assert!(policy.check(&at_then).is_ok());
                    if wait > Duration::from_millis(1) {
                        let before = SendHistory { now: then.saturating_sub(Duration::from_millis(1)), ..h };
                        prop_assert!(policy.check(&before).is_err());
                    }
                }
            }
        }
    }
}

fn room() -> Room {
    Room {
        id: RoomId::new(),
        event_id: EventId::new(),
        name: "r".into(),
        kind: RoomKind::Topic,
        visibility: Visibility::Public,
        archived: false,
        slow_mode_secs: 0,
        read_receipts: true,
        created_by: UserId::new(),
        created_at: Timestamp::UNIX_EPOCH,
        last_message_at: None,
        last_seq: RoomSeq::ZERO,
    }
}

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

/// Publishes seqs 1..=n in a locally shuffled order (as concurrent committers do) to a
/// subscriber whose ring is small enough to overflow, and plays the consumer's side of the
/// protocol: apply live changes, and on a resync reload everything committed so far (the
/// store holds every seq up to the highest published) and `advance_to` it.
///
/// What the consumer applies must be exactly 1..=n, in order: nothing lost, nothing twice.
fn check_hub(
    n: u64,
    swaps: &[usize],
    capacity: usize,
    drain_every: usize,
) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async {
        let hub = InProcessBroker::with_capacity(capacity);
        let room = RoomId::new();
        let mut sub = hub.subscribe(room, RoomSeq::ZERO);
        let mut order: Vec<u64> = (1..=n).collect();
        for (i, &s) in swaps.iter().enumerate() {
            let a = i % order.len();
            let b = (a + s % 4).min(order.len() - 1);
            order.swap(a, b);
        }
        let mut applied: Vec<u64> = Vec::new();
        let mut committed = 0;
        let apply = |d: Delivery,
                     sub: &mut chat_core::Subscription,
                     applied: &mut Vec<u64>,
                     committed: u64| match d {
            Delivery::Change(c) => applied.push(c.seq.get()),
            Delivery::Resync { from_seq, .. } => {
                assert_eq!(
                    from_seq.get(),
                    applied.last().copied().unwrap_or(0),
                    "resync names the last applied seq"
                );
                applied.extend(from_seq.get() + 1..=committed);
                sub.advance_to(RoomSeq(committed));
            }
            Delivery::Typing(_) | Delivery::Read(_) => {}
        };
        for (i, seq) in order.iter().enumerate() {
            hub.publish(change(room, *seq));
            committed = committed.max(*seq);
            if drain_every > 0 && i % drain_every == 0 {
                while let Some(d) = poll_once(&mut sub) {
                    apply(d, &mut sub, &mut applied, committed);
                }
            }
        }
        // Time is paused: a gap that never fills times out at once and turns into a resync.
        while applied.last().copied().unwrap_or(0) < n {
            match tokio::time::timeout(Duration::from_secs(10), sub.recv()).await {
                Ok(Some(d)) => apply(d, &mut sub, &mut applied, committed),
                other => panic!("subscriber stalled at {:?}: {other:?}", applied.last()),
            }
        }
        prop_assert_eq!(applied, (1..=n).collect::<Vec<_>>());
        Ok(())
    })
}

/// Polls the subscription once without blocking: `Some` for a ready delivery.
fn poll_once(sub: &mut chat_core::Subscription) -> Option<Delivery> {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(sub.recv()).poll(&mut cx) {
        Poll::Ready(d) => d,
        Poll::Pending => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn hub_delivers_in_order_and_resyncs_instead_of_skipping(
        n in 1u64..400,
        swaps in prop::collection::vec(0usize..8, 0..200),
        capacity in 4usize..64,
        drain_every in 0usize..16,
    ) {
        check_hub(n, &swaps, capacity, drain_every)?;
    }
}

#[test]
fn mention_names_longer_than_the_bound_stay_text() {
    let id = UserId::new();
    let ok = mention::render(&"n".repeat(MAX_NAME_CHARS), id);
    let too_long = mention::render(&"n".repeat(MAX_NAME_CHARS + 1), id);
    assert_eq!(mention::parse(&ok).count(), 1);
    assert_eq!(mention::parse(&too_long).count(), 0);
}

#[test]
fn mention_parsing_is_linear_on_adversarial_input() {
    // 200k unclosed openers: a quadratic parser would take minutes; this must finish at once.
    let text = "@[".repeat(100_000);
    assert_eq!(mention::parse(&text).count(), 0);
    let text = format!("@[{}", "a".repeat(200_000));
    assert_eq!(mention::parse(&text).count(), 0);
}
