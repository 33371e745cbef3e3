//! Tests for the knobs read from the environment and `~/.opik.config`: each knob from each
//! place it can be set, the precedence, the errors, and that the file takes only keys the
//! Python SDK also reads. Every test injects its environment.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::*;

const URL: &str = "http://localhost:5173/api";

/// Each knob: the text written in the environment or the file, and the value shown after.
/// `every_knob_has_a_case` fails when a knob is added without one.
const CASES: &[(&str, &str, &str)] = &[
    ("queue_capacity", "8", "8"),
    ("batch_max_items", "10", "10"),
    ("batch_max_bytes", "65536", "65536"),
    ("flush_interval", "0.25", "250ms"),
    ("shutdown_timeout", "10", "10s"),
    ("request_timeout", "20", "20s"),
    ("connect_timeout", "1.5", "1s 500ms"),
    ("long_span_threshold", "false", "never"),
    ("max_retries", "0", "0"),
    ("retry_deadline", "1m", "1m"),
    ("backoff_base", "50ms", "50ms"),
    ("backoff_max", "20s", "20s"),
    ("rate_limit_max_wait", "5", "5s"),
    ("outage_quiet_period", "0", "0s"),
    ("max_record_bytes", "3", "3145728"),
    ("max_buffered_bytes", "2097152", "2097152"),
    ("max_stream_output_bytes", "1024", "1024"),
    ("max_concurrent_uploads", "16", "16"),
    ("upload_timeout", "60", "1m"),
    ("extract_attachments", "false", "false"),
    ("min_base64_attachment_size", "2048", "2048"),
    ("prompt_cache_ttl", "42", "42s"),
    ("enable_json_request_compression", "no", "false"),
    ("request_compression_level", "9", "9"),
    ("check_tls_certificate", "0", "false"),
];

/// The fields of the Python SDK's `OpikConfig` (opik 2.2): a key in `[opik]` that is not one
/// of these makes it refuse to start ("Extra inputs are not permitted").
const PYTHON_FIELDS: &[&str] = &[
    "analytics_enable",
    "analytics_url",
    "api_key",
    "background_workers",
    "check_tls_certificate",
    "connection_monitor_check_timeout",
    "connection_monitor_ping_interval",
    "console_logging_level",
    "dataset_upload_compression_level",
    "default_flush_timeout",
    "default_llm",
    "enable_json_request_compression",
    "enable_litellm_models_monitoring",
    "environment",
    "experiment_upload_compression_level",
    "file_logging_level",
    "file_upload_background_workers",
    "guardrail_timeout",
    "guardrails_url_override",
    "is_attachment_extraction_active",
    "log_start_trace_span",
    "logging_file",
    "max_payload_size_mb",
    "maximal_queue_size",
    "maximal_queue_size_batch_factor",
    "min_base64_embedded_attachment_size",
    "project_name",
    "prompt_cache_ttl_seconds",
    "pytest_experiment_enabled",
    "replay_batch_replay_delay",
    "replay_batch_size",
    "replay_tick_interval",
    "request_compression_level",
    "runner_poll_interval",
    "sentry_dsn",
    "sentry_enable",
    "suppress_batching_update_warning",
    "track_disable",
    "unauthorized_message_type_max_retry_count",
    "unauthorized_message_type_retry_interval",
    "url_override",
    "workspace",
];

fn env(vars: &[(&str, &str)]) -> ConfigBuilder {
    ConfigBuilder::with_env_map(
        vars.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<Vec<_>>(),
    )
}

fn enabled(builder: ConfigBuilder) -> Config {
    match builder.resolve() {
        Ok(Resolved::Enabled(config)) => config,
        other => panic!("expected Enabled, got {other:?}"),
    }
}

fn row(config: &Config, name: &str) -> Setting {
    config
        .settings()
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no setting {name}"))
}

/// A config file in the temp dir, removed on drop.
struct File(PathBuf);

impl File {
    fn new(body: &str) -> File {
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "opik-knob-test-{}-{}.ini",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, format!("[opik]\nurl_override = {URL}\n{body}")).unwrap();
        File(path)
    }
}

