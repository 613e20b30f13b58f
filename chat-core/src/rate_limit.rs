//! Rate limits: pure policies that decide from facts a store reads atomically.
//!
//! A store admits a send inside the same critical section (a lock, or a database transaction
//! holding a per-author lock) that inserts the message. It gathers a [`SendHistory`] — the
//! author's recent send times — and asks the [`RateLimitPolicy`]. Because the history is exactly
//! the stored messages, admission is exact under any concurrency, and a rejected or invalid
//! send costs nothing: it was never stored.
//!
//! Typing signals are not stored, so their throttle ([`TypingThrottle`]) keeps its own state.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use crate::clock::Timestamp;
use crate::id::{RoomId, UserId};
use crate::room::Room;

/// The facts a policy decides on, read by the store at admission time.
#[derive(Debug, Clone, Copy)]
pub struct SendHistory<'a> {
    /// The time of the send being admitted.
    pub now: Timestamp,
    /// The room it goes to.
    pub room: &'a Room,
    /// Whether the author moderates the room (moderators are exempt from slow mode).
    pub is_moderator: bool,
    /// The author's latest sends, in any room, posted after `now - lookback()`: at most
    /// `history_limit()` of them (the newest), in ascending order.
    pub recent_sends: &'a [Timestamp],
    /// The author's latest send in this room, if any.
    pub last_send_in_room: Option<Timestamp>,
}

/// Decides whether a send is admitted.
///
/// Implementations must be pure functions of their configuration and the [`SendHistory`]:
/// stores call them while holding the author's admission lock.
pub trait RateLimitPolicy: fmt::Debug + Send + Sync + 'static {
    /// How far back [`SendHistory::recent_sends`] must reach.
    fn lookback(&self) -> Duration;

    /// How many of the newest sends within the lookback the policy needs. Bounding this keeps
    /// admission O(limit) however busy the author is.
    fn history_limit(&self) -> usize;

    /// `Ok` to admit, or `Err(retry_after)`: how long until the same send would be admitted.
    ///
    /// # Errors
    /// The wait, when the send is refused.
    fn check(&self, history: &SendHistory<'_>) -> Result<(), Duration>;
}

/// At most `max` sends per author in any sliding window of `window` (default 10 per 60 s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlidingWindow {
    /// Sends admitted per window.
    pub max: u32,
    /// The window.
    pub window: Duration,
}

impl RateLimitPolicy for SlidingWindow {
    fn lookback(&self) -> Duration {
        self.window
    }

    fn history_limit(&self) -> usize {
        self.max as usize
    }

    fn check(&self, h: &SendHistory<'_>) -> Result<(), Duration> {
        let start = h.now.saturating_sub(self.window);
        let first_in_window = h.recent_sends.partition_point(|&t| t <= start);
        let in_window = &h.recent_sends[first_in_window..];
        let max = self.max as usize;
        if in_window.len() < max {
            return Ok(());
        }
        if max == 0 {
            return Err(self.window);
        }
        // The send that must leave the window before one more fits.
        let blocking = in_window[in_window.len() - max];
        Err(blocking
            .saturating_add(self.window)
            .duration_since(h.now)
            .max(Duration::from_millis(1)))
    }
}

/// Per-room slow mode: a member waits [`Room::slow_mode_secs`] between two messages in that
/// room. Moderators are exempt.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SlowMode;

impl RateLimitPolicy for SlowMode {
    fn lookback(&self) -> Duration {
        Duration::ZERO
    }

    fn history_limit(&self) -> usize {
        0
    }

