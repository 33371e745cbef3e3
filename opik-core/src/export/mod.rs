//! The exporter: takes records off the bounded queue, batches them per endpoint (at most
//! `batch_max_items` records and `batch_max_bytes` of JSON per request), and sends them through
//! a [`Transport`]. It runs on the SDK's own thread with its own current-thread tokio runtime,
//! so the app's runtime (or lack of one) never matters and the caller never waits on it.

pub(crate) mod http;
pub mod transport;

use crate::clock::Timestamp;
use crate::record::{wire, Record, RecordKind};
use crate::stats::{Counters, DropReason, Stats};
use crossbeam_queue::ArrayQueue;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Notify};
use transport::{EncodedBatch, SendOutcome, Transport};

/// How the exporter batches and paces its work.
#[derive(Clone, Debug)]
pub struct ExportSettings {
    /// Records the queue holds before new ones are dropped (and counted).
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
        }
    }
}

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
}

impl Pipe {
    pub(crate) fn new(settings: &ExportSettings) -> Self {
        Pipe {
            queue: ArrayQueue::new(settings.queue_capacity.max(1)),
            counters: Counters::default(),
            wake: Notify::new(),
            wake_armed: AtomicBool::new(false),
            wake_at: settings.batch_max_items.max(1),
        }
    }

