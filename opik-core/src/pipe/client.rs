//! [`Client`]: the handle producers hold to one export pipeline.
//!
//! It is made where the exporter is started (`export`: `Client::new`, `Client::with_transport`)
//! and made current where the context is (`context`: `Client::run`, `Client::scope`);
//! here it only feeds the queue and asks the exporter for flushes.

use super::queue::{Control, Pipe, Reply};
use super::stats::{FlushReport, Stats};
use super::watched::Watched;
use super::DropReason;
use crate::config::Config;
use crate::model::{ByteCharge, ProjectName, Record, Tally};
use std::any::Any;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Payloads from this size on count against the byte budget; smaller records are bounded by
/// the queue's record count (twice `queue_capacity` of them at most, ~256 bytes of payload
/// each) and never touch the budget's shared counter.
const CHARGED_FROM: usize = 256;

/// A handle to one export pipeline. Cheap to clone; the exporter stops (after delivering what
/// it holds, within the shutdown timeout) when the last clone is dropped or on [`shutdown`].
///
/// [`shutdown`]: Client::shutdown
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
}

struct Shared {
    pipe: Arc<Pipe>,
    control: mpsc::UnboundedSender<Control>,
    project_name: ProjectName,
    accepting: AtomicBool,
    shutdown_timeout: Duration,
    /// The Opik server records go to, when the client sends them over HTTP (`Client::new`):
    /// what the REST client of datasets and experiments talks to. Unset for other transports
    /// (the local view, a test capture), which have no server to ask.
    server: OnceLock<Arc<Config>>,
    /// The JSON lines file the local view appends requests to, when records go there: what
    /// reads answer from without a server.
    local_file: OnceLock<PathBuf>,
    /// What the layers above keep per SDK client, one value per type (the REST client and
    /// its connection pool, the prompt cache): see [`Client::shared`]. Kept here, type-erased,
    /// because this layer cannot name the types of the layers above it.
    shared: Mutex<Vec<Arc<dyn Any + Send + Sync>>>,
}

impl Client {
    /// The handle of a pipeline whose exporter was started on `pipe` and listens on `control`.
    pub(crate) fn from_parts(
        pipe: Arc<Pipe>,
        control: mpsc::UnboundedSender<Control>,
        project_name: ProjectName,
        shutdown_timeout: Duration,
    ) -> Client {
        Client {
            shared: Arc::new(Shared {
                pipe,
                control,
                project_name,
                accepting: AtomicBool::new(true),
                shutdown_timeout,
                server: OnceLock::new(),
                local_file: OnceLock::new(),
                shared: Mutex::new(Vec::new()),
            }),
        }
    }

    /// The project new traces go to unless a call names another.
    pub fn project_name(&self) -> ProjectName {
        self.shared.project_name
    }

    /// The most bytes of output a tracked stream's items may take (`max_stream_output_bytes`).
    pub(crate) fn stream_output_limit(&self) -> usize {
        self.shared.pipe.stream_output_limit
    }

    /// Remembers that records go to the server of `config` (called once, where the HTTP
    /// transport is made).
    pub(crate) fn set_server(&self, config: &Config) {
        let _ = self.shared.server.set(Arc::new(config.clone()));
    }

    /// The settings of the Opik server records go to; `None` when they go elsewhere (the
    /// local view, a test capture) or nowhere.
    pub fn server(&self) -> Option<&Config> {
        self.shared.server.get().map(|c| &**c)
    }

    /// Remembers that records go to the local view's file at `path` (called once, where the
    /// local transport is made).
    pub(crate) fn set_local_file(&self, path: &Path) {
        let _ = self.shared.local_file.set(path.to_path_buf());
    }

    /// The JSON lines file the local view appends this client's requests to, if it does.
    pub fn local_file(&self) -> Option<&Path> {
        self.shared.local_file.get().map(PathBuf::as_path)
    }

