//! [`UpdateSlot`]: where the updates of one span or trace wait for it to end.
//!
//! The promise: an update that [`UpdateSlot::merge`] accepted (`true`) is in what
//! [`UpdateSlot::take`] returns at the end; once `take` has run, every merge is refused
//! (`false`). A span nobody updates (nearly all) pays one atomic read-modify-write for its end
//! and never locks.
//!
//! How: `state` goes `EMPTY -> SET -> CLOSED` or `EMPTY -> CLOSED`, and the two moves out of
//! `EMPTY` are compare-and-swaps, so exactly one of "the first update" and "the end" wins:
//! - `take` swaps in `CLOSED`. If it saw `EMPTY`, no update was ever accepted (an update is
//!   accepted only once its own move to `SET` succeeded), and any update still running will
//!   see its move fail and refuse. If it saw `SET`, it takes the value under the lock, after
//!   every accepted update has been written (they write under the lock before moving to
//!   `SET`, or, when `SET` already, under the lock which `take` waits for).
//! - `merge`, under the lock: refuses on `CLOSED`; otherwise writes the value, and on `EMPTY`
//!   moves to `SET`, undoing its write and refusing if `take` closed the slot meanwhile.
//!
//! Tested by `tests::racing_updates_are_kept_or_refused` (threads updating while the slot is
//! taken: every accepted update is found in the taken value) and the facade's stress test.

use crate::model::Merge;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;

/// Updates waiting for their span or trace to end.
#[derive(Debug, Default)]
pub(crate) struct UpdateSlot<T> {
    state: AtomicU8,
    value: Mutex<Option<Box<T>>>,
}

const EMPTY: u8 = 0;
const SET: u8 = 1;
const CLOSED: u8 = 2;

impl<T: Merge> UpdateSlot<T> {
    /// An empty slot (no allocation).
    pub(crate) const fn new() -> Self {
        UpdateSlot {
            state: AtomicU8::new(EMPTY),
            value: Mutex::new(None),
        }
    }

    /// Merges `update` in. `true`: it will be in what [`take`](Self::take) returns; `false`
    /// (and nothing is kept): the span or trace has ended.
    pub(crate) fn merge(&self, update: T) -> bool {
        let mut slot = self.value.lock().unwrap_or_else(|p| p.into_inner());
        match self.state.load(Ordering::Acquire) {
            CLOSED => false,
            SET => {
                match slot.as_mut() {
                    Some(existing) => existing.merge(update),
                    None => *slot = Some(Box::new(update)),
                }
                true
            }
            _ => {
                // The first update: written, then published by the move to `SET`, which fails
                // if the end closed the slot after the load above.
                debug_assert!(slot.is_none());
                *slot = Some(Box::new(update));
                let published = self
                    .state
                    .compare_exchange(EMPTY, SET, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok();
                if !published {
                    *slot = None;
                }
                published
            }
        }
    }

    /// Closes the slot (its span or trace ends) and takes what was set, if anything.
    #[inline]
    pub(crate) fn take(&self) -> Option<Box<T>> {
        if self.state.swap(CLOSED, Ordering::AcqRel) != SET {
            return None;
        }
        let mut slot = self.value.lock().unwrap_or_else(|p| p.into_inner());
        slot.take()
    }

    /// What was set so far, read without closing the slot (snapshots, start records).
    pub(crate) fn read<R>(&self, f: impl FnOnce(&T) -> R) -> Option<R> {
        if self.state.load(Ordering::Acquire) != SET {
            return None;
        }
        let slot = self.value.lock().unwrap_or_else(|p| p.into_inner());
        slot.as_deref().map(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::sync::Arc;

    #[derive(Debug, Default)]
    struct Keys(BTreeSet<u64>);

    impl Merge for Keys {
        fn merge(&mut self, newer: Self) {
            self.0.extend(newer.0);
        }
    }

    #[test]
    fn racing_updates_are_kept_or_refused() {
        for round in 0..200 {
            let slot = Arc::new(UpdateSlot::<Keys>::new());
            let threads: Vec<_> = (0..4u64)
                .map(|t| {
                    let slot = Arc::clone(&slot);
                    std::thread::spawn(move || {
                        let mut accepted = Vec::new();
                        for i in 0..50u64 {
                            let key = t * 1000 + i;
                            if slot.merge(Keys(BTreeSet::from([key]))) {
                                accepted.push(key);
                            }
                        }
                        accepted
                    })
                })
                .collect();
            // End while the updates run (sooner or later, depending on the round).
            for _ in 0..round % 7 {
                std::thread::yield_now();
            }
            let taken = slot.take().map(|k| k.0).unwrap_or_default();
            let accepted: BTreeSet<u64> = threads
                .into_iter()
                .flat_map(|t| t.join().expect("no panic"))
                .collect();
            assert_eq!(accepted, taken, "round {round}: accepted != in the record");
            assert!(
                !slot.merge(Keys(BTreeSet::from([9]))),
                "refused after the end"
            );
            assert!(slot.take().is_none(), "taken once");
        }
    }

    #[test]
    fn a_slot_nobody_updated_ends_without_a_value() {
        let slot = UpdateSlot::<Keys>::new();
        assert!(slot.read(|_| ()).is_none());
        assert!(slot.take().is_none());
        assert!(!slot.merge(Keys::default()));
    }
}
