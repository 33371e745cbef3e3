//! The exporter's loop: it takes records off the queue into per-endpoint lists, answers
//! control messages, and sends one batch at a time, on the SDK's own thread and runtime.

use super::batch::{Batch, SizeLimit};
use super::flush::Waiter;
use super::outage::Trouble;
use super::transport::Transport;
use super::upload::Uploads;
use super::watch::Watch;
use super::KINDS;
use crate::config::ExportSettings;
use crate::model::{Record, RecordKind, Timestamp};
use crate::net::RetryPolicy;
use crate::pipe::{Control, DropReason, FlushReport, Pipe, Reply};
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

pub(crate) struct Exporter {
    pub(super) transport: Box<dyn Transport>,
    pub(super) st: State,
}

pub(super) struct State {
    pub(super) pipe: Arc<Pipe>,
    pub(super) settings: ExportSettings,
    /// When failed batches are tried again (from `settings`).
    pub(super) retry: RetryPolicy,
    pub(super) control: mpsc::UnboundedReceiver<Control>,
    pub(super) control_open: bool,
    pub(super) pending: [VecDeque<Record>; KINDS],
    pub(super) previews: [VecDeque<Record>; KINDS],
    pub(super) current: Option<Batch>,
    /// Per kind: records taken off the queue, and records settled (delivered or dropped).
    pub(super) taken: [u64; KINDS],
    pub(super) settled: [u64; KINDS],
    /// Per kind: the byte cap of requests, and what the server refused as too large.
    pub(super) limits: [SizeLimit; KINDS],
    pub(super) paused_until: Option<Instant>,
    /// Per kind: records taken before the last flush-interval tick. Until that many have
    /// settled, partly filled batches may go; records taken later wait for a full batch or
    /// the next tick, so a slow trickle still makes batches, not one request per record.
    pub(super) due_upto: [u64; KINDS],
    pub(super) next_tick: Instant,
    pub(super) waiters: Vec<Waiter>,
    pub(super) shutdown: Option<(Instant, Reply)>,
    /// What has been logged about failures (`outage`).
    pub(super) trouble: Trouble,
    /// When `housekeep` next looks at the counters and the outage clock.
    pub(super) housekeeping_at: Instant,
    pub(super) watch: Option<Watch>,
    /// The attachment uploads running.
    pub(super) uploads: Uploads,
    /// The client's environment, written on every trace and span.
    pub(super) environment: Option<Arc<str>>,
}

/// Far enough to mean "never" for a sleep, near enough not to overflow `Instant`.
pub(super) fn never() -> Instant {
    Instant::now() + Duration::from_secs(86_400)
}

