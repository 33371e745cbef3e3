//! The exporter: takes records off the bounded queue, batches them per endpoint (at most
//! `batch_max_items` records and `batch_max_bytes` of JSON per request), and sends them through
//! a [`Transport`]. It runs on the SDK's own thread with its own current-thread tokio runtime,
//! so the app's runtime (or lack of one) never matters and the caller never waits on it.
//!
//! Delivery rules (each one is a case of the fault suite in `tests/delivery.rs`):
//! - one batch is in flight at a time; it is retried only where that is safe (ids are made at
//!   span start, so a retry re-sends the same ids and batch creates are upserts): network errors,
//!   timeouts, 408, 429, 500, 502, 503, 504, with exponential backoff and jitter, at most
//!   `max_retries` retries and `retry_deadline` per batch;
//! - a 429 (or any server-requested wait: `Retry-After`, `RateLimit-Reset`,
//!   `Opik-*-Remaining-Limit-TTL-Millis`, capped by `rate_limit_max_wait`) pauses the whole
//!   sender, and the pause does not eat into the batch's deadline;
//! - 409 counts as delivered; 413 (or a 400/422 naming the size) splits the batch in halves and
//!   lowers the byte cap of that endpoint; a record too large alone has its `input`/`output`
//!   replaced by a truncation marker (as the Python SDK does) and is sent again;
//! - other 4xx drop the batch, counted, with one log line per status;
//! - flush and shutdown requests are served while a batch is in flight or backing off: a flush
//!   answers by its deadline whatever the server does; shutdown cancels the request in flight
//!   at its deadline and counts what is left as `shutdown_deadline`.

pub(crate) mod http;
pub mod local;
pub(crate) mod progress;
pub mod transport;

use crate::clock::Timestamp;
use crate::context::ActiveSpan;
use crate::record::{wire, Payload, Record, RecordKind};
use crate::stats::{Counters, DropReason, Stats};
use crossbeam_queue::ArrayQueue;
use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Notify};
use transport::{EncodedBatch, SendOutcome, Transport};

const KINDS: usize = RecordKind::ALL.len();

/// How the exporter batches, paces and retries its work.
///
/// `ExportSettings::from(&config)` takes the values a [`Config`](crate::config::Config) has;
/// change fields on top of that and pass it to [`Client::with_settings`](crate::Client).
#[derive(Clone, Debug)]
pub struct ExportSettings {
    /// Records the queue holds before new ones are dropped (and counted). The exporter holds at
    /// most as many again while it batches them, so memory stays bounded under a stalled server.
    pub queue_capacity: usize,
    /// Records per request (Opik takes at most 1000).
    pub batch_max_items: usize,
    /// Uncompressed JSON bytes per request.
    pub batch_max_bytes: usize,
    /// How long a partly filled batch waits for more records.
    pub flush_interval: Duration,
    /// How long dropping the guard may wait for delivery.
    pub shutdown_timeout: Duration,
    /// Retries of one batch (after the first attempt).
    pub max_retries: u32,
    /// How long one batch may be retried, from its first attempt (rate-limit pauses extend it).
    pub retry_deadline: Duration,
    /// The first backoff; each retry doubles it (with jitter), up to `backoff_max`.
    pub backoff_base: Duration,
    /// The longest backoff between two attempts.
    pub backoff_max: Duration,
    /// The longest wait a server may ask for (`Retry-After` and friends) before sending resumes.
    pub rate_limit_max_wait: Duration,
    /// A record whose JSON is larger than this has its `input`/`output` replaced by a
    /// truncation marker before it is sent (the Python SDK's limit is 20 MB).
    pub max_record_bytes: usize,
    /// Spans running longer than this are sent early as start records; `None` never does.
    pub long_span_threshold: Option<Duration>,
}

