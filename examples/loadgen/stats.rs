//! What a run records: latency histograms (microseconds, HdrHistogram), counters, and errors
//! by code; and the report made from them.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
use serde::{Deserialize, Serialize};

/// Shards per histogram: enough that each runtime thread records into its own, so recording
/// never contends (a contended lock would cost the generator futex calls on every delivery).
const SHARDS: usize = 16;

thread_local! {
    static SHARD: usize = {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS
    };
}

/// One latency histogram, from 1 µs to 5 minutes at 3 significant figures, recorded in
/// per-thread shards and merged for the report.
#[derive(Debug)]
pub(crate) struct Latency(Vec<Mutex<Histogram<u64>>>);

impl Latency {
    fn new() -> Self {
        Self(
            (0..SHARDS)
                .map(|_| {
                    Mutex::new(Histogram::new_with_bounds(1, 300_000_000, 3).expect("valid bounds"))
                })
                .collect(),
        )
    }

    pub(crate) fn record(&self, elapsed: Duration) {
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let shard = SHARD.with(|s| *s);
        let mut h = self.0[shard]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        h.saturating_record(micros.max(1));
    }

    /// The shards added up.
    fn merged(&self) -> Histogram<u64> {
        let mut h = Histogram::<u64>::new_with_bounds(1, 300_000_000, 3).expect("valid bounds");
        for shard in &self.0 {
            let shard = shard
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            // Same bounds, so adding cannot fail.
            let _ = h.add(&*shard);
        }
        h
    }

    /// Adds what another process recorded (a histogram in HdrHistogram's V2 encoding).
    fn absorb(&self, encoded: &[u8]) -> Result<(), String> {
        let other: Histogram<u64> = Deserializer::new()
            .deserialize(&mut &encoded[..])
            .map_err(|e| format!("a process's histogram: {e:?}"))?;
        let mut h = self.0[0]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        h.add(&other)
            .map_err(|e| format!("a process's histogram: {e:?}"))
    }

    fn encoded(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // Writing into a Vec cannot fail.
        let _ = V2Serializer::new().serialize(&self.merged(), &mut out);
        out
    }

    fn summary(&self) -> Summary {
        let h = self.merged();
        let ms = |v: u64| v as f64 / 1000.0;
        Summary {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.50)),
            p95_ms: ms(h.value_at_quantile(0.95)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            max_ms: ms(h.max()),
        }
    }
}

/// Everything measured, shared by every task of the run.
#[derive(Debug)]
pub(crate) struct Stats {
    /// When the measured phase begins; scheduled times are offsets from it. Set once every
    /// connection is open (they record nothing before: nothing is sent).
    start: OnceLock<Instant>,
    pub(crate) send: Latency,
    pub(crate) update: Latency,
    pub(crate) initial_load: Latency,
    pub(crate) search: Latency,
    pub(crate) sends: AtomicU64,
    pub(crate) acks: AtomicU64,
    /// Sends answered with an error frame instead of an ack.
    pub(crate) send_errors: AtomicU64,
    pub(crate) deliveries: AtomicU64,
    pub(crate) expected_deliveries: AtomicU64,
    pub(crate) opens: AtomicU64,
    pub(crate) searches: AtomicU64,
    errors: Mutex<BTreeMap<String, u64>>,
}

impl Stats {
    /// Stats of a measured phase that begins when [`begin`](Self::begin) says.
    pub(crate) fn new() -> Self {
        Self {
            start: OnceLock::new(),
            send: Latency::new(),
            update: Latency::new(),
            initial_load: Latency::new(),
            search: Latency::new(),
            sends: AtomicU64::new(0),
            acks: AtomicU64::new(0),
            send_errors: AtomicU64::new(0),
            deliveries: AtomicU64::new(0),
            expected_deliveries: AtomicU64::new(0),
            opens: AtomicU64::new(0),
            searches: AtomicU64::new(0),
            errors: Mutex::default(),
        }
    }

    /// Sets when the measured phase begins (the first call wins).
    pub(crate) fn begin(&self, at: Instant) {
        let _ = self.start.set(at);
    }

    /// When the measured phase begins (now, while that is not set yet).
    pub(crate) fn start(&self) -> Instant {
        self.start.get().copied().unwrap_or_else(Instant::now)
    }

    pub(crate) fn error(&self, code: &str) {
        let mut errors = self
            .errors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *errors.entry(code.to_owned()).or_default() += 1;
    }

    /// What this process measured, for the process that reports a run split over several
    /// (`--processes`).
    pub(crate) fn partial(&self) -> Partial {
        Partial {
            histograms: [&self.send, &self.update, &self.initial_load, &self.search]
                .map(Latency::encoded)
                .to_vec(),
            counters: self.counters().map(|c| c.load(Ordering::Relaxed)).to_vec(),
            errors: self
                .errors
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone(),
        }
    }

    /// Adds another process's [`partial`](Self::partial) to this one's.
    pub(crate) fn absorb(&self, other: &Partial) -> Result<(), String> {
        let latencies = [&self.send, &self.update, &self.initial_load, &self.search];
        if other.histograms.len() != latencies.len() || other.counters.len() != COUNTERS {
            return Err("a process's results have the wrong shape".into());
        }
        for (latency, encoded) in latencies.into_iter().zip(&other.histograms) {
            latency.absorb(encoded)?;
        }
        for (counter, n) in self.counters().into_iter().zip(&other.counters) {
            counter.fetch_add(*n, Ordering::Relaxed);
        }
        let mut errors = self
            .errors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (code, n) in &other.errors {
            *errors.entry(code.clone()).or_default() += n;
        }
        Ok(())
    }

