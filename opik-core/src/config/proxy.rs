//! Which proxy, if any, requests to the Opik server go through.
//!
//! The proxy variables are read through the builder's environment ([`super::sources::Env`]),
//! never by the HTTP client itself, so what happens does not depend on the process environment
//! a test (or a library) runs in. The variables are curl's, in both cases (lower case first, as
//! curl and Python's `urllib`, which the Python SDK's httpx uses, prefer it):
//!
//! | target URL | variables, first set wins |
//! |---|---|
//! | `https://` | `https_proxy`, `HTTPS_PROXY`, `all_proxy`, `ALL_PROXY` |
//! | `http://` | `http_proxy`, `HTTP_PROXY` (not under CGI: `REQUEST_METHOD` set), `all_proxy`, `ALL_PROXY` |
//!
//! and `no_proxy` / `NO_PROXY` lists the hosts reached directly. The rules:
//! - `https://`: the proxy is used; the request (API key included) travels inside the TLS
//!   connection tunnelled through it with `CONNECT`, which the proxy cannot read;
//! - a loopback URL (`localhost`, `127.0.0.0/8`, `::1`): no proxy, ever. A loopback server is on
//!   this machine, a proxy elsewhere cannot reach it, and a plain-http key to loopback is only
//!   allowed because it never leaves the machine;
//! - `http://` to another host with an API key: no proxy. A plain-http proxy reads the whole
//!   request, key included, and forwards it on a path nobody vetted; the key is sent to the
//!   server directly (which `allow_http_api_key` asked for) or not at all;
//! - `http://` without a key: the proxy is used;
//! - a host matching `no_proxy` (a domain and its subdomains, `.domain`, an IP address, a CIDR
//!   range, an optional `:port`, or `*`): no proxy;
//! - a proxy URL that cannot be used (not parsable, or a SOCKS proxy, which this build does not
//!   speak): no proxy, with a warning when the HTTP client starts.

use super::error::{ConfigError, Origin};
use super::sources::Env;
use super::validate::{is_loopback_host, BaseUrl};
use std::fmt;
use std::net::IpAddr;
use url::Url;

const HTTPS_VARS: [&str; 4] = ["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"];
const HTTP_VARS: [&str; 4] = ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"];
const NO_PROXY_VARS: [&str; 2] = ["no_proxy", "NO_PROXY"];

/// How requests reach the Opik server.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) enum ProxyChoice {
    /// No proxy variable applies: connect directly.
    #[default]
    Direct,
    /// Through this proxy.
    Via(ProxyUrl),
    /// A proxy variable is set but not used: connect directly, for this reason.
    Ignored {
        /// The variable that named the proxy.
        var: &'static str,
        why: Ignored,
    },
}

/// Why a proxy that is set is not used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Ignored {
    /// The Opik URL is loopback.
    Loopback,
    /// The host matches this `no_proxy` variable.
    NoProxy(&'static str),
    /// Plain `http://` with an API key: the proxy would read the key.
    KeyOverPlainHttp,
    /// The proxy URL cannot be used (the problem, without the URL: it may hold a password).
    Unusable(String),
}

/// A proxy URL (`http://` or `https://`, possibly with credentials), and the variable that named
/// it. `Debug` and `Display` hide the credentials.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ProxyUrl {
    pub(crate) url: Url,
    pub(crate) var: &'static str,
}

impl ProxyUrl {
    /// The URL with any user name and password replaced by `***`.
    pub(crate) fn redacted(&self) -> String {
        let mut shown = self.url.clone();
        if !shown.username().is_empty() || shown.password().is_some() {
            let _ = shown.set_username("***");
            let _ = shown.set_password(None);
        }
        shown.to_string()
    }
}

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (from {})", self.redacted(), self.var)
    }
}

impl fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl ProxyChoice {
    /// The variable the choice comes from, for the healthcheck's table.
    pub(crate) fn origin(&self) -> Origin {
        match self {
            ProxyChoice::Direct => Origin::Default,
            ProxyChoice::Via(p) => Origin::Env(p.var),
            ProxyChoice::Ignored { var, .. } => Origin::Env(var),
        }
    }
}

