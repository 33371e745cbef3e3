//! Tests for `config`. Every test injects its environment (`with_env_map`), so none reads or
//! mutates the process environment and they can run in parallel.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::*;

/// A key that must never show up in any output; tests search for its middle part.
const KEY: &str = "sk-SECRET-7f3a9c-DO-NOT-LOG";
const KEY_MARK: &str = "SECRET-7f3a9c";

fn env(vars: &[(&str, &str)]) -> ConfigBuilder {
    ConfigBuilder::with_env_map(
        vars.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<Vec<_>>(),
    )
}

/// A file in the temp dir with a unique name, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(content: impl AsRef<[u8]>) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "opik-config-test-{}-{}.ini",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, content).expect("write temp file");
        TempFile(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn path_str(&self) -> String {
        self.0.display().to_string()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A directory in the temp dir used as HOME, removed on drop.
struct TempHome(PathBuf);

impl TempHome {
    fn new(config: Option<&str>) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "opik-config-home-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create temp home");
        if let Some(config) = config {
            std::fs::write(dir.join(".opik.config"), config).expect("write config");
        }
        TempHome(dir)
    }

    fn path_str(&self) -> String {
        self.0.display().to_string()
    }
}

impl Drop for TempHome {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn enabled(result: Result<Resolved, ConfigError>) -> Config {
    match result {
        Ok(Resolved::Enabled(config)) => config,
        other => panic!("expected Enabled, got {other:?}"),
    }
}

fn local(result: Result<Resolved, ConfigError>) -> Config {
    match result {
        Ok(Resolved::Local(config)) => config,
        other => panic!("expected Local, got {other:?}"),
    }
}

fn disabled(result: Result<Resolved, ConfigError>) -> DisabledReason {
    match result {
        Ok(Resolved::Disabled(reason)) => reason,
        other => panic!("expected Disabled, got {other:?}"),
    }
}

fn error(result: Result<Resolved, ConfigError>) -> ConfigError {
    match result {
        Err(e) => {
            assert_no_key(&e.to_string());
            assert_no_key(&format!("{e:?}"));
            e
        }
        Ok(other) => panic!("expected an error, got {other:?}"),
    }
}

fn assert_no_key(text: &str) {
    assert!(!text.contains(KEY_MARK), "API key leaked: {text}");
}

// ---- modes -------------------------------------------------------------------------------

#[test]
fn nothing_configured_is_disabled() {
    assert_eq!(
        disabled(env(&[]).resolve()),
        DisabledReason::NothingConfigured
    );
    // A project or workspace alone does not say where to send.
    let only_names = env(&[("OPIK_PROJECT_NAME", "p"), ("OPIK_WORKSPACE", "w")]);
    assert_eq!(
        disabled(only_names.resolve()),
        DisabledReason::NothingConfigured
    );
}

#[test]
fn nothing_configured_never_assumes_localhost() {
    let home = TempHome::new(Some("[opik]\nproject_name = p\n"));
    let result = env(&[("HOME", &home.path_str())]).resolve();
    assert_eq!(disabled(result), DisabledReason::NothingConfigured);
}

#[test]
fn injected_env_ignores_process_env() {
    // Whatever OPIK_* or HOME the test runner has, an injected env sees none of it.
    let builder = ConfigBuilder::with_env(|_| None);
    assert_eq!(
        disabled(builder.resolve()),
        DisabledReason::NothingConfigured
    );
}

#[test]
fn disabled_reason_display_tells_how_to_enable() {
    let line = DisabledReason::NothingConfigured.to_string();
    for needle in [
        "OPIK_URL_OVERRIDE",
        "OPIK_API_KEY",
        "~/.opik.config",
        "OPIK_LOCAL=1",
    ] {
        assert!(line.contains(needle), "{needle} missing from: {line}");
    }
    assert!(DisabledReason::TrackDisable
        .to_string()
        .contains("OPIK_TRACK_DISABLE"));
}

#[test]
fn track_disable_from_env_disables_even_with_url() {
    for value in ["true", "1", "YES", "On"] {
        let b = env(&[
            ("OPIK_TRACK_DISABLE", value),
            ("OPIK_URL_OVERRIDE", "http://localhost:5173/api"),
        ]);
        assert_eq!(
            disabled(b.resolve()),
            DisabledReason::TrackDisable,
            "{value}"
        );
    }
}

#[test]
fn track_disable_beats_broken_config() {
    let b = env(&[
        ("OPIK_TRACK_DISABLE", "1"),
        ("OPIK_URL_OVERRIDE", "htp://x"),
        ("OPIK_PROJECT_NAME", " "),
        ("OPIK_CONFIG_PATH", "/nonexistent/opik.config"),
    ]);
    assert_eq!(disabled(b.resolve()), DisabledReason::TrackDisable);
    let b = env(&[]).url("htp://x").track_disable(true);
    assert_eq!(disabled(b.resolve()), DisabledReason::TrackDisable);
}

#[test]
fn track_disable_still_reports_bad_knobs() {
    let e = error(env(&[]).track_disable(true).batch_max_items(0).resolve());
    assert_eq!(e.setting(), "batch_max_items");
}

#[test]
fn builder_track_disable_false_overrides_env() {
    let b = env(&[
        ("OPIK_TRACK_DISABLE", "true"),
        ("OPIK_URL_OVERRIDE", "http://localhost:5173/api"),
    ])
    .track_disable(false);
    enabled(b.resolve());
}

#[test]
fn track_disable_from_file() {
    let file =
        TempFile::new("[opik]\nurl_override = http://localhost:5173/api\ntrack_disable = true\n");
    let b = env(&[]).config_file(file.path());
    assert_eq!(disabled(b.resolve()), DisabledReason::TrackDisable);
    // The environment beats the file.
    let b = env(&[("OPIK_TRACK_DISABLE", "false")]).config_file(file.path());
    enabled(b.resolve());
}

#[test]
fn invalid_track_disable_is_an_error() {
    let e = error(env(&[("OPIK_TRACK_DISABLE", "ture")]).resolve());
    assert_eq!(e.kind(), ErrorKind::InvalidBool);
    assert_eq!(e.setting(), "track_disable");
    assert_eq!(e.origin(), &Origin::Env("OPIK_TRACK_DISABLE"));
    assert_eq!(e.value(), Some("ture"));
    assert!(e.to_string().contains("true/1/yes"), "{e}");
}

#[test]
fn empty_boolean_env_counts_as_unset() {
    let b = env(&[
        ("OPIK_TRACK_DISABLE", ""),
        ("OPIK_LOCAL", " "),
        ("OPIK_URL_OVERRIDE", "http://localhost:5173/api"),
    ]);
    enabled(b.resolve());
}

#[test]
fn key_only_defaults_to_cloud() {
    let config = enabled(env(&[("OPIK_API_KEY", KEY)]).resolve());
    assert_eq!(config.base_url(), CLOUD_URL);
    assert_eq!(config.url_origin(), Some(&Origin::Default));
    assert_eq!(config.api_key().map(ApiKey::expose), Some(KEY));
    assert_eq!(config.workspace(), DEFAULT_WORKSPACE);
    assert_eq!(config.project_name(), DEFAULT_PROJECT_NAME);
}

#[test]
fn url_only_is_self_hosted_without_key() {
    let config = enabled(env(&[("OPIK_URL_OVERRIDE", "http://localhost:5173/api")]).resolve());
    assert_eq!(config.base_url(), "http://localhost:5173/api");
    assert!(config.api_key().is_none());
}

// ---- local ---------------------------------------------------------------------------------

#[test]
fn local_without_target_is_local() {
    let config = local(env(&[("OPIK_LOCAL", "1")]).resolve());
    assert_eq!(config.url(), None);
    assert_eq!(config.base_url(), "");
    assert!(config.api_key().is_none());
    local(env(&[]).local(true).resolve());
}

#[test]
fn local_file_comes_from_builder_then_env_and_blank_is_unset() {
    let from_env =
        local(env(&[("OPIK_LOCAL", "1"), ("OPIK_LOCAL_FILE", "/tmp/a.jsonl")]).resolve());
    assert_eq!(from_env.local_file(), Some(Path::new("/tmp/a.jsonl")));
    let from_builder = local(
        env(&[("OPIK_LOCAL", "1"), ("OPIK_LOCAL_FILE", "/tmp/a.jsonl")])
            .local_file("/tmp/b.jsonl")
            .resolve(),
    );
    assert_eq!(from_builder.local_file(), Some(Path::new("/tmp/b.jsonl")));
    let blank = local(env(&[("OPIK_LOCAL", "1"), ("OPIK_LOCAL_FILE", "  ")]).resolve());
    assert_eq!(blank.local_file(), None);
}

#[test]
fn local_false_is_like_unset() {
    assert_eq!(
        disabled(env(&[("OPIK_LOCAL", "0")]).resolve()),
        DisabledReason::NothingConfigured
    );
}

#[test]
fn local_from_env_beats_key_from_file() {
    let file = TempFile::new(format!("[opik]\napi_key = {KEY}\n"));
    let b = env(&[
        ("OPIK_LOCAL", "yes"),
        ("OPIK_CONFIG_PATH", &file.path_str()),
    ]);
    let config = local(b.resolve());
    // The configured target is still carried, for display.
    assert_eq!(config.base_url(), CLOUD_URL);
}

#[test]
fn key_from_env_beats_local_from_env() {
    let b = env(&[("OPIK_LOCAL", "1"), ("OPIK_API_KEY", KEY)]);
    enabled(b.resolve());
}

#[test]
fn local_from_builder_beats_url_from_env() {
    let b = env(&[("OPIK_URL_OVERRIDE", "http://localhost:5173/api")]).local(true);
    local(b.resolve());
    // ...but not a URL given in code too.
    let b = env(&[]).url("http://localhost:5173/api").local(true);
    enabled(b.resolve());
}

// ---- URL -----------------------------------------------------------------------------------

#[test]
fn url_is_normalized() {
    let cases = [
        ("http://127.0.0.1:4000/api/", "http://127.0.0.1:4000/api"),
        ("http://127.0.0.1:4000/api", "http://127.0.0.1:4000/api"),
        ("HTTP://LocalHost:80/api//", "http://localhost/api"),
        ("https://www.comet.com:443/opik/api/", CLOUD_URL),
        ("  https://example.com  ", "https://example.com"),
        ("http://[::1]:5173/api/", "http://[::1]:5173/api"),
    ];
    for (raw, expected) in cases {
        let config = enabled(env(&[]).url(raw).resolve());
        assert_eq!(config.base_url(), expected, "{raw}");
    }
}

#[test]
fn endpoint_appends_path() {
    let config = enabled(env(&[]).url("http://127.0.0.1:4000/api/").resolve());
    assert_eq!(
        config.endpoint("/v1/private/traces/batch"),
        "http://127.0.0.1:4000/api/v1/private/traces/batch"
    );
    assert_eq!(
        config.endpoint("v1/private/spans/batch"),
        "http://127.0.0.1:4000/api/v1/private/spans/batch"
    );
}

#[test]
fn invalid_scheme_error_matches_documented_message() {
    let e = error(env(&[("OPIK_URL_OVERRIDE", "htp://x")]).resolve());
    assert_eq!(e.kind(), ErrorKind::InvalidUrl);
    assert_eq!(e.setting(), "url_override");
    assert_eq!(e.value(), Some("htp://x"));
    assert_eq!(e.origin(), &Origin::Env("OPIK_URL_OVERRIDE"));
    assert_eq!(
        e.to_string(),
        "opik config: url_override from OPIK_URL_OVERRIDE is \"htp://x\": not an http(s) URL. \
         Set it to your Opik API base, e.g. \"http://localhost:5173/api\" (self-hosted) or \
         \"https://www.comet.com/opik/api\" (cloud)."
    );
}

#[test]
fn url_without_scheme_suggests_http() {
    for raw in ["localhost:5173/api", "opik.internal/api"] {
        let e = error(env(&[]).url(raw).resolve());
        assert_eq!(e.kind(), ErrorKind::InvalidUrl);
        assert_eq!(e.origin(), &Origin::Builder("url"));
        assert!(e.problem().contains(&format!("http://{raw}")), "{raw}: {e}");
    }
}

#[test]
fn unparsable_url_is_an_error() {
    for raw in ["http://", "http://exa mple.com/api", "https://[::1/api"] {
        let e = error(env(&[]).url(raw).resolve());
        assert_eq!(e.kind(), ErrorKind::InvalidUrl, "{raw}");
        assert_eq!(e.value(), Some(raw));
    }
}

#[test]
fn url_with_query_or_fragment_is_an_error() {
    for raw in [
        "http://localhost:5173/api?x=1",
        "http://localhost:5173/api#top",
    ] {
        let e = error(env(&[]).url(raw).resolve());
        assert_eq!(e.kind(), ErrorKind::InvalidUrl, "{raw}");
        assert!(e.problem().contains("query or fragment"), "{e}");
    }
}

#[test]
fn url_credentials_are_rejected_and_masked() {
    let e = error(env(&[]).url("http://user:hunter2@localhost/api").resolve());
    assert_eq!(e.kind(), ErrorKind::InvalidUrl);
    assert!(!e.to_string().contains("hunter2"), "{e}");
    assert!(e.value().is_some_and(|v| v.contains("REDACTED")), "{e}");
}

#[test]
fn blank_url_and_key_count_as_unset() {
    // An empty builder value falls through to the environment...
    let config = enabled(
        env(&[("OPIK_URL_OVERRIDE", "http://localhost:5173/api")])
            .url("")
            .api_key("  ")
            .resolve(),
    );
    assert_eq!(config.base_url(), "http://localhost:5173/api");
    assert!(config.api_key().is_none());
    // ...and empty values everywhere mean nothing is configured.
    let b = env(&[("OPIK_URL_OVERRIDE", ""), ("OPIK_API_KEY", "")]).url("");
    assert_eq!(disabled(b.resolve()), DisabledReason::NothingConfigured);
}

// ---- transport -----------------------------------------------------------------------------

#[test]
fn api_key_over_plain_http_to_remote_host_is_an_error() {
    let e = error(
        env(&[
            ("OPIK_URL_OVERRIDE", "http://opik.example.com/api"),
            ("OPIK_API_KEY", KEY),
        ])
        .resolve(),
    );
    assert_eq!(e.kind(), ErrorKind::InsecureTransport);
    assert_eq!(e.setting(), "url_override");
    assert_eq!(e.value(), Some("http://opik.example.com/api"));
    let text = e.to_string();
    assert!(text.contains("https://"), "{text}");
    assert!(text.contains("OPIK_API_KEY"), "{text}");
    for host in ["10.0.0.5", "192.168.1.10:5173", "[fe80::1]"] {
        let url = format!("http://{host}/api");
        let e = error(env(&[]).url(url.as_str()).api_key(KEY).resolve());
        assert_eq!(e.kind(), ErrorKind::InsecureTransport, "{host}");
    }
}

#[test]
fn api_key_over_http_to_loopback_or_https_is_fine() {
    for url in [
        "http://localhost:5173/api",
        "http://127.0.0.9:8080/api",
        "http://[::1]:5173/api",
        "https://opik.example.com/api",
    ] {
        let config = enabled(env(&[]).url(url).api_key(KEY).resolve());
        assert!(config.api_key().is_some(), "{url}");
    }
}

#[test]
fn allow_http_api_key_lifts_the_transport_check() {
    let b = env(&[])
        .url("http://opik.internal:5173/api")
        .api_key(KEY)
        .allow_http_api_key(true);
    enabled(b.resolve());
}

// ---- names ---------------------------------------------------------------------------------

#[test]
fn blank_project_name_is_an_error() {
    let e = error(env(&[("OPIK_API_KEY", KEY)]).project_name("").resolve());
    assert_eq!(e.kind(), ErrorKind::Blank);
    assert_eq!(e.setting(), "project_name");
    assert_eq!(e.origin(), &Origin::Builder("project_name"));
    assert_eq!(e.value(), Some(""));

    let e = error(env(&[("OPIK_API_KEY", KEY), ("OPIK_PROJECT_NAME", " \t\n")]).resolve());
    assert_eq!(e.origin(), &Origin::Env("OPIK_PROJECT_NAME"));
    assert_eq!(e.value(), Some(" \t\n"));
    assert!(e.to_string().contains(r#"" \t\n""#), "{e}");

    let file = TempFile::new("[opik]\nproject_name =\nurl_override = http://localhost/api\n");
    let e = error(env(&[]).config_file(file.path()).resolve());
    assert_eq!(e.setting(), "project_name");
    assert_eq!(
        e.origin(),
        &Origin::File {
            path: file.path().to_path_buf(),
            key: "project_name"
        }
    );
    assert!(e.to_string().contains(&file.path_str()), "{e}");
}

#[test]
fn blank_workspace_is_an_error() {
    let e = error(env(&[("OPIK_API_KEY", KEY), ("OPIK_WORKSPACE", "   ")]).resolve());
    assert_eq!(e.kind(), ErrorKind::Blank);
    assert_eq!(e.setting(), "workspace");
    assert_eq!(e.value(), Some("   "));
}

#[test]
fn names_keep_inner_and_surrounding_spaces() {
    // Opik's pattern allows surrounding whitespace; we send the name exactly as given.
    let config = enabled(
        env(&[("OPIK_URL_OVERRIDE", "http://localhost/api")])
            .project_name(" My Project ")
            .resolve(),
    );
    assert_eq!(config.project_name(), " My Project ");
}

#[test]
fn quoted_env_value_is_an_error() {
    // docker --env-file keeps quotes literally.
    let e = error(
        env(&[
            ("OPIK_URL_OVERRIDE", "http://localhost/api"),
            ("OPIK_PROJECT_NAME", "\"my project\""),
        ])
        .resolve(),
    );
    assert_eq!(e.kind(), ErrorKind::Quoted);
    assert_eq!(e.setting(), "project_name");
    // In code, quotes are deliberate.
    let config = enabled(
        env(&[("OPIK_URL_OVERRIDE", "http://localhost/api")])
            .project_name("\"quoted\"")
            .resolve(),
    );
    assert_eq!(config.project_name(), "\"quoted\"");
}

// ---- precedence ----------------------------------------------------------------------------

#[test]
fn precedence_builder_over_env_over_file_over_default() {
    let file = TempFile::new(
        "[opik]\n\
         url_override = http://127.0.0.1:1/api\n\
         api_key = file-key\n\
         workspace = file-ws\n\
         project_name = file-project\n",
    );
    let path = file.path_str();

    // File only.
    let config = enabled(env(&[("OPIK_CONFIG_PATH", &path)]).resolve());
    assert_eq!(config.base_url(), "http://127.0.0.1:1/api");
    assert_eq!(config.api_key().map(ApiKey::expose), Some("file-key"));
    assert_eq!(config.workspace(), "file-ws");
    assert_eq!(config.project_name(), "file-project");
    assert_eq!(
        config.url_origin(),
        Some(&Origin::File {
            path: file.path().to_path_buf(),
            key: "url_override"
        })
    );

    // Env beats file.
    let b = env(&[
        ("OPIK_CONFIG_PATH", &path),
        ("OPIK_URL_OVERRIDE", "http://127.0.0.2:2/api"),
        ("OPIK_API_KEY", "env-key"),
        ("OPIK_WORKSPACE", "env-ws"),
        ("OPIK_PROJECT_NAME", "env-project"),
    ]);
    let config = enabled(b.clone().resolve());
    assert_eq!(config.base_url(), "http://127.0.0.2:2/api");
    assert_eq!(config.api_key().map(ApiKey::expose), Some("env-key"));
    assert_eq!(config.workspace(), "env-ws");
    assert_eq!(config.project_name(), "env-project");

    // Builder beats env.
    let config = enabled(
        b.url("http://127.0.0.3:3/api")
            .api_key("builder-key")
            .workspace("builder-ws")
            .project_name("builder-project")
            .resolve(),
    );
    assert_eq!(config.base_url(), "http://127.0.0.3:3/api");
    assert_eq!(config.api_key().map(ApiKey::expose), Some("builder-key"));
    assert_eq!(config.workspace(), "builder-ws");
    assert_eq!(config.project_name(), "builder-project");
    assert_eq!(config.url_origin(), Some(&Origin::Builder("url")));

    // Mixed: each setting independently takes its strongest source.
    let config = enabled(
        env(&[("OPIK_CONFIG_PATH", &path), ("OPIK_WORKSPACE", "env-ws")])
            .project_name("builder-project")
            .resolve(),
    );
    assert_eq!(config.base_url(), "http://127.0.0.1:1/api");
    assert_eq!(config.workspace(), "env-ws");
    assert_eq!(config.project_name(), "builder-project");
}

#[test]
fn builder_config_file_beats_opik_config_path() {
    let from_env = TempFile::new("[opik]\nurl_override = http://env-file.localhost/api\n");
    let from_builder = TempFile::new("[opik]\nurl_override = http://builder-file.localhost/api\n");
    let config = enabled(
        env(&[("OPIK_CONFIG_PATH", &from_env.path_str())])
            .config_file(from_builder.path())
            .resolve(),
    );
    assert_eq!(config.base_url(), "http://builder-file.localhost/api");
}

// ---- knobs ---------------------------------------------------------------------------------

#[test]
fn knob_defaults() {
    let config = enabled(env(&[]).url("http://localhost/api").resolve());
    assert_eq!(config.queue_capacity(), 16_384);
    assert_eq!(config.batch_max_items(), 1000);
    assert_eq!(config.batch_max_bytes(), 4 * 1024 * 1024);
    assert_eq!(config.flush_interval(), Duration::from_millis(500));
    assert_eq!(config.shutdown_timeout(), Duration::from_secs(2));
    assert_eq!(config.request_timeout(), Duration::from_secs(10));
    assert_eq!(config.connect_timeout(), Duration::from_secs(3));
    assert_eq!(config.long_span_threshold(), Some(Duration::from_secs(5)));
    assert_eq!(config.max_retries(), 5);
    assert_eq!(config.retry_deadline(), Duration::from_secs(30));
}

#[test]
fn knob_setters() {
    let config = enabled(
        env(&[])
            .url("http://localhost/api")
            .queue_capacity(8)
            .batch_max_items(1)
            .batch_max_bytes(64 * 1024)
            .flush_interval(Duration::from_millis(1))
            .shutdown_timeout(Duration::ZERO)
            .request_timeout(Duration::from_secs(1))
            .connect_timeout(Duration::from_millis(100))
            .long_span_threshold(None)
            .max_retries(0)
            .retry_deadline(Duration::from_millis(10))
            .resolve(),
    );
    assert_eq!(config.queue_capacity(), 8);
    assert_eq!(config.batch_max_items(), 1);
    assert_eq!(config.batch_max_bytes(), 64 * 1024);
    assert_eq!(config.flush_interval(), Duration::from_millis(1));
    assert_eq!(config.shutdown_timeout(), Duration::ZERO);
    assert_eq!(config.request_timeout(), Duration::from_secs(1));
    assert_eq!(config.connect_timeout(), Duration::from_millis(100));
    assert_eq!(config.long_span_threshold(), None);
    assert_eq!(config.max_retries(), 0);
    assert_eq!(config.retry_deadline(), Duration::from_millis(10));
}

#[test]
fn retry_knobs_out_of_range_are_errors_naming_them() {
    let base = || env(&[]).url("http://localhost/api");
    let e = base().max_retries(101).resolve().unwrap_err().to_string();
    assert!(e.contains("max_retries") && e.contains("101"), "{e}");
    let e = base()
        .retry_deadline(Duration::ZERO)
        .resolve()
        .unwrap_err()
        .to_string();
    assert!(e.contains("retry_deadline"), "{e}");
}

#[test]
fn knob_out_of_range_errors_show_value_and_range() {
    let base = || env(&[]).url("http://localhost/api");
    let max = usize::MAX.to_string();
    let cases: Vec<(ConfigBuilder, &str, &str, &str)> = vec![
        (
            base().queue_capacity(0),
            "queue_capacity",
            "0",
            "1..=16777216",
        ),
        (
            base().queue_capacity(usize::MAX),
            "queue_capacity",
            &max,
            "1..=16777216",
        ),
        (
            base().batch_max_items(0),
            "batch_max_items",
            "0",
            "1..=1000",
        ),
        (
            base().batch_max_items(1001),
            "batch_max_items",
            "1001",
            "1..=1000",
        ),
        (
            base().batch_max_bytes(65_535),
            "batch_max_bytes",
            "65535",
            ">= 65536",
        ),
        (
            base().flush_interval(Duration::ZERO),
            "flush_interval",
            "0s",
            "greater than zero",
        ),
        (
            base().request_timeout(Duration::ZERO),
            "request_timeout",
            "0s",
            "greater than zero",
        ),
        (
            base().connect_timeout(Duration::ZERO),
            "connect_timeout",
            "0s",
            "greater than zero",
        ),
    ];
    for (builder, setting, value, range) in cases {
        let e = error(builder.resolve());
        assert_eq!(e.kind(), ErrorKind::OutOfRange, "{setting}");
        assert_eq!(e.setting(), setting);
        assert_eq!(e.origin(), &Origin::Builder(setting));
        assert_eq!(e.value(), Some(value), "{setting}");
        let text = e.to_string();
        assert!(text.contains(range), "{text}");
        assert!(
            text.contains(&format!("ConfigBuilder::{setting}()")),
            "{text}"
        );
    }
}

// ---- config file ---------------------------------------------------------------------------

#[test]
fn default_file_is_read_from_home() {
    let home = TempHome::new(Some("[opik]\nurl_override = http://localhost:5173/api/\n"));
    let config = enabled(env(&[("HOME", &home.path_str())]).resolve());
    assert_eq!(config.base_url(), "http://localhost:5173/api");
}

#[test]
fn missing_default_file_is_fine() {
    let home = TempHome::new(None);
    let b = env(&[("HOME", &home.path_str()), ("OPIK_API_KEY", KEY)]);
    assert_eq!(enabled(b.resolve()).base_url(), CLOUD_URL);
}

#[test]
fn explicit_missing_file_is_an_error() {
    let missing = std::env::temp_dir().join("opik-config-test-definitely-missing.ini");
    let e = error(env(&[]).config_file(&missing).resolve());
    assert_eq!(e.kind(), ErrorKind::FileUnreadable);
    assert_eq!(e.setting(), "config_file");
    assert_eq!(e.origin(), &Origin::Builder("config_file"));
    assert_eq!(e.value(), Some(missing.display().to_string().as_str()));

    let path = missing.display().to_string();
    let e = error(env(&[("OPIK_CONFIG_PATH", &path)]).resolve());
    assert_eq!(e.kind(), ErrorKind::FileUnreadable);
    assert_eq!(e.origin(), &Origin::Env("OPIK_CONFIG_PATH"));
    let text = e.to_string();
    assert!(text.contains(&path), "{text}");
    assert!(text.contains("OPIK_CONFIG_PATH"), "{text}");
}

#[test]
fn directory_as_config_file_is_an_error() {
    let home = TempHome::new(None);
    let e = error(env(&[]).config_file(&home.0).resolve());
    assert_eq!(e.kind(), ErrorKind::FileUnreadable);
}

#[test]
fn blank_opik_config_path_uses_default() {
    let home = TempHome::new(Some("[opik]\nurl_override = http://localhost:1/api\n"));
    let b = env(&[("HOME", &home.path_str()), ("OPIK_CONFIG_PATH", "  ")]);
    assert_eq!(enabled(b.resolve()).base_url(), "http://localhost:1/api");
}

#[test]
fn opik_config_path_expands_tilde() {
    let home = TempHome::new(None);
    std::fs::write(
        home.0.join("custom.ini"),
        "[opik]\nurl_override = http://localhost:2/api\n",
    )
    .expect("write");
    let b = env(&[
        ("HOME", &home.path_str()),
        ("OPIK_CONFIG_PATH", "~/custom.ini"),
    ]);
    assert_eq!(enabled(b.resolve()).base_url(), "http://localhost:2/api");
}

#[test]
fn unparsable_file_is_an_error_naming_the_path() {
    let file = TempFile::new("[opik\nurl_override = http://localhost/api\n");
    let e = error(env(&[]).config_file(file.path()).resolve());
    assert_eq!(e.kind(), ErrorKind::FileUnparsable);
    assert_eq!(e.setting(), "config_file");
    assert!(e.to_string().contains(&file.path_str()), "{e}");
    assert!(e.problem().contains("line"), "{e}");

    let file = TempFile::new(b"[opik]\nproject_name = \xff\xfe\n".as_slice());
    let e = error(env(&[]).config_file(file.path()).resolve());
    assert_eq!(e.kind(), ErrorKind::FileUnparsable);
    assert!(e.problem().contains("UTF-8"), "{e}");
}

#[test]
fn file_parsing_reads_the_opik_section_like_configparser() {
    let file = TempFile::new(
        "\u{feff}; written by opik configure\n\
         [other]\n\
         url_override = http://wrong.example.com/api\n\
         \n\
         [opik]\n\
         # comment\n\
         URL_Override = http://localhost:5173/api\n\
         workspace: my-ws\n\
         project_name = a=b # not a comment\n\
         background_workers = 8\n",
    );
    let config = enabled(env(&[]).config_file(file.path()).resolve());
    assert_eq!(config.base_url(), "http://localhost:5173/api");
    assert_eq!(config.workspace(), "my-ws");
    assert_eq!(config.project_name(), "a=b # not a comment");
}

#[test]
fn file_without_opik_section_configures_nothing() {
    let file = TempFile::new("[comet]\napi_key = x\n");
    let b = env(&[]).config_file(file.path());
    assert_eq!(disabled(b.resolve()), DisabledReason::NothingConfigured);
}

#[test]
fn file_default_section_fills_gaps() {
    let file = TempFile::new(
        "[DEFAULT]\nworkspace = from-default\nproject_name = ignored\n\
         [opik]\nurl_override = http://localhost/api\nproject_name = from-opik\n",
    );
    let config = enabled(env(&[]).config_file(file.path()).resolve());
    assert_eq!(config.workspace(), "from-default");
    assert_eq!(config.project_name(), "from-opik");
}

#[test]
fn file_duplicate_key_or_section_is_an_error() {
    let file = TempFile::new("[opik]\nworkspace = a\nWorkspace = b\n");
    let e = error(env(&[]).config_file(file.path()).resolve());
    assert_eq!(e.kind(), ErrorKind::FileUnparsable);
    assert!(e.problem().contains("workspace appears twice"), "{e}");

    let file = TempFile::new("[opik]\nworkspace = a\n[opik]\nproject_name = b\n");
    let e = error(env(&[]).config_file(file.path()).resolve());
    assert!(e.problem().contains("[opik] appears twice"), "{e}");
}

#[test]
fn file_empty_api_key_means_no_key() {
    // Older `opik configure` wrote `api_key =` for self-hosted installs.
    let file = TempFile::new("[opik]\nurl_override = http://localhost:5173/api\napi_key =\n");
    let config = enabled(env(&[]).config_file(file.path()).resolve());
    assert!(config.api_key().is_none());
}

#[test]
fn file_quoted_key_is_an_error_without_the_key() {
    let file = TempFile::new(format!("[opik]\napi_key = \"{KEY}\"\n"));
    let e = error(env(&[]).config_file(file.path()).resolve());
    assert_eq!(e.kind(), ErrorKind::Quoted);
    assert_eq!(e.setting(), "api_key");
    assert_eq!(e.value(), None);
    assert!(e.to_string().contains("<redacted>"), "{e}");
}

#[test]
fn invalid_bool_in_file_names_the_file() {
    let file = TempFile::new("[opik]\ntrack_disable = maybe\n");
    let e = error(env(&[]).config_file(file.path()).resolve());
    assert_eq!(e.kind(), ErrorKind::InvalidBool);
    assert!(matches!(
        e.origin(),
        Origin::File {
            key: "track_disable",
            ..
        }
    ));
}

// ---- API key -------------------------------------------------------------------------------

#[test]
fn api_key_is_trimmed() {
    let config = enabled(env(&[("OPIK_API_KEY", " abc \n")]).resolve());
    assert_eq!(config.api_key().map(ApiKey::expose), Some("abc"));
}

#[test]
fn api_key_with_inner_whitespace_is_an_error() {
    let e = error(env(&[]).api_key("sk-SECRET-7f3a9c part2").resolve());
    assert_eq!(e.kind(), ErrorKind::InvalidApiKey);
    assert_eq!(e.setting(), "api_key");
    assert_eq!(e.value(), None);
}

#[test]
fn enhanced_key_sets_url_from_its_base_url() {
    // base64 of {"baseUrl":"https://comet.example.com/"}
    let key = "abc*eyJiYXNlVXJsIjoiaHR0cHM6Ly9jb21ldC5leGFtcGxlLmNvbS8ifQ==";
    let config = enabled(env(&[("OPIK_API_KEY", key)]).resolve());
    assert_eq!(config.base_url(), "https://comet.example.com/opik/api");
    assert_eq!(config.url_origin(), Some(&Origin::ApiKeyBaseUrl));
    // The whole key is sent, as the Python SDK does.
    assert_eq!(config.api_key().map(ApiKey::expose), Some(key));
    // An explicit URL wins over the embedded one.
    let config = enabled(
        env(&[("OPIK_API_KEY", key)])
            .url("https://other.example.com/api")
            .resolve(),
    );
    assert_eq!(config.base_url(), "https://other.example.com/api");
}

#[test]
fn enhanced_key_without_base_url_goes_to_cloud() {
    // base64 of {"other":1}
    let config = enabled(env(&[("OPIK_API_KEY", "abc*eyJvdGhlciI6MX0=")]).resolve());
    assert_eq!(config.base_url(), CLOUD_URL);
    // A dangling '*' is dropped from the key, as in the Python SDK.
    let config = enabled(env(&[("OPIK_API_KEY", "abc*")]).resolve());
    assert_eq!(config.api_key().map(ApiKey::expose), Some("abc"));
}

#[test]
fn corrupt_enhanced_key_is_an_error_without_the_key() {
    let e = error(env(&[("OPIK_API_KEY", "sk-SECRET-7f3a9c*@@notbase64")]).resolve());
    assert_eq!(e.kind(), ErrorKind::InvalidApiKey);
    assert_eq!(e.value(), None);
    assert_eq!(e.origin(), &Origin::Env("OPIK_API_KEY"));
}

#[test]
fn api_key_never_appears_in_output() {
    let file = TempFile::new(format!("[opik]\napi_key = {KEY}\n"));
    let builder = env(&[("OPIK_CONFIG_PATH", &file.path_str())]).api_key(KEY);
    assert_no_key(&format!("{builder:?}"));

    let resolved = builder.resolve().expect("valid");
    assert_no_key(&format!("{resolved:?}"));
    let config = resolved.into_config().expect("enabled");
    assert_no_key(&format!("{config:?}"));
    assert_no_key(&config.to_string());
    let key = config.api_key().expect("key");
    assert_eq!(format!("{key:?}"), "<redacted>");
    assert_eq!(key.to_string(), "<redacted>");
    assert_eq!(key.expose(), KEY);

    // Errors produced while a key is configured (the `error` helper checks each one).
    error(
        env(&[])
            .url("http://remote.example.com/api")
            .api_key(KEY)
            .resolve(),
    );
    error(env(&[("OPIK_API_KEY", KEY), ("OPIK_PROJECT_NAME", "")]).resolve());
    error(env(&[("OPIK_API_KEY", &format!("'{KEY}'"))]).resolve());
    error(env(&[]).api_key(format!("{KEY}\n{KEY}")).resolve());
    error(env(&[("OPIK_API_KEY", &format!("{KEY}*!!"))]).resolve());
}

// ---- builder -------------------------------------------------------------------------------

#[test]
fn builder_debug_and_defaults() {
    let builder = ConfigBuilder::default();
    let text = format!("{builder:?}");
    assert!(text.contains("env: process"), "{text}");
    let text = format!("{:?}", env(&[]).api_key(KEY));
    assert!(text.contains("env: injected"), "{text}");
    assert!(text.contains("<redacted>"), "{text}");
}

#[test]
fn config_display_names_origins() {
    let config = enabled(env(&[("OPIK_API_KEY", KEY)]).project_name("p").resolve());
    let text = config.to_string();
    assert!(text.contains(CLOUD_URL), "{text}");
    assert!(
        text.contains("api_key=<redacted> (from OPIK_API_KEY)"),
        "{text}"
    );
    assert!(
        text.contains("(from ConfigBuilder::project_name())"),
        "{text}"
    );
    assert!(
        text.contains("workspace=\"default\" (from the default)"),
        "{text}"
    );
}

// ---- proxy ---------------------------------------------------------------------------------

/// The proxy chosen for `url` (with or without a key) under `vars`.
fn proxy_for(url: &str, key: bool, vars: &[(&str, &str)]) -> ProxyChoice {
    let mut b = env(vars).url(url).allow_http_api_key(true);
    if key {
        b = b.api_key(KEY);
    }
    enabled(b.resolve()).proxy().clone()
}

/// The variable a proxy was taken from, or why none is used.
fn proxy_var(choice: &ProxyChoice) -> String {
    match choice {
        ProxyChoice::Direct => "direct".to_owned(),
        ProxyChoice::Via(p) => p.var.to_owned(),
        ProxyChoice::Ignored { var, why } => format!("{var} ignored: {why:?}"),
    }
}

#[test]
fn proxy_variables_apply_per_scheme_lower_case_first() {
    let https = "https://opik.example.com/api";
    let p = "http://proxy.corp:3128";
    let q = "http://other.corp:3128";
    assert_eq!(proxy_var(&proxy_for(https, true, &[])), "direct");
    assert_eq!(
        proxy_var(&proxy_for(https, true, &[("HTTPS_PROXY", p)])),
        "HTTPS_PROXY"
    );
    assert_eq!(
        proxy_var(&proxy_for(
            https,
            true,
            &[("HTTPS_PROXY", q), ("https_proxy", p)]
        )),
        "https_proxy"
    );
    assert_eq!(
        proxy_var(&proxy_for(https, true, &[("ALL_PROXY", p)])),
        "ALL_PROXY"
    );
    assert_eq!(
        proxy_var(&proxy_for(
            https,
            true,
            &[("all_proxy", q), ("HTTPS_PROXY", p)]
        )),
        "HTTPS_PROXY",
        "the scheme's own variable beats ALL_PROXY"
    );
    assert_eq!(
        proxy_var(&proxy_for(https, true, &[("HTTP_PROXY", p)])),
        "direct",
        "HTTP_PROXY is for http:// URLs"
    );
    assert_eq!(
        proxy_var(&proxy_for(https, true, &[("HTTPS_PROXY", " ")])),
        "direct",
        "blank is unset"
    );
    match proxy_for(https, true, &[("HTTPS_PROXY", "proxy.corp:3128")]) {
        ProxyChoice::Via(v) => assert_eq!(v.url.as_str(), "http://proxy.corp:3128/"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn proxies_are_never_used_for_loopback_or_a_key_over_plain_http() {
    let p = "http://proxy.corp:3128";
    let all = [("HTTP_PROXY", p), ("HTTPS_PROXY", p), ("ALL_PROXY", p)];
    for url in [
        "http://localhost:5173/api",
        "http://127.0.0.1:8080/api",
        "https://localhost/api",
        "http://[::1]:8080/api",
    ] {
        for key in [false, true] {
            assert!(
                proxy_var(&proxy_for(url, key, &all)).ends_with("ignored: Loopback"),
                "{url}"
            );
        }
    }
    let http = "http://opik.internal:8080/api";
    assert_eq!(
        proxy_var(&proxy_for(http, true, &all)),
        "HTTP_PROXY ignored: KeyOverPlainHttp"
    );
    assert_eq!(proxy_var(&proxy_for(http, false, &all)), "HTTP_PROXY");
    // Under CGI, HTTP_PROXY may come from a request header: only the lower-case one counts.
    assert_eq!(
        proxy_var(&proxy_for(
            http,
            false,
            &[("HTTP_PROXY", p), ("REQUEST_METHOD", "GET")]
        )),
        "direct"
    );
    assert_eq!(
        proxy_var(&proxy_for(
            http,
            false,
            &[("http_proxy", p), ("REQUEST_METHOD", "GET")]
        )),
        "http_proxy"
    );
}

#[test]
fn no_proxy_and_unusable_proxies_mean_direct() {
    let https = "https://opik.example.com/api";
    let p = "http://proxy.corp:3128";
    assert_eq!(
        proxy_var(&proxy_for(
            https,
            true,
            &[("HTTPS_PROXY", p), ("NO_PROXY", "example.com")]
        )),
        "HTTPS_PROXY ignored: NoProxy(\"NO_PROXY\")"
    );
    assert_eq!(
        proxy_var(&proxy_for(
            https,
            true,
            &[("HTTPS_PROXY", p), ("no_proxy", "other.com")]
        )),
        "HTTPS_PROXY"
    );
    let socks = proxy_var(&proxy_for(
        https,
        true,
        &[("HTTPS_PROXY", "socks5://proxy.corp:1080")],
    ));
    assert!(socks.contains("not supported"), "{socks}");
}

#[test]
fn a_proxy_password_is_not_shown_by_the_config() {
    let config = enabled(
        env(&[("HTTPS_PROXY", "http://me:hunter2@proxy.corp:3128")])
            .url("https://opik.example.com/api")
            .api_key(KEY)
            .resolve(),
    );
    let text = format!("{config} {config:?}");
    assert!(!text.contains("hunter2"), "{text}");
    assert!(
        text.contains("proxy=http://***@proxy.corp:3128/ (from HTTPS_PROXY)"),
        "{text}"
    );
    assert_no_key(&text);
}

#[test]
fn prompt_cache_ttl_comes_from_code_then_the_python_variable_then_the_default() {
    let url = ("OPIK_URL_OVERRIDE", "http://localhost:5173/api");
    let ttl = |b: ConfigBuilder| enabled(b.resolve()).prompt_cache_ttl();
    assert_eq!(ttl(env(&[url])), Duration::from_secs(300));
    let from_env = [url, ("OPIK_PROMPT_CACHE_TTL_SECONDS", " 42 ")];
    assert_eq!(ttl(env(&from_env)), Duration::from_secs(42));
    // Code beats the environment, even when it sets the default value.
    assert_eq!(
        ttl(env(&from_env).prompt_cache_ttl(Duration::from_secs(300))),
        Duration::from_secs(300)
    );
    // The Python SDK's whole seconds, and this SDK's other duration forms, are read; a value
    // that is no duration, or zero, is refused naming the variable.
    let read = [url, ("OPIK_PROMPT_CACHE_TTL_SECONDS", "1.5")];
    assert_eq!(ttl(env(&read)), Duration::from_millis(1500));
    for (bad, kind, shown) in [
        ("0", ErrorKind::OutOfRange, "0s"),
        ("-3", ErrorKind::InvalidValue, "-3"),
        ("soon", ErrorKind::InvalidValue, "soon"),
    ] {
        let e = error(env(&[url, ("OPIK_PROMPT_CACHE_TTL_SECONDS", bad)]).resolve());
        assert_eq!(
            (e.kind(), e.setting(), e.value()),
            (kind, "prompt_cache_ttl", Some(shown))
        );
        assert!(
            e.to_string().contains("OPIK_PROMPT_CACHE_TTL_SECONDS"),
            "{e}"
        );
    }
    let zero = error(env(&[url]).prompt_cache_ttl(Duration::ZERO).resolve());
    assert_eq!(zero.setting(), "prompt_cache_ttl");
}
