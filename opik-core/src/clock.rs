//! Wall-clock timestamps for span edges.
//!
//! A span edge costs one clock read: `SystemTime::now()` goes through the vDSO on Linux, so it is
//! as cheap as a monotonic read, and it already is wall time, so nothing is converted on the hot
//! path. Formatting to RFC 3339 happens on the exporter thread when a record is serialized.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Nanoseconds since the Unix epoch, UTC.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The current wall-clock time.
    #[inline]
    pub fn now() -> Self {
        // A clock before 1970 is a broken host; clamp to the epoch rather than panic in the app.
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Timestamp(nanos)
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
}
