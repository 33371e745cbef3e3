//! The current span: which tracked call a new span nests under.
//!
//! It lives in tokio task-local storage, one immutable `Arc` per scope rather than a shared
//! mutable stack, so that two children awaited together with `join!` each see their own parent.
//! Sync code uses `sync_scope` of the same task-local, which needs no runtime at all: one
//! mechanism serves async and sync calls alike.

use crate::client::Client;
use crate::clock::Timestamp;
use crate::record::{ErrorInfo, Payload, SpanDetails, SpanRecord, Tags, TraceDetails, TraceRecord};
use crate::update::{SpanUpdate, TraceUpdate, UpdateSlot};
use std::borrow::Cow;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use uuid::Uuid;

tokio::task_local! {
    static CURRENT_SPAN: Arc<ActiveSpan>;
    static SCOPED_CLIENT: Client;
}

/// The trace a running span belongs to, shared by all its spans.
#[derive(Debug)]
pub struct ActiveTrace {
    pub(crate) id: Uuid,
    pub(crate) project_name: crate::record::ProjectName,
    pub(crate) client: Client,
    /// The trace's name when it started (the root call's name); updates may rename it.
    pub(crate) name: Cow<'static, str>,
    /// The conversation thread it started with (`#[track(thread_id = ...)]` on its root);
    /// updates may change it.
    pub(crate) thread_id: Option<String>,
    /// Whether this process owns the trace record. A trace continued from distributed
    /// headers is owned by the caller's process: spans are added to it, the trace itself is
    /// neither created nor updated here.
    pub(crate) remote: bool,
    /// What `update_current_trace` set; empty (and never locked) unless it was called.
    pub(crate) update: UpdateSlot<TraceUpdate>,
}

impl ActiveTrace {
    /// The trace's id.
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// The trace's project.
    pub fn project_name(&self) -> &str {
        &self.project_name
    }

    /// A trace owned by this process, with no updates yet.
    pub(crate) fn new(
        id: Uuid,
        project_name: crate::record::ProjectName,
        client: Client,
        name: Cow<'static, str>,
    ) -> Self {
        ActiveTrace {
            id,
            project_name,
            client,
            name,
            thread_id: None,
            remote: false,
            update: UpdateSlot::new(),
        }
    }
}

/// What a context entry stands for: a span recorded here, or a stand-in that only says where
/// new spans nest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SpanRole {
    /// A span this process records (a tracked call or an explicit span).
    Recorded,
    /// A span of another process (distributed headers): new spans nest under its id.
    Remote,
    /// No span, only a trace (an explicit trace made current): new spans are top-level spans
    /// of that trace.
    TraceOnly,
}

/// A span that is running: what its children need to know to nest under it.
#[derive(Debug)]
pub struct ActiveSpan {
    pub(crate) id: Uuid,
    pub(crate) trace: Arc<ActiveTrace>,
    /// The span's name when it started.
    pub(crate) name: Cow<'static, str>,
    pub(crate) role: SpanRole,
    /// What `update_current_span` set; empty (and never locked) unless it was called.
    pub(crate) update: UpdateSlot<SpanUpdate>,
    /// Start fields for an early start record, and whether one was sent (in-progress view;
    /// set by the recorder for the spans it records).
    pub(crate) progress: crate::export::progress::Progress,
}

impl ActiveSpan {
    /// The span's id.
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// The trace the span belongs to.
    pub fn trace(&self) -> &Arc<ActiveTrace> {
        &self.trace
    }

    /// A span recorded by this process, with no updates yet.
    pub(crate) fn new(id: Uuid, trace: Arc<ActiveTrace>, name: Cow<'static, str>) -> Self {
        Self::with_role(id, trace, name, SpanRole::Recorded)
    }

    /// A span of a tracked call: recorded here, with its start fields.
    #[inline]
    pub(crate) fn recorded(
        id: Uuid,
        trace: Arc<ActiveTrace>,
        name: Cow<'static, str>,
        progress: crate::export::progress::Progress,
    ) -> Self {
        ActiveSpan {
            id,
            trace,
            name,
            role: SpanRole::Recorded,
            update: UpdateSlot::new(),
            progress,
        }
    }

    pub(crate) fn with_role(
        id: Uuid,
        trace: Arc<ActiveTrace>,
        name: Cow<'static, str>,
        role: SpanRole,
    ) -> Self {
        ActiveSpan {
            id,
            trace,
            name,
            role,
            update: UpdateSlot::new(),
            progress: crate::export::progress::Progress::inert(),
        }
    }

    /// The span's record from its start fields and how it ended; `end: None` makes the start
    /// record of a span still running (see `export::progress`). The one place a span record is
    /// made from a span: start records, tracked calls and explicit spans all come here; the
    /// caller applies updates (`queue_final`). Inlined, so that on the hot path the record is
    /// built where it is queued.
    #[inline(always)]
    pub(crate) fn span_record(
        &self,
        end: Option<Timestamp>,
        output: Option<Payload>,
        details: Option<Box<SpanDetails>>,
    ) -> SpanRecord {
        let p = &self.progress.info;
        SpanRecord {
            id: self.id,
            trace_id: self.trace.id,
            parent_span_id: p.parent_span_id,
            project_name: self.trace.project_name,
            name: self.name.clone(),
            span_type: p.span_type,
            start_time: p.start,
            // A re-anchor of the span clock between the two edges may step it back by a few
            // microseconds; a span never ends before it starts.
            end_time: end.map(|e| e.max(p.start)),
            input: p.input.clone(),
            output,
            metadata: p.metadata.clone(),
            tags: Tags::from_static(p.tags),
            details,
        }
    }

