//! Presence: whether a user is online, away or offline, and when they were last active.
//!
//! # Model
//!
//! Presence is a property of the user, not of a connection. Each instance keeps a
//! [`PresenceBoard`] that counts the user's live connections here (each a
//! [`PresenceSession`], which says whether that connection is away) and holds what other
//! instances last reported. The user is:
//!
//! - **online** when any connection anywhere is online;
//! - **away** when they have connections and every one is away;
//! - **offline** otherwise.
//!
//! So two tabs with one closed stay online, and a phone left in a pocket (away) does not hide
//! a laptop in use.
//!
//! # Across instances
//!
//! An instance reports its own view of a user ([`PresenceSignal`]) when it changes, and all
//! of its users again every third of [`PRESENCE_TTL`]. A report is believed for its TTL: an
//! instance that dies without saying goodbye stops counting within [`PRESENCE_TTL`]. Reports
//! travel through the relay's link like typing signals, and are never stored.
//!
//! # Last active
//!
//! Each session records activity (any frame the client sends) at most once per
//! [`ACTIVITY_STEP`], so the last-active time is exact to that step and costs nothing per
//! frame. The board remembers it for users who went offline, for as long as the instance
//! runs.
//!
//! # Who may see it
//!
//! The board answers anyone; [`ChatService`](crate::ChatService) decides who asks: only
//! people who share an event (direct rooms included, as each is an event of its own).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::clock::Timestamp;
use crate::id::UserId;

/// How long another instance's report is believed without being repeated.
pub const PRESENCE_TTL: Duration = Duration::from_secs(60);

/// The granularity of last-active times: a session records activity at most this often.
pub const ACTIVITY_STEP: Duration = Duration::from_secs(30);

/// Whether a user is reachable now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PresenceStatus {
    /// No live connection anywhere.
    Offline,
    /// Connected, but every connection says it is away (hidden tab, idle device).
    Away,
    /// At least one connection is in use.
    Online,
}

/// A user's presence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Presence {
    /// Whose.
    pub user_id: UserId,
    /// Online, away or offline.
    pub status: PresenceStatus,
    /// When they last did something, to [`ACTIVITY_STEP`]; `None` when no instance has seen
    /// them since it started.
    pub last_active_at: Option<Timestamp>,
}

/// One instance's view of some of its users, for the others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceSignal {
    /// Each user's status as seen from the sending instance alone.
    pub reports: Vec<Presence>,
    /// How long the receivers believe these reports, in milliseconds.
    pub ttl_ms: u64,
}

/// Reports per [`PresenceSignal`]: about 100 bytes each as JSON, so a full signal stays well
/// under PostgreSQL's 8,000-byte NOTIFY payload.
pub const REPORTS_PER_SIGNAL: usize = 48;

/// Where a board sends its own changes (the relay's link); see [`PresenceBoard::set_reporter`].
pub type Reporter = Box<dyn Fn(PresenceSignal) + Send + Sync>;

#[derive(Debug, Default, Clone, Copy)]
struct Local {
    connections: u32,
    away: u32,
}

impl Local {
    fn status(self) -> PresenceStatus {
        if self.connections == 0 {
            PresenceStatus::Offline
        } else if self.away >= self.connections {
            PresenceStatus::Away
        } else {
            PresenceStatus::Online
        }
    }
}

#[derive(Debug, Default)]
struct Board {
    local: HashMap<UserId, Local>,
    /// Other instances' reports: user → (instance → (status, believed until)).
    remote: HashMap<UserId, HashMap<uuid::Uuid, (PresenceStatus, Timestamp)>>,
    last_active: HashMap<UserId, Timestamp>,
    watchers: HashMap<UserId, watch::Sender<Presence>>,
}

impl Board {
    fn presence(&self, user: UserId, now: Timestamp) -> Presence {
        let local = self.local.get(&user).copied().unwrap_or_default().status();
        let remote = self
            .remote
            .get(&user)
            .into_iter()
            .flat_map(|by_instance| by_instance.values())
            .filter(|(_, until)| *until > now)
            .map(|(status, _)| *status)
            .max()
            .unwrap_or(PresenceStatus::Offline);
        Presence {
            user_id: user,
            status: local.max(remote),
            last_active_at: self.last_active.get(&user).copied(),
        }
    }

    fn record_activity(&mut self, user: UserId, at: Timestamp) {
        let slot = self.last_active.entry(user).or_insert(at);
        *slot = (*slot).max(at);
    }

