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

use std::cell::Cell;
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

    #[cfg(test)]
    fn as_system_time(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(self.0)
    }

    /// Appends the time as RFC 3339 in UTC with microseconds (`2026-11-27T13:56:06.374632Z`,
    /// what the Python SDK sends).
    #[inline]
    pub fn write_rfc3339(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.rfc3339());
    }

    /// The RFC 3339 text. The exporter formats two or three timestamps a record, a million
    /// records a second: the date and time of day change once a second, so they are kept per
    /// thread and only the microseconds are formatted each time.
    fn rfc3339(self) -> [u8; RFC3339_LEN] {
        thread_local! {
            /// The second last formatted, and its `YYYY-MM-DDTHH:MM:SS.` text.
            static LAST_SECOND: Cell<(u64, [u8; 20])> = const { Cell::new((u64::MAX, [0; 20])) };
        }
        let secs = self.0 / 1_000_000_000;
        let micros = (self.0 % 1_000_000_000) / 1000;
        let prefix = LAST_SECOND
            .try_with(|last| {
                let (at, text) = last.get();
                if at == secs {
                    return text;
                }
                let text = second_prefix(secs);
                last.set((secs, text));
                text
            })
            .unwrap_or_else(|_| second_prefix(secs));
        let mut out = [0u8; RFC3339_LEN];
        out[..20].copy_from_slice(&prefix);
        let mut m = micros;
        for i in (20..26).rev() {
            out[i] = b'0' + (m % 10) as u8;
            m /= 10;
        }
        out[26] = b'Z';
        out
    }
}

/// `2026-11-27T13:56:06.374632Z`.
const RFC3339_LEN: usize = 27;

/// `YYYY-MM-DDTHH:MM:SS.` of `secs` since the epoch (UTC; the proleptic Gregorian calendar,
/// by Howard Hinnant's `civil_from_days`). A u64 of nanoseconds ends in 2554: four digits.
fn second_prefix(secs: u64) -> [u8; 20] {
    let days = secs / 86_400;
    let of_day = secs % 86_400;
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let mut out = *b"0000-00-00T00:00:00.";
    let mut put = |at: usize, width: usize, mut v: u64| {
        for i in (at..at + width).rev() {
            out[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, year as u64);
    put(5, 2, month as u64);
    put(8, 2, day as u64);
    put(11, 2, of_day / 3600);
    put(14, 2, of_day % 3600 / 60);
    put(17, 2, of_day % 60);
    out
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
        let text = self.rfc3339();
        // ASCII digits and punctuation only.
        f.write_str(std::str::from_utf8(&text).unwrap_or("1970-01-01T00:00:00.000000Z"))
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
    fn the_cached_formatter_agrees_with_humantime_everywhere() {
        // Leap days, year ends, the epoch, far ahead, and many seconds in a row (the cache).
        let mut at = vec![0u64, 951_782_400, 951_868_799, 1_709_164_800, 4_102_444_799];
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            at.push(x % 16_000_000_000);
        }
        at.extend(1_795_787_760..1_795_787_800);
        for secs in at {
            for nanos in [0u64, 999, 374_632_123, 999_999_999] {
                let t = Timestamp::from_unix_nanos(secs * 1_000_000_000 + nanos);
                let expected = humantime::format_rfc3339_micros(t.as_system_time()).to_string();
                assert_eq!(t.to_string(), expected, "{secs}.{nanos}");
                let mut out = Vec::new();
                t.write_rfc3339(&mut out);
                assert_eq!(out, expected.as_bytes());
            }
        }
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
