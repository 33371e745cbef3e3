//! Small helpers the stateful backend shares: UUID v7 ids made the way the backend makes them
//! (time-ordered, so "newest first" is "largest id first"), RFC 3339 timestamps without a date
//! library, paging, and the null-stripping the backend's JSON mapping does on the way in.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use crate::check::USER_DATA_FIELDS;

/// Makes UUID version 7 ids that increase strictly, even within one millisecond (a counter
/// sits in the bits after the timestamp), like the backend's `IdGenerator`.
#[derive(Debug, Default)]
pub(crate) struct IdGen {
    last_ms: u64,
    seq: u64,
    state: u64,
}

impl IdGen {
    pub fn v7(&mut self) -> String {
        let now = now_nanos();
        let ms = (now / 1_000_000) as u64;
        if ms > self.last_ms {
            self.last_ms = ms;
            self.seq = 0;
        } else {
            self.seq += 1;
            if self.seq >= 1 << 12 {
                self.last_ms += 1;
                self.seq = 0;
            }
        }
        // xorshift64*, seeded from the clock: the low bits only need to differ between servers.
        if self.state == 0 {
            self.state = (now as u64) | 1;
        }
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        let rand = self.state.wrapping_mul(0x2545_f491_4f6c_dd1d);
        let mut b = [0u8; 16];
        b[..6].copy_from_slice(&self.last_ms.to_be_bytes()[2..]);
        b[6] = 0x70 | ((self.seq >> 8) & 0x0f) as u8;
        b[7] = self.seq as u8;
        b[8..].copy_from_slice(&rand.to_be_bytes());
        b[8] = 0x80 | (b[8] & 0x3f);
        uuid::Uuid::from_bytes(b).to_string()
    }
}

/// Nanoseconds since the Unix epoch, now.
pub(crate) fn now_nanos() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

/// Now as `YYYY-MM-DDTHH:MM:SS.ffffffZ`, the backend's (Java `Instant`) form.
pub(crate) fn now_rfc3339() -> String {
    format_time(now_nanos())
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Microsecond-precision UTC form of a time given in nanoseconds since the epoch.
pub(crate) fn format_time(nanos: i128) -> String {
    let secs = nanos.div_euclid(1_000_000_000) as i64;
    let micros = (nanos.rem_euclid(1_000_000_000) / 1000) as u32;
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// An RFC 3339 timestamp (any zone, any fraction) as nanoseconds since the epoch, UTC.
pub(crate) fn parse_time(s: &str) -> Option<i128> {
    crate::check::check_rfc3339(s).ok()?;
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> i64 { s[from..from + len].parse().unwrap_or(0) };
    let days = days_from_civil(num(0, 4), num(5, 2) as u32, num(8, 2) as u32);
    let mut secs = days * 86_400 + num(11, 2) * 3600 + num(14, 2) * 60 + num(17, 2);
    let mut i = 19;
    let mut nanos: i128 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let mut frac = s[start..i.min(start + 9)].to_string();
        while frac.len() < 9 {
            frac.push('0');
        }
        nanos = frac.parse().unwrap_or(0);
    }
    if b[i] != b'Z' {
        let sign = if b[i] == b'+' { 1 } else { -1 };
        secs -= sign * (num(i + 1, 2) * 3600 + num(i + 4, 2) * 60);
    }
    Some(secs as i128 * 1_000_000_000 + nanos)
}

/// Milliseconds (with a fraction) from `start` to `end`, both RFC 3339, as the backend's
/// `duration`.
pub(crate) fn duration_ms(start: &str, end: &str) -> Option<f64> {
    let (a, b) = (parse_time(start)?, parse_time(end)?);
    Some((b - a) as f64 / 1_000_000.0)
}

/// The `page` (from 1) of `size` items.
pub(crate) fn page_of<T: Clone>(items: &[T], page: usize, size: usize) -> Vec<T> {
    let from = page.saturating_sub(1).saturating_mul(size);
    items.iter().skip(from).take(size).cloned().collect()
}

/// Removes `null`-valued fields outside user data, as the backend does when it reads a body
/// (a `null` is an absent field to it, and absent fields are left out of its answers).
pub(crate) fn strip_nulls(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.retain(|k, val| USER_DATA_FIELDS.contains(&k.as_str()) || !val.is_null());
            for (k, val) in map.iter_mut() {
                if !USER_DATA_FIELDS.contains(&k.as_str()) {
                    strip_nulls(val);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

/// A JSON object built from `(key, value)` pairs, leaving out the `null` values.
pub(crate) fn object<I, K>(fields: I) -> Value
where
    I: IntoIterator<Item = (K, Value)>,
    K: Into<String>,
{
    let mut map = Map::new();
    for (k, v) in fields {
        if !v.is_null() {
            map.insert(k.into(), v);
        }
    }
    Value::Object(map)
}

/// A string field of a JSON object.
pub(crate) fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// A short, stable hash of bytes as hex (FNV-1a, 64 bits): the fake's ETags and hashes.
pub(crate) fn fnv_hex(parts: &[&[u8]]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.iter() {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_increase_and_are_v7() {
        let mut g = IdGen::default();
        let ids: Vec<String> = (0..5000).map(|_| g.v7()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        for id in &ids[..10] {
            crate::check::check_uuid_v7(id).unwrap();
        }
    }

    #[test]
    fn times_round_trip() {
        let t = parse_time("2024-05-01T12:00:01.25Z").unwrap();
        assert_eq!(format_time(t), "2024-05-01T12:00:01.250000Z");
        assert_eq!(
            parse_time("2024-05-01T14:00:01.25+02:00"),
            parse_time("2024-05-01T12:00:01.250Z")
        );
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(format_time(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            duration_ms("2024-05-01T12:00:00Z", "2024-05-01T12:00:01.5Z"),
            Some(1500.0)
        );
        assert!(parse_time("yesterday").is_none());
        crate::check::check_rfc3339(&now_rfc3339()).unwrap();
    }

    #[test]
    fn nulls_are_stripped_outside_user_data() {
        let mut v =
            serde_json::json!({"a": null, "input": {"x": null}, "b": [{"c": null, "d": 1}]});
        strip_nulls(&mut v);
        assert_eq!(
            v,
            serde_json::json!({"input": {"x": null}, "b": [{"d": 1}]})
        );
    }
}
