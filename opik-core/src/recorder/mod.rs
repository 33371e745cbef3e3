//! The recorder that `#[track]` drives: a tracked call starts a span, runs the body with that
//! span current, and ends the span with what the body returned, panicked or how it was dropped.
//!
//! Generated code makes two calls into it: [`Call::start`] (one relaxed load and a branch when
//! the SDK is off) and [`run_sync`] or [`Tracked::new`]. Everything else happens here, so the
//! expansion stays small and the behaviour is tested once.

pub(crate) mod capture;
mod fast;
mod items;
mod json_buf;
mod run;
mod stream;

pub use items::ItemCapture;
pub use run::{
    call_once, flush_current, flush_current_async, run_sync, AtFirstPoll, StartAt, Started, Tracked,
};
pub use stream::{TrackedIter, TrackedStream};

use crate::context;
use crate::model::{
    new_id, ErrorInfo, Payload, ProjectName, Record, SpanDetails, SpanType, Timestamp,
};
use crate::span::{ActiveSpan, ActiveTrace, Ended, Progress, StartInfo};
use capture::{InputCapture, JsonBuf, OutputCapture};
use std::any::Any;
use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// What `#[track(...)]` knows at compile time about a tracked function, kept in a `static`.
#[derive(Debug)]
pub struct SpanMeta {
    /// Span name (the function's name unless `name = "..."`).
    pub name: &'static str,
    /// Span type.
    pub span_type: SpanType,
    /// Tags, checked at compile time.
    pub tags: &'static [&'static str],
    /// Whether arguments are recorded.
    pub capture_input: bool,
    /// Whether the return value is recorded (errors always are).
    pub capture_output: bool,
    /// Project of a trace this call creates; `None` uses the client's project.
    pub project_name: Option<&'static str>,
    /// Set once this call site has warned that it follows its parent's project.
    pub warned_project: AtomicBool,
}

impl SpanMeta {
    /// Defaults for a function named `name`.
    pub const fn new(name: &'static str) -> Self {
        SpanMeta {
            name,
            span_type: SpanType::General,
            tags: &[],
            capture_input: true,
            capture_output: true,
            project_name: None,
            warned_project: AtomicBool::new(false),
        }
    }
}

/// What a call says about itself when it starts, evaluated only when the SDK records.
pub struct CallStart {
    input: InputCapture,
    /// What only calls with `name = expr`, `metadata` or `thread_id` have, behind one pointer:
    /// a description is moved through the generated code (and stored in a future returned
    /// before its span starts), so it is kept small for the common call.
    extra: Option<Box<Extra>>,
}

/// The rarer parts of a call's description.
#[derive(Default)]
struct Extra {
    name: Option<Cow<'static, str>>,
    metadata: Option<serde_json::Map<String, serde_json::Value>>,
    thread_id: Option<String>,
}

impl CallStart {
    /// Describes a call now, for a span that starts later (a function returning a future: its
    /// arguments are borrowed only until it returns, its span starts at the first poll).
    /// `None` when the SDK is not recording.
    pub fn capture(describe: impl FnOnce(&mut CallStart)) -> Option<CallStart> {
        if !cfg!(feature = "enabled") || !context::recording() {
            return None;
        }
        Some(CallStart::describe(describe))
    }

    /// What `describe` says of a call. It runs user code (the expressions of `name`,
    /// `metadata` and `thread_id`; argument captures guard themselves): if that panics, the
    /// call is described by what was captured before, plus a note in its metadata.
    #[inline]
    fn describe(describe: impl FnOnce(&mut CallStart)) -> CallStart {
        let mut described = CallStart::empty();
        described.run(describe);
        described
    }

    /// A description with nothing in it yet.
    #[inline]
    fn empty() -> CallStart {
        CallStart {
            input: InputCapture::default(),
            extra: None,
        }
    }

    /// Runs `describe` on this description, in place (a description holds its capture
    /// buffer: moving it around costs a copy of the buffer each time).
    #[inline]
    fn run(&mut self, describe: impl FnOnce(&mut CallStart)) {
        if let Err(panic) = crate::model::guarded(|| describe(self)) {
            self.metadata(
                "opik_capture_error",
                serde_json::Value::String(format!("describing the call panicked: {panic}")),
            );
        }
    }

    /// Adds a metadata entry from any `Serialize` value (`#[track(metadata = {...})]`); a
    /// value that fails to serialize is recorded as a string saying why, never a panic.
    pub fn metadata_value<T: serde::Serialize + ?Sized>(&mut self, key: &str, value: &T) {
        self.metadata(key, crate::model::to_value(value));
    }

    /// Starts the argument `name` of the input; write its value into the returned buffer.
    #[inline]
    pub fn arg(&mut self, name: &str) -> &mut JsonBuf {
        self.input.arg(name)
    }

    /// Starts an argument whose key `#[track]` wrote out at compile time (`"name":`, its name
    /// needing no escaping); write its value into the returned buffer.
    #[inline]
    pub fn arg_key(&mut self, key: &'static str) -> &mut JsonBuf {
        self.input.arg_key(key)
    }

