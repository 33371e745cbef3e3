//! What the exporter logs about trouble, so that a flapping server does not flood the app's
//! log: one line per outage, and rate-limited lines for what is not an outage.
//!
//! - An outage starts with the first failed attempt (a retry, a refusal, a drop) while none is
//!   open: one WARN line naming that cause. Every failure after it, of whatever cause, is logged
//!   at debug level only.
//!   A 413 that splits a batch is no failure: the halves go, and the byte cap adapts.
//! - It ends once a request succeeded and no attempt failed for `outage_quiet_period` (10 s by
//!   default): one INFO line saying how long it lasted, how many attempts failed, and how many
//!   records were dropped meanwhile, by reason. Failures that alternate with successes (a server
//!   closing keep-alive connections, a proxy refusing some requests) are one outage, not a
//!   start and an end line per failure. The quiet period is far longer than the gaps between
//!   such failures (a busy exporter sends several requests a second) and short enough that the
//!   end line still reads as news.
//! - A full queue (`queue_full` drops, which producers count and the exporter reads off the
//!   counters) and records truncated or not encodable are logged at most once a minute each,
//!   with the count since the previous line.

use super::exporter::State;
use super::local::format_duration;
use crate::pipe::{DropReason, Stats};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The shortest time between two lines about the same ongoing thing (queue drops, truncation).
pub(super) const REPEAT_AFTER: Duration = Duration::from_secs(60);
/// How often the exporter looks at the counters and the outage clock while busy or idle.
pub(super) const HOUSEKEEPING: Duration = Duration::from_secs(1);

/// An outage under way.
#[derive(Debug)]
struct Outage {
    started: Instant,
    last_failure: Instant,
    /// The first success after the last failure.
    recovered_at: Option<Instant>,
    failed_attempts: u64,
    /// The counters when it started, to tell what was dropped meanwhile.
    stats_at_start: Stats,
}

/// A kind of line logged at most once per [`REPEAT_AFTER`].
#[derive(Debug, Default)]
struct Repeated {
    last_line: Option<Instant>,
    /// Occurrences since the last line.
    unreported: u64,
}

/// The exporter's log state.
#[derive(Debug, Default)]
pub(super) struct Trouble {
    outage: Option<Outage>,
    repeated: HashMap<&'static str, Repeated>,
    /// `queue_full` drops already reported.
    queue_full_reported: u64,
    queue_full_line: Option<Instant>,
}

/// `count` records dropped by reason, as `3 (http_4xx: 2, network: 1)`, or `none`.
fn by_reason(before: &Stats, now: &Stats) -> String {
    let parts: Vec<String> = DropReason::ALL
        .into_iter()
        .filter_map(|r| {
            let n = now.dropped(r).saturating_sub(before.dropped(r));
            (n > 0).then(|| format!("{r}: {n}"))
        })
        .collect();
    let total = now.dropped_total().saturating_sub(before.dropped_total());
    if total == 0 {
        "none".to_owned()
    } else {
        format!("{total} ({})", parts.join(", "))
    }
}

impl State {
    /// An attempt failed (`message` says how): the first failure of an outage is a warning,
    /// the others are debug lines.
    pub(super) fn failed(&mut self, message: String) {
        let now = Instant::now();
        match &mut self.trouble.outage {
            Some(o) => {
                o.failed_attempts += 1;
                o.last_failure = now;
                o.recovered_at = None;
                tracing::debug!(target: "opik", "{message}");
            }
            None => {
                tracing::warn!(
                    target: "opik",
                    "{message} (further failures are logged at debug level; one line will say \
                     when this ends)"
                );
                self.trouble.outage = Some(Outage {
                    started: now,
                    last_failure: now,
                    recovered_at: None,
                    failed_attempts: 1,
                    stats_at_start: self.pipe.stats(),
                });
            }
        }
    }

    /// A request succeeded.
    pub(super) fn succeeded(&mut self) {
        if let Some(o) = &mut self.trouble.outage {
            o.recovered_at.get_or_insert_with(Instant::now);
        }
    }