    fn counters(&self) -> [&AtomicU64; COUNTERS] {
        [
            &self.sends,
            &self.acks,
            &self.send_errors,
            &self.deliveries,
            &self.expected_deliveries,
            &self.opens,
            &self.searches,
        ]
    }

    pub(crate) fn report(&self, scenario: Scenario, measured: Duration) -> Report {
        let errors = self
            .errors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let total_errors: u64 = errors.values().sum();
        // A lost delivery is not a failed operation: it is counted, and rated against the
        // deliveries expected.
        let lost = errors.get(MISSING_DELIVERY).copied().unwrap_or(0);
        let expected = self.expected_deliveries.load(Ordering::Relaxed);
        let operations = self.sends.load(Ordering::Relaxed)
            + self.opens.load(Ordering::Relaxed)
            + self.searches.load(Ordering::Relaxed);
        let deliveries = self.deliveries.load(Ordering::Relaxed);
        Report {
            scenario,
            measured_secs: measured.as_secs_f64(),
            send: self.send.summary(),
            update: self.update.summary(),
            initial_load: self.initial_load.summary(),
            search: self.search.summary(),
            sends: self.sends.load(Ordering::Relaxed),
            acks: self.acks.load(Ordering::Relaxed),
            deliveries,
            expected_deliveries: expected,
            deliveries_per_sec: deliveries as f64 / measured.as_secs_f64().max(1e-9),
            operations,
            errors: total_errors,
            error_rate: ratio(total_errors - lost, operations),
            delivery_loss_rate: ratio(lost, expected),
            errors_by_code: errors,
        }
    }
}

const COUNTERS: usize = 7;

/// One process's measurements in a run split over several: histograms in HdrHistogram's V2
/// encoding (send, update, initial load, search), counters in [`Stats::counters`] order.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Partial {
    histograms: Vec<Vec<u8>>,
    counters: Vec<u64>,
    errors: BTreeMap<String, u64>,
}

/// The error code of a delivery that never arrived.
pub(crate) const MISSING_DELIVERY: &str = "missing_delivery";

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// p50 / p95 / p99 / max of one measure, in milliseconds.
#[derive(Debug, Serialize)]
pub(crate) struct Summary {
    pub(crate) count: u64,
    pub(crate) p50_ms: f64,
    pub(crate) p95_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) max_ms: f64,
}

/// What was asked for.
#[derive(Debug, Serialize)]
pub(crate) struct Scenario {
    pub(crate) url: String,
    pub(crate) users: usize,
    pub(crate) rooms: usize,
    pub(crate) room_size_min: usize,
    pub(crate) room_size_max: usize,
    pub(crate) rate_per_sec: f64,
    pub(crate) duration_secs: u64,
    pub(crate) open_rate_per_sec: f64,
    pub(crate) search_rate_per_sec: f64,
}

/// The run's result.
#[derive(Debug, Serialize)]
pub(crate) struct Report {
    pub(crate) scenario: Scenario,
    pub(crate) measured_secs: f64,
    pub(crate) send: Summary,
    pub(crate) update: Summary,
    pub(crate) initial_load: Summary,
    pub(crate) search: Summary,
    pub(crate) sends: u64,
    pub(crate) acks: u64,
    pub(crate) deliveries: u64,
    pub(crate) expected_deliveries: u64,
    pub(crate) deliveries_per_sec: f64,
    pub(crate) operations: u64,
    pub(crate) errors: u64,
    /// Failed operations (sends, opens, searches) per operation.
    pub(crate) error_rate: f64,
    /// Deliveries that never arrived per delivery expected.
    pub(crate) delivery_loss_rate: f64,
    pub(crate) errors_by_code: BTreeMap<String, u64>,
}

impl Report {
    /// The table, beside the original design's targets.
    pub(crate) fn table(&self) -> String {
        let s = &self.scenario;
        let mut out = format!(
            "{} users in {} rooms of {}–{} members, {} msg/s for {} s ({} opens/s, {} searches/s) against {}\n\n",
            s.users,
            s.rooms,
            s.room_size_min,
            s.room_size_max,
            s.rate_per_sec,
            s.duration_secs,
            s.open_rate_per_sec,
            s.search_rate_per_sec,
            s.url
        );
        out.push_str("| measure | count | p50 ms | p95 ms | p99 ms | max ms | original target |\n");
        out.push_str("|---|---:|---:|---:|---:|---:|---|\n");
        for (name, m, target) in [
            ("send (until ack)", &self.send, "< 300 ms"),
            ("real-time update", &self.update, "< 500 ms"),
            ("initial load", &self.initial_load, "< 1 s"),
            ("search", &self.search, "< 200 ms"),
        ] {
            out.push_str(&format!(
                "| {name} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {target} |\n",
                m.count, m.p50_ms, m.p95_ms, m.p99_ms, m.max_ms
            ));
        }
        out.push_str(&format!(
            "\nsends {} · acks {} · deliveries {} of {} expected ({:.0}/s, {:.3} % lost) · error rate {:.3} % of {} operations (original target < 0.5 %)\n",
            self.sends,
            self.acks,
            self.deliveries,
            self.expected_deliveries,
            self.deliveries_per_sec,
            self.delivery_loss_rate * 100.0,
            self.error_rate * 100.0,
            self.operations,
        ));
        for (code, n) in &self.errors_by_code {
            out.push_str(&format!("  error {code}: {n}\n"));
        }
        out
    }
}