    pub(crate) fn stats(&self) -> Stats {
        self.counters.snapshot(self.queue.len() as u64)
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

pub(crate) struct Exporter {
    pipe: Arc<Pipe>,
    transport: Box<dyn Transport>,
    settings: ExportSettings,
    control: mpsc::UnboundedReceiver<Control>,
    pending: [VecDeque<Record>; RecordKind::ALL.len()],
}

/// How a round of sending ended.
enum Round {
    /// Everything that was due went out (delivered or dropped).
    Done,
    /// The deadline passed first; what was not sent is still pending.
    DeadlinePassed,
}

impl Exporter {
    pub(crate) fn new(
        pipe: Arc<Pipe>,
        transport: Box<dyn Transport>,
        settings: ExportSettings,
        control: mpsc::UnboundedReceiver<Control>,
    ) -> Self {
        Exporter {
            pipe,
            transport,
            settings,
            control,
            pending: Default::default(),
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
        let mut tick = tokio::time::interval(self.settings.flush_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let mut due_all = false;
            let mut control = None;
            tokio::select! {
                biased;
                c = self.control.recv() => match c {
                    Some(c) => control = Some(c),
                    None => {
                        // Every client is gone: deliver what is left, within the usual deadline.
                        let deadline = Instant::now() + self.settings.shutdown_timeout;
                        self.shutdown(deadline).await;
                        return;
                    }
                },
                _ = self.pipe.wake.notified() => {}
                _ = tick.tick() => due_all = true,
            }
            self.pipe.wake_armed.store(false, Ordering::Relaxed);
            self.take_queued();
            match control {
                None => {
                    let deadline = Instant::now() + self.batch_deadline();
                    self.send_due(due_all, deadline).await;
                }
                Some(Control::Flush { deadline, reply }) => {
                    let round = self.send_due(true, deadline).await;
                    reply(FlushReport {
                        completed: matches!(round, Round::Done),
                        stats: self.pipe.stats(),
                    });
                }
                Some(Control::Shutdown { deadline, reply }) => {
                    let report = self.shutdown(deadline).await;
                    reply(report);
                    return;
                }
            }
        }
    }

    /// How long one round may spend on retries before the loop looks at the queue again.
    fn batch_deadline(&self) -> Duration {
        Duration::from_secs(30)
    }

    async fn shutdown(&mut self, deadline: Instant) -> FlushReport {
        self.take_queued();
        let round = self.send_due(true, deadline).await;
        // Whatever a producer still managed to queue, and what missed the deadline, is lost:
        // count it so that produced == delivered + dropped holds after shutdown.
        self.take_queued();
        let left: usize = self.pending.iter().map(VecDeque::len).sum();
        for p in &mut self.pending {
            p.clear();
        }
        self.pipe
            .counters
            .add_dropped(DropReason::ShutdownDeadline, left as u64);
        FlushReport {
            completed: matches!(round, Round::Done) && left == 0,
            stats: self.pipe.stats(),
        }
    }

    fn take_queued(&mut self) {
        let mut n = 0u64;
        while let Some(record) = self.pipe.queue.pop() {
            self.pending[record.kind().index()].push_back(record);
            n += 1;
        }
        self.pipe.counters.add_taken(n);
    }

    /// Sends full batches, and partial ones too when `all` is set, until done or `deadline`.
    async fn send_due(&mut self, all: bool, deadline: Instant) -> Round {
        for kind in RecordKind::ALL {
            loop {
                let waiting = self.pending[kind.index()].len();
                if waiting == 0 || (!all && waiting < self.settings.batch_max_items) {
                    break;
                }
                let records = self.next_batch(kind);
                if let Round::DeadlinePassed = self.send_batch(kind, records, deadline).await {
                    return Round::DeadlinePassed;
                }
            }
        }
        Round::Done
    }

    /// Takes up to `batch_max_items` records of `kind` off the pending list.
    fn next_batch(&mut self, kind: RecordKind) -> Vec<Record> {
        let pending = &mut self.pending[kind.index()];
        let n = pending.len().min(self.settings.batch_max_items);
        pending.drain(..n).collect()
    }

    /// Encodes `records` into as many requests as the byte cap needs and sends each.
    async fn send_batch(
        &mut self,
        kind: RecordKind,
        records: Vec<Record>,
        deadline: Instant,
    ) -> Round {
        let mut rest = records.into_iter().peekable();
        while rest.peek().is_some() {
            let (batch, used) = self.encode(kind, &mut rest);
            if batch.items == 0 {
                continue;
            }
            match self.deliver(&batch, deadline).await {
                Some(()) => {}
                None => {
                    // Deadline passed: put the records back, in order, for the next round.
                    let pending = &mut self.pending[kind.index()];
                    for r in rest.rev() {
                        pending.push_front(r);
                    }
                    for r in used.into_iter().rev() {
                        pending.push_front(r);
                    }
                    return Round::DeadlinePassed;
                }
            }
        }
        Round::Done
    }

    /// Encodes records from `records` into one request body, stopping before the byte cap.
    fn encode(
        &self,
        kind: RecordKind,
        records: &mut std::iter::Peekable<impl Iterator<Item = Record>>,
    ) -> (EncodedBatch, Vec<Record>) {
        let now = Timestamp::now();
        let mut json = Vec::with_capacity(16 * 1024);
        json.extend_from_slice(b"{\"");
        json.extend_from_slice(kind.array_key().as_bytes());
        json.extend_from_slice(b"\":[");
        let mut used = Vec::new();
        while let Some(record) = records.peek() {
            let mark = json.len();
            if !used.is_empty() {
                json.push(b',');
            }
            if wire::write_item(&mut json, record, now).is_err() {
                json.truncate(mark);
                records.next();
                self.pipe.counters.add_dropped(DropReason::Serialization, 1);
                continue;
            }
            if json.len() + 2 > self.settings.batch_max_bytes && !used.is_empty() {
                // This record goes into the next request.
                json.truncate(mark);
                break;
            }
            if let Some(r) = records.next() {
                used.push(r);
            }
        }
        json.extend_from_slice(b"]}");
        let batch = EncodedBatch {
            kind,
            json,
            items: used.len(),
        };
        (batch, used)
    }

    /// Sends one batch with retries; `None` if the deadline passed before it was settled.
    async fn deliver(&mut self, batch: &EncodedBatch, deadline: Instant) -> Option<()> {
        let counters = &self.pipe.counters;
        let mut attempt = 0u32;
        loop {
            let outcome =
                tokio::time::timeout_at(deadline.into(), self.transport.send(batch)).await;
            let outcome = outcome.ok()?;
            match outcome {
                SendOutcome::Delivered => {
                    counters.add_delivered(batch.items as u64);
                    return Some(());
                }
                SendOutcome::Rejected { reason, detail } => {
                    tracing::warn!(
                        target: "opik",
                        "Opik refused {} {}: {detail}; {} records dropped",
                        batch.kind.method(),
                        batch.kind.path(),
                        batch.items
                    );
                    counters.add_dropped(reason, batch.items as u64);
                    return Some(());
                }
                SendOutcome::TooLarge => {
                    tracing::warn!(target: "opik", "Opik said a batch of {} {} was too large; dropped", batch.items, batch.kind);
                    counters.add_dropped(DropReason::TooLarge, batch.items as u64);
                    return Some(());
                }
                SendOutcome::Retry {
                    after,
                    reason,
                    detail,
                } => {
                    if attempt >= self.settings.max_retries {
                        tracing::warn!(
                            target: "opik",
                            "giving up on {} {} after {} attempts: {detail}; {} records dropped",
                            batch.kind.method(),
                            batch.kind.path(),
                            attempt + 1,
                            batch.items
                        );
                        counters.add_dropped(reason, batch.items as u64);
                        return Some(());
                    }
                    let backoff = after.unwrap_or_else(|| backoff(attempt));
                    attempt += 1;
                    let wake = Instant::now() + backoff.min(Duration::from_secs(60));
                    if wake >= deadline {
                        return None;
                    }
                    tokio::time::sleep_until(wake.into()).await;
                }
            }
        }
    }
}

/// Exponential backoff with full jitter: 100 ms, 200 ms, 400 ms... up to 10 s.
fn backoff(attempt: u32) -> Duration {
    let ceiling = Duration::from_millis(100)
        .saturating_mul(1 << attempt.min(10))
        .min(Duration::from_secs(10));
    ceiling.mul_f64(0.5 + fastrand::f64() * 0.5)
}