impl Default for ExportSettings {
    fn default() -> Self {
        ExportSettings {
            queue_capacity: 16_384,
            batch_max_items: 1000,
            batch_max_bytes: 4 << 20,
            flush_interval: Duration::from_millis(500),
            shutdown_timeout: Duration::from_secs(2),
            max_retries: 5,
            retry_deadline: Duration::from_secs(30),
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_secs(10),
            rate_limit_max_wait: Duration::from_secs(60),
            max_record_bytes: 20 << 20,
            long_span_threshold: Some(Duration::from_secs(5)),
        }
    }
}

/// Capacity of the queue of started spans that the exporter watches for long runners.
const WATCH_QUEUE: usize = 65_536;

/// What producers and the exporter share. The exporter does not hold the control sender, so
/// dropping the last client closes the channel and lets the exporter finish and exit.
pub(crate) struct Pipe {
    pub(crate) queue: ArrayQueue<Record>,
    pub(crate) counters: Counters,
    pub(crate) wake: Notify,
    /// Set when a producer has woken the exporter for a full batch, so that the following
    /// producers do not wake it again before it ran.
    pub(crate) wake_armed: AtomicBool,
    pub(crate) wake_at: usize,
    /// Set by a producer whose record met a full queue, cleared by the exporter once it has
    /// taken records off the queue. While it is set a tracked call drops its span record before
    /// building it (counted as `queue_full` all the same): under overload the app pays the
    /// least for what cannot be kept. Read by every producer, written once per overload
    /// episode and once per exporter take: the line stays shared, not bounced.
    pub(crate) saturated: AtomicBool,
    /// Set once the exporter has taken its last records: a producer that still gets one in
    /// (it passed the `accepting` check just before shutdown) counts it as `after_shutdown`.
    pub(crate) closed: AtomicBool,
    /// Spans that started, for the long-span watch (`None` when the threshold is off).
    pub(crate) started: Option<ArrayQueue<Weak<ActiveSpan>>>,
}

impl Pipe {
    pub(crate) fn new(settings: &ExportSettings) -> Self {
        Pipe {
            queue: ArrayQueue::new(settings.queue_capacity.max(1)),
            counters: Counters::default(),
            wake: Notify::new(),
            wake_armed: AtomicBool::new(false),
            wake_at: settings.batch_max_items.max(1),
            saturated: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            started: settings
                .long_span_threshold
                .map(|_| ArrayQueue::new(WATCH_QUEUE)),
        }
    }

    pub(crate) fn stats(&self) -> Stats {
        self.counters.snapshot(self.queue.len() as u64)
    }

    /// Counts whatever is still queued as dropped after shutdown.
    pub(crate) fn drain_closed(&self) {
        let mut n = 0;
        while self.queue.pop().is_some() {
            n += 1;
        }
        if n > 0 {
            self.counters.add_taken(n);
            self.counters.add_dropped(DropReason::AfterShutdown, n);
        }
    }
}

/// The answer to a flush or shutdown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlushReport {
    /// Whether every record produced before the flush was delivered or dropped by the deadline.
    pub completed: bool,
    /// The counters when the flush returned.
    pub stats: Stats,
}

type Reply = Box<dyn FnOnce(FlushReport) + Send>;

pub(crate) enum Control {
    /// Send everything queued now; answer by `deadline`.
    Flush { deadline: Instant, reply: Reply },
    /// Send everything, drop what is left at `deadline` (counted), answer, and exit.
    Shutdown { deadline: Instant, reply: Reply },
}

/// A flush waiting for the records taken before it to settle.
struct Waiter {
    deadline: Instant,
    reply: Reply,
    /// Per kind: how many records must have settled for this flush to be complete.
    target: [u64; KINDS],
    /// The same in all, counting those still in the queue (beyond the exporter's bound).
    target_total: u64,
}

