//! The API key: kept out of every log line, and read for the URL an enhanced key carries.

use std::fmt;

/// An Opik API key.
///
/// A distinct type so the secret cannot end up in logs by accident: `Debug` and `Display` print
/// `<redacted>`; [`ApiKey::expose`] is for the one place that sets the `authorization` header.
#[derive(Clone)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> Self {
        ApiKey(key.into())
    }

    /// The key itself. Call this only to build the `authorization` header.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The key as the healthcheck shows it: `****` and its last four characters, so two keys
    /// can be told apart without either being readable (only `****` for a key too short to
    /// give four characters away safely).
    pub fn masked(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
        if chars.len() < 16 {
            return "****".to_owned();
        }
        let tail: String = chars[chars.len() - 4..].iter().collect();
        format!("****{tail}")
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The `baseUrl` attribute of an enhanced API key, `<key>*<base64 JSON attributes>`, which
/// Comet issues for on-premises installs. The Python SDK derives `url_override` from it when no
/// URL is given; doing the same matters because otherwise such a key would be sent to the cloud.
pub(crate) enum KeyAttributes {
    /// A plain key, or attributes without a usable `baseUrl`.
    None,
    /// The key's `baseUrl`.
    BaseUrl(String),
    /// A `*` suffix that is not base64 JSON.
    Corrupt,
}

pub(crate) fn key_attributes(key: &str) -> KeyAttributes {
    let mut parts = key.split('*');
    let (Some(_), Some(attrs), None) = (parts.next(), parts.next(), parts.next()) else {
        // No `*`, or several: the Python SDK then ignores attributes too.
        return KeyAttributes::None;
    };
    if attrs.is_empty() {
        return KeyAttributes::None;
    }
    let Some(bytes) = decode_base64(attrs) else {
        return KeyAttributes::Corrupt;
    };
    match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(serde_json::Value::Object(map)) => match map.get("baseUrl") {
            Some(serde_json::Value::String(url)) if !url.trim().is_empty() => {
                KeyAttributes::BaseUrl(url.trim().to_owned())
            }
            _ => KeyAttributes::None,
        },
        _ => KeyAttributes::Corrupt,
    }
}

/// Decodes standard or URL-safe base64, padded or not (Comet's helper repairs padding, so keys
/// are seen without it).
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits: u32 = 0;
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // One leftover character (6 bits) cannot encode a byte: the text was truncated.
    if bits >= 6 {
        return None;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_padded_unpadded_and_url_safe() {
        assert_eq!(decode_base64("aGk=").as_deref(), Some(&b"hi"[..]));
        assert_eq!(decode_base64("aGk").as_deref(), Some(&b"hi"[..]));
        assert_eq!(decode_base64("-_8").as_deref(), Some(&[0xfb, 0xff][..]));
        assert_eq!(decode_base64("+/8").as_deref(), Some(&[0xfb, 0xff][..]));
        assert_eq!(decode_base64("a"), None);
        assert_eq!(decode_base64("a!b"), None);
    }
}
