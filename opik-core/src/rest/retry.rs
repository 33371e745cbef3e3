//! When a REST call is tried again, and how long it waits first.
//!
//! The rules are the exporter's (`export/settle.rs`, `export/http.rs`), with its settings
//! (`max_retries`, `backoff_base`, `backoff_max`, `rate_limit_max_wait`): a 429 waits what the
//! server asks (`Retry-After` in seconds or as an HTTP date, `RateLimit-Reset`, Opik's
//! `Opik-*-Remaining-Limit-TTL-Millis`), capped; 408, 5xx gateways and network failures back
//! off exponentially with jitter, for calls that are safe to repeat. The header parsing is the
//! same as `export::http::retry_after`, which cannot be shared from here without importing
//! the exporter; the two can move into one helper when the transports share a builder.

use crate::config::Config;
use reqwest::header::HeaderMap;
use std::time::Duration;

/// How many times and how long a call is retried.
#[derive(Clone, Copy, Debug)]
pub(super) struct RetryPolicy {
    pub(super) max_retries: u32,
    pub(super) backoff_base: Duration,
    pub(super) backoff_max: Duration,
    pub(super) max_wait: Duration,
}

impl RetryPolicy {
    pub(super) fn from_config(config: &Config) -> Self {
        RetryPolicy {
            max_retries: config.max_retries(),
            backoff_base: config.backoff_base(),
            backoff_max: config.backoff_max(),
            max_wait: config.rate_limit_max_wait(),
        }
    }

    /// The wait before retry number `attempt` (0-based): full jitter over an exponential
    /// bound, at least a millisecond.
    pub(super) fn backoff(&self, attempt: u32) -> Duration {
        let bound = self
            .backoff_base
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.backoff_max);
        let nanos = u64::try_from(bound.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(fastrand::u64(nanos / 2..=nanos.max(1))).max(Duration::from_millis(1))
    }

    /// The wait a rate-limited answer asks for, capped; a backoff when it names none.
    pub(super) fn rate_limit_wait(&self, headers: &HeaderMap, attempt: u32) -> Duration {
        retry_after(headers)
            .unwrap_or_else(|| self.backoff(attempt))
            .min(self.max_wait)
    }
}

/// Whether an answer with `status` may be tried again (for a call that is safe to repeat).
pub(super) fn retryable(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

/// The wait a 429/503 asks for: `Retry-After` (seconds, or an HTTP date), `RateLimit-Reset`
/// (seconds), or Opik's `Opik-*-Remaining-Limit-TTL-Millis`.
pub(super) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let seconds = |name: &str| {
        text(name)
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64)
    };
    let date = |name: &str| {
        text(name)
            .and_then(|v| httpdate::parse_http_date(v).ok())
            .map(|at| {
                at.duration_since(std::time::SystemTime::now())
                    .unwrap_or(Duration::ZERO)
            })
    };
    if let Some(d) = seconds("retry-after")
        .or_else(|| date("retry-after"))
        .or_else(|| seconds("ratelimit-reset"))
    {
        return Some(d);
    }
    headers.iter().find_map(|(name, value)| {
        let name = name.as_str();
        (name.starts_with("opik-") && name.ends_with("-remaining-limit-ttl-millis"))
            .then(|| value.to_str().ok()?.trim().parse::<u64>().ok())
            .flatten()
            .map(Duration::from_millis)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_retries: 3,
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_secs(1),
            max_wait: Duration::from_secs(5),
        }
    }

    #[test]
    fn waits_what_the_server_asks_capped() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(policy().rate_limit_wait(&h, 0), Duration::from_secs(2));
        h.insert("retry-after", HeaderValue::from_static("60"));
        assert_eq!(policy().rate_limit_wait(&h, 0), Duration::from_secs(5));
        let mut h = HeaderMap::new();
        h.insert("ratelimit-reset", HeaderValue::from_static("0.5"));
        assert_eq!(policy().rate_limit_wait(&h, 0), Duration::from_millis(500));
        let none = policy().rate_limit_wait(&HeaderMap::new(), 2);
        assert!(none <= Duration::from_millis(400) && none >= Duration::from_millis(1));
    }

    #[test]
    fn backoff_grows_to_its_cap() {
        for attempt in 0..20 {
            assert!(policy().backoff(attempt) <= Duration::from_secs(1));
        }
        assert!(retryable(429) && retryable(503) && !retryable(404) && !retryable(409));
    }
}