    /// Tells the user's watchers, if any: a status change wakes them; a newer last-active
    /// time alone is recorded for the next reader without waking anyone.
    fn notify(&mut self, user: UserId, now: Timestamp) {
        let presence = self.presence(user, now);
        let Some(tx) = self.watchers.get(&user) else {
            return;
        };
        if tx.receiver_count() == 0 {
            self.watchers.remove(&user);
            return;
        }
        tx.send_if_modified(|seen| {
            let woke = seen.status != presence.status;
            *seen = presence;
            woke
        });
    }
}

/// One instance's presence state; see the [module docs](self).
pub struct PresenceBoard {
    board: Mutex<Board>,
    reporter: OnceLock<Reporter>,
}

impl std::fmt::Debug for PresenceBoard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PresenceBoard").finish_non_exhaustive()
    }
}

impl Default for PresenceBoard {
    fn default() -> Self {
        Self {
            board: Mutex::new(Board::default()),
            reporter: OnceLock::new(),
        }
    }
}

impl PresenceBoard {
    /// An empty board that reports to nobody (one instance).
    #[must_use]
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Sends this instance's changes to `reporter` from now on (the relay sets it). Only the
    /// first call takes effect.
    pub fn set_reporter(&self, reporter: Reporter) {
        let _ = self.reporter.set(reporter);
    }

    fn lock(&self) -> MutexGuard<'_, Board> {
        self.board.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies `change` to the user's local connections; reports the new local status to
    /// other instances when it changed.
    fn change_local(&self, user: UserId, now: Timestamp, change: impl FnOnce(&mut Local)) {
        let report = {
            let mut board = self.lock();
            let local = board.local.entry(user).or_default();
            let before = local.status();
            change(local);
            let after = local.status();
            if local.connections == 0 {
                board.local.remove(&user);
            }
            board.notify(user, now);
            (before != after).then(|| Presence {
                user_id: user,
                status: after,
                last_active_at: board.last_active.get(&user).copied(),
            })
        };
        if let (Some(report), Some(reporter)) = (report, self.reporter.get()) {
            reporter(PresenceSignal {
                reports: vec![report],
                ttl_ms: ttl_ms(),
            });
        }
    }

    /// A new live connection of `user`, online until it says otherwise; dropping the session
    /// ends it.
    #[must_use]
    pub fn connect(self: &Arc<Self>, user: UserId, now: Timestamp) -> PresenceSession {
        self.lock().record_activity(user, now);
        self.change_local(user, now, |l| l.connections += 1);
        PresenceSession {
            board: Arc::clone(self),
            user,
            away: false,
            last_recorded: now,
        }
    }

    /// The user's presence now.
    #[must_use]
    pub fn get(&self, user: UserId, now: Timestamp) -> Presence {
        self.lock().presence(user, now)
    }

    /// The user's presence now, and each change of status from here on.
    #[must_use]
    pub fn watch(&self, user: UserId, now: Timestamp) -> watch::Receiver<Presence> {
        let mut board = self.lock();
        let presence = board.presence(user, now);
        if let Some(tx) = board.watchers.get(&user) {
            tx.send_replace(presence);
            return tx.subscribe();
        }
        let (tx, rx) = watch::channel(presence);
        board.watchers.insert(user, tx);
        rx
    }

    /// Takes in another instance's reports.
    pub fn apply(&self, origin: uuid::Uuid, signal: &PresenceSignal, now: Timestamp) {
        let until = now.saturating_add(Duration::from_millis(signal.ttl_ms));
        let mut board = self.lock();
        for report in &signal.reports {
            let user = report.user_id;
            if let Some(at) = report.last_active_at {
                board.record_activity(user, at);
            }
            let by_instance = board.remote.entry(user).or_default();
            if report.status == PresenceStatus::Offline {
                by_instance.remove(&origin);
                if by_instance.is_empty() {
                    board.remote.remove(&user);
                }
            } else {
                by_instance.insert(origin, (report.status, until));
            }
            board.notify(user, now);
        }
    }

    /// Forgets reports past their TTL (their instance stopped repeating them) and tells
    /// watchers whose users went offline; drops watch channels nobody holds.
    pub fn expire(&self, now: Timestamp) {
        let mut board = self.lock();
        let mut touched = Vec::new();
        board.remote.retain(|user, by_instance| {
            let before = by_instance.len();
            by_instance.retain(|_, (_, until)| *until > now);
            if by_instance.len() != before {
                touched.push(*user);
            }
            !by_instance.is_empty()
        });
        for user in touched {
            board.notify(user, now);
        }
        board.watchers.retain(|_, tx| tx.receiver_count() > 0);
    }