/// The batch being sent (one at a time).
struct Batch {
    kind: RecordKind,
    records: Vec<Record>,
    encoded: Arc<EncodedBatch>,
    /// Start records of running spans: not counted as produced or delivered.
    preview: bool,
    attempts: u32,
    first_try: Option<Instant>,
    /// Not sent again before this (backoff).
    not_before: Instant,
    /// Extra time granted by rate-limit pauses.
    paused_for: Duration,
    /// How many of its records had their input/output replaced by a truncation marker.
    truncated: u64,
}

pub(crate) struct Exporter {
    transport: Box<dyn Transport>,
    st: State,
}

struct State {
    pipe: Arc<Pipe>,
    settings: ExportSettings,
    control: mpsc::UnboundedReceiver<Control>,
    control_open: bool,
    pending: [VecDeque<Record>; KINDS],
    previews: [VecDeque<Record>; KINDS],
    current: Option<Batch>,
    /// Per kind: records taken off the queue, and records settled (delivered or dropped).
    taken: [u64; KINDS],
    settled: [u64; KINDS],
    /// Per kind: the byte cap, halved when the server says a request was too large, and grown
    /// back after successes, but never again to a size that was refused.
    byte_cap: [usize; KINDS],
    /// Per kind: the smallest request size the server refused as too large.
    refused_size: [usize; KINDS],
    paused_until: Option<Instant>,
    /// Per kind: records taken before the last flush-interval tick. Until that many have
    /// settled, partly filled batches may go; records taken later wait for a full batch or
    /// the next tick, so a slow trickle still makes batches, not one request per record.
    due_upto: [u64; KINDS],
    next_tick: Instant,
    waiters: Vec<Waiter>,
    shutdown: Option<(Instant, Reply)>,
    logged: HashSet<String>,
    watch: Option<progress::Watch>,
}

/// Far enough to mean "never" for a sleep, near enough not to overflow `Instant`.
fn never() -> Instant {
    Instant::now() + Duration::from_secs(86_400)
}

impl Exporter {
    pub(crate) fn new(
        pipe: Arc<Pipe>,
        transport: Box<dyn Transport>,
        mut settings: ExportSettings,
        control: mpsc::UnboundedReceiver<Control>,
    ) -> Self {
        // `Config` refuses a zero interval; settings made by hand might not, and a zero
        // interval would make the loop spin.
        settings.flush_interval = settings.flush_interval.max(Duration::from_millis(1));
        let byte_cap = [settings.batch_max_bytes.max(1); KINDS];
        let watch = settings
            .long_span_threshold
            .map(|t| progress::Watch::new(t, WATCH_QUEUE));
        Exporter {
            transport,
            st: State {
                next_tick: Instant::now() + settings.flush_interval,
                pipe,
                settings,
                control,
                control_open: true,
                pending: Default::default(),
                previews: Default::default(),
                current: None,
                taken: [0; KINDS],
                settled: [0; KINDS],
                byte_cap,
                refused_size: [usize::MAX; KINDS],
                paused_until: None,
                due_upto: [0; KINDS],
                waiters: Vec::new(),
                shutdown: None,
                logged: HashSet::new(),
                watch,
            },
        }
    }

