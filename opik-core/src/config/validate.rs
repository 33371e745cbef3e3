//! Checks on individual values. Each returns a [`ConfigError`] that names the setting, its
//! origin, the value and the fix.

use std::net::{IpAddr, Ipv6Addr};

use url::Url;

use super::error::{ConfigError, ErrorKind, Origin};
use super::CLOUD_URL;

const URL_FIX: &str = "Set it to your Opik API base, e.g. \"http://localhost:5173/api\" (self-hosted) or \"https://www.comet.com/opik/api\" (cloud).";

/// A checked `url_override`: the base every endpoint is appended to.
pub(crate) struct BaseUrl {
    /// Normalized: lower-case scheme and host, default port dropped, no trailing slash.
    pub(crate) normalized: String,
    pub(crate) is_plain_http: bool,
    pub(crate) is_loopback: bool,
}

/// Parses and normalizes `url_override`. Only an absolute http(s) URL without query, fragment
/// or credentials can serve as a base that paths are appended to.
pub(crate) fn base_url(raw: &str, origin: &Origin) -> Result<BaseUrl, ConfigError> {
    let err = |problem: String, shown: String| {
        ConfigError::new(
            ErrorKind::InvalidUrl,
            "url_override",
            origin.clone(),
            Some(shown),
            problem,
            URL_FIX,
        )
    };
    let url = match Url::parse(raw) {
        Ok(url) => url,
        Err(e) => {
            let problem = if raw.contains("://") {
                format!("not a valid URL ({e})")
            } else {
                format!("not a valid URL: the scheme is missing (did you mean \"http://{raw}\"?)")
            };
            return Err(err(problem, raw.to_owned()));
        }
    };
    if url.scheme() != "http" && url.scheme() != "https" {
        let problem = if raw.contains("://") {
            "not an http(s) URL".to_owned()
        } else {
            // `localhost:5173/api` parses with the scheme "localhost".
            format!("not an http(s) URL: the scheme is missing (did you mean \"http://{raw}\"?)")
        };
        return Err(err(problem, raw.to_owned()));
    }
    if url.password().is_some() || !url.username().is_empty() {
        // Show the URL with the password masked: it is a secret like the API key.
        let mut shown = url.clone();
        let masked = if url.password().is_some() {
            shown
                .set_password(Some("REDACTED"))
                .ok()
                .map(|()| shown.to_string())
        } else {
            Some(shown.to_string())
        };
        return Err(err(
            "contains user credentials, which would be sent instead of the API key".to_owned(),
            masked.unwrap_or_else(|| "<redacted>".to_owned()),
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(err(
            "has a query or fragment, so endpoint paths cannot be appended to it".to_owned(),
            raw.to_owned(),
        ));
    }
    let host = url.host_str().unwrap_or_default();
    let is_loopback = is_loopback_host(host);
    let normalized = url.as_str().trim_end_matches('/').to_owned();
    Ok(BaseUrl {
        is_plain_http: url.scheme() == "http",
        is_loopback,
        normalized,
    })
}

/// Loopback hosts: `localhost`, 127.0.0.0/8, `::1` (and IPv4-mapped 127.x). Traffic to them
/// never leaves the machine, so a key sent over plain http there is not exposed.
pub(super) fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_end_matches('.');
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.is_loopback(),
        Ok(IpAddr::V6(v6)) => {
            v6 == Ipv6Addr::LOCALHOST || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Err(_) => false,
    }
}

/// The URL derived from an enhanced key's `baseUrl`: `urljoin(baseUrl, "opik/api/")`, exactly as
/// the Python SDK computes it.
pub(crate) fn url_from_key_base(base: &str) -> Option<String> {
    Url::parse(base)
        .ok()?
        .join("opik/api/")
        .ok()
        .map(|u| u.to_string())
}

/// Refuses to send an API key in clear text over the network; loopback is exempt because the
/// usual self-hosted setup (`http://localhost:5173/api`) has nothing to intercept.
pub(crate) fn check_transport(
    url: &BaseUrl,
    url_origin: &Origin,
    key_origin: &Origin,
) -> Result<(), ConfigError> {
    if !url.is_plain_http || url.is_loopback {
        return Ok(());
    }
    Err(ConfigError::new(
        ErrorKind::InsecureTransport,
        "url_override",
        url_origin.clone(),
        Some(url.normalized.clone()),
        format!(
            "plain http to a host that is not loopback, so the API key (from {key_origin}) would travel unencrypted"
        ),
        format!(
            "Use https:// (e.g. \"{CLOUD_URL}\" for Opik Cloud), remove the API key if your self-hosted Opik needs none, or call ConfigBuilder::allow_http_api_key(true) if the network path is trusted."
        ),
    ))
}

/// Java's `\s` (what Opik's backend uses in `(?s)^\s*(\S.*\S|\S)\s*$`): ASCII space, tab, LF,
/// vertical tab, form feed, CR. Matching it exactly means we reject exactly what the server would.
fn is_java_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\u{0B}' | '\u{0C}' | '\r')
}

