//! [`healthcheck`]: what the Python SDK's `opik healthcheck` tells, for this SDK. The settings
//! in effect with where each came from (the API key masked), then three checks, each failure
//! with its fix:
//!
//! 1. **configuration**: the settings resolve (else the [`ConfigError`] and its fix), and the
//!    SDK would send (not off, not only printing locally);
//! 2. **server reachable**: `GET {url}/is-alive/ping` answers 200, through the same HTTP client
//!    the exporter uses (proxy, TLS roots, timeouts, no redirects);
//! 3. **API key and workspace**: `POST {url}/v1/private/auth`, the call the Python SDK's
//!    `auth_check` makes, answers 2xx. On a 401 or 403 the key's default workspace
//!    (`GET /v1/private/auth/workspace`) is asked for, so that a wrong workspace is told apart
//!    from a wrong key when the server can say.
//!
//! Each check runs only when the one before it passed. Nothing here retries: a healthcheck
//! reports what the first attempt met.

use super::answer::{describe, read_capped, truncate};
use super::client::OpikHttp;
use super::health_report::{Check, HealthReport};
use crate::config::{Config, ConfigBuilder, ConfigError, DisabledReason, Origin, Resolved};
use reqwest::Method;
use std::time::{Duration, Instant};

/// The check names, as [`Check::name`] gives them.
pub(crate) const CONFIGURATION: &str = "configuration";
pub(crate) const SERVER_REACHABLE: &str = "server reachable";
pub(crate) const KEY_AND_WORKSPACE: &str = "API key and workspace";

/// Runs the healthcheck on the configuration `builder` gives: see the module docs. Blocks the
/// calling thread; safe anywhere (with or without a tokio runtime: the requests run on a
/// thread of their own, as the exporter's do).
pub fn healthcheck_with(builder: ConfigBuilder) -> HealthReport {
    let handle = std::thread::Builder::new()
        .name("opik-healthcheck".into())
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime.block_on(healthcheck_async(builder)),
                Err(e) => HealthReport::unchecked(format!("could not start a runtime: {e}")),
            }
        });
    match handle.map(std::thread::JoinHandle::join) {
        Ok(Ok(report)) => report,
        Ok(Err(_)) => HealthReport::unchecked("the healthcheck thread panicked".to_owned()),
        Err(e) => HealthReport::unchecked(format!("could not start a thread: {e}")),
    }
}

/// [`healthcheck_with`] the configuration [`init`](crate::init) would read: the environment
/// and `~/.opik.config`.
pub fn healthcheck() -> HealthReport {
    healthcheck_with(ConfigBuilder::new())
}

/// [`healthcheck_with`] without blocking: for a program already in a tokio runtime.
pub async fn healthcheck_async(builder: ConfigBuilder) -> HealthReport {
    let config = match builder.resolve() {
        Err(e) => return HealthReport::new(None, vec![config_failure(&e)]),
        Ok(Resolved::Disabled(reason)) => {
            let (problem, fix) = match reason {
                DisabledReason::NothingConfigured => (
                    "no Opik server is configured, so tracing is off",
                    "Set OPIK_URL_OVERRIDE (self-hosted, e.g. http://localhost:5173/api) and/or \
                     OPIK_API_KEY (Opik Cloud), or put url_override / api_key under [opik] in \
                     ~/.opik.config (or the file named by OPIK_CONFIG_PATH).",
                ),
                DisabledReason::TrackDisable => (
                    "track_disable is set, so tracing is off",
                    "Unset OPIK_TRACK_DISABLE (or track_disable in ~/.opik.config, or \
                     ConfigBuilder::track_disable) to send traces.",
                ),
            };
            let check = Check::failed(CONFIGURATION, problem.to_owned(), fix.to_owned());
            return HealthReport::new(None, vec![check]);
        }
        Ok(Resolved::Local(config)) => {
            let check = Check::failed(
                CONFIGURATION,
                "the local view is on: traces are printed here, not sent".to_owned(),
                "Unset OPIK_LOCAL (or ConfigBuilder::local) to send them to the configured \
                 Opik; with no URL and no key, set OPIK_URL_OVERRIDE or OPIK_API_KEY."
                    .to_owned(),
            );
            return HealthReport::new(Some(&config), vec![check]);
        }
        Ok(Resolved::Enabled(config)) => config,
    };
    let mut checks = vec![Check::ok(
        CONFIGURATION,
        format!("valid; traces go to {}", config.base_url()),
    )];
    let http = match OpikHttp::new(&config) {
        Ok(http) => http,
        Err(problem) => {
            checks.push(Check::failed(
                SERVER_REACHABLE,
                problem,
                "Fix the setting it names.".to_owned(),
            ));
            return HealthReport::new(Some(&config), checks);
        }
    };
    let reachable = reachable(&http, &config).await;
    let go_on = reachable.passed();
    checks.push(reachable);
    if go_on {
        checks.push(key_and_workspace(&http, &config).await);
    }
    HealthReport::new(Some(&config), checks)
}

