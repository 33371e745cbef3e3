//! [`Pipe`]: the state producers and the exporter share, and the control messages a client
//! sends the exporter.

use super::stats::{Counters, FlushReport, Stats};
use super::watched::Watched;
use super::DropReason;
use crate::config::ExportSettings;
use crate::model::Record;
use crossbeam_queue::ArrayQueue;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Weak};
use std::time::Instant;
use tokio::sync::Notify;

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
    pub(crate) started: Option<ArrayQueue<Weak<dyn Watched>>>,
    /// Payload bytes held by the records with large payloads not yet dropped (see
    /// `model::ByteCharge`), and the most it may be.
    pub(crate) held_bytes: Arc<AtomicU64>,
    pub(crate) max_held_bytes: u64,
    /// `max_stream_output_bytes`, read when a tracked stream starts.
    pub(crate) stream_output_limit: usize,
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
            held_bytes: Arc::default(),
            max_held_bytes: settings.max_buffered_bytes as u64,
            stream_output_limit: settings.max_stream_output_bytes,
        }
    }

    /// A pipe nothing is ever queued on (an inert client's): the smallest queue, no watch.
    #[cfg_attr(feature = "enabled", allow(dead_code))]
    pub(crate) fn inert() -> Self {
        Pipe {
            queue: ArrayQueue::new(1),
            counters: Counters::default(),
            wake: Notify::new(),
            wake_armed: AtomicBool::new(false),
            wake_at: 1,
            saturated: AtomicBool::new(false),
            closed: AtomicBool::new(true),
            started: None,
            held_bytes: Arc::default(),
            max_held_bytes: 0,
            stream_output_limit: 0,
        }
    }

    /// The capacity of the watch queue (the exporter's list of watched spans is as long).
    pub(crate) const WATCH_CAPACITY: usize = WATCH_QUEUE;

    pub(crate) fn stats(&self) -> Stats {
        self.counters.snapshot()
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

/// How the exporter answers a flush or shutdown.
pub(crate) type Reply = Box<dyn FnOnce(FlushReport) + Send>;

/// What a client asks of the exporter.
pub(crate) enum Control {
    /// Send everything queued now; answer by `deadline`.
    Flush { deadline: Instant, reply: Reply },
    /// Send everything, drop what is left at `deadline` (counted), answer, and exit.
    Shutdown { deadline: Instant, reply: Reply },
}