    /// Starts the exporter on its own thread and runtime.
    pub(crate) fn spawn(self) -> std::io::Result<std::thread::JoinHandle<()>> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::Builder::new()
            .name("opik-exporter".into())
            .spawn(move || runtime.block_on(self.run()))
    }

    async fn run(mut self) {
        // Calibrates the fast span clock here, off the app's threads.
        crate::clock::anchor();
        loop {
            let st = &mut self.st;
            st.poll_control();
            let now = Instant::now();
            st.take_queued();
            if now >= st.next_tick {
                st.next_tick = now + st.settings.flush_interval;
                // Keeps span timestamps on the system clock (NTP steps included).
                crate::clock::anchor();
                st.due_upto = st.taken;
                st.scan_long_spans();
            }
            st.answer_waiters(now);
            if let Some((deadline, _)) = &st.shutdown {
                if st.idle() || now >= *deadline {
                    st.finish_shutdown();
                    return;
                }
            }
            if st.current.is_none() {
                st.current = st.next_batch();
            }
            let ready_at = st.current.as_ref().map(|b| match st.paused_until {
                Some(p) => p.max(b.not_before),
                None => b.not_before,
            });
            match ready_at {
                Some(at) if at <= now => self.attempt().await,
                _ => self.st.wait(ready_at).await,
            }
        }
    }

    /// Sends the current batch once, serving control messages meanwhile.
    async fn attempt(&mut self) {
        let st = &mut self.st;
        let Some(batch) = st.current.as_mut() else {
            return;
        };
        let now = Instant::now();
        batch.attempts += 1;
        batch.first_try.get_or_insert(now);
        let encoded = Arc::clone(&batch.encoded);
        let send = self.transport.send(&encoded);
        tokio::pin!(send);
        let outcome = loop {
            let hard = st.shutdown.as_ref().map_or_else(never, |(d, _)| *d);
            let soft = st.next_waiter_deadline();
            tokio::select! {
                outcome = &mut send => break Some(outcome),
                c = st.control.recv(), if st.control_open => st.on_control(c),
                _ = tokio::time::sleep_until(soft.into()) => st.answer_waiters(Instant::now()),
                _ = tokio::time::sleep_until(hard.into()) => break None,
            }
        };
        // `None`: the shutdown deadline passed mid-request; the batch stays current and the
        // loop counts it as dropped.
        if let Some(outcome) = outcome {
            st.settle(outcome);
        }
    }
}

impl State {
    fn poll_control(&mut self) {
        while self.control_open {
            match self.control.try_recv() {
                Ok(c) => self.on_control(Some(c)),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => self.on_control(None),
            }
        }
    }

    fn on_control(&mut self, control: Option<Control>) {
        self.take_queued();
        match control {
            Some(Control::Flush { deadline, reply }) => self.waiters.push(Waiter {
                deadline,
                reply,
                target: self.taken,
                target_total: self.taken.iter().sum::<u64>() + self.pipe.queue.len() as u64,
            }),
            Some(Control::Shutdown { deadline, reply }) => {
                self.shutdown = Some(match self.shutdown.take() {
                    // A second shutdown answers with the first's outcome, by the earlier deadline.
                    Some((d, first)) => (
                        d.min(deadline),
                        Box::new(move |r| {
                            first(r);
                            reply(r);
                        }),
                    ),
                    None => (deadline, reply),
                });
            }
            None => {
                // Every client is gone: deliver what is left, within the usual deadline.
                self.control_open = false;
                if self.shutdown.is_none() {
                    let deadline = Instant::now() + self.settings.shutdown_timeout;
                    self.shutdown = Some((deadline, Box::new(|_| {})));
                }
            }
        }
    }

    fn pending_len(&self) -> usize {
        self.pending.iter().map(VecDeque::len).sum()
    }

    /// Moves queued records into the per-endpoint lists, holding at most `queue_capacity` of
    /// them (the batch in flight included): beyond that they wait in the queue, and the queue's
    /// bound drops the excess. So at most twice `queue_capacity` records are held in all.
    fn take_queued(&mut self) {
        let cap = self
            .settings
            .queue_capacity
            .max(self.settings.batch_max_items);
        let in_flight = self.current.as_ref().map_or(0, |b| b.records.len());
        let mut room = cap.saturating_sub(self.pending_len() + in_flight);
        let mut n = 0u64;
        while room > 0 {
            let Some(record) = self.pipe.queue.pop() else {
                break;
            };
            let k = record.kind().index();
            self.pending[k].push_back(record);
            self.taken[k] += 1;
            n += 1;
            room -= 1;
        }
        self.pipe.counters.add_taken(n);
        if n > 0 && self.pipe.saturated.load(Ordering::Relaxed) {
            self.pipe.saturated.store(false, Ordering::Relaxed);
        }
        if let (Some(watch), Some(started)) = (self.watch.as_mut(), self.pipe.started.as_ref()) {
            watch.absorb(started);
        }
    }