fn config_failure(e: &ConfigError) -> Check {
    let text = e.to_string();
    let problem = text
        .strip_suffix(e.fix())
        .unwrap_or(&text)
        .trim_start_matches("opik config: ")
        .trim_end()
        .trim_end_matches('.')
        .to_owned();
    Check::failed(CONFIGURATION, problem, e.fix().to_owned())
}

/// `GET /is-alive/ping`.
async fn reachable(http: &OpikHttp, config: &Config) -> Check {
    let started = Instant::now();
    let url = format!("{}/is-alive/ping", http.base_url());
    match http.to_api(Method::GET, "/is-alive/ping").send().await {
        Err(e) => unreachable(&e, config),
        Ok(response) => {
            let status = response.status().as_u16();
            if status == 200 {
                return Check::ok(
                    SERVER_REACHABLE,
                    format!("{url} answered in {} ms", started.elapsed().as_millis()),
                );
            }
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let url_origin = origin_text(config.url_origin());
            let (problem, fix) = match (status, location) {
                (300..=399, Some(to)) => (
                    format!("{url} redirects (HTTP {status}) to {to}; the SDK never follows redirects"),
                    format!("Set url_override (from {url_origin}) to the API base the redirect points at."),
                ),
                (404, _) => (
                    format!("{url} answered 404: this is not an Opik API base"),
                    format!(
                        "Set url_override (from {url_origin}) to the API base: a self-hosted Opik's \
                         ends in /api (e.g. http://localhost:5173/api), Opik Cloud's is \
                         https://www.comet.com/opik/api."
                    ),
                ),
                _ => (
                    format!("{url} answered HTTP {status}"),
                    format!(
                        "Check that Opik runs and is healthy there, and that url_override (from \
                         {url_origin}) names it."
                    ),
                ),
            };
            Check::failed(SERVER_REACHABLE, problem, fix)
        }
    }
}

/// A request that got no answer: what went wrong, and the fix for that kind of failure.
fn unreachable(e: &reqwest::Error, config: &Config) -> Check {
    let detail = describe(e);
    let url = config.base_url();
    let url_origin = origin_text(config.url_origin());
    let lower = detail.to_ascii_lowercase();
    let fix = if lower.contains("certificate") || lower.contains("tls") {
        format!(
            "The server's TLS certificate is not trusted. For a self-hosted Opik behind a private \
             CA, set SSL_CERT_FILE to a PEM file of its CA certificates (the Python SDK reads the \
             same variable){}; OPIK_CHECK_TLS_CERTIFICATE=false turns the check off, which lets \
             anyone on the path read the key.",
            match config.ssl_cert_file() {
                Some(path) => format!(" (now {}, which does not hold it)", path.display()),
                None => String::new(),
            }
        )
    } else if e.is_timeout() {
        format!(
            "No answer within request_timeout ({}) / connect_timeout ({}): check that {url} \
             (url_override, from {url_origin}) is reachable from here, and any proxy \
             (proxy = {}).",
            humantime::format_duration(config.request_timeout()),
            humantime::format_duration(config.connect_timeout()),
            proxy_text(config),
        )
    } else {
        format!(
            "Start Opik, or set url_override (from {url_origin}) to where it runs: a self-hosted \
             Opik's API is at http://HOST:5173/api (see the self-hosting guide), Opik Cloud's at \
             https://www.comet.com/opik/api. Proxy: {}.",
            proxy_text(config),
        )
    };
    Check::failed(
        SERVER_REACHABLE,
        format!("no answer from {url}: {detail}"),
        fix,
    )
}