impl Drop for File {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn knobs() -> Vec<Setting> {
    ExportSettings::default().describe(&KnobOrigins::default())
}

#[test]
fn every_knob_has_a_case() {
    let names: Vec<&str> = knobs().iter().map(|s| s.name).collect();
    let cased: Vec<&str> = CASES.iter().map(|c| c.0).collect();
    assert_eq!(names, cased);
}

#[test]
fn every_knob_is_read_from_its_environment_variable() {
    for &(knob, text, shown) in CASES {
        let var = row(&enabled(env(&[("OPIK_URL_OVERRIDE", URL)])), knob)
            .env
            .expect("every knob has a variable");
        let config = enabled(env(&[("OPIK_URL_OVERRIDE", URL), (var, text)]));
        let s = row(&config, knob);
        assert_eq!(
            (s.value.as_str(), &s.origin),
            (shown, &Origin::Env(var)),
            "{knob}"
        );
    }
}

#[test]
fn the_python_sdks_knobs_are_read_from_the_file() {
    let mut seen = 0;
    for &(knob, text, shown) in CASES {
        let Some(key) = knobs()
            .into_iter()
            .find(|s| s.name == knob)
            .and_then(|s| s.file_key)
        else {
            continue;
        };
        seen += 1;
        let file = File::new(&format!("{key} = {text}\n"));
        let config = enabled(env(&[]).config_file(&file.0));
        let s = row(&config, knob);
        assert_eq!(s.value, shown, "{knob}");
        assert_eq!(
            s.origin,
            Origin::File {
                path: file.0.clone(),
                key
            },
            "{knob}"
        );
    }
    assert_eq!(seen, 10, "the Python SDK's exporter settings");
}

#[test]
fn file_keys_are_all_the_python_sdks_so_it_still_starts() {
    for s in knobs() {
        if let Some(key) = s.file_key {
            assert!(
                PYTHON_FIELDS.contains(&key),
                "{key} would break the Python SDK"
            );
        }
    }
    // The other knobs have no key: a knob of this SDK only in [opik] would stop Python.
    let file = File::new("queue_capacity = 8\n");
    assert_eq!(
        enabled(env(&[]).config_file(&file.0)).queue_capacity(),
        16_384
    );
}

#[test]
fn code_beats_the_environment_which_beats_the_file() {
    let file = File::new("default_flush_timeout = 30\nrequest_compression_level = 3\n");
    let both = || {
        env(&[
            ("OPIK_DEFAULT_FLUSH_TIMEOUT", "20"),
            ("OPIK_CONFIG_PATH", file.0.to_str().unwrap()),
        ])
    };
    let config = enabled(both().shutdown_timeout(Duration::from_secs(10)));
    assert_eq!(config.shutdown_timeout(), Duration::from_secs(10));
    assert_eq!(
        row(&config, "shutdown_timeout").origin,
        Origin::Builder("shutdown_timeout")
    );
    let config = enabled(both());
    assert_eq!(config.shutdown_timeout(), Duration::from_secs(20));
    assert_eq!(
        config.request_compression_level(),
        3,
        "the file still fills the rest"
    );
    let config = enabled(env(&[("OPIK_CONFIG_PATH", file.0.to_str().unwrap())]));
    assert_eq!(config.shutdown_timeout(), Duration::from_secs(30));
    // A blank variable counts as unset, so the file applies.
    let config = enabled(env(&[
        ("OPIK_DEFAULT_FLUSH_TIMEOUT", " "),
        ("OPIK_CONFIG_PATH", file.0.to_str().unwrap()),
    ]));
    assert_eq!(config.shutdown_timeout(), Duration::from_secs(30));
}

#[test]
fn the_python_readings_map_onto_the_knobs() {
    let base = |var, text| enabled(env(&[("OPIK_URL_OVERRIDE", URL), (var, text)]));
    // Whole seconds, <= 0 waits no time.
    let c = base("OPIK_DEFAULT_FLUSH_TIMEOUT", "-1");
    assert_eq!(c.shutdown_timeout(), Duration::ZERO);
    // On: the threshold code set, or the default.
    let c = base("OPIK_LOG_START_TRACE_SPAN", "true");
    assert_eq!(c.long_span_threshold(), Some(Duration::from_secs(5)));
    let c = enabled(
        env(&[
            ("OPIK_URL_OVERRIDE", URL),
            ("OPIK_LOG_START_TRACE_SPAN", "false"),
        ])
        .long_span_threshold(Some(Duration::from_secs(1))),
    );
    assert_eq!(
        c.long_span_threshold(),
        Some(Duration::from_secs(1)),
        "code wins"
    );
    // MB as MiB; <= 0 never truncates.
    assert_eq!(
        base("OPIK_MAX_PAYLOAD_SIZE_MB", "1").max_record_bytes(),
        1 << 20
    );
    assert_eq!(
        base("OPIK_MAX_PAYLOAD_SIZE_MB", "0").max_record_bytes(),
        usize::MAX
    );
    // More upload workers than this SDK runs count as its most.
    let c = base("OPIK_FILE_UPLOAD_BACKGROUND_WORKERS", "100");
    assert_eq!(c.max_concurrent_uploads(), 64);
}

#[test]
fn a_value_that_is_not_one_is_an_error_naming_the_variable_or_key() {
    let e = env(&[
        ("OPIK_URL_OVERRIDE", URL),
        ("OPIK_DEFAULT_FLUSH_TIMEOUT", "soon"),
    ])
    .resolve()
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidValue);
    assert_eq!(e.setting(), "shutdown_timeout");
    assert_eq!(e.origin(), &Origin::Env("OPIK_DEFAULT_FLUSH_TIMEOUT"));
    assert_eq!(e.value(), Some("soon"));
    let text = e.to_string();
    assert!(
        text.contains("OPIK_DEFAULT_FLUSH_TIMEOUT") && text.contains("seconds"),
        "{text}"
    );

