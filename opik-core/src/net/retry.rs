//! When a failed request is tried again, and how long it waits first: one policy for the
//! exporter's batches, attachment uploads and REST calls, from the exporter's settings.
//!
//! - A server-requested wait (`Retry-After` and friends, see `answer::retry_after`) is honoured,
//!   capped at `rate_limit_max_wait`, and does not eat into the retry deadline.
//! - Otherwise the wait is exponential backoff with jitter: `backoff_base · 2^(attempt-1)`,
//!   capped at `backoff_max`, times a random factor in [0.5, 1).
//! - At most `max_retries` retries after the first attempt, and none that would start after
//!   `retry_deadline` (plus the waits the server asked for) from the first attempt.

use crate::config::ExportSettings;
use crate::pipe::later;
use std::time::{Duration, Instant};

/// How many times and for how long a request is retried.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct RetryPolicy {
    pub(crate) max_retries: u32,
    pub(crate) retry_deadline: Duration,
    pub(crate) backoff_base: Duration,
    pub(crate) backoff_max: Duration,
    pub(crate) rate_limit_max_wait: Duration,
}

/// The attempts made at one thing (a batch, an upload step).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Tries {
    /// Attempts started.
    pub(crate) attempts: u32,
    /// When the first one started.
    pub(crate) first: Option<Instant>,
    /// Waits the server asked for, granted on top of the deadline.
    pub(crate) paused_for: Duration,
}

impl Tries {
    /// Counts an attempt starting now.
    pub(crate) fn start(&mut self, now: Instant) {
        self.attempts += 1;
        self.first.get_or_insert(now);
    }
}

/// What to do after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// Try again after this wait; `server_asked` when the server set it (the exporter then
    /// pauses all sending, not only this request).
    RetryAfter { wait: Duration, server_asked: bool },
    /// The retry budget is spent.
    GiveUp,
}

impl RetryPolicy {
    pub(crate) fn new(settings: &ExportSettings) -> Self {
        RetryPolicy {
            max_retries: settings.max_retries,
            retry_deadline: settings.retry_deadline,
            backoff_base: settings.backoff_base,
            backoff_max: settings.backoff_max,
            rate_limit_max_wait: settings.rate_limit_max_wait,
        }
    }

    /// Decides about the attempt that just failed: `after` is the wait the server asked for,
    /// `rate_limited` whether it was a 429 (whose pause, like an asked-for wait, is granted on
    /// top of the deadline).
    pub(crate) fn next(
        &self,
        tries: &mut Tries,
        after: Option<Duration>,
        rate_limited: bool,
        now: Instant,
    ) -> Next {
        let wait = match after {
            Some(a) => a.min(self.rate_limit_max_wait),
            None => self.backoff(tries.attempts),
        };
        let server_asked = after.is_some() || rate_limited;
        if server_asked {
            tries.paused_for = tries.paused_for.saturating_add(wait);
        }
        let first = tries.first.unwrap_or(now);
        let give_up_at = later(later(first, self.retry_deadline), tries.paused_for);
        if tries.attempts > self.max_retries || later(now, wait) > give_up_at {
            return Next::GiveUp;
        }
        Next::RetryAfter { wait, server_asked }
    }

    /// Exponential backoff with jitter before retry `attempt` (1 after the first attempt).
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self
            .backoff_base
            .saturating_mul(1 << attempt.saturating_sub(1).min(16))
            .min(self.backoff_max);
        ceiling.mul_f64(0.5 + fastrand::f64() * 0.5)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy::new(&ExportSettings::default())
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = policy();
        let first = p.backoff(1);
        assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
        let tenth = p.backoff(10);
        assert!(
            tenth <= p.backoff_max && tenth >= p.backoff_max / 2,
            "{tenth:?}"
        );
    }

    #[test]
    fn retries_stop_at_the_count_and_the_deadline_but_server_waits_extend_it() {
        let p = RetryPolicy {
            max_retries: 2,
            ..policy()
        };
        let now = Instant::now();
        let mut tries = Tries::default();
        for _ in 0..3 {
            tries.start(now);
            let next = p.next(&mut tries, None, false, now);
            if tries.attempts <= 2 {
                assert!(matches!(
                    next,
                    Next::RetryAfter {
                        server_asked: false,
                        ..
                    }
                ));
            } else {
                assert_eq!(next, Next::GiveUp);
            }
        }
        // Past the deadline: give up, unless the server asked for the wait.
        let mut tries = Tries::default();
        tries.start(now);
        let late = now + p.retry_deadline;
        assert_eq!(p.next(&mut tries, None, false, late), Next::GiveUp);
        let asked = Duration::from_secs(5);
        let mut tries = Tries::default();
        tries.start(now);
        assert_eq!(
            p.next(
                &mut tries,
                Some(asked),
                true,
                now + p.retry_deadline - asked
            ),
            Next::RetryAfter {
                wait: asked,
                server_asked: true
            }
        );
        // An absurd wait is capped.
        let mut tries = Tries::default();
        tries.start(now);
        assert!(matches!(
            p.next(&mut tries, Some(Duration::MAX), true, now),
            Next::RetryAfter { wait, .. } if wait == p.rate_limit_max_wait
        ));
    }
}
