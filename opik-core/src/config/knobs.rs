//! The exporter's knobs: each one written once, in the table below, with its type, default,
//! meaning, environment variable and (for the Python SDK's settings) `[opik]` key. The table
//! makes the setting's [`ConfigBuilder`] setter, its [`Config`] getter, its field in
//! [`ExportSettings`] (what the pipe and the exporter read), its reading from the environment
//! and the file ([`ExportSettings::resolve`]: code > environment > file > default) and its row
//! in the healthcheck ([`ExportSettings::describe`]); [`ExportSettings::check`] is the one place
//! their bounds are checked, when [`ConfigBuilder::resolve`] runs. So a setting cannot reach the
//! exporter unchecked, and a name or default cannot differ between places.

use super::error::{ConfigError, ErrorKind, Origin};
use super::knob_text::{
    flush_timeout_seconds, payload_megabytes, start_records_switch, upload_workers, Parser, Show,
    Text,
};
use super::sources::{Env, FileValues};
use super::{Config, ConfigBuilder, Setting};
use std::time::Duration;

/// Upper bound for [`ConfigBuilder::queue_capacity`]: a bounded queue allocates its slots up
/// front, so an absurd capacity would abort the process instead of buffering.
pub const MAX_QUEUE_CAPACITY: usize = 1 << 24;
/// The most items one batch request may carry: Opik's batch limit.
pub const MAX_BATCH_ITEMS: usize = 1000;
/// Smallest allowed [`ConfigBuilder::batch_max_bytes`]: below this, one ordinary span with a
/// prompt no longer fits, and batching degenerates into a request per record.
pub const MIN_BATCH_MAX_BYTES: usize = 64 * 1024;
/// Upper bound for [`ConfigBuilder::max_retries`].
pub const MAX_MAX_RETRIES: u32 = 100;

/// The most attachments uploaded at once ([`ConfigBuilder::max_concurrent_uploads`]).
pub(crate) const MAX_CONCURRENT_UPLOADS: usize = 64;

/// `None`, or the knob's `[opik]` key.
macro_rules! file_key {
    () => {
        None
    };
    ($file:literal) => {
        Some($file)
    };
}

/// The knob's own reading, or its type's.
macro_rules! parser {
    ($ty:ty) => {
        <$ty as Text>::parse as Parser<$ty>
    };
    ($ty:ty, $parse:path) => {
        $parse as Parser<$ty>
    };
}

