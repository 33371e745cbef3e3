//! Times in Opik's answers (`2026-11-27T13:56:06.374632Z`, RFC 3339 in UTC) as `SystemTime`s,
//! and `SystemTime`s in requests as RFC 3339 with microseconds, as the SDK writes every time.

use serde::de::Deserializer;
use serde::Deserialize;
use std::time::SystemTime;

/// Parses an RFC 3339 time in UTC (`Z`, or no zone, which the backend never sends).
pub(crate) fn parse(text: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(text.trim()).ok()
}

/// RFC 3339 in UTC with microseconds.
pub(crate) fn format(time: SystemTime) -> String {
    humantime::format_rfc3339_micros(time).to_string()
}

fn invalid<E: serde::de::Error>(text: &str) -> E {
    E::custom(format!("{text:?} is not an RFC 3339 time in UTC"))
}

/// `#[serde(deserialize_with = "time::required")]`.
pub(crate) fn required<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
    let text = String::deserialize(d)?;
    parse(&text).ok_or_else(|| invalid(&text))
}

/// `#[serde(default, deserialize_with = "time::optional")]`.
pub(crate) fn optional<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SystemTime>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(text) => parse(&text).map(Some).ok_or_else(|| invalid(&text)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn reads_and_writes_utc_times() {
        let t = UNIX_EPOCH + Duration::from_nanos(1_795_787_766_374_632_000);
        assert_eq!(format(t), "2026-11-27T13:56:06.374632Z");
        assert_eq!(parse("2026-11-27T13:56:06.374632Z"), Some(t));
        assert_eq!(
            parse("2026-11-27T13:56:06Z"),
            Some(UNIX_EPOCH + Duration::from_secs(1_795_787_766))
        );
        assert_eq!(parse("yesterday"), None);
        let err = serde_json::from_str::<Wrapped>(r#"{"t":"soon"}"#).unwrap_err();
        assert!(
            err.to_string().contains("\"soon\" is not an RFC 3339 time"),
            "{err}"
        );
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Wrapped {
        #[serde(deserialize_with = "required")]
        t: SystemTime,
    }
}
