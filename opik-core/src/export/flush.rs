//! Flushes waiting for the records produced before them to settle (delivered or dropped), and
//! answered by their deadline whatever the server does.

use super::exporter::{never, State};
use super::KINDS;
use crate::pipe::{FlushReport, Reply};
use std::time::Instant;

/// A flush waiting for the records taken before it to settle.
pub(super) struct Waiter {
    pub(super) deadline: Instant,
    pub(super) reply: Reply,
    /// Per kind: how many records must have settled for this flush to be complete.
    pub(super) target: [u64; KINDS],
    /// The same in all, counting those still in the queue (beyond the exporter's bound).
    pub(super) target_total: u64,
}

impl State {
    pub(super) fn flush_report(&self, completed: bool) -> FlushReport {
        FlushReport {
            completed,
            stats: self.pipe.stats(),
        }
    }

    pub(super) fn next_waiter_deadline(&self) -> Instant {
        self.waiters
            .iter()
            .map(|w| w.deadline)
            .min()
            .unwrap_or_else(never)
    }

    /// Answers the flushes whose records all settled (completed) or whose deadline passed.
    pub(super) fn answer_waiters(&mut self, now: Instant) {
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
}