    fn scan_long_spans(&mut self) {
        let Some(watch) = self.watch.as_mut() else {
            return;
        };
        for record in watch.scan(Timestamp::now()) {
            self.previews[record.kind().index()].push_back(record);
        }
    }

    fn idle(&self) -> bool {
        self.current.is_none()
            && self.pipe.queue.is_empty()
            && self.pending.iter().all(VecDeque::is_empty)
            && self.previews.iter().all(VecDeque::is_empty)
    }

    fn flush_report(&self, completed: bool) -> FlushReport {
        FlushReport {
            completed,
            stats: self.pipe.stats(),
        }
    }

    fn next_waiter_deadline(&self) -> Instant {
        self.waiters
            .iter()
            .map(|w| w.deadline)
            .min()
            .unwrap_or_else(never)
    }

    /// Answers the flushes whose records all settled (completed) or whose deadline passed.
    fn answer_waiters(&mut self, now: Instant) {
        if self.waiters.is_empty() {
            return;
        }
        let settled = self.settled;
        let total: u64 = settled.iter().sum();
        let done =
            |w: &Waiter| total >= w.target_total && (0..KINDS).all(|k| settled[k] >= w.target[k]);
        let mut i = 0;
        while i < self.waiters.len() {
            let complete = done(&self.waiters[i]);
            if complete || now >= self.waiters[i].deadline {
                let w = self.waiters.swap_remove(i);
                (w.reply)(self.flush_report(complete));
            } else {
                i += 1;
            }
        }
    }

    /// Counts everything not delivered as `shutdown_deadline`, answers, and lets the exporter
    /// exit.
    fn finish_shutdown(&mut self) {
        self.pipe.closed.store(true, Ordering::SeqCst);
        self.take_queued();
        let mut left = self.pending_len() as u64;
        if let Some(b) = self.current.take() {
            if !b.preview {
                left += b.records.len() as u64;
            }
        }
        for p in &mut self.pending {
            p.clear();
        }
        // What is still queued beyond the exporter's own bound is lost just the same.
        let mut queued = 0u64;
        while self.pipe.queue.pop().is_some() {
            queued += 1;
        }
        self.pipe.counters.add_taken(queued);
        left += queued;
        self.pipe
            .counters
            .add_dropped(DropReason::ShutdownDeadline, left);
        if left > 0 {
            tracing::warn!(
                target: "opik",
                "opik: {left} records were still undelivered at the shutdown deadline and are lost"
            );
        }
        let completed = left == 0;
        for w in self.waiters.drain(..) {
            (w.reply)(FlushReport {
                completed,
                stats: self.pipe.stats(),
            });
        }
        if let Some((_, reply)) = self.shutdown.take() {
            reply(self.flush_report(completed));
        }
    }

    /// Waits until the current batch may be sent (`ready_at`), new records, a tick, a control
    /// message, or a deadline.
    async fn wait(&mut self, ready_at: Option<Instant>) {
        let mut until = self.next_tick.min(self.next_waiter_deadline());
        if let Some(at) = ready_at {
            until = until.min(at);
        }
        if let Some((d, _)) = &self.shutdown {
            until = until.min(*d);
        }
        tokio::select! {
            c = self.control.recv(), if self.control_open => self.on_control(c),
            _ = self.pipe.wake.notified() => self.pipe.wake_armed.store(false, Ordering::Relaxed),
            _ = tokio::time::sleep_until(until.into()) => {}
        }
    }

    /// Whether a flush or shutdown wants every partly filled batch now.
    fn flushing(&self) -> bool {
        !self.waiters.is_empty() || self.shutdown.is_some()
    }

