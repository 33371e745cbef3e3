//! How an exporter knob is written in the environment and in `~/.opik.config`, and how its
//! value is shown (the healthcheck's table, range errors).
//!
//! Knobs the Python SDK also has are read with its types and units, so one file or environment
//! serves both SDKs: whole seconds for `default_flush_timeout`, whole megabytes for
//! `max_payload_size_mb`, a boolean for `log_start_trace_span`; integers as pydantic reads them
//! (`"10"`, `" 10 "`, `"10.0"`), booleans as pydantic does. Knobs only this SDK has are read in
//! their own unit: integers, booleans, and durations written as seconds (`"0.5"`, `"30"`) or as
//! a humantime duration (`"500ms"`, `"1m 30s"`).

use super::error::ErrorKind;
use super::sources::bool_word;
use std::time::Duration;

/// Why a knob's text is not a value: what is wrong and how to write it instead.
pub(crate) struct Bad {
    pub(crate) kind: ErrorKind,
    pub(crate) problem: String,
    pub(crate) fix: String,
}

impl Bad {
    fn new(problem: impl Into<String>, fix: impl Into<String>) -> Bad {
        Bad {
            kind: ErrorKind::InvalidValue,
            problem: problem.into(),
            fix: fix.into(),
        }
    }
}

/// Reads a knob's text into its value. `default` is the knob's default, for the readings that
/// switch a feature on at its default (`log_start_trace_span = true`).
pub(crate) type Parser<T> = fn(raw: &str, default: T) -> Result<T, Bad>;

/// The reading of a knob's type when the table names no other.
pub(crate) trait Text: Sized {
    fn parse(raw: &str, default: Self) -> Result<Self, Bad>;
}

/// A knob's value as the healthcheck and errors show it.
pub(crate) trait Show {
    fn show(&self) -> String;
}

/// A whole number as pydantic's lax `int` reads it: digits, or a float with no fraction.
fn whole(raw: &str) -> Result<u64, Bad> {
    let t = raw.trim();
    if let Ok(n) = t.parse::<u64>() {
        return Ok(n);
    }
    let fix = "Set it to a whole number, or unset it for the default.";
    match t.parse::<f64>() {
        Ok(f) if f.is_finite() && f < 0.0 => Err(Bad::new("negative", fix)),
        Ok(f) if f.is_finite() && f.fract() == 0.0 && f <= u64::MAX as f64 => Ok(f as u64),
        _ => Err(Bad::new("not a whole number", fix)),
    }
}

/// A whole number that may be negative (the Python SDK's readings of `<= 0`).
fn signed_whole(raw: &str) -> Result<i64, Bad> {
    let t = raw.trim();
    match t.strip_prefix('-') {
        Some(rest) => whole(rest)
            .map(|n| i64::try_from(n).map_or(i64::MIN, |n| -n))
            .map_err(|_| Bad::new("not a whole number", "Set it to a whole number.")),
        None => whole(t).map(|n| i64::try_from(n).unwrap_or(i64::MAX)),
    }
}

impl Text for usize {
    fn parse(raw: &str, _: usize) -> Result<usize, Bad> {
        whole(raw).map(|n| usize::try_from(n).unwrap_or(usize::MAX))
    }
}

impl Text for u32 {
    fn parse(raw: &str, _: u32) -> Result<u32, Bad> {
        whole(raw).map(|n| u32::try_from(n).unwrap_or(u32::MAX))
    }
}

impl Text for bool {
    fn parse(raw: &str, _: bool) -> Result<bool, Bad> {
        bool_word(raw).ok_or_else(|| Bad {
            kind: ErrorKind::InvalidBool,
            ..Bad::new(
                "not a boolean",
                "Use true/1/yes to turn it on or false/0/no to turn it off.",
            )
        })
    }
}

impl Text for Duration {
    /// Seconds (`"0.5"`, `"30"`), as the Python SDK writes durations, or a humantime duration.
    fn parse(raw: &str, _: Duration) -> Result<Duration, Bad> {
        let t = raw.trim();
        if let Ok(secs) = t.parse::<f64>() {
            return Duration::try_from_secs_f64(secs).map_err(|_| {
                Bad::new(
                    "not a duration (negative or too large)",
                    "Write seconds (\"30\", \"0.5\") or a duration such as \"500ms\" or \"1m 30s\".",
                )
            });
        }
        humantime::parse_duration(t).map_err(|e| {
            Bad::new(
                format!("not a duration ({e})"),
                "Write seconds (\"30\", \"0.5\") or a duration such as \"500ms\" or \"1m 30s\".",
            )
        })
    }
}