    /// The value of type `T` this client keeps for the layers above, made by `make` on first
    /// use (once: later calls get the same value). A failed `make` keeps nothing, so the
    /// next call tries again.
    pub(crate) fn shared<T, E>(&self, make: impl FnOnce() -> Result<T, E>) -> Result<Arc<T>, E>
    where
        T: Send + Sync + 'static,
    {
        // Held while `make` runs, so two first uses cannot make two values; `make` builds
        // clients and caches, never anything that waits.
        let mut kept = self
            .shared
            .shared
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(found) = kept.iter().find_map(|v| Arc::clone(v).downcast::<T>().ok()) {
            return Ok(found);
        }
        let made = Arc::new(make()?);
        kept.push(Arc::clone(&made) as Arc<dyn Any + Send + Sync>);
        Ok(made)
    }

    /// Whether it still takes records (`false` once shut down).
    pub fn is_accepting(&self) -> bool {
        self.shared.accepting.load(Ordering::Relaxed)
    }

    /// Whether `other` is a handle to the same pipeline.
    pub(crate) fn same_as(&self, other: &Client) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// Queues a record for export. Never blocks: a full queue drops the record and counts it.
    #[inline]
    pub(crate) fn enqueue(&self, mut record: Record) {
        // Every record (tracked calls, explicit handles, feedback scores, integrations) comes
        // through here: with the `enabled` feature off this is where they all become no-ops.
        if !cfg!(feature = "enabled") {
            return;
        }
        let pipe = &self.shared.pipe;
        if let Record::Attachment(a) = &mut record {
            // From here on, an attachment dropped anywhere before its upload is counted.
            a.tally = Some(Tally::new(&pipe.counters.attachments_dropped));
        }
        if !self.is_accepting() {
            pipe.counters
                .add_dropped_unqueued(DropReason::AfterShutdown, 1);
            return;
        }
        let bytes = record.payload_bytes();
        if bytes >= CHARGED_FROM {
            // A large record holds its bytes against the budget until it is dropped, wherever
            // (delivered, dropped, shut down): see `model::ByteCharge`.
            match ByteCharge::try_new(&pipe.held_bytes, bytes as u64, pipe.max_held_bytes) {
                Some(charge) => record.hold(charge),
                None => {
                    pipe.counters
                        .add_dropped_unqueued(DropReason::MemoryBudget, 1);
                    return;
                }
            }
        }
        pipe.counters.add_queued(1);
        if pipe.queue.push(record).is_err() {
            pipe.counters.unqueue(1);
            pipe.counters.add_dropped_unqueued(DropReason::QueueFull, 1);
            if !pipe.saturated.load(Ordering::Relaxed) {
                pipe.saturated.store(true, Ordering::Relaxed);
            }
            return;
        }
        if pipe.closed.load(Ordering::SeqCst) {
            // Shutdown finished between the check above and the push: nobody will take it.
            pipe.drain_closed();
            return;
        }
        // The armed flag first: while the exporter has a wake-up pending (most of a burst) this
        // is one load of a line it rarely writes, not a read of the queue's head and tail, which
        // the exporter writes with every record it takes.
        if !pipe.wake_armed.load(Ordering::Relaxed)
            && pipe.queue.len() >= pipe.wake_at
            && !pipe.wake_armed.swap(true, Ordering::Relaxed)
        {
            pipe.wake.notify_one();
        }
    }

    /// Drops (and counts) one record that would meet a full queue, before the caller builds
    /// it: `true` when the last push found the queue full and the exporter has not taken
    /// anything since. A hint, not a promise: right after the exporter takes records the
    /// caller builds and queues as usual.
    #[inline]
    pub(crate) fn drop_if_saturated(&self) -> bool {
        let pipe = &self.shared.pipe;
        if cfg!(feature = "enabled")
            && pipe.saturated.load(Ordering::Relaxed)
            && self.is_accepting()
        {
            pipe.counters.add_dropped_unqueued(DropReason::QueueFull, 1);
            return true;
        }
        false
    }