    /// The next batch to send: start records first (they are time-sensitive and must precede
    /// the final records of the same ids), then full batches, then partial ones when a flush
    /// interval passed or a flush asks for them.
    fn next_batch(&mut self) -> Option<Batch> {
        for kind in RecordKind::ALL {
            if !self.previews[kind.index()].is_empty() {
                if let Some(b) = self.take_batch(kind, true) {
                    return Some(b);
                }
            }
        }
        let flushing = self.flushing();
        for kind in RecordKind::ALL {
            let k = kind.index();
            let waiting = self.pending[k].len();
            let due = flushing || self.settled[k] < self.due_upto[k];
            if waiting >= self.settings.batch_max_items || (due && waiting > 0) {
                if let Some(b) = self.take_batch(kind, false) {
                    return Some(b);
                }
            }
        }
        None
    }

    /// Encodes records of `kind` off the front of a list into one request body, up to the item
    /// and byte caps. A record larger than `max_record_bytes` is truncated first; one that
    /// cannot be encoded is dropped (`serialization`).
    fn take_batch(&mut self, kind: RecordKind, preview: bool) -> Option<Batch> {
        let k = kind.index();
        let now = Timestamp::now();
        let mut json = Vec::with_capacity(16 * 1024);
        json.extend_from_slice(b"{\"");
        json.extend_from_slice(kind.array_key().as_bytes());
        json.extend_from_slice(b"\":[");
        let mut used: Vec<Record> = Vec::new();
        let mut truncated = 0u64;
        loop {
            if used.len() >= self.settings.batch_max_items {
                break;
            }
            let list = if preview {
                &mut self.previews[k]
            } else {
                &mut self.pending[k]
            };
            let Some(mut record) = list.pop_front() else {
                break;
            };
            let mark = json.len();
            if !used.is_empty() {
                json.push(b',');
            }
            if wire::write_item(&mut json, &record, now).is_err() {
                json.truncate(mark);
                if !preview {
                    self.pipe.counters.add_dropped(DropReason::Serialization, 1);
                    self.settled[k] += 1;
                    self.log_once(
                        "serialization".into(),
                        format!("opik: a {kind} record could not be encoded as JSON; dropped"),
                    );
                }
                continue;
            }
            let item_len = json.len() - mark;
            if item_len > self.settings.max_record_bytes && truncate(&mut record) {
                json.truncate(mark);
                self.log_truncated(kind, item_len);
                let list = if preview {
                    &mut self.previews[k]
                } else {
                    &mut self.pending[k]
                };
                list.push_front(record);
                truncated += 1;
                continue;
            }
            if json.len() + 2 > self.byte_cap[k] && !used.is_empty() {
                // This record goes into the next request.
                json.truncate(mark);
                let list = if preview {
                    &mut self.previews[k]
                } else {
                    &mut self.pending[k]
                };
                list.push_front(record);
                break;
            }
            used.push(record);
        }
        if used.is_empty() {
            return None;
        }
        json.extend_from_slice(b"]}");
        Some(Batch {
            kind,
            encoded: Arc::new(EncodedBatch {
                kind,
                json,
                items: used.len(),
            }),
            records: used,
            preview,
            attempts: 0,
            first_try: None,
            not_before: Instant::now(),
            paused_for: Duration::ZERO,
            truncated,
        })
    }

    /// Logs `message` at warn level the first time `key` is seen since the last successful
    /// delivery, at debug level afterwards: one line per kind of failure and outage, however
    /// many batches it hits.
    fn log_once(&mut self, key: String, message: String) {
        if self.logged.insert(key) {
            tracing::warn!(target: "opik", "{message}");
        } else {
            tracing::debug!(target: "opik", "{message}");
        }
    }

    fn log_truncated(&mut self, kind: RecordKind, bytes: usize) {
        self.log_once(
            "truncated".into(),
            format!(
                "opik: a {kind} record of {bytes} bytes is too large to send; its input and output \
                 were replaced by a truncation marker (log large payloads as attachments instead)"
            ),
        );
    }