impl fmt::Display for ProxyChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxyChoice::Direct => f.write_str("none"),
            ProxyChoice::Via(p) => write!(f, "{p}"),
            ProxyChoice::Ignored { var, why } => {
                let why = match why {
                    Ignored::Loopback => "the Opik URL is loopback".to_owned(),
                    Ignored::NoProxy(v) => format!("the host is in {v}"),
                    Ignored::KeyOverPlainHttp => {
                        "it would read the API key sent over plain http".to_owned()
                    }
                    Ignored::Unusable(problem) => problem.clone(),
                };
                write!(f, "none ({var} ignored: {why})")
            }
        }
    }
}

/// The first of `names` set to a non-blank value.
fn first_set(
    env: &Env,
    names: &[&'static str],
) -> Result<Option<(&'static str, String)>, ConfigError> {
    for &name in names {
        if let Some(v) = env.get(name)? {
            let v = v.trim();
            if !v.is_empty() {
                return Ok(Some((name, v.to_owned())));
            }
        }
    }
    Ok(None)
}

/// Decides the proxy for requests to `base` (see the module docs).
pub(crate) fn choose(env: &Env, base: &BaseUrl, has_key: bool) -> Result<ProxyChoice, ConfigError> {
    let Ok(target) = Url::parse(&base.normalized) else {
        return Ok(ProxyChoice::Direct);
    };
    let mut names: Vec<&'static str> = if base.is_plain_http {
        HTTP_VARS.to_vec()
    } else {
        HTTPS_VARS.to_vec()
    };
    // Under CGI, `HTTP_PROXY` comes from the request's `Proxy:` header ("httpoxy"): the client
    // that sent the request would choose where ours go.
    if base.is_plain_http && env.get("REQUEST_METHOD")?.is_some() {
        names.retain(|n| *n != "HTTP_PROXY");
    }
    let Some((var, raw)) = first_set(env, &names)? else {
        return Ok(ProxyChoice::Direct);
    };
    let ignored = |why| Ok(ProxyChoice::Ignored { var, why });
    let host = target.host_str().unwrap_or_default();
    if base.is_loopback || is_loopback_host(host) {
        return ignored(Ignored::Loopback);
    }
    if let Some((no_var, list)) = first_set(env, &NO_PROXY_VARS)? {
        if no_proxy_matches(&list, host, target.port_or_known_default()) {
            return ignored(Ignored::NoProxy(no_var));
        }
    }
    if base.is_plain_http && has_key {
        return ignored(Ignored::KeyOverPlainHttp);
    }
    match parse_proxy_url(&raw) {
        Ok(url) => Ok(ProxyChoice::Via(ProxyUrl { url, var })),
        Err(problem) => ignored(Ignored::Unusable(problem)),
    }
}