/// Names (project, workspace) must contain a non-whitespace character, or the server rejects
/// every batch that carries them.
pub(crate) fn non_blank(
    value: &str,
    setting: &'static str,
    origin: &Origin,
    example: &str,
) -> Result<(), ConfigError> {
    if value.chars().all(is_java_space) {
        return Err(ConfigError::new(
            ErrorKind::Blank,
            setting,
            origin.clone(),
            Some(value.to_owned()),
            "blank; Opik needs at least one non-whitespace character",
            format!("Set it to a name such as \"{example}\", or unset it to use the default."),
        ));
    }
    Ok(())
}

/// The spec's limit on `environment`: at most 150 characters.
pub(crate) fn environment(value: &str, origin: &Origin) -> Result<(), ConfigError> {
    let chars = value.chars().count();
    if chars <= 150 {
        return Ok(());
    }
    Err(ConfigError::new(
        ErrorKind::OutOfRange,
        "environment",
        origin.clone(),
        Some(value.to_owned()),
        format!("{chars} characters long; Opik takes at most 150"),
        "Use a short name such as \"production\" or \"staging\".",
    ))
}

/// Env files (`docker --env-file`, systemd) and INI files keep quotes literally, so a quoted
/// value would become part of a name, URL or key. The Python SDK would take them literally too,
/// but nobody means that, so it is reported rather than silently sent.
pub(crate) fn not_quoted(
    value: &str,
    setting: &'static str,
    origin: &Origin,
    secret: bool,
) -> Result<(), ConfigError> {
    let quoted = value.len() >= 2
        && ((value.starts_with('"') && value.ends_with('"'))
            || (value.starts_with('\'') && value.ends_with('\'')));
    if !quoted || matches!(origin, Origin::Builder(_)) {
        return Ok(());
    }
    let place = match origin {
        Origin::File { .. } => "INI files keep quotes as part of the value",
        _ => "env files and container settings keep quotes as part of the value",
    };
    Err(ConfigError::new(
        ErrorKind::Quoted,
        setting,
        origin.clone(),
        if secret { None } else { Some(value.to_owned()) },
        format!("wrapped in quotes; {place}"),
        "Remove the quotes.",
    ))
}

/// The key goes into the `authorization` header, which only takes visible ASCII. A key with a
/// space or newline inside is a copy-paste accident; catching it here beats a 401 per batch.
pub(crate) fn api_key_chars(key: &str, origin: &Origin) -> Result<(), ConfigError> {
    if key.bytes().all(|b| b.is_ascii_graphic()) {
        return Ok(());
    }
    Err(ConfigError::new(
        ErrorKind::InvalidApiKey,
        "api_key",
        origin.clone(),
        None,
        "contains whitespace, a control character or non-ASCII text, which cannot be sent in an HTTP header",
        "Copy the key again from your Opik account settings.",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for host in [
            "localhost",
            "LOCALHOST",
            "localhost.",
            "127.0.0.1",
            "127.5.6.7",
            "[::1]",
            "[::ffff:127.0.0.1]",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "example.com",
            "10.0.0.1",
            "192.168.1.1",
            "[::2]",
            "localhost.example.com",
            "128.0.0.1",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn key_base_url_join_matches_python_urljoin() {
        assert_eq!(
            url_from_key_base("https://comet.example.com/").as_deref(),
            Some("https://comet.example.com/opik/api/")
        );
        assert_eq!(
            url_from_key_base("https://comet.example.com").as_deref(),
            Some("https://comet.example.com/opik/api/")
        );
        assert_eq!(url_from_key_base("not a url"), None);
    }

    #[test]
    fn java_whitespace_class() {
        let origin = Origin::Default;
        assert!(non_blank(" \t\r\n\u{0B}\u{0C}", "x", &origin, "e").is_err());
        assert!(non_blank("", "x", &origin, "e").is_err());
        assert!(non_blank(" a ", "x", &origin, "e").is_ok());
        // Not in Java's \s, so the server accepts it; so do we.
        assert!(non_blank("\u{a0}", "x", &origin, "e").is_ok());
    }
}