    /// Lets the exporter send a start record for `span` should it run longer than the
    /// long-span threshold (see `span::start`). One push on a bounded lock-free queue;
    /// nothing when the threshold is off or the queue is full.
    #[inline]
    pub(crate) fn watch(&self, span: Weak<dyn Watched>) {
        if let Some(started) = &self.shared.pipe.started {
            let _ = started.push(span);
        }
    }

    /// Whether the long-span watch is on (so that a span is not even downgraded for it when
    /// it is off).
    #[inline]
    pub(crate) fn watches(&self) -> bool {
        self.shared.pipe.started.is_some()
    }

    /// The delivery counters now.
    pub fn stats(&self) -> Stats {
        self.shared.pipe.stats()
    }

    fn request(
        &self,
        make: impl FnOnce(Instant, Reply) -> Control,
        timeout: Duration,
    ) -> std::sync::mpsc::Receiver<FlushReport> {
        let (tx, rx) = std::sync::mpsc::channel();
        let deadline = super::after(timeout);
        let reply = Box::new(move |report| {
            let _ = tx.send(report);
        });
        // If the exporter is gone, the sender is dropped with the message and `rx` says so.
        let _ = self.shared.control.send(make(deadline, reply));
        rx
    }

    /// Delivers everything produced so far, waiting at most `timeout` (`Duration::MAX`: as
    /// long as delivery takes). Blocks the calling thread (safe inside any tokio runtime, since
    /// the exporter has its own thread); in async code prefer
    /// [`flush_async`](Client::flush_async).
    pub fn flush(&self, timeout: Duration) -> FlushReport {
        let rx = self.request(
            |deadline, reply| Control::Flush { deadline, reply },
            timeout,
        );
        self.wait(rx, timeout)
    }

    /// Like [`flush`](Client::flush), without blocking the async runtime.
    pub async fn flush_async(&self, timeout: Duration) -> FlushReport {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let deadline = super::after(timeout);
        let reply = Box::new(move |report| {
            let _ = tx.send(report);
        });
        let _ = self.shared.control.send(Control::Flush { deadline, reply });
        // The exporter answers by the deadline; if it is gone, the channel closes at once.
        match rx.await {
            Ok(report) => report,
            Err(_) => self.unanswered(),
        }
    }

    /// Stops accepting records, delivers what is queued within `timeout`, counts the rest as
    /// dropped, and stops the exporter. Later records are counted as `after_shutdown`.
    pub fn shutdown(&self, timeout: Duration) -> FlushReport {
        self.shared.accepting.store(false, Ordering::Relaxed);
        let rx = self.request(
            |deadline, reply| Control::Shutdown { deadline, reply },
            timeout,
        );
        self.wait(rx, timeout)
    }

    /// The shutdown timeout the client was configured with.
    pub fn shutdown_timeout(&self) -> Duration {
        self.shared.shutdown_timeout
    }

    fn wait(&self, rx: std::sync::mpsc::Receiver<FlushReport>, timeout: Duration) -> FlushReport {
        // The exporter answers by the deadline; the margin only covers a stalled exporter thread.
        let wait = timeout.saturating_add(Duration::from_millis(50));
        let answer = match super::after(wait).checked_duration_since(Instant::now()) {
            Some(left) => rx.recv_timeout(left),
            None => rx
                .recv()
                .map_err(|_| std::sync::mpsc::RecvTimeoutError::Disconnected),
        };
        match answer {
            Ok(report) => report,
            Err(_) => self.unanswered(),
        }
    }

    /// The report when the exporter did not answer: it has stopped (after a shutdown), so the
    /// counters are final, or its thread is stalled past the deadline.
    fn unanswered(&self) -> FlushReport {
        let stats = self.stats();
        FlushReport {
            completed: stats.pending() == 0,
            stats,
        }
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("project_name", &self.shared.project_name)
            .field("accepting", &self.is_accepting())
            .field("stats", &self.stats())
            .finish()
    }
}