    /// Sets the span name at run time (`#[track(name = expr)]`).
    pub fn name(&mut self, name: impl Into<Cow<'static, str>>) {
        self.extra().name = Some(name.into());
    }

    /// Adds a metadata entry (`#[track(metadata = {...})]`).
    pub fn metadata(&mut self, key: &str, value: serde_json::Value) {
        self.extra()
            .metadata
            .get_or_insert_with(Default::default)
            .insert(key.to_owned(), value);
    }

    /// Sets the thread of the trace this call creates (`#[track(thread_id = expr)]`).
    pub fn thread_id(&mut self, thread_id: impl Into<String>) {
        self.extra().thread_id = Some(thread_id.into());
    }

    fn extra(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Box::default)
    }
}

/// A tracked call in progress. Dropping it before it finished records the span as cancelled:
/// a future dropped by a timeout or `select!` still shows up, with the time it was dropped.
///
/// It is small on purpose (a pointer to the span, one to the call site, a flag): it is moved
/// through the generated code and the body's closure on every call. What the span's records
/// need from its start (parent, time, input, metadata) is kept once, in the span's
/// start fields, which the long-span watch reads too.
pub struct Call {
    /// `None` once the span has ended, or once a sync scope has taken it to end it there.
    span: Option<Arc<ActiveSpan>>,
    ending: Ending,
}

/// How a call's span ends: what the call site says about its records, and whether the
/// long-span watch must be told.
#[derive(Clone, Copy)]
struct Ending {
    meta: &'static SpanMeta,
    /// Whether the long-span watch was told about the span (see [`Call::watch`]).
    watched: bool,
}

impl Call {
    /// Starts a span for a call of the function described by `meta`, or returns `None` when the
    /// SDK is not recording (then the caller runs the plain body). `describe` captures the
    /// arguments and run-time settings; it runs only when recording.
    #[inline]
    pub fn start(meta: &'static SpanMeta, describe: impl FnOnce(&mut CallStart)) -> Option<Call> {
        if !cfg!(feature = "enabled") || !context::recording() {
            return None;
        }
        let call = Self::start_recording(meta, describe)?;
        if let Some(wanted) = meta.project_name {
            call.warn_if_other_project(wanted);
        }
        Some(call)
    }

    /// Starts a span for a call described earlier by [`CallStart::capture`].
    #[inline]
    pub fn start_with(meta: &'static SpanMeta, described: Option<CallStart>) -> Option<Call> {
        let described = described?;
        Self::start(meta, move |d| *d = described)
    }

    /// A call with its own `project_name` inside a trace of another project follows the trace
    /// (as the Python SDK does: one trace lives in one project); say so once per call site.
    #[cold]
    fn warn_if_other_project(&self, wanted: &str) {
        let Some(span) = &self.span else { return };
        let meta = self.ending.meta;
        let actual = span.trace.project_name();
        if actual != wanted && !meta.warned_project.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                target: "opik",
                "opik: `{}` asks for project \"{wanted}\" but runs inside a trace of project \
                 \"{actual}\"; its span is recorded in \"{actual}\" with its trace",
                meta.name
            );
        }
    }

    fn start_recording(
        meta: &'static SpanMeta,
        describe: impl FnOnce(&mut CallStart),
    ) -> Option<Call> {
        let parent = context::with_current_span(|p| (Arc::clone(&p.trace), p.id_for_children()));
        let start = Timestamp::now();
        // Under a current span: its trace (a stand-in for an explicit trace gives top-level
        // spans). Otherwise this call starts a new trace, if some client takes it.
        let (parent_trace, parent_span_id, new_trace_client) = match parent {
            Some((trace, parent_id)) => (Some(trace), parent_id, None),
            None => (None, None, Some(context::client_for_new_trace()?)),
        };
        let mut described = CallStart::empty();
        described.run(describe);
        let is_root = new_trace_client.is_some();
        let Extra {
            name,
            metadata,
            mut thread_id,
        } = described.extra.take().map(|e| *e).unwrap_or_default();
        let name = name.unwrap_or(Cow::Borrowed(meta.name));
        let trace = match (parent_trace, new_trace_client) {
            (Some(trace), _) => trace,
            (None, Some(client)) => {
                let project_name = match meta.project_name {
                    Some(p) => ProjectName::from_static(p),
                    None => client.project_name(),
                };
                let id = new_id(start);
                let mut trace = ActiveTrace::new(id, project_name, client, name.clone());
                trace.thread_id = thread_id.take();
                Arc::new(trace)
            }
            (None, None) => return None,
        };
        // One expression, so that the span is built in its allocation rather than built and
        // then copied there.
        let span = Arc::new(ActiveSpan::recorded(
            new_id(start),
            trace,
            name,
            Progress::new(StartInfo {
                parent_span_id,
                span_type: meta.span_type,
                tags: meta.tags,
                start,
                input: meta.capture_input.then(|| described.input.finish()),
                metadata: metadata.map(Arc::new),
                is_root,
            }),
        ));
        Some(Call {
            span: Some(span),
            ending: Ending {
                meta,
                watched: false,
            },
        })
    }

    /// Lets the exporter send a start record for this span should it run past the long-span
    /// threshold (see `span::start`, which says which spans are watched and why).
    #[inline(never)]
    fn watch(&mut self) {
        if let (false, Some(span)) = (self.ending.watched, &self.span) {
            self.ending.watched = true;
            span.watch();
        }
    }

    /// Whether a sync call is watched from its start: a sync body gives no later chance (it
    /// never yields), so the spans most worth seeing while they run are watched up front.
    #[inline]
    fn watch_sync_from_start(&self) -> bool {
        self.span.as_ref().is_some_and(|s| s.progress.info.is_root)
            || self.ending.meta.span_type != SpanType::General
    }

    /// The span, while it runs.
    pub(crate) fn span(&self) -> Option<&Arc<ActiveSpan>> {
        self.span.as_ref()
    }

    /// The most bytes of output a stream's items may take (a setting of the span's client).
    pub(crate) fn stream_output_limit(&self) -> usize {
        self.span
            .as_ref()
            .map_or(0, |s| s.trace.client.stream_output_limit())
    }

    /// Ends the span as `ended` says, with `extra` merged into what updates set.
    pub(crate) fn end_with(mut self, extra: Option<crate::model::SpanUpdate>, ended: Ended) {
        let Some(span) = self.span.take() else { return };
        if self.ending.watched {
            span.progress.end();
        }
        let mut update = span.update.take();
        if let Some(extra) = extra {
            match update.as_mut() {
                Some(u) => crate::model::Merge::merge(&mut **u, extra),
                None => update = Some(Box::new(extra)),
            }
        }
        span.queue_end(update, ended);
    }

    /// Ends the span with what `output` captures from the return value.
    pub fn finish(mut self, output: impl FnOnce(&mut OutputCapture)) {
        if let Some(span) = self.span.take() {
            self.ending.finish(&span, output);
        }
    }

    /// Ends the span with an error (a panic).
    pub fn fail(mut self, error: ErrorInfo) {
        if let Some(span) = self.span.take() {
            self.ending
                .complete(&span, Timestamp::now(), None, Some(error));
        }
    }
}