    /// How long from `now` until the earliest remote report lapses, at most `cap`: when
    /// [`expire`](Self::expire) should run next, so that a watcher hears of a lapse at the
    /// moment [`get`](Self::get) starts saying it (a report received meanwhile lapses no
    /// sooner than a TTL from its arrival, later than any wait this returns).
    #[must_use]
    pub fn next_expiry_in(&self, now: Timestamp, cap: Duration) -> Duration {
        let board = self.lock();
        board
            .remote
            .values()
            .flat_map(|by_instance| by_instance.values().map(|(_, until)| *until))
            .min()
            .map_or(cap, |until| until.duration_since(now).min(cap))
    }

    /// This instance's view of every user connected here, in signals of at most
    /// [`REPORTS_PER_SIGNAL`] reports: what the relay repeats so that reports do not expire.
    #[must_use]
    pub fn local_signals(&self) -> Vec<PresenceSignal> {
        let board = self.lock();
        let reports: Vec<Presence> = board
            .local
            .iter()
            .map(|(user, local)| Presence {
                user_id: *user,
                status: local.status(),
                last_active_at: board.last_active.get(user).copied(),
            })
            .collect();
        reports
            .chunks(REPORTS_PER_SIGNAL)
            .map(|chunk| PresenceSignal {
                reports: chunk.to_vec(),
                ttl_ms: ttl_ms(),
            })
            .collect()
    }
}

fn ttl_ms() -> u64 {
    u64::try_from(PRESENCE_TTL.as_millis()).unwrap_or(u64::MAX)
}

/// One live connection's part in its user's presence. Dropping it ends the connection's part.
#[derive(Debug)]
pub struct PresenceSession {
    board: Arc<PresenceBoard>,
    user: UserId,
    away: bool,
    last_recorded: Timestamp,
}

impl PresenceSession {
    /// Whose session it is.
    #[must_use]
    pub fn user(&self) -> UserId {
        self.user
    }

    /// Marks this connection away (the tab is hidden, the device idle) or back.
    pub fn set_away(&mut self, away: bool, now: Timestamp) {
        if away == self.away {
            return;
        }
        self.away = away;
        if !away {
            self.board.lock().record_activity(self.user, now);
            self.last_recorded = now;
        }
        self.board.change_local(self.user, now, |l| {
            if away {
                l.away += 1;
            } else {
                l.away = l.away.saturating_sub(1);
            }
        });
    }

    /// Records that the user did something on this connection (at most once per
    /// [`ACTIVITY_STEP`]).
    pub fn touch(&mut self, now: Timestamp) {
        if now.duration_since(self.last_recorded) < ACTIVITY_STEP {
            return;
        }
        self.last_recorded = now;
        let mut board = self.board.lock();
        board.record_activity(self.user, now);
        board.notify(self.user, now);
    }
}