    fn check(&self, h: &SendHistory<'_>) -> Result<(), Duration> {
        let interval = Duration::from_secs(u64::from(h.room.slow_mode_secs));
        match h.last_send_in_room {
            Some(last) if !interval.is_zero() && !h.is_moderator => {
                let ready = last.saturating_add(interval);
                if ready > h.now {
                    Err(ready.duration_since(h.now))
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }
}

/// Several policies at once: admitted when all admit; the wait is the longest one.
#[derive(Debug, Default)]
pub struct AllOf(pub Vec<Box<dyn RateLimitPolicy>>);

impl RateLimitPolicy for AllOf {
    fn lookback(&self) -> Duration {
        self.0
            .iter()
            .map(|p| p.lookback())
            .max()
            .unwrap_or(Duration::ZERO)
    }

    fn history_limit(&self) -> usize {
        self.0.iter().map(|p| p.history_limit()).max().unwrap_or(0)
    }

    fn check(&self, h: &SendHistory<'_>) -> Result<(), Duration> {
        let wait = self.0.iter().filter_map(|p| p.check(h).err()).max();
        wait.map_or(Ok(()), Err)
    }
}

/// The default policy: the sliding window from `limits` plus per-room slow mode.
#[must_use]
pub fn default_policy(limits: &crate::Limits) -> AllOf {
    AllOf(vec![
        Box::new(SlidingWindow {
            max: limits.send_rate_max,
            window: limits.send_rate_window,
        }),
        Box::new(SlowMode),
    ])
}

/// At most one typing signal per user per room per `interval` (default 2 s).
#[derive(Debug)]
pub struct TypingThrottle {
    interval: Duration,
    last: Mutex<HashMap<(UserId, RoomId), Timestamp>>,
}

impl TypingThrottle {
    /// A throttle admitting one signal per `interval`.
    #[must_use]
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            last: Mutex::new(HashMap::new()),
        }
    }

    /// Admits a signal at `now`, or returns how long to wait.
    ///
    /// # Errors
    /// The wait, when a signal was admitted less than `interval` ago.
    pub fn check(&self, user: UserId, room: RoomId, now: Timestamp) -> Result<(), Duration> {
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Keep the map from growing without bound: drop entries that can no longer throttle.
        if last.len() > 100_000 {
            let horizon = now.saturating_sub(self.interval);
            last.retain(|_, t| *t > horizon);
        }
        match last.get(&(user, room)) {
            Some(&t) if t.saturating_add(self.interval) > now => {
                Err(t.saturating_add(self.interval).duration_since(now))
            }
            _ => {
                last.insert((user, room), now);
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_room() -> Room {
        Room {
            id: RoomId::new(),
            event_id: crate::EventId::new(),
            name: "r".into(),
            kind: crate::RoomKind::Topic,
            visibility: crate::Visibility::Public,
            archived: false,
            slow_mode_secs: 0,
            read_receipts: true,
            created_by: UserId::new(),
            created_at: Timestamp::UNIX_EPOCH,
            last_message_at: None,
            last_seq: crate::RoomSeq::ZERO,
        }
    }

    fn at(secs: u64) -> Timestamp {
        Timestamp::UNIX_EPOCH.saturating_add(Duration::from_secs(secs))
    }

    #[test]
    fn sliding_window_waits_for_the_oldest_blocking_send() {
        let p = SlidingWindow {
            max: 2,
            window: Duration::from_secs(60),
        };
        let room = test_room();
        let sends = [at(10), at(20)];
        let h = SendHistory {
            now: at(30),
            room: &room,
            is_moderator: false,
            recent_sends: &sends,
            last_send_in_room: None,
        };
        assert_eq!(p.check(&h), Err(Duration::from_secs(40)));
        let h = SendHistory { now: at(70), ..h };
        assert_eq!(p.check(&h), Ok(()));
    }

    #[test]
    fn typing_is_throttled_per_user_and_room() {
        let t = TypingThrottle::new(Duration::from_secs(2));
        let (u, r) = (UserId::new(), RoomId::new());
        assert!(t.check(u, r, at(0)).is_ok());
        assert_eq!(t.check(u, r, at(1)), Err(Duration::from_secs(1)));
        assert!(t.check(u, RoomId::new(), at(1)).is_ok());
        assert!(t.check(u, r, at(2)).is_ok());
    }
}