/// A proxy URL as curl reads one: without a scheme it is `http://`; only http(s) proxies are
/// spoken here.
fn parse_proxy_url(raw: &str) -> Result<Url, String> {
    let with_scheme = if raw.contains("://") {
        raw.to_owned()
    } else {
        format!("http://{raw}")
    };
    let url = Url::parse(&with_scheme).map_err(|e| format!("not a valid proxy URL ({e})"))?;
    match url.scheme() {
        "http" | "https" => {}
        s if s.starts_with("socks") => {
            return Err(format!(
                "{s} proxies are not supported, only http and https"
            ))
        }
        s => return Err(format!("a {s}:// proxy is not an http or https proxy")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("the proxy URL has no host".to_owned());
    }
    Ok(url)
}

/// Whether `host` (with `port`) is in a `no_proxy` list: comma-separated entries, each `*`, a
/// domain (matching itself and its subdomains; a leading `.` or `*.` is ignored), an IP
/// address or a CIDR range, optionally followed by `:port`.
pub(crate) fn no_proxy_matches(list: &str, host: &str, port: Option<u16>) -> bool {
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let host_ip = host.parse::<IpAddr>().ok();
    list.split([',', ' ', '\t'])
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .any(|entry| {
            if entry == "*" {
                return true;
            }
            let (name, entry_port) = split_port(entry);
            if entry_port.is_some() && entry_port != port {
                return false;
            }
            let name = name.to_ascii_lowercase();
            if let Some((net, bits)) = name.split_once('/') {
                return match (net.parse::<IpAddr>(), bits.parse::<u8>(), host_ip) {
                    (Ok(net), Ok(bits), Some(ip)) => in_cidr(ip, net, bits),
                    _ => false,
                };
            }
            if let Ok(ip) = name.parse::<IpAddr>() {
                return host_ip == Some(ip);
            }
            let name = name
                .trim_start_matches("*.")
                .trim_start_matches('.')
                .trim_end_matches('.');
            !name.is_empty()
                && (host == name
                    || host
                        .strip_suffix(name)
                        .is_some_and(|rest| rest.ends_with('.')))
        })
}

/// `host:port`, `[v6]:port` or a bare name or address (an IPv6 address has colons of its own).
fn split_port(entry: &str) -> (&str, Option<u16>) {
    if let Some(rest) = entry.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((ip, tail)) => (ip, tail.strip_prefix(':').and_then(|p| p.parse().ok())),
            None => (entry, None),
        };
    }
    match entry.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') => match port.parse() {
            Ok(p) => (name, Some(p)),
            Err(_) => (entry, None),
        },
        _ => (entry, None),
    }
}

fn in_cidr(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_proxy_lists_match_as_curl_does() {
        let m = |list: &str, host: &str| no_proxy_matches(list, host, Some(443));
        assert!(m("example.com", "example.com"));
        assert!(m("example.com", "api.example.com"));
        assert!(m(".example.com", "api.example.com"));
        assert!(m("*.example.com", "api.example.com"));
        assert!(m("EXAMPLE.com", "Api.Example.COM."));
        assert!(!m("example.com", "notexample.com"));
        assert!(!m("api.example.com", "example.com"));
        assert!(m("foo, example.com ,bar", "example.com"));
        assert!(m("*", "anything.org"));
        assert!(m("10.0.0.0/8", "10.1.2.3"));
        assert!(!m("10.0.0.0/8", "11.1.2.3"));
        assert!(m("10.1.2.3", "10.1.2.3"));
        assert!(m("::1", "[::1]"));
        assert!(m("fd00::/8", "[fd12::1]"));
        assert!(m("example.com:443", "example.com"));
        assert!(!m("example.com:8443", "example.com"));
        assert!(m("[fd00::1]:443", "[fd00::1]"));
        assert!(!m("", "example.com"));
        assert!(!m(" , ", "example.com"));
        assert!(!m("10.0.0.0/40", "10.0.0.1"));
    }

    #[test]
    fn proxy_urls_are_read_as_curl_reads_them() {
        assert_eq!(
            parse_proxy_url("proxy.corp:3128").unwrap().as_str(),
            "http://proxy.corp:3128/"
        );
        assert!(parse_proxy_url("https://proxy.corp").is_ok());
        assert!(parse_proxy_url("socks5://proxy.corp:1080")
            .unwrap_err()
            .contains("not supported"));
        assert!(parse_proxy_url("http://").is_err());
    }

    #[test]
    fn a_proxy_password_is_never_shown() {
        let p = ProxyUrl {
            url: Url::parse("http://user:hunter2@proxy.corp:3128").unwrap(),
            var: "HTTPS_PROXY",
        };
        let shown = format!("{p} {p:?} {}", ProxyChoice::Via(p.clone()));
        assert!(
            !shown.contains("hunter2") && !shown.contains("user"),
            "{shown}"
        );
        assert!(shown.contains("proxy.corp:3128"), "{shown}");
    }
}