impl Drop for PresenceSession {
    fn drop(&mut self) {
        let away = self.away;
        self.board.change_local(self.user, self.last_recorded, |l| {
            l.connections = l.connections.saturating_sub(1);
            if away {
                l.away = l.away.saturating_sub(1);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_unix_millis(1_800_000_000_000 + secs * 1000).unwrap()
    }

    #[test]
    fn two_tabs_one_closed_is_still_online() {
        let board = PresenceBoard::new();
        let user = UserId::new();
        assert_eq!(board.get(user, at(0)).status, PresenceStatus::Offline);
        assert_eq!(board.get(user, at(0)).last_active_at, None);
        let first = board.connect(user, at(0));
        let mut second = board.connect(user, at(1));
        drop(first);
        assert_eq!(board.get(user, at(2)).status, PresenceStatus::Online);
        second.set_away(true, at(3));
        assert_eq!(board.get(user, at(3)).status, PresenceStatus::Away);
        second.touch(at(100));
        drop(second);
        let gone = board.get(user, at(101));
        assert_eq!(gone.status, PresenceStatus::Offline);
        assert_eq!(
            gone.last_active_at,
            Some(at(100)),
            "the last activity is remembered"
        );
    }

    #[test]
    fn one_connection_in_use_outweighs_away_ones() {
        let board = PresenceBoard::new();
        let user = UserId::new();
        let mut phone = board.connect(user, at(0));
        let _laptop = board.connect(user, at(0));
        phone.set_away(true, at(1));
        assert_eq!(board.get(user, at(1)).status, PresenceStatus::Online);
    }

    #[test]
    fn activity_is_recorded_once_per_step() {
        let board = PresenceBoard::new();
        let user = UserId::new();
        let mut s = board.connect(user, at(0));
        s.touch(at(10));
        assert_eq!(board.get(user, at(10)).last_active_at, Some(at(0)));
        s.touch(at(30));
        assert_eq!(board.get(user, at(30)).last_active_at, Some(at(30)));
    }

    #[tokio::test]
    async fn watchers_wake_on_status_changes_only() {
        let board = PresenceBoard::new();
        let user = UserId::new();
        let mut rx = board.watch(user, at(0));
        assert_eq!(rx.borrow_and_update().status, PresenceStatus::Offline);
        let mut s = board.connect(user, at(0));
        assert!(rx.has_changed().unwrap());
        assert_eq!(rx.borrow_and_update().status, PresenceStatus::Online);
        s.touch(at(60));
        assert!(!rx.has_changed().unwrap(), "activity alone wakes nobody");
        s.set_away(true, at(61));
        assert_eq!(rx.borrow_and_update().status, PresenceStatus::Away);
        drop(s);
        let seen = *rx.borrow_and_update();
        assert_eq!(seen.status, PresenceStatus::Offline);
        assert_eq!(seen.last_active_at, Some(at(60)));
    }

    #[test]
    fn other_instances_count_until_their_reports_expire() {
        let board = PresenceBoard::new();
        let reported = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&reported);
        board.set_reporter(Box::new(move |s| sink.lock().unwrap().push(s)));
        let user = UserId::new();
        let other = uuid::Uuid::now_v7();
        let signal = |status| PresenceSignal {
            reports: vec![Presence {
                user_id: user,
                status,
                last_active_at: Some(at(5)),
            }],
            ttl_ms: 60_000,
        };
        board.apply(other, &signal(PresenceStatus::Away), at(5));
        assert_eq!(board.get(user, at(6)).status, PresenceStatus::Away);
        // Online here beats away there; the transition is reported to the others.
        let here = board.connect(user, at(7));
        assert_eq!(board.get(user, at(7)).status, PresenceStatus::Online);
        drop(here);
        let statuses: Vec<PresenceStatus> = reported
            .lock()
            .unwrap()
            .iter()
            .flat_map(|s| s.reports.iter().map(|r| r.status))
            .collect();
        assert_eq!(statuses, [PresenceStatus::Online, PresenceStatus::Offline]);
        // The other instance went quiet: its report lapses, and the expiry is due exactly then
        // (not on the next beat), so a watcher hears it when `get` says it.
        assert_eq!(board.get(user, at(64)).status, PresenceStatus::Away);
        let mut rx = board.watch(user, at(64));
        let cap = Duration::from_secs(20);
        assert_eq!(board.next_expiry_in(at(64), cap), Duration::from_secs(1));
        assert_eq!(board.get(user, at(65)).status, PresenceStatus::Offline);
        board.expire(at(65));
        assert_eq!(rx.borrow_and_update().status, PresenceStatus::Offline);
        assert_eq!(
            board.next_expiry_in(at(66), cap),
            cap,
            "nothing left to expire"
        );
        // An explicit offline report ends it at once.
        board.apply(other, &signal(PresenceStatus::Online), at(70));
        assert_eq!(board.get(user, at(70)).status, PresenceStatus::Online);
        board.apply(other, &signal(PresenceStatus::Offline), at(71));
        assert_eq!(board.get(user, at(71)).status, PresenceStatus::Offline);
    }

    #[test]
    fn local_signals_are_chunked_for_small_payloads() {
        let board = PresenceBoard::new();
        let sessions: Vec<PresenceSession> = (0..100)
            .map(|_| board.connect(UserId::new(), at(0)))
            .collect();
        let signals = board.local_signals();
        assert_eq!(signals.len(), 3);
        assert!(
            signals
                .iter()
                .all(|s| s.reports.len() <= REPORTS_PER_SIGNAL)
        );
        let json = serde_json::to_string(&signals[0]).unwrap();
        assert!(json.len() < 7_000, "{} bytes", json.len());
        drop(sessions);
        assert!(board.local_signals().is_empty());
    }
}