    /// Ends the outage if it is over (a success, then the quiet period without failure), or
    /// if `now_anyway` (shutdown) and the last attempt succeeded.
    pub(super) fn end_outage_if_over(&mut self, now: Instant, now_anyway: bool) {
        let quiet = self.settings.outage_quiet_period;
        let Some(o) = &self.trouble.outage else {
            return;
        };
        let Some(recovered_at) = o.recovered_at else {
            return;
        };
        if !now_anyway && now.saturating_duration_since(o.last_failure) < quiet {
            return;
        }
        let dropped = by_reason(&o.stats_at_start, &self.pipe.stats());
        tracing::info!(
            target: "opik",
            "opik: the outage is over, Opik accepts records again. It lasted {}: {} attempts \
             failed; records dropped meanwhile: {dropped}",
            format_duration(recovered_at.saturating_duration_since(o.started)),
            o.failed_attempts,
        );
        self.trouble.outage = None;
    }

    /// Logs `message` now if no line of this `kind` was logged in the last [`REPEAT_AFTER`],
    /// with how many occurrences the earlier lines did not show; else at debug level.
    pub(super) fn note(&mut self, kind: &'static str, message: String) {
        let now = Instant::now();
        let r = self.trouble.repeated.entry(kind).or_default();
        r.unreported += 1;
        let due = r
            .last_line
            .is_none_or(|at| now.saturating_duration_since(at) >= REPEAT_AFTER);
        if due {
            let more = r.unreported - 1;
            if more > 0 {
                tracing::warn!(
                    target: "opik",
                    "{message} ({more} more since the last such line; this line is repeated at \
                     most once a minute)"
                );
            } else {
                tracing::warn!(
                    target: "opik",
                    "{message} (this line is repeated at most once a minute)"
                );
            }
            r.last_line = Some(now);
            r.unreported = 0;
        } else {
            tracing::debug!(target: "opik", "{message}");
        }
    }

    /// Warns about records the full queue dropped since the last such line, at most once a
    /// minute.
    pub(super) fn note_queue_drops(&mut self, now: Instant) {
        let t = &mut self.trouble;
        let total = self.pipe.counters.dropped(DropReason::QueueFull);
        let new = total.saturating_sub(t.queue_full_reported);
        if new == 0
            || t.queue_full_line
                .is_some_and(|at| now.saturating_duration_since(at) < REPEAT_AFTER)
        {
            return;
        }
        let since = match t.queue_full_line {
            Some(at) => format!(
                "in the last {}",
                format_duration(now.saturating_duration_since(at))
            ),
            None => "so far".to_owned(),
        };
        tracing::warn!(
            target: "opik",
            "opik: the queue is full: {new} records dropped as queue_full {since} ({total} in \
             all). The app produces records faster than they are delivered: raise \
             queue_capacity, or see the delivery failures logged above. Repeated at most once a \
             minute"
        );
        t.queue_full_reported = total;
        t.queue_full_line = Some(now);
    }

    /// What the exporter checks about once a second, busy or idle: the queue's drops, and
    /// whether an outage is over.
    pub(super) fn housekeep(&mut self, now: Instant) {
        if now < self.housekeeping_at {
            return;
        }
        self.housekeeping_at = now + HOUSEKEEPING;
        self.note_queue_drops(now);
        self.end_outage_if_over(now, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::config::ExportSettings;
    use crate::pipe::Pipe;

    #[test]
    fn drops_are_told_by_reason_since_the_start() {
        let pipe = Pipe::new(&ExportSettings::default());
        pipe.counters.add_queued(10);
        pipe.counters.add_dropped(DropReason::Network, 1);
        let before = pipe.stats();
        assert_eq!(by_reason(&before, &before), "none");
        pipe.counters.add_dropped(DropReason::Http4xx, 2);
        pipe.counters.add_dropped_unqueued(DropReason::QueueFull, 4);
        assert_eq!(pipe.counters.dropped(DropReason::QueueFull), 4);
        pipe.counters.add_dropped(DropReason::Network, 3);
        assert_eq!(
            by_reason(&before, &pipe.stats()),
            "9 (queue_full: 4, http_4xx: 2, network: 3)"
        );
    }
}
