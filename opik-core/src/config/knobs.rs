//! The exporter's knobs: each one written once, in the table below, with its type, default and
//! meaning. The table makes the setting's [`ConfigBuilder`] setter, its [`Config`] getter and
//! its field in [`ExportSettings`] (what the pipe and the exporter read); [`ExportSettings::check`]
//! is the one place their bounds are checked, when [`ConfigBuilder::resolve`] runs. So a
//! setting cannot reach the exporter unchecked, and a default cannot differ between places.

use super::error::{ConfigError, ErrorKind, Origin};
use super::{Config, ConfigBuilder};
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

macro_rules! knobs {
    ($(
        $(#[doc = $doc:literal])*
        $name:ident: $ty:ty = $default:expr;
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

        impl ConfigBuilder {
            $(
                $(#[doc = $doc])*
                #[must_use]
                pub fn $name(mut self, value: $ty) -> Self {
                    self.export.$name = value;
                    self.knobs_set.push(stringify!($name));
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

knobs! {
    /// Capacity of the exporter's queue in records (default 16 384, 1..=16 777 216). When it is
    /// full new records are dropped and counted, so traced code never waits on the network.
    /// The exporter holds at most as many again while it batches them.
    queue_capacity: usize = 16_384;
    /// Items per batch request (default and maximum 1000, Opik's batch limit).
    batch_max_items: usize = MAX_BATCH_ITEMS;
    /// Uncompressed JSON bytes per batch request (default 4 MiB, at least 64 KiB): keeps
    /// requests under proxies' and the server's body limits.
    batch_max_bytes: usize = 4 << 20;
    /// How long a partly filled batch waits for more records (default 500 ms, must be > 0):
    /// the trade-off between request count and how soon traces appear.
    flush_interval: Duration = Duration::from_millis(500);
    /// How long dropping the guard (or `shutdown`) may spend delivering what is queued
    /// (default 2 s; zero does not wait; `Duration::MAX` waits as long as delivery takes).
    shutdown_timeout: Duration = Duration::from_secs(2);
    /// Timeout of one HTTP request (default 10 s, must be > 0).
    request_timeout: Duration = Duration::from_secs(10);
    /// Timeout for connecting (default 3 s, must be > 0).
    connect_timeout: Duration = Duration::from_secs(3);
    /// Spans running longer than this are sent early as a start record, so they are visible
    /// while running (default `Some(5 s)`; `None` never does). Watched: trace roots, async spans
    /// once they first wait, sync spans typed `llm`, `tool` or `guardrail`, and explicit traces
    /// and spans; a nested sync `general` span is sent when it ends.
    long_span_threshold: Option<Duration> = Some(Duration::from_secs(5));
    /// Retries of one batch after its first attempt (default 5, at most 100; 0 never retries).
    /// Only failures where a retry is safe are retried: network errors, timeouts, 408, 429,
    /// 500, 502, 503, 504.
    max_retries: u32 = 5;
    /// How long one batch may be retried, from its first attempt (default 30 s, must be > 0).
    /// Waits the server asks for with a 429 extend it.
    retry_deadline: Duration = Duration::from_secs(30);
    /// The first wait before retrying a failed batch (default 100 ms, must be > 0); each retry
    /// doubles it, with jitter, up to `backoff_max`.
    backoff_base: Duration = Duration::from_millis(100);
    /// The longest wait between two attempts of a batch (default 10 s, at least `backoff_base`).
    backoff_max: Duration = Duration::from_secs(10);
    /// The longest wait a server may ask for (`Retry-After` and friends) before sending
    /// resumes (default 60 s).
    rate_limit_max_wait: Duration = Duration::from_secs(60);
    /// How long sending must go without a failed attempt, after a success, for a delivery
    /// outage to count as over (default 10 s). An outage is logged as one warning when it starts
    /// and one info line when it ends, however many failures and successes alternate in it;
    /// zero ends it at the first success.
    outage_quiet_period: Duration = Duration::from_secs(10);
    /// A record whose JSON is larger than this has its `input`/`output` replaced by a
    /// truncation marker before it is sent (default 20 MiB, the Python SDK's limit; at least
    /// 64 KiB).
    max_record_bytes: usize = 20 << 20;
    /// The most bytes of payloads (inputs and outputs) and of attachments held in memory the
    /// SDK keeps for records not yet delivered, in the queue and in the exporter (default
    /// 64 MiB, at least 1 MiB). Past it, new records with large payloads (and attachments) are
    /// dropped and counted as `memory_budget`, so a stalled
    /// server cannot make the app's memory grow with what it records. Records with payloads
    /// under 256 bytes are bounded by `queue_capacity` instead (they never take the budget's
    /// lock-free counter, to keep the common call cheap).
    max_buffered_bytes: usize = 64 << 20;
    /// The most bytes of JSON a tracked stream's or iterator's items are aggregated into for its
    /// output (default 1 MiB); past it, later items are counted but not kept, and the output is
    /// marked `opik_truncated`, so a long stream never grows memory without bound.
    max_stream_output_bytes: usize = 1 << 20;
    /// How many attachments are uploaded at once (default 4, 1..=64). Each one streams its
    /// file, or holds its bytes already charged to `max_buffered_bytes`, so this bounds the
    /// uploads' buffers, not only their sockets.
    max_concurrent_uploads: usize = 4;
    /// Timeout of one upload request: a whole file to a self-hosted Opik, or a part of at most
    /// 5 MiB to storage (default 5 min, must be > 0). `request_timeout` is for the small
    /// requests; this one has megabytes to carry.
    upload_timeout: Duration = Duration::from_secs(300);
    /// Whether base64 data in inputs, outputs and metadata (an image, a PDF, an audio clip)
    /// is moved into attachments, leaving a `[<file name>]` placeholder, as the Python SDK does
    /// (default true). Only strings of at least `min_base64_attachment_size` characters are
    /// looked at, on the exporter's thread.
    extract_attachments: bool = true;
    /// The shortest string, in characters, whose base64 data is extracted into an attachment
    /// (default 256 000, the Python SDK's `min_base64_embedded_attachment_size`; at least 1024).
    min_base64_attachment_size: usize = 256_000;
    /// How long a prompt fetched from the prompt library is served from the client's cache
    /// before it is fetched again (default 5 min, the Python SDK's; must be > 0). Also
    /// `OPIK_PROMPT_CACHE_TTL_SECONDS` (whole seconds), when code does not set it. A prompt
    /// asked for by commit never changes, so it is kept for good; a stale one is still served
    /// while it is fetched again, and for as long as Opik cannot be reached.
    prompt_cache_ttl: Duration = Duration::from_secs(300);
}

impl ExportSettings {
    /// Checks every knob against its bounds; the error names the knob, its value and the
    /// fix. Knobs are set in code only, so a bad one is a bug in the app, reported even when
    /// tracing turns out to be disabled.
    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        usize_in_range(
            "queue_capacity",
            self.queue_capacity,
            1,
            Some(MAX_QUEUE_CAPACITY),
            "the queue preallocates its slots and needs at least one",
        )?;
        usize_in_range(
            "batch_max_items",
            self.batch_max_items,
            1,
            Some(MAX_BATCH_ITEMS),
            "Opik accepts at most 1000 items per batch request",
        )?;
        usize_in_range(
            "batch_max_bytes",
            self.batch_max_bytes,
            MIN_BATCH_MAX_BYTES,
            None,
            "smaller batches could not hold one ordinary span with its prompt",
        )?;
        usize_in_range(
            "max_record_bytes",
            self.max_record_bytes,
            MIN_BATCH_MAX_BYTES,
            None,
            "smaller records could not hold one ordinary span with its prompt",
        )?;
        usize_in_range(
            "max_buffered_bytes",
            self.max_buffered_bytes,
            1 << 20,
            None,
            "less could not hold one ordinary batch of spans with their prompts",
        )?;
        usize_in_range(
            "max_retries",
            self.max_retries as usize,
            0,
            Some(MAX_MAX_RETRIES as usize),
            "more retries only prolong an outage; the retry deadline bounds them anyway",
        )?;
        usize_in_range(
            "max_concurrent_uploads",
            self.max_concurrent_uploads,
            1,
            Some(64),
            "uploads need at least one at a time; more than 64 only add sockets and buffers",
        )?;
        usize_in_range(
            "min_base64_attachment_size",
            self.min_base64_attachment_size,
            1024,
            None,
            "shorter strings are ids and hashes, not files",
        )?;
        nonzero(
            "upload_timeout",
            self.upload_timeout,
            "every upload would time out at once",
        )?;
        nonzero(
            "prompt_cache_ttl",
            self.prompt_cache_ttl,
            "every get_prompt would be a request",
        )?;
        nonzero(
            "flush_interval",
            self.flush_interval,
            "a partly filled batch would be sent immediately, over and over",
        )?;
        nonzero(
            "request_timeout",
            self.request_timeout,
            "every request would time out at once",
        )?;
        nonzero(
            "connect_timeout",
            self.connect_timeout,
            "every connection attempt would time out at once",
        )?;
        nonzero(
            "retry_deadline",
            self.retry_deadline,
            "no failed request could ever be retried",
        )?;
        nonzero(
            "backoff_base",
            self.backoff_base,
            "failed batches would be retried in a tight loop",
        )?;
        if self.backoff_max < self.backoff_base {
            return Err(ConfigError::new(
                ErrorKind::OutOfRange,
                "backoff_max",
                Origin::Builder("backoff_max"),
                Some(humantime::format_duration(self.backoff_max).to_string()),
                format!(
                    "shorter than backoff_base ({})",
                    humantime::format_duration(self.backoff_base)
                ),
                "Pass a backoff_max of at least backoff_base.",
            )
            .unquoted());
        }
        Ok(())
    }
}

/// A knob bounded by an inclusive range, rendered as `lo..=hi` in the error.
fn usize_in_range(
    setting: &'static str,
    value: usize,
    min: usize,
    max: Option<usize>,
    why: &str,
) -> Result<usize, ConfigError> {
    if value >= min && max.is_none_or(|max| value <= max) {
        return Ok(value);
    }
    let (range, fix) = match max {
        Some(max) => (
            format!("{min}..={max}"),
            format!("Pass a value in {min}..={max}."),
        ),
        None => (
            format!(">= {min}"),
            format!("Pass a value of at least {min}."),
        ),
    };
    Err(ConfigError::new(
        ErrorKind::OutOfRange,
        setting,
        Origin::Builder(setting),
        Some(value.to_string()),
        format!("out of range {range} ({why})"),
        fix,
    )
    .unquoted())
}

/// A duration knob that must not be zero (a zero interval or timeout would spin or fail every
/// request).
fn nonzero(setting: &'static str, value: Duration, why: &str) -> Result<Duration, ConfigError> {
    if !value.is_zero() {
        return Ok(value);
    }
    Err(ConfigError::new(
        ErrorKind::OutOfRange,
        setting,
        Origin::Builder(setting),
        Some(humantime::format_duration(value).to_string()),
        format!("out of range: must be greater than zero ({why})"),
        "Pass a positive duration.",
    )
    .unquoted())
}
