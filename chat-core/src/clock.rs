//! Time: the [`Timestamp`] every record carries, and the injectable [`Clock`] that produces it.
//!
//! Rate limits, mutes and system metrics all depend on "now". Taking it from a [`Clock`] rather
//! than from the system lets tests (and the conformance suite) move time deterministically with
//! [`ManualClock`].

use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A point in time, in UTC, with microsecond precision.
///
/// Microseconds because that is what PostgreSQL's `timestamptz` keeps: a value written to any
/// store reads back equal. Serialized as RFC 3339 text.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    /// The Unix epoch.
    pub const UNIX_EPOCH: Self = Self(OffsetDateTime::UNIX_EPOCH);

    /// Converts a date-time, truncating it to whole microseconds in UTC.
    #[must_use]
    pub fn from_datetime(dt: OffsetDateTime) -> Self {
        let dt = dt.to_offset(time::UtcOffset::UTC);
        let micros = dt.microsecond();
        // `replace_microsecond` only fails for values above 999_999, which `microsecond()`
        // never returns.
        Self(dt.replace_microsecond(micros).unwrap_or(dt))
    }

    /// Milliseconds since the Unix epoch.
    #[must_use]
    pub fn unix_millis(&self) -> i64 {
        (self.0.unix_timestamp_nanos() / 1_000_000) as i64
    }

    /// Builds a timestamp from milliseconds since the Unix epoch; `None` if out of range.
    #[must_use]
    pub fn from_unix_millis(millis: i64) -> Option<Self> {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
            .ok()
            .map(Self)
    }

    /// The underlying date-time.
    #[must_use]
    pub const fn as_datetime(&self) -> OffsetDateTime {
        self.0
    }

    /// This time plus `d`, saturating at the far end of the representable range.
    #[must_use]
    pub fn saturating_add(self, d: Duration) -> Self {
        Self::from_datetime(
            self.0
                .saturating_add(d.try_into().unwrap_or(time::Duration::MAX)),
        )
    }

    /// This time minus `d`, saturating at the far end of the representable range.
    #[must_use]
    pub fn saturating_sub(self, d: Duration) -> Self {
        Self::from_datetime(
            self.0
                .saturating_sub(d.try_into().unwrap_or(time::Duration::MAX)),
        )
    }

    /// How long after `earlier` this time is; zero if it is not after it.
    #[must_use]
    pub fn duration_since(self, earlier: Self) -> Duration {
        (self.0 - earlier.0).try_into().unwrap_or(Duration::ZERO)
    }
}

impl From<OffsetDateTime> for Timestamp {
    fn from(dt: OffsetDateTime) -> Self {
        Self::from_datetime(dt)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.format(&Rfc3339) {
            Ok(s) => f.write_str(&s),
            Err(_) => write!(f, "{}", self.0),
        }
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        time::serde::rfc3339::serialize(&self.0, serializer)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        time::serde::rfc3339::deserialize(deserializer).map(Self::from_datetime)
    }
}

/// A source of the current time.
pub trait Clock: fmt::Debug + Send + Sync + 'static {
    /// Now.
    fn now(&self) -> Timestamp;
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_datetime(OffsetDateTime::now_utc())
    }
}

/// A clock that only moves when told to: for tests and simulations.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<Timestamp>,
}

impl ManualClock {
    /// A clock stopped at `start`.
    #[must_use]
    pub fn new(start: Timestamp) -> Self {
        Self {
            now: Mutex::new(start),
        }
    }

    /// A clock stopped at the current wall-clock time.
    #[must_use]
    pub fn starting_now() -> Self {
        Self::new(SystemClock.now())
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        let mut now = self
            .now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *now = now.saturating_add(d);
    }

    /// Sets the clock to `t` (which may be in the past).
    pub fn set(&self, t: Timestamp) {
        *self
            .now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = t;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self
            .now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_keep_microseconds_and_round_trip_json() {
        let t = SystemClock.now();
        assert_eq!(t.as_datetime().nanosecond() % 1_000, 0);
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), t);
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(Timestamp::UNIX_EPOCH);
        assert_eq!(clock.now(), Timestamp::UNIX_EPOCH);
        clock.advance(Duration::from_secs(61));
        assert_eq!(clock.now().unix_millis(), 61_000);
        assert_eq!(
            clock.now().duration_since(Timestamp::UNIX_EPOCH),
            Duration::from_secs(61)
        );
        assert_eq!(
            Timestamp::UNIX_EPOCH.duration_since(clock.now()),
            Duration::ZERO
        );
    }
}