impl Ending {
    /// Ends `span` with what `output` captures from the return value.
    ///
    /// Never inlined: its locals (the output capture, the record being built) would otherwise
    /// sit in the frame that stays on the stack while the body runs, so every level of tracked
    /// recursion would carry them.
    #[inline(never)]
    fn finish(self, span: &ActiveSpan, output: impl FnOnce(&mut OutputCapture)) {
        let end = Timestamp::now();
        let mut captured = OutputCapture::default();
        if let Err(panic) = crate::model::guarded(|| output(&mut captured)) {
            // Value and error captures guard themselves; this is the last line of defence.
            captured = OutputCapture::default();
            captured
                .value()
                .string(&format!("<capturing the output panicked: {panic}>"));
        }
        captured.settle();
        let output = if self.meta.capture_output {
            captured.output
        } else {
            None
        };
        self.complete(span, end, output, captured.error);
    }

    fn complete(
        self,
        span: &ActiveSpan,
        end: Timestamp,
        output: Option<Payload>,
        error: Option<ErrorInfo>,
    ) {
        // Before the final record is queued: no start record may be sent after it. A span the
        // watch never saw needs no such fence.
        if self.watched {
            span.progress.end();
        }
        let trace = &span.trace;
        // What `update_current_span` set. Taking it closes the slot: a later update is refused,
        // as after any end.
        let update = span.update.take();
        let is_root = span.progress.info.is_root;
        if update.is_none() && !is_root {
            // The common case, a nested span nobody updated: one record. Under overload (the
            // queue is full) it would be dropped once built, so it is dropped now, counted.
            // Otherwise it is built in the call that queues it: each copy of a record this size
            // costs a few nanoseconds on the hot path.
            if !trace.client.drop_if_saturated() {
                let details = error.map(span_details);
                trace
                    .client
                    .enqueue(Record::Span(span.span_record(Some(end), output, details)));
            }
            return;
        }
        span.queue_end(
            update,
            Ended {
                at: Some(end),
                output,
                error,
                ttft_ms: None,
            },
        );
    }
}

/// A span's details when all it has is an error.
fn span_details(error: ErrorInfo) -> Box<SpanDetails> {
    Box::new(SpanDetails {
        error_info: Some(error),
        ..SpanDetails::default()
    })
}

impl Drop for Call {
    fn drop(&mut self) {
        if let Some(span) = self.span.take() {
            let info = ErrorInfo::new("cancelled", "the future was dropped before it completed");
            self.ending
                .complete(&span, Timestamp::now(), None, Some(info));
        }
    }
}

/// What a panic looks like in a span: type `"panic"` and the panic message.
fn panic_info(payload: &(dyn Any + Send)) -> ErrorInfo {
    ErrorInfo::new("panic", crate::model::panic_message(payload))
}