    /// Settles the current batch's attempt.
    fn settle(&mut self, outcome: SendOutcome) {
        let Some(mut batch) = self.current.take() else {
            return;
        };
        let n = batch.records.len() as u64;
        let k = batch.kind.index();
        match outcome {
            SendOutcome::Delivered => {
                if batch.preview {
                    self.pipe.counters.add_in_progress(n);
                } else {
                    self.byte_cap[k] = (self.byte_cap[k].saturating_mul(2))
                        .min(self.settings.batch_max_bytes)
                        .min(self.refused_size[k].saturating_sub(1))
                        .max(1);
                    self.pipe.counters.add_delivered(n);
                    self.pipe.counters.add_truncated(batch.truncated);
                    self.settled[k] += n;
                }
                if !self.logged.is_empty() {
                    // One line per outage: a failure that comes back later is logged again.
                    tracing::info!(target: "opik", "opik: Opik accepts records again");
                    self.logged.clear();
                }
            }
            SendOutcome::Rejected {
                reason,
                status,
                detail,
            } => {
                let (key, message) = match status {
                    Some(s @ (401 | 403)) => (
                        format!("status {s}"),
                        format!(
                            "opik: Opik refused the API key or workspace (HTTP {s}): check \
                             OPIK_API_KEY and OPIK_WORKSPACE (or api_key / workspace in \
                             ~/.opik.config). Records are dropped until this is fixed. Server \
                             said: {detail}"
                        ),
                    ),
                    Some(s) => (
                        format!("status {s}"),
                        format!(
                            "opik: Opik refused a batch of {n} {} ({detail}); dropped. Further \
                             refusals with this status are logged at debug level",
                            batch.kind
                        ),
                    ),
                    None => (
                        format!("{reason}"),
                        format!("opik: could not send {n} {}: {detail}; dropped", batch.kind),
                    ),
                };
                self.log_once(key, message);
                self.drop_batch(&batch, reason);
            }
            SendOutcome::TooLarge => self.split(batch),
            SendOutcome::Retry {
                after,
                reason,
                detail,
            } => {
                let now = Instant::now();
                let rate_limited = reason == DropReason::RateLimitedExhausted;
                let wait = match after {
                    Some(a) => a.min(self.settings.rate_limit_max_wait),
                    None => backoff(&self.settings, batch.attempts),
                };
                if after.is_some() || rate_limited {
                    // The server asked everyone to wait: pause the whole sender, and do not
                    // count the pause against this batch's deadline.
                    self.paused_until = Some(now + wait);
                    batch.paused_for += wait;
                }
                let first = batch.first_try.unwrap_or(now);
                let give_up_at = first + self.settings.retry_deadline + batch.paused_for;
                let retries_left = batch.attempts <= self.settings.max_retries;
                if !retries_left || now + wait > give_up_at {
                    self.log_once(
                        format!("gave up {reason}"),
                        format!(
                            "opik: gave up on {n} {} after {} attempts in {:.1?}: {detail}; dropped \
                             as {reason}",
                            batch.kind,
                            batch.attempts,
                            now - first
                        ),
                    );
                    self.drop_batch(&batch, reason);
                    return;
                }
                self.log_once(
                    format!("retry {reason}"),
                    format!(
                        "opik: sending {} failed ({detail}); retrying in {wait:.1?} (further \
                         retries are logged at debug level)",
                        batch.kind
                    ),
                );
                batch.not_before = now + wait;
                self.current = Some(batch);
            }
        }
    }

    fn drop_batch(&mut self, batch: &Batch, reason: DropReason) {
        if batch.preview {
            return; // the final record still goes; a lost preview is no data loss
        }
        let n = batch.records.len() as u64;
        self.pipe.counters.add_dropped(reason, n);
        self.settled[batch.kind.index()] += n;
    }