    /// The record of the trace this span is the root (or an explicit trace's stand-in) of,
    /// likewise: its name, start, input, metadata and tags are the span's, its thread the
    /// trace's.
    pub(crate) fn trace_record(
        &self,
        end: Option<Timestamp>,
        output: Option<Payload>,
        error: Option<ErrorInfo>,
    ) -> TraceRecord {
        let p = &self.progress.info;
        let trace = &self.trace;
        TraceRecord {
            id: trace.id,
            project_name: trace.project_name,
            name: self.name.clone(),
            start_time: p.start,
            end_time: end.map(|e| e.max(p.start)),
            input: p.input.clone(),
            output,
            metadata: p.metadata.clone(),
            tags: Tags::from_static(p.tags),
            details: (trace.thread_id.is_some() || error.is_some()).then(|| {
                Box::new(TraceDetails {
                    thread_id: trace.thread_id.clone(),
                    error_info: error,
                })
            }),
        }
    }

    /// The parent id a span started under this one gets (`None`: a top-level span).
    #[inline]
    pub(crate) fn id_for_children(&self) -> Option<Uuid> {
        match self.role {
            SpanRole::Recorded | SpanRole::Remote => Some(self.id),
            SpanRole::TraceOnly => None,
        }
    }
}

/// The client installed with `Client::scope`/`sync_scope` around the caller, if any.
pub(crate) fn scoped_client() -> Option<Client> {
    SCOPED_CLIENT.try_with(Client::clone).ok()
}

/// The client that records made here go to: the current trace's, else the scoped one, else the
/// global one.
pub(crate) fn current_client() -> Option<Client> {
    match current_span() {
        Some(span) => Some(span.trace.client.clone()),
        None => client_for_new_trace(),
    }
}

/// The innermost running span of this task (or of this thread, in sync code), if any.
#[inline]
pub fn current_span() -> Option<Arc<ActiveSpan>> {
    CURRENT_SPAN.try_with(Arc::clone).ok()
}

/// `f` of the innermost running span, if any, without taking a reference to it (a new span
/// only needs its parent's trace and id: no reference-count round trip on the parent).
#[inline]
pub(crate) fn with_current_span<R>(f: impl FnOnce(&ActiveSpan) -> R) -> Option<R> {
    CURRENT_SPAN.try_with(|span| f(span)).ok()
}

/// Runs `f` with `span` as the current span.
#[inline]
pub(crate) fn sync_scope_span<R>(span: Arc<ActiveSpan>, f: impl FnOnce() -> R) -> R {
    CURRENT_SPAN.sync_scope(span, f)
}

/// `fut`, polled with `span` as the current span.
pub(crate) type SpanScoped<F> = tokio::task::futures::TaskLocalFuture<Arc<ActiveSpan>, F>;

#[inline]
pub(crate) fn scope_span<F: Future>(span: Arc<ActiveSpan>, fut: F) -> SpanScoped<F> {
    CURRENT_SPAN.scope(span, fut)
}

// ---- Which client a new trace reports to -------------------------------------------------------

/// The client installed by `init()`.
static GLOBAL_CLIENT: RwLock<Option<Client>> = RwLock::new(None);

/// How many clients could receive records now (the global one plus scoped ones). Zero means the
/// SDK is off and a tracked call runs its body with nothing else than this one relaxed load.
static LIVE_CLIENTS: AtomicUsize = AtomicUsize::new(0);

/// Whether any client could receive records (one relaxed load: the disabled fast path).
#[inline(always)]
pub fn recording() -> bool {
    LIVE_CLIENTS.load(Ordering::Relaxed) != 0
}

/// The client a trace started here reports to: the innermost scoped client, else the global one.
pub(crate) fn client_for_new_trace() -> Option<Client> {
    if let Ok(c) = SCOPED_CLIENT.try_with(Client::clone) {
        return Some(c);
    }
    GLOBAL_CLIENT
        .read()
        .ok()
        .and_then(|g| g.as_ref().filter(|c| c.is_accepting()).cloned())
}

/// Installs `client` as the global client; returns the previous one.
pub(crate) fn set_global_client(client: Option<Client>) -> Option<Client> {
    let mut slot = match GLOBAL_CLIENT.write() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    };
    let had = slot.is_some();
    let has = client.is_some();
    let previous = std::mem::replace(&mut *slot, client);
    match (had, has) {
        (false, true) => {
            LIVE_CLIENTS.fetch_add(1, Ordering::Relaxed);
        }
        (true, false) => {
            LIVE_CLIENTS.fetch_sub(1, Ordering::Relaxed);
        }
        _ => {}
    }
    previous
}

/// The global client, if one is installed.
pub(crate) fn global_client() -> Option<Client> {
    GLOBAL_CLIENT.read().ok().and_then(|g| g.clone())
}

/// Counts a scoped client as live while it is alive.
struct LiveGuard;

impl LiveGuard {
    fn new() -> Self {
        LIVE_CLIENTS.fetch_add(1, Ordering::Relaxed);
        LiveGuard
    }
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        LIVE_CLIENTS.fetch_sub(1, Ordering::Relaxed);
    }
}

pub(crate) fn sync_scope_client<R>(client: Client, f: impl FnOnce() -> R) -> R {
    let _live = LiveGuard::new();
    SCOPED_CLIENT.sync_scope(client, f)
}

pub(crate) async fn scope_client<F: Future>(client: Client, fut: F) -> F::Output {
    let _live = LiveGuard::new();
    SCOPED_CLIENT.scope(client, fut).await
}