/// `default_flush_timeout`: whole seconds, as the Python SDK reads it. A value `<= 0` waits no
/// time, which is what a negative timeout does there too.
pub(crate) fn flush_timeout_seconds(raw: &str, _: Duration) -> Result<Duration, Bad> {
    let secs = signed_whole(raw).map_err(|_| {
        Bad::new(
            "not a whole number of seconds",
            "Set it to the seconds to wait for delivery at exit, e.g. 10.",
        )
    })?;
    Ok(Duration::from_secs(secs.max(0).unsigned_abs()))
}

/// `log_start_trace_span`: the Python SDK's switch for start records. On, long spans are sent
/// early once they pass the threshold (the knob's default unless code sets another); off, never.
pub(crate) fn start_records_switch(
    raw: &str,
    default: Option<Duration>,
) -> Result<Option<Duration>, Bad> {
    Ok(bool::parse(raw, false)?.then_some(default).flatten())
}

/// `max_payload_size_mb`: whole megabytes (MiB, as the Python SDK counts them); `<= 0` turns
/// truncation off, as there.
pub(crate) fn payload_megabytes(raw: &str, _: usize) -> Result<usize, Bad> {
    let mb = signed_whole(raw).map_err(|_| {
        Bad::new(
            "not a whole number of megabytes",
            "Set it to the size limit in MB (e.g. 20), or to 0 to never truncate.",
        )
    })?;
    if mb <= 0 {
        return Ok(usize::MAX);
    }
    Ok(usize::try_from(mb.unsigned_abs())
        .unwrap_or(usize::MAX)
        .saturating_mul(1 << 20))
}

/// `file_upload_background_workers`: the Python SDK's upload threads; more than this SDK's 64
/// uploads at once count as 64, so a Python setup of 100 workers works unchanged.
pub(crate) fn upload_workers(raw: &str, default: usize) -> Result<usize, Bad> {
    usize::parse(raw, default).map(|n| n.min(super::knobs::MAX_CONCURRENT_UPLOADS))
}

impl Show for usize {
    fn show(&self) -> String {
        if *self == usize::MAX {
            "unlimited".to_owned()
        } else {
            self.to_string()
        }
    }
}

impl Show for u32 {
    fn show(&self) -> String {
        self.to_string()
    }
}

impl Show for bool {
    fn show(&self) -> String {
        self.to_string()
    }
}

impl Show for Duration {
    fn show(&self) -> String {
        if *self == Duration::MAX {
            "unlimited".to_owned()
        } else {
            humantime::format_duration(*self).to_string()
        }
    }
}

impl Show for Option<Duration> {
    fn show(&self) -> String {
        match self {
            Some(d) => d.show(),
            None => "never".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_read_as_pydantic_reads_them() {
        for (raw, want) in [("10", 10), (" 10 ", 10), ("10.0", 10), ("0", 0)] {
            assert_eq!(usize::parse(raw, 1).ok(), Some(want), "{raw:?}");
        }
        for raw in ["10.5", "abc", "-1", "1e400", ""] {
            assert!(usize::parse(raw, 1).is_err(), "{raw:?}");
        }
    }

    #[test]
    fn python_units_map_onto_knobs() {
        let s = Duration::from_secs;
        assert_eq!(flush_timeout_seconds("10", s(2)).ok(), Some(s(10)));
        assert_eq!(flush_timeout_seconds("-1", s(2)).ok(), Some(s(0)));
        assert!(flush_timeout_seconds("1.5", s(2)).is_err());
        assert_eq!(payload_megabytes("3", 0).ok(), Some(3 << 20));
        assert_eq!(payload_megabytes("0", 0).ok(), Some(usize::MAX));
        assert_eq!(payload_megabytes("-5", 0).ok(), Some(usize::MAX));
        assert_eq!(start_records_switch("false", Some(s(5))).ok(), Some(None));
        assert_eq!(
            start_records_switch("on", Some(s(5))).ok(),
            Some(Some(s(5)))
        );
        assert!(start_records_switch("sometimes", Some(s(5))).is_err());
        assert_eq!(upload_workers("100", 4).ok(), Some(64));
        assert_eq!(upload_workers("16", 4).ok(), Some(16));
    }

    #[test]
    fn durations_are_seconds_or_humantime() {
        let ms = Duration::from_millis;
        assert_eq!(Duration::parse("0.5", ms(1)).ok(), Some(ms(500)));
        assert_eq!(Duration::parse("30", ms(1)).ok(), Some(ms(30_000)));
        assert_eq!(Duration::parse("250ms", ms(1)).ok(), Some(ms(250)));
        assert_eq!(Duration::parse("1m 30s", ms(1)).ok(), Some(ms(90_000)));
        assert!(Duration::parse("-1", ms(1)).is_err());
        assert!(Duration::parse("soon", ms(1)).is_err());
    }
}