/// `POST /v1/private/auth` with `{}`, as the Python SDK's `auth_check`.
async fn key_and_workspace(http: &OpikHttp, config: &Config) -> Check {
    let request = match http.json(Method::POST, "/v1/private/auth", b"{}") {
        Ok(request) => request,
        Err(e) => {
            return Check::failed(
                KEY_AND_WORKSPACE,
                format!("the request could not be encoded: {e}"),
                "Report this as a bug of opik-rs.".to_owned(),
            )
        }
    };
    let workspace = config.workspace();
    let workspace_origin = setting_origin(config, "workspace");
    let key_origin = config.api_key().map(|_| setting_origin(config, "api_key"));
    let (status, message) = match request.send().await {
        Err(e) => {
            let mut check = unreachable(&e, config);
            check.name = KEY_AND_WORKSPACE;
            return check;
        }
        Ok(mut response) => {
            let status = response.status().as_u16();
            let body = read_capped(&mut response, 4096).await;
            (status, server_message(&body))
        }
    };
    if (200..300).contains(&status) {
        let who = match &key_origin {
            Some(origin) => format!("the API key (from {origin})"),
            None => "no API key (none needed)".to_owned(),
        };
        return Check::ok(
            KEY_AND_WORKSPACE,
            format!("{who} accepted for workspace {workspace:?}"),
        );
    }
    let said = if message.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {message}")
    };
    if status != 401 && status != 403 {
        return Check::failed(
            KEY_AND_WORKSPACE,
            format!("the access check answered {said}"),
            "Check that url_override names an Opik API base and that the server is healthy."
                .to_owned(),
        );
    }
    let Some(key_origin) = key_origin else {
        return Check::failed(
            KEY_AND_WORKSPACE,
            format!("this Opik needs an API key and none is configured ({said})"),
            "Set OPIK_API_KEY (or api_key under [opik] in ~/.opik.config) to your API key, \
             from your Opik account settings."
                .to_owned(),
        );
    };
    match default_workspace(http).await {
        Some(default) if default != workspace => Check::failed(
            KEY_AND_WORKSPACE,
            format!(
                "the API key is valid, but not for workspace {workspace:?} (from \
                 {workspace_origin}): {said}"
            ),
            format!(
                "Set OPIK_WORKSPACE (or workspace in ~/.opik.config) to a workspace the key \
                 belongs to: its default is {default:?}."
            ),
        ),
        Some(_) if status == 403 => Check::failed(
            KEY_AND_WORKSPACE,
            format!("the API key has no permission in workspace {workspace:?}: {said}"),
            "Ask an admin of the workspace for access, or use a key that has it.".to_owned(),
        ),
        _ if status == 403 => Check::failed(
            KEY_AND_WORKSPACE,
            format!(
                "the API key (from {key_origin}) has no access to workspace {workspace:?} (from \
                 {workspace_origin}): {said}"
            ),
            "Set OPIK_WORKSPACE to a workspace the key belongs to (on Opik Cloud, usually your \
             user name), or ask its admin for access."
                .to_owned(),
        ),
        _ => Check::failed(
            KEY_AND_WORKSPACE,
            format!(
                "the API key (from {key_origin}) was refused for workspace {workspace:?} (from \
                 {workspace_origin}): {said}"
            ),
            "Copy the key again from your Opik account settings, and check that the workspace \
             is one the key belongs to (on Opik Cloud, usually your user name)."
                .to_owned(),
        ),
    }
}

/// The key's default workspace, when the server tells (`GET /v1/private/auth/workspace`).
async fn default_workspace(http: &OpikHttp) -> Option<String> {
    let mut response = http
        .to_api(Method::GET, "/v1/private/auth/workspace")
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .ok()?;
    if !response.status().is_success() {
        return None;
    }
    let body = read_capped(&mut response, 4096).await;
    let value: serde_json::Value = serde_json::from_slice(&body).ok()?;
    value
        .get("workspace_name")?
        .as_str()
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
}

/// The `message` (or `errors`) of the backend's error bodies, else the text, shortened.
fn server_message(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let parsed: Option<serde_json::Value> = serde_json::from_str(&text).ok();
    let message = parsed.as_ref().and_then(|v| {
        v.get("message")
            .and_then(|m| m.as_str())
            .map(str::to_owned)
            .or_else(|| {
                v.get("errors").and_then(|e| e.as_array()).map(|e| {
                    e.iter()
                        .filter_map(|m| m.as_str())
                        .collect::<Vec<_>>()
                        .join("; ")
                })
            })
    });
    truncate(message.as_deref().unwrap_or(text.trim()), 300).to_owned()
}

fn origin_text(origin: Option<&Origin>) -> String {
    origin.map_or_else(|| "nowhere".to_owned(), Origin::to_string)
}

fn setting_origin(config: &Config, name: &str) -> Origin {
    config
        .settings()
        .into_iter()
        .find(|s| s.name == name)
        .map_or(Origin::Default, |s| s.origin)
}

fn proxy_text(config: &Config) -> String {
    config
        .settings()
        .into_iter()
        .find(|s| s.name == "proxy")
        .map_or_else(|| "none".to_owned(), |s| s.value)
}
