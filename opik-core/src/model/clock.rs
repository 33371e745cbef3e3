//! Wall-clock timestamps for span edges.
//!
//! A span edge costs one clock read, and the read is the largest fixed cost of a tracked call
//! after the allocations: `SystemTime::now()` costs about 30 ns on our machines, `quanta`'s
//! TSC-backed monotonic clock about 10 ns (BENCHMARKS.md). So a timestamp is quanta's time since
//! an origin plus one offset (the wall time at that origin) kept in an atomic. The exporter
//! thread re-anchors the offset from `SystemTime` on every tick ([`anchor`]), so timestamps
//! follow the system clock, NTP adjustments included, to within one tick's drift (microseconds),
//! and the hot path neither locks nor calibrates. quanta calibrates itself when it is first made
//! (a millisecond or so, up to 200 ms on some hosts): that happens in [`anchor`] on the
//! exporter's thread, and until it has, `SystemTime` is read instead. Formatting to RFC 3339
//! happens on the exporter thread when a record is serialized.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The calibrated fast clock and the instant its offset is counted from.
static FAST: OnceLock<(quanta::Clock, quanta::Instant)> = OnceLock::new();

/// Wall time, in nanoseconds since the Unix epoch, at the origin of [`FAST`].
static WALL_AT_ORIGIN: AtomicU64 = AtomicU64::new(0);

/// Nanoseconds since the Unix epoch, UTC.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The current wall-clock time.
    #[inline]
    pub fn now() -> Self {
        match FAST.get() {
            Some((clock, origin)) => {
                let since_origin = clock.now().duration_since(*origin).as_nanos() as u64;
                Timestamp(
                    WALL_AT_ORIGIN
                        .load(Ordering::Relaxed)
                        .saturating_add(since_origin),
                )
            }
            None => Timestamp(system_nanos()),
        }
    }

    /// From nanoseconds since the Unix epoch.
    pub const fn from_unix_nanos(nanos: u64) -> Self {
        Timestamp(nanos)
    }

    /// Nanoseconds since the Unix epoch.
    pub const fn unix_nanos(self) -> u64 {
        self.0
    }

    /// Milliseconds since the Unix epoch (the time part of a UUID v7).
    pub const fn unix_millis(self) -> u64 {
        self.0 / 1_000_000
    }

    /// The time between `earlier` and `self` (zero if the clock stepped back).
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    fn as_system_time(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(self.0)
    }
}

/// Makes the fast clock on first use (calibration stays off the app's threads: the exporter
/// calls this when it starts) and re-anchors it to the system clock. Cheap after the first
/// call: two clock reads and one atomic store.
pub fn anchor() {
    let (clock, origin) = FAST.get_or_init(|| {
        let clock = quanta::Clock::new();
        let origin = clock.now();
        // Stored before the clock is published, so no reader ever pairs it with offset zero.
        WALL_AT_ORIGIN.store(system_nanos(), Ordering::Relaxed);
        (clock, origin)
    });
    let since_origin = clock.now().duration_since(*origin).as_nanos() as u64;
    WALL_AT_ORIGIN.store(
        system_nanos().saturating_sub(since_origin),
        Ordering::Relaxed,
    );
}

/// `SystemTime::now()` in nanoseconds since the epoch. A clock before 1970 is a broken host;
/// clamp to the epoch rather than panic in the app.
fn system_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// RFC 3339 in UTC with microseconds, as the Python SDK sends: `2026-11-27T13:56:06.374632Z`.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&humantime::format_rfc3339_micros(self.as_system_time()), f)
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339_utc_with_micros() {
        let t = Timestamp::from_unix_nanos(1_795_787_766_374_632_123);
        assert_eq!(t.to_string(), "2026-11-27T13:56:06.374632Z");
    }

    #[test]
    fn millis_truncate() {
        assert_eq!(Timestamp::from_unix_nanos(1_999_999).unix_millis(), 1);
    }

    #[test]
    fn the_fast_clock_follows_the_system_clock() {
        anchor();
        assert!(FAST.get().is_some());
        for _ in 0..1000 {
            let before = system_nanos();
            let t = Timestamp::now().unix_nanos();
            let after = system_nanos();
            // Within a millisecond of the system clock read around it (scheduling included).
            assert!(
                t + 1_000_000 >= before && t <= after + 1_000_000,
                "{before} {t} {after}"
            );
        }
        let a = Timestamp::now();
        let b = Timestamp::now();
        assert!(b >= a, "successive reads between anchors never go back");
    }
}