    let file = File::new("check_tls_certificate = maybe\n");
    let e = env(&[]).config_file(&file.0).resolve().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidBool);
    assert!(
        e.to_string().contains("[opik] check_tls_certificate"),
        "{e}"
    );
}

#[test]
fn a_value_out_of_range_is_an_error_whose_fix_names_the_place() {
    let e = env(&[
        ("OPIK_URL_OVERRIDE", URL),
        ("OPIK_REQUEST_COMPRESSION_LEVEL", "12"),
    ])
    .resolve()
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OutOfRange);
    assert_eq!(e.setting(), "request_compression_level");
    assert_eq!(e.value(), Some("12"));
    assert!(
        e.fix()
            .starts_with("Set OPIK_REQUEST_COMPRESSION_LEVEL to a value in 0..=9"),
        "{e}"
    );
    let file = File::new("min_base64_embedded_attachment_size = 10\n");
    let e = env(&[]).config_file(&file.0).resolve().unwrap_err();
    assert!(
        e.fix()
            .starts_with("Set min_base64_embedded_attachment_size to"),
        "{e}"
    );
    // backoff_max under a backoff_base from elsewhere names both places.
    let e = env(&[("OPIK_URL_OVERRIDE", URL), ("OPIK_BACKOFF_MAX", "10ms")])
        .backoff_base(Duration::from_millis(50))
        .resolve()
        .unwrap_err();
    assert_eq!(e.origin(), &Origin::Env("OPIK_BACKOFF_MAX"));
    assert!(
        e.to_string().contains("ConfigBuilder::backoff_base()"),
        "{e}"
    );
}

#[test]
fn a_disabled_sdk_does_not_judge_the_environment() {
    let b = env(&[
        ("OPIK_TRACK_DISABLE", "true"),
        ("OPIK_QUEUE_CAPACITY", "lots"),
    ]);
    assert!(matches!(b.resolve(), Ok(Resolved::Disabled(_))));
}

#[test]
fn ssl_cert_file_is_read_from_code_or_the_environment_unless_tls_is_unchecked() {
    let pem = std::env::temp_dir().join(format!("opik-knob-ca-{}.pem", std::process::id()));
    std::fs::write(
        &pem,
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let path = pem.to_str().unwrap();
    let c = enabled(env(&[("OPIK_URL_OVERRIDE", URL), ("SSL_CERT_FILE", path)]));
    assert_eq!(c.ssl_cert_file(), Some(pem.as_path()));
    assert_eq!(
        row(&c, "ssl_cert_file").origin,
        Origin::Env("SSL_CERT_FILE")
    );
    let c = enabled(
        env(&[
            ("OPIK_URL_OVERRIDE", URL),
            ("SSL_CERT_FILE", "/nowhere.pem"),
        ])
        .ssl_cert_file(&pem),
    );
    assert_eq!(
        row(&c, "ssl_cert_file").origin,
        Origin::Builder("ssl_cert_file")
    );
    // Not read at all when the certificate is not checked, as the Python SDK does.
    let c = enabled(env(&[
        ("OPIK_URL_OVERRIDE", URL),
        ("SSL_CERT_FILE", "/nowhere.pem"),
        ("OPIK_CHECK_TLS_CERTIFICATE", "false"),
    ]));
    assert_eq!(c.ssl_cert_file(), None);
    let e = env(&[
        ("OPIK_URL_OVERRIDE", URL),
        ("SSL_CERT_FILE", "/nowhere.pem"),
    ])
    .resolve()
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::CertificateFile);
    assert_eq!(e.origin(), &Origin::Env("SSL_CERT_FILE"));
    // A stale SSL_CERT_FILE does not break an app that never configured Opik.
    let b = env(&[("SSL_CERT_FILE", "/nowhere.pem")]);
    assert!(matches!(
        b.resolve(),
        Ok(Resolved::Disabled(DisabledReason::NothingConfigured))
    ));
    let _ = std::fs::remove_file(&pem);
}

#[test]
fn settings_list_every_setting_with_the_key_masked() {
    let key = "sk-0123456789-SECRET-abcd";
    let c = enabled(env(&[("OPIK_URL_OVERRIDE", URL), ("OPIK_API_KEY", key)]));
    let settings = c.settings();
    let shown = format!("{settings:?}");
    assert!(!shown.contains("SECRET"), "{shown}");
    assert_eq!(row(&c, "api_key").value, "****abcd");
    assert_eq!(
        row(&c, "url_override").origin,
        Origin::Env("OPIK_URL_OVERRIDE")
    );
    assert_eq!(settings.len(), 8 + CASES.len());
}
