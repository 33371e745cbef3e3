//! A client: the queue that tracked calls feed, and the exporter that drains it.
//!
//! `opik::init()` installs one globally; tests and apps that want isolation run code under
//! [`Client::scope`] / [`Client::sync_scope`] instead, like `tracing`'s `with_default`.

use crate::config::Config;
use crate::context;
use crate::export::http::HttpTransport;
use crate::export::transport::Transport;
use crate::export::{Control, ExportSettings, Exporter, FlushReport, Pipe};
use crate::record::{ProjectName, Record};
use crate::stats::{DropReason, Stats};
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

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
}

/// Why a client could not start.
#[derive(Debug)]
pub struct ClientError(String);

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "opik: {}", self.0)
    }
}

impl std::error::Error for ClientError {}

impl Client {
    /// A client that sends to the Opik server `config` names.
    pub fn new(config: &Config) -> Result<Client, ClientError> {
        Self::with_settings(config, ExportSettings::from(config))
    }

    /// A client that sends to the Opik server `config` names, batching and retrying as
    /// `settings` say (start from `ExportSettings::from(&config)` and change what you need,
    /// e.g. shorter backoffs in tests).
    pub fn with_settings(config: &Config, settings: ExportSettings) -> Result<Client, ClientError> {
        let transport = HttpTransport::new(config).map_err(ClientError)?;
        Self::with_transport(config.project_name(), settings, Box::new(transport))
    }

    /// A client whose batches go to `transport` (a local view, an in-memory capture...).
    pub fn with_transport(
        project_name: &str,
        settings: ExportSettings,
        transport: Box<dyn Transport>,
    ) -> Result<Client, ClientError> {
        let pipe = Arc::new(Pipe::new(&settings));
        let (control, control_rx) = mpsc::unbounded_channel();
        let shutdown_timeout = settings.shutdown_timeout;
        Exporter::new(Arc::clone(&pipe), transport, settings, control_rx)
            .spawn()
            .map_err(|e| ClientError(format!("could not start the exporter thread: {e}")))?;
        Ok(Client {
            shared: Arc::new(Shared {
                pipe,
                control,
                project_name: ProjectName::intern(project_name),
                accepting: AtomicBool::new(true),
                shutdown_timeout,
            }),
        })
    }

    /// The project new traces go to unless a call names another.
    pub fn project_name(&self) -> ProjectName {
        self.shared.project_name
    }

    pub(crate) fn is_accepting(&self) -> bool {
        self.shared.accepting.load(Ordering::Relaxed)
    }

    /// Queues a record for export. Never blocks: a full queue drops the record and counts it.
    #[inline]
    pub fn enqueue(&self, record: Record) {
        // Every record (tracked calls, explicit handles, feedback scores, integrations) comes
        // through here: with the `enabled` feature off this is where they all become no-ops.
        if !cfg!(feature = "enabled") {
            return;
        }
        let pipe = &self.shared.pipe;
        if !self.is_accepting() {
            pipe.counters.add_dropped(DropReason::AfterShutdown, 1);
            return;
        }
        if pipe.queue.push(record).is_err() {
            pipe.counters.add_dropped(DropReason::QueueFull, 1);
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
            pipe.counters.add_dropped(DropReason::QueueFull, 1);
            return true;
        }
        false
    }

    /// Lets the exporter send a start record for `span` should it run longer than the
    /// long-span threshold (see `export::progress`). One weak-count increment and one push on a
    /// bounded lock-free queue; nothing when the threshold is off or the queue is full.
    #[inline]
    pub(crate) fn watch(&self, span: &Arc<crate::context::ActiveSpan>) {
        if let Some(started) = &self.shared.pipe.started {
            let _ = started.push(Arc::downgrade(span));
        }
    }

    /// The delivery counters now.
    pub fn stats(&self) -> Stats {
        self.shared.pipe.stats()
    }

    fn request(
        &self,
        make: impl FnOnce(Instant, Box<dyn FnOnce(FlushReport) + Send>) -> Control,
        timeout: Duration,
    ) -> std::sync::mpsc::Receiver<FlushReport> {
        let (tx, rx) = std::sync::mpsc::channel();
        let deadline = Instant::now() + timeout;
        let reply = Box::new(move |report| {
            let _ = tx.send(report);
        });
        // If the exporter is gone, the sender is dropped with the message and `rx` says so.
        let _ = self.shared.control.send(make(deadline, reply));
        rx
    }

    /// Delivers everything produced so far, waiting at most `timeout`. Blocks the calling
    /// thread (safe inside any tokio runtime, since the exporter has its own thread); in async
    /// code prefer [`flush_async`](Client::flush_async).
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
        let deadline = Instant::now() + timeout;
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
        match rx.recv_timeout(timeout + Duration::from_millis(50)) {
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

    /// Runs `f` with this client receiving the traces that start inside it (sync code, or code
    /// with no runtime).
    pub fn sync_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        context::sync_scope_client(self.clone(), f)
    }

    /// Runs `fut` with this client receiving the traces that start inside it.
    pub async fn scope<F: Future>(&self, fut: F) -> F::Output {
        context::scope_client(self.clone(), fut).await
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

impl From<&Config> for ExportSettings {
    fn from(config: &Config) -> Self {
        ExportSettings {
            queue_capacity: config.queue_capacity(),
            batch_max_items: config.batch_max_items(),
            batch_max_bytes: config.batch_max_bytes(),
            flush_interval: config.flush_interval(),
            shutdown_timeout: config.shutdown_timeout(),
            long_span_threshold: config.long_span_threshold(),
            max_retries: config.max_retries(),
            retry_deadline: config.retry_deadline(),
            ..ExportSettings::default()
        }
    }
}