impl Exporter {
    pub(crate) fn new(
        pipe: Arc<Pipe>,
        transport: Box<dyn Transport>,
        mut settings: ExportSettings,
        control: mpsc::UnboundedReceiver<Control>,
        environment: Option<Arc<str>>,
    ) -> Self {
        // `Config` refuses a zero interval (it would make the loop spin); a longer one than
        // anybody waits for is capped, so that the tick arithmetic cannot overflow.
        settings.flush_interval = settings
            .flush_interval
            .clamp(Duration::from_millis(1), Duration::from_secs(3600));
        let limits = std::array::from_fn(|_| SizeLimit::new(settings.batch_max_bytes));
        let watch = settings
            .long_span_threshold
            .map(|t| Watch::new(t, Pipe::WATCH_CAPACITY));
        Exporter {
            transport,
            st: State {
                next_tick: Instant::now() + settings.flush_interval,
                pipe,
                retry: RetryPolicy::new(&settings),
                settings,
                control,
                control_open: true,
                pending: Default::default(),
                previews: Default::default(),
                current: None,
                taken: [0; KINDS],
                settled: [0; KINDS],
                limits,
                paused_until: None,
                due_upto: [0; KINDS],
                waiters: Vec::new(),
                shutdown: None,
                trouble: Trouble::default(),
                housekeeping_at: Instant::now(),
                watch,
                uploads: Uploads::default(),
                environment,
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
            // A `LocalSet`, so that attachment uploads run as tasks of this thread alongside
            // the loop, without being `Send`.
            .spawn(move || {
                let local = tokio::task::LocalSet::new();
                runtime.block_on(local.run_until(self.run()))
            })
    }

    pub(super) async fn run(mut self) {
        // Calibrates the fast span clock here, off the app's threads.
        crate::model::anchor();
        loop {
            let st = &mut self.st;
            st.poll_control();
            let now = Instant::now();
            st.take_queued();
            st.start_uploads(self.transport.as_mut());
            if now >= st.next_tick {
                st.next_tick = now + st.settings.flush_interval;
                // Keeps span timestamps on the system clock (NTP steps included).
                crate::model::anchor();
                st.due_upto = st.taken;
                st.scan_long_spans();
            }
            st.answer_waiters(now);
            st.housekeep(now);
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
    pub(super) async fn attempt(&mut self) {
        let st = &mut self.st;
        let Some(batch) = st.current.as_mut() else {
            return;
        };
        let now = Instant::now();
        batch.tries.start(now);
        let encoded = Arc::clone(&batch.encoded);
        let send = self.transport.send(&encoded);
        tokio::pin!(send);
        let outcome = loop {
            let hard = st.shutdown.as_ref().map_or_else(never, |(d, _)| *d);
            let soft = st.next_waiter_deadline();
            let housekeeping = st.housekeeping_at;
            tokio::select! {
                outcome = &mut send => break Some(outcome),
                c = st.control.recv(), if st.control_open => st.on_control(c),
                _ = tokio::time::sleep_until(soft.into()) => st.answer_waiters(Instant::now()),
                _ = tokio::time::sleep_until(housekeeping.into()) => st.housekeep(Instant::now()),
                done = st.uploads.next(), if !st.uploads.is_empty() => st.upload_finished(done),
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
    pub(super) fn poll_control(&mut self) {
        while self.control_open {
            match self.control.try_recv() {
                Ok(c) => self.on_control(Some(c)),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => self.on_control(None),
            }
        }
    }

    pub(super) fn on_control(&mut self, control: Option<Control>) {
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
                    let deadline = crate::pipe::after(self.settings.shutdown_timeout);
                    self.shutdown = Some((deadline, Box::new(|_| {})));
                }
            }
        }
    }

    pub(super) fn pending_len(&self) -> usize {
        self.pending.iter().map(VecDeque::len).sum()
    }

    /// Moves queued records into the per-endpoint lists, holding at most `queue_capacity` of
    /// them (the batch in flight included): beyond that they wait in the queue, and the queue's
    /// bound drops the excess. So at most twice `queue_capacity` records are held in all.
    pub(super) fn take_queued(&mut self) {
        let cap = self
            .settings
            .queue_capacity
            .max(self.settings.batch_max_items);
        let in_flight = self.current.as_ref().map_or(0, |b| b.records.len());
        let mut room = cap.saturating_sub(self.pending_len() + in_flight);
        let mut n = 0u64;
        while room > 0 {
            let Some(mut record) = self.pipe.queue.pop() else {
                break;
            };
            self.extract_attachments(&mut record);
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

    pub(super) fn scan_long_spans(&mut self) {
        let Some(watch) = self.watch.as_mut() else {
            return;
        };
        for record in watch.scan(Timestamp::now()) {
            self.previews[record.kind().index()].push_back(record);
        }
    }

    pub(super) fn idle(&self) -> bool {
        self.current.is_none()
            && self.pipe.queue.is_empty()
            && self.pending.iter().all(VecDeque::is_empty)
            && self.previews.iter().all(VecDeque::is_empty)
            && self.uploads.is_empty()
    }

    /// Counts everything not delivered as `shutdown_deadline`, answers, and lets the exporter
    /// exit.
    pub(super) fn finish_shutdown(&mut self) {
        self.end_outage_if_over(Instant::now(), true);
        self.pipe.closed.store(true, Ordering::SeqCst);
        self.take_queued();
        let mut left = self.pending_len() as u64 + self.cancel_uploads();
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
    pub(super) async fn wait(&mut self, ready_at: Option<Instant>) {
        let mut until = self
            .next_tick
            .min(self.next_waiter_deadline())
            .min(self.housekeeping_at);
        if let Some(at) = ready_at {
            until = until.min(at);
        }
        if let Some((d, _)) = &self.shutdown {
            until = until.min(*d);
        }
        tokio::select! {
            c = self.control.recv(), if self.control_open => self.on_control(c),
            _ = self.pipe.wake.notified() => self.pipe.wake_armed.store(false, Ordering::Relaxed),
            done = self.uploads.next(), if !self.uploads.is_empty() => self.upload_finished(done),
            _ = tokio::time::sleep_until(until.into()) => {}
        }
    }

    /// Whether a flush or shutdown wants every partly filled batch now.
    pub(super) fn flushing(&self) -> bool {
        !self.waiters.is_empty() || self.shutdown.is_some()
    }

    /// The next batch to send: start records first (they are time-sensitive and must precede
    /// the final records of the same ids), then full batches, then partial ones when a flush
    /// interval passed or a flush asks for them.
    pub(super) fn next_batch(&mut self) -> Option<Batch> {
        for kind in RecordKind::BATCHED {
            if !self.previews[kind.index()].is_empty() {
                if let Some(b) = self.take_batch(kind, true) {
                    return Some(b);
                }
            }
        }
        let flushing = self.flushing();
        for kind in RecordKind::BATCHED {
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
}