/// One line per knob: `name: Type = default, env "VAR" [, file "key"] [, as reading];`. The
/// environment variable is `OPIK_` and the key upper-cased, as pydantic names the Python SDK's
/// (a test checks it). Only knobs the Python SDK also has take a `file` key: the Python SDK
/// refuses to start on any other key in `[opik]`, so a key of this SDK's own would break a
/// Python program sharing the file. `as` names the reading of a Python setting whose unit
/// differs from the knob's (`knob_text`).
macro_rules! knobs {
    ($(
        $(#[doc = $doc:literal])*
        $name:ident: $ty:ty = $default:expr, env $env:literal $(, file $file:literal)? $(, as $parse:path)?;
    )*) => {
        /// The exporter's settings, as checked by [`ConfigBuilder::resolve`]; read through the
        /// getters of [`Config`].
        #[derive(Clone, Debug, PartialEq)]
        pub(crate) struct ExportSettings {
            $( pub(crate) $name: $ty, )*
        }

        impl Default for ExportSettings {
            fn default() -> Self {
                ExportSettings { $( $name: $default, )* }
            }
        }

        /// The knobs code set on a [`ConfigBuilder`]; the others come from the environment,
        /// the file or the default.
        #[derive(Clone, Debug, Default, PartialEq)]
        pub(crate) struct KnobsSet {
            $( $name: Option<$ty>, )*
        }

        /// Where each knob's value came from.
        #[derive(Clone, Debug, PartialEq)]
        pub(crate) struct KnobOrigins {
            $( $name: Origin, )*
        }

        impl Default for KnobOrigins {
            fn default() -> Self {
                KnobOrigins { $( $name: Origin::Default, )* }
            }
        }

        /// The `[opik]` keys of the knobs (all of them the Python SDK's).
        pub(crate) const KNOB_FILE_KEYS: &[&str] = &[$($($file,)?)*];

        /// The knob an environment variable sets, for errors about the variable itself.
        pub(crate) fn knob_of_env(name: &str) -> Option<&'static str> {
            match name {
                $( $env => Some(stringify!($name)), )*
                _ => None,
            }
        }

        impl ExportSettings {
            /// The defaults with what code set on top, for checking code's values alone.
            pub(crate) fn from_code(set: &KnobsSet) -> (ExportSettings, KnobOrigins) {
                let mut out = ExportSettings::default();
                let mut origins = KnobOrigins::default();
                $(
                    if let Some(value) = set.$name {
                        out.$name = value;
                        origins.$name = Origin::Builder(stringify!($name));
                    }
                )*
                (out, origins)
            }

            /// Every knob from code, else the environment, else the file, else its default,
            /// then checked.
            pub(crate) fn resolve(
                set: &KnobsSet,
                env: &Env,
                file: &FileValues,
            ) -> Result<(ExportSettings, KnobOrigins), ConfigError> {
                let (mut out, mut origins) = ExportSettings::from_code(set);
                let defaults = ExportSettings::default();
                $(
                    if set.$name.is_none() {
                        if let Some((raw, origin)) = lookup(env, $env, file_key!($($file)?), file)? {
                            out.$name = read(
                                stringify!($name),
                                &raw,
                                &origin,
                                defaults.$name,
                                parser!($ty $(, $parse)?),
                            )?;
                            origins.$name = origin;
                        }
                    }
                )*
                out.check(&origins)?;
                Ok((out, origins))
            }

            /// Each knob with its value shown, where it came from and where it can be set.
            pub(crate) fn describe(&self, origins: &KnobOrigins) -> Vec<Setting> {
                vec![$(
                    Setting {
                        name: stringify!($name),
                        value: self.$name.show(),
                        origin: origins.$name.clone(),
                        env: Some($env),
                        file_key: file_key!($($file)?),
                    },
                )*]
            }
        }

        impl ConfigBuilder {
            $(
                $(#[doc = $doc])*
                ///
                #[doc = concat!("Environment: `", $env, "`", $(", `~/.opik.config`: `", $file, "`",)? ".")]
                #[must_use]
                pub fn $name(mut self, value: $ty) -> Self {
                    self.export.$name = Some(value);
                    self
                }
            )*
        }

        impl Config {
            $(
                $(#[doc = $doc])*
                pub fn $name(&self) -> $ty {
                    self.export.$name
                }
            )*
        }
    };
}

/// The text of a knob in the environment (blank counts as unset), else in the file.
fn lookup(
    env: &Env,
    var: &'static str,
    key: Option<&'static str>,
    file: &FileValues,
) -> Result<Option<(String, Origin)>, ConfigError> {
    if let Some(raw) = env.get(var)? {
        if !raw.trim().is_empty() {
            return Ok(Some((raw, Origin::Env(var))));
        }
    }
    Ok(key
        .and_then(|key| file.get(key))
        .filter(|(raw, _)| !raw.trim().is_empty()))
}

/// A knob's text read into its value; the error names the knob, the place and the text.
fn read<T>(
    knob: &'static str,
    raw: &str,
    origin: &Origin,
    default: T,
    parse: Parser<T>,
) -> Result<T, ConfigError> {
    parse(raw, default).map_err(|bad| {
        ConfigError::new(
            bad.kind,
            knob,
            origin.clone(),
            Some(raw.to_owned()),
            bad.problem,
            bad.fix,
        )
    })
}

knobs! {
    /// Capacity of the exporter's queue in records (default 16 384, 1..=16 777 216). When it is
    /// full new records are dropped and counted, so traced code never waits on the network.
    /// The exporter holds at most as many again while it batches them.
    queue_capacity: usize = 16_384, env "OPIK_QUEUE_CAPACITY";
    /// Items per batch request (default and maximum 1000, Opik's batch limit).
    batch_max_items: usize = MAX_BATCH_ITEMS, env "OPIK_BATCH_MAX_ITEMS";
    /// Uncompressed JSON bytes per batch request (default 4 MiB, at least 64 KiB): keeps
    /// requests under proxies' and the server's body limits.
    batch_max_bytes: usize = 4 << 20, env "OPIK_BATCH_MAX_BYTES";
    /// How long a partly filled batch waits for more records (default 500 ms, must be > 0):
    /// the trade-off between request count and how soon traces appear.
    flush_interval: Duration = Duration::from_millis(500), env "OPIK_FLUSH_INTERVAL";
    /// How long dropping the guard (or `shutdown`, or `#[track(flush = true)]`) may spend
    /// delivering what is queued (default 2 s; zero does not wait; `Duration::MAX` waits as
    /// long as delivery takes). The Python SDK's `default_flush_timeout`, in whole seconds
    /// there (`<= 0` waits no time).
    shutdown_timeout: Duration = Duration::from_secs(2), env "OPIK_DEFAULT_FLUSH_TIMEOUT", file "default_flush_timeout", as flush_timeout_seconds;
    /// Timeout of one HTTP request (default 10 s, must be > 0).
    request_timeout: Duration = Duration::from_secs(10), env "OPIK_REQUEST_TIMEOUT";
    /// Timeout for connecting (default 3 s, must be > 0).
    connect_timeout: Duration = Duration::from_secs(3), env "OPIK_CONNECT_TIMEOUT";
    /// Spans running longer than this are sent early as a start record, so they are visible
    /// while running (default `Some(5 s)`; `None` never does). Watched: trace roots, async spans
    /// once they first wait, sync spans typed `llm`, `tool` or `guardrail`, and explicit traces
    /// and spans; a nested sync `general` span is sent when it ends. The Python SDK's
    /// `log_start_trace_span` switches it: `false` is `None`, `true` the default threshold.
    long_span_threshold: Option<Duration> = Some(Duration::from_secs(5)), env "OPIK_LOG_START_TRACE_SPAN", file "log_start_trace_span", as start_records_switch;
    /// Retries of one batch after its first attempt (default 5, at most 100; 0 never retries).
    /// Only failures where a retry is safe are retried: network errors, timeouts, 408, 429,
    /// 500, 502, 503, 504.
    max_retries: u32 = 5, env "OPIK_MAX_RETRIES";
    /// How long one batch may be retried, from its first attempt (default 30 s, must be > 0).
    /// Waits the server asks for with a 429 extend it.
    retry_deadline: Duration = Duration::from_secs(30), env "OPIK_RETRY_DEADLINE";
    /// The first wait before retrying a failed batch (default 100 ms, must be > 0); each retry
    /// doubles it, with jitter, up to `backoff_max`.
    backoff_base: Duration = Duration::from_millis(100), env "OPIK_BACKOFF_BASE";
    /// The longest wait between two attempts of a batch (default 10 s, at least `backoff_base`).
    backoff_max: Duration = Duration::from_secs(10), env "OPIK_BACKOFF_MAX";
    /// The longest wait a server may ask for (`Retry-After` and friends) before sending
    /// resumes (default 60 s).
    rate_limit_max_wait: Duration = Duration::from_secs(60), env "OPIK_RATE_LIMIT_MAX_WAIT";
    /// How long sending must go without a failed attempt, after a success, for a delivery
    /// outage to count as over (default 10 s). An outage is logged as one warning when it starts
    /// and one info line when it ends, however many failures and successes alternate in it;
    /// zero ends it at the first success.
    outage_quiet_period: Duration = Duration::from_secs(10), env "OPIK_OUTAGE_QUIET_PERIOD";
    /// A record whose JSON is larger than this has its `input`/`output` replaced by a
    /// truncation marker before it is sent (default 20 MiB, the Python SDK's limit; at least
    /// 64 KiB; `usize::MAX` never truncates). The Python SDK's `max_payload_size_mb`, in whole
    /// MiB there (`<= 0` never truncates).
    max_record_bytes: usize = 20 << 20, env "OPIK_MAX_PAYLOAD_SIZE_MB", file "max_payload_size_mb", as payload_megabytes;
    /// The most bytes of payloads (inputs and outputs) and of attachments held in memory the
    /// SDK keeps for records not yet delivered, in the queue and in the exporter (default
    /// 64 MiB, at least 1 MiB). Past it, new records with large payloads (and attachments) are
    /// dropped and counted as `memory_budget`, so a stalled
    /// server cannot make the app's memory grow with what it records. Records with payloads
    /// under 256 bytes are bounded by `queue_capacity` instead (they never take the budget's
    /// lock-free counter, to keep the common call cheap).
    max_buffered_bytes: usize = 64 << 20, env "OPIK_MAX_BUFFERED_BYTES";
    /// The most bytes of JSON a tracked stream's or iterator's items are aggregated into for its
    /// output (default 1 MiB); past it, later items are counted but not kept, and the output is
    /// marked `opik_truncated`, so a long stream never grows memory without bound.
    max_stream_output_bytes: usize = 1 << 20, env "OPIK_MAX_STREAM_OUTPUT_BYTES";
    /// How many attachments are uploaded at once (default 4, 1..=64). Each one streams its
    /// file, or holds its bytes already charged to `max_buffered_bytes`, so this bounds the
    /// uploads' buffers, not only their sockets. The Python SDK's
    /// `file_upload_background_workers` (more than 64 there count as 64 here).
    max_concurrent_uploads: usize = 4, env "OPIK_FILE_UPLOAD_BACKGROUND_WORKERS", file "file_upload_background_workers", as upload_workers;
    /// Timeout of one upload request: a whole file to a self-hosted Opik, or a part of at most
    /// 5 MiB to storage (default 5 min, must be > 0). `request_timeout` is for the small
    /// requests; this one has megabytes to carry.
    upload_timeout: Duration = Duration::from_secs(300), env "OPIK_UPLOAD_TIMEOUT";
    /// Whether base64 data in inputs, outputs and metadata (an image, a PDF, an audio clip)
    /// is moved into attachments, leaving a `[<file name>]` placeholder, as the Python SDK does
    /// (default true; its `is_attachment_extraction_active`). Only strings of at least
    /// `min_base64_attachment_size` characters are looked at, on the exporter's thread.
    extract_attachments: bool = true, env "OPIK_IS_ATTACHMENT_EXTRACTION_ACTIVE", file "is_attachment_extraction_active";
    /// The shortest string, in characters, whose base64 data is extracted into an attachment
    /// (default 256 000, the Python SDK's `min_base64_embedded_attachment_size`; at least 1024).
    min_base64_attachment_size: usize = 256_000, env "OPIK_MIN_BASE64_EMBEDDED_ATTACHMENT_SIZE", file "min_base64_embedded_attachment_size";
    /// How long a prompt fetched from the prompt library is served from the client's cache
    /// before it is fetched again (default 5 min, the Python SDK's `prompt_cache_ttl_seconds`;
    /// must be > 0). A prompt asked for by commit never changes, so it is kept for good; a
    /// stale one is still served while it is fetched again, and for as long as Opik cannot be
    /// reached.
    prompt_cache_ttl: Duration = Duration::from_secs(300), env "OPIK_PROMPT_CACHE_TTL_SECONDS", file "prompt_cache_ttl_seconds";
    /// Whether JSON request bodies are gzip-compressed (default true), as the Python SDK's
    /// setting of the same name: a body under 256 bytes is sent plain either way, since gzip's
    /// framing would make it larger. Off suits a proxy that cannot read compressed bodies.
    enable_json_request_compression: bool = true, env "OPIK_ENABLE_JSON_REQUEST_COMPRESSION", file "enable_json_request_compression";
    /// The zlib level of compressed bodies, 0..=9 (default 1). The Python SDK's default is 6;
    /// here the exporter's throughput (BENCHMARKS.md) is measured at 1, which costs a few
    /// times less CPU for a few percent more bytes on Opik's payloads.
    request_compression_level: u32 = 1, env "OPIK_REQUEST_COMPRESSION_LEVEL", file "request_compression_level";
    /// Whether the TLS certificate of Opik's server is verified (default true), as the Python
    /// SDK's setting of the same name. Off, anyone on the network path can pose as the server
    /// and read the API key: the client logs a warning when it starts. For a self-hosted Opik
    /// behind a private CA, point `SSL_CERT_FILE` at the CA's certificates instead
    /// ([`ConfigBuilder::ssl_cert_file`]). Presigned storage URLs are always verified.
    check_tls_certificate: bool = true, env "OPIK_CHECK_TLS_CERTIFICATE", file "check_tls_certificate";
}

impl ExportSettings {
    /// Checks every knob against its bounds; the error names the knob, where its value came
    /// from, the value and the fix.
    pub(crate) fn check(&self, at: &KnobOrigins) -> Result<(), ConfigError> {
        let range = |setting, value: usize, min, max, origin: &Origin, why| {
            usize_in_range(setting, value, min, max, origin, why)
        };
        range(
            "queue_capacity",
            self.queue_capacity,
            1,
            Some(MAX_QUEUE_CAPACITY),
            &at.queue_capacity,
            "the queue preallocates its slots and needs at least one",
        )?;
        range(
            "batch_max_items",
            self.batch_max_items,
            1,
            Some(MAX_BATCH_ITEMS),
            &at.batch_max_items,
            "Opik accepts at most 1000 items per batch request",
        )?;
        range(
            "batch_max_bytes",
            self.batch_max_bytes,
            MIN_BATCH_MAX_BYTES,
            None,
            &at.batch_max_bytes,
            "smaller batches could not hold one ordinary span with its prompt",
        )?;
        range(
            "max_record_bytes",
            self.max_record_bytes,
            MIN_BATCH_MAX_BYTES,
            None,
            &at.max_record_bytes,
            "smaller records could not hold one ordinary span with its prompt",
        )?;
        range(
            "max_buffered_bytes",
            self.max_buffered_bytes,
            1 << 20,
            None,
            &at.max_buffered_bytes,
            "less could not hold one ordinary batch of spans with their prompts",
        )?;
        range(
            "max_retries",
            self.max_retries as usize,
            0,
            Some(MAX_MAX_RETRIES as usize),
            &at.max_retries,
            "more retries only prolong an outage; the retry deadline bounds them anyway",
        )?;
        range(
            "max_concurrent_uploads",
            self.max_concurrent_uploads,
            1,
            Some(MAX_CONCURRENT_UPLOADS),
            &at.max_concurrent_uploads,
            "uploads need at least one at a time; more than 64 only add sockets and buffers",
        )?;
        range(
            "min_base64_attachment_size",
            self.min_base64_attachment_size,
            1024,
            None,
            &at.min_base64_attachment_size,
            "shorter strings are ids and hashes, not files",
        )?;
        range(
            "request_compression_level",
            self.request_compression_level as usize,
            0,
            Some(9),
            &at.request_compression_level,
            "zlib's levels are 0 (store) to 9 (smallest)",
        )?;
        let positive = |setting, value, origin: &Origin, why| nonzero(setting, value, origin, why);
        positive(
            "upload_timeout",
            self.upload_timeout,
            &at.upload_timeout,
            "every upload would time out at once",
        )?;
        positive(
            "prompt_cache_ttl",
            self.prompt_cache_ttl,
            &at.prompt_cache_ttl,
            "every get_prompt would be a request",
        )?;
        positive(
            "flush_interval",
            self.flush_interval,
            &at.flush_interval,
            "a partly filled batch would be sent immediately, over and over",
        )?;
        positive(
            "request_timeout",
            self.request_timeout,
            &at.request_timeout,
            "every request would time out at once",
        )?;
        positive(
            "connect_timeout",
            self.connect_timeout,
            &at.connect_timeout,
            "every connection attempt would time out at once",
        )?;
        positive(
            "retry_deadline",
            self.retry_deadline,
            &at.retry_deadline,
            "no failed request could ever be retried",
        )?;
        positive(
            "backoff_base",
            self.backoff_base,
            &at.backoff_base,
            "failed batches would be retried in a tight loop",
        )?;
        if self.backoff_max < self.backoff_base {
            return Err(ConfigError::new(
                ErrorKind::OutOfRange,
                "backoff_max",
                at.backoff_max.clone(),
                Some(self.backoff_max.show()),
                format!(
                    "shorter than backoff_base ({}, from {})",
                    self.backoff_base.show(),
                    at.backoff_base
                ),
                format!(
                    "{} a backoff_max of at least backoff_base.",
                    verb(&at.backoff_max)
                ),
            )
            .unquoted());
        }
        Ok(())
    }
}

/// How the fix of a range error starts: code passes a value, the environment and the file set
/// one.
fn verb(origin: &Origin) -> String {
    match origin {
        Origin::Env(name) => format!("Set {name} to"),
        Origin::File { key, .. } => format!("Set {key} to"),
        _ => "Pass".to_owned(),
    }
}

/// A knob bounded by an inclusive range, rendered as `lo..=hi` in the error.
fn usize_in_range(
    setting: &'static str,
    value: usize,
    min: usize,
    max: Option<usize>,
    origin: &Origin,
    why: &str,
) -> Result<usize, ConfigError> {
    if value >= min && max.is_none_or(|max| value <= max) {
        return Ok(value);
    }
    let (range, fix) = match max {
        Some(max) => (
            format!("{min}..={max}"),
            format!("{} a value in {min}..={max}.", verb(origin)),
        ),
        None => (
            format!(">= {min}"),
            format!("{} a value of at least {min}.", verb(origin)),
        ),
    };
    Err(ConfigError::new(
        ErrorKind::OutOfRange,
        setting,
        origin.clone(),
        Some(value.to_string()),
        format!("out of range {range} ({why})"),
        fix,
    )
    .unquoted())
}

/// A duration knob that must not be zero (a zero interval or timeout would spin or fail every
/// request).
fn nonzero(
    setting: &'static str,
    value: Duration,
    origin: &Origin,
    why: &str,
) -> Result<Duration, ConfigError> {
    if !value.is_zero() {
        return Ok(value);
    }
    Err(ConfigError::new(
        ErrorKind::OutOfRange,
        setting,
        origin.clone(),
        Some(value.show()),
        format!("out of range: must be greater than zero ({why})"),
        format!("{} a positive duration.", verb(origin)),
    )
    .unquoted())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_names_are_pydantic_names_of_the_file_keys() {
        let settings = ExportSettings::default().describe(&KnobOrigins::default());
        for s in &settings {
            // The Python SDK's key where it has the setting, else the knob's own name.
            let key = s.file_key.unwrap_or(s.name);
            let env = s.env.expect("every knob has an environment variable");
            assert_eq!(
                env,
                format!("OPIK_{}", key.to_ascii_uppercase()),
                "{}",
                s.name
            );
            assert_eq!(knob_of_env(env), Some(s.name));
        }
        assert_eq!(
            KNOB_FILE_KEYS.len(),
            settings.iter().filter(|s| s.file_key.is_some()).count()
        );
    }
}