    /// A 413: split the batch in halves (and remember that this endpoint takes smaller
    /// requests), or truncate a single record, or give up on a truncated one.
    fn split(&mut self, mut batch: Batch) {
        let k = batch.kind.index();
        let size = batch.encoded.json.len();
        let list = if batch.preview {
            &mut self.previews[k]
        } else {
            &mut self.pending[k]
        };
        if batch.records.len() > 1 {
            // Halve the cap so that the halves fit (a single record always goes, whatever the
            // cap: the next branch handles one that is too large alone).
            self.refused_size[k] = self.refused_size[k].min(size);
            self.byte_cap[k] = (size / 2).min(self.byte_cap[k]).max(1);
            for r in batch.records.drain(..).rev() {
                list.push_front(r);
            }
            tracing::debug!(target: "opik", "opik: a request of {size} bytes was too large; splitting it");
            return;
        }
        let Some(mut record) = batch.records.pop() else {
            return;
        };
        if truncate(&mut record) {
            self.log_truncated(batch.kind, size);
            let preview = batch.preview;
            if let Some(mut b) = self.single(batch.kind, record, preview) {
                b.truncated = 1;
                self.current = Some(b);
            }
            return;
        }
        batch.records.push(record);
        self.log_once(
            "too large".into(),
            format!(
                "opik: Opik refused a {} record of {size} bytes as too large even with its input \
                 and output truncated; dropped",
                batch.kind
            ),
        );
        self.drop_batch(&batch, DropReason::TooLarge);
    }

    /// A batch of one record.
    fn single(&mut self, kind: RecordKind, record: Record, preview: bool) -> Option<Batch> {
        let k = kind.index();
        let list = if preview {
            &mut self.previews[k]
        } else {
            &mut self.pending[k]
        };
        list.push_front(record);
        let cap = std::mem::replace(&mut self.settings.batch_max_items, 1);
        let b = self.take_batch(kind, preview);
        self.settings.batch_max_items = cap;
        b
    }
}

/// What replaces an oversized `input`/`output`: the Python SDK's marker, so that tools that
/// detect `opik_truncated` work on both.
fn truncation_marker(bytes: usize) -> Payload {
    let mb = (bytes as f64 / (1024.0 * 1024.0)).round() as u64;
    Payload::from_json(
        &serde_json::json!({
            "opik_truncated": true,
            "reason": format!("<omitted_due_to_size_{mb}MB_error_code_413_400>"),
        }),
        "output",
    )
}

/// Replaces a trace's or span's `input` and `output` by truncation markers; false when there
/// was nothing to truncate.
fn truncate(record: &mut Record) -> bool {
    let (input, output) = match record {
        Record::Trace(t) => (&mut t.input, &mut t.output),
        Record::Span(s) => (&mut s.input, &mut s.output),
        Record::Feedback(_) => return false,
    };
    let mut changed = false;
    for field in [input, output] {
        if let Some(p) = field {
            if !p.as_str().contains("\"opik_truncated\":true") {
                *field = Some(truncation_marker(p.len()));
                changed = true;
            }
        }
    }
    changed
}

/// Exponential backoff with jitter: `base · 2^(attempt-1)`, capped at `backoff_max`, times a
/// random factor in [0.5, 1).
fn backoff(settings: &ExportSettings, attempt: u32) -> Duration {
    let ceiling = settings
        .backoff_base
        .saturating_mul(1 << attempt.saturating_sub(1).min(16))
        .min(settings.backoff_max);
    ceiling.mul_f64(0.5 + fastrand::f64() * 0.5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let s = ExportSettings::default();
        let first = backoff(&s, 1);
        assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
        let tenth = backoff(&s, 10);
        assert!(
            tenth <= s.backoff_max && tenth >= s.backoff_max / 2,
            "{tenth:?}"
        );
    }

    #[test]
    fn names_size_recognises_size_complaints() {
        assert!(http::names_size("Request Entity Too Large"));
        assert!(http::names_size(
            "{\"errors\":[\"payload size exceeds 20MB\"]}"
        ));
        assert!(!http::names_size(
            "{\"errors\":[\"name must not be blank\"]}"
        ));
    }
}
