//! Deadlines that cannot overflow: `Duration::MAX` means "wait as long as it takes", and
//! `Instant + Duration::MAX` would panic (in a guard's drop, during unwinding, an abort).

use std::time::{Duration, Instant};

/// About thirty years: later than anything a process waits for, early enough that `Instant`
/// arithmetic on it never overflows.
const FAR: Duration = Duration::from_secs(30 * 365 * 24 * 3600);

/// `Instant::now() + timeout`, capped at a far future instead of overflowing.
pub(crate) fn after(timeout: Duration) -> Instant {
    later(Instant::now(), timeout)
}

/// `at + d`, capped at a far future instead of overflowing.
pub(crate) fn later(at: Instant, d: Duration) -> Instant {
    at.checked_add(d.min(FAR))
        .unwrap_or_else(|| at + Duration::from_secs(3600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_timeout_makes_a_deadline() {
        let now = Instant::now();
        assert!(after(Duration::ZERO) >= now);
        assert!(after(Duration::from_millis(5)) >= now + Duration::from_millis(5));
        let forever = after(Duration::MAX);
        assert!(forever > now + Duration::from_secs(365 * 24 * 3600));
        // Arithmetic on it stays safe.
        let _ = forever
            .checked_add(Duration::from_secs(1))
            .expect("room left");
    }
}
