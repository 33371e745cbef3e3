//! [`PerThread`]: a counter that each thread increments in a slot of its own, for counting
//! records where they are produced without an atomic read-modify-write on the hot path.
//!
//! A shared atomic counter costs every producer a locked instruction (a full barrier, several
//! nanoseconds on a tracked call of ~100) and bounces its cache line between producer threads.
//! Here a thread increments only its own slot, which no other thread writes: a plain load and
//! store of an atomic, no lock prefix. A snapshot sums the slots under a lock (rare: `stats()`).
//!
//! Lifecycle: a thread's slot is registered the first time it counts on a counter (one lock),
//! and found again through a one-entry thread-local cache (a thread of a typical app counts on
//! one counter all its life); when the thread exits, its count is folded into `retired` and the
//! slot removed, under the same lock, so a snapshot never counts a slot twice or misses it, and
//! memory does not grow with the number of threads an app has ever run.

use crossbeam_utils::CachePadded;
use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

/// A counter summed over per-thread slots.
#[derive(Debug)]
pub(crate) struct PerThread {
    shared: Arc<Registry>,
}

#[derive(Debug, Default)]
struct Registry {
    /// Identifies the counter in the thread-local cache.
    id: u64,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// The slots of the threads that count on this counter now.
    slots: Vec<Arc<Slot>>,
    /// What the threads that have exited had counted.
    retired: u64,
}

/// One thread's count, on a cache line of its own.
#[derive(Debug, Default)]
struct Slot(CachePadded<AtomicU64>);

/// A thread's registration with one counter.
struct Held {
    registry: Weak<Registry>,
    slot: Arc<Slot>,
}

impl Drop for Held {
    fn drop(&mut self) {
        // The thread is exiting (or the list is cleared): fold its count in and let the slot go.
        if let Some(registry) = self.registry.upgrade() {
            let mut state = registry.lock();
            state.retired = state
                .retired
                .wrapping_add(self.slot.0.load(Ordering::Acquire));
            state.slots.retain(|s| !Arc::ptr_eq(s, &self.slot));
        }
    }
}

thread_local! {
    /// The counter this thread counted on last, and its slot there. `Copy` contents and no
    /// destructor, so it stays readable while other thread-locals are torn down; the slot it
    /// points to is kept alive by `HELD` (and reset here when `HELD` goes).
    static CACHE: Cell<(u64, *const AtomicU64)> = const { Cell::new((0, std::ptr::null())) };
    /// Every counter this thread has a slot with.
    static HELD: RefCell<HeldList> = const { RefCell::new(HeldList(Vec::new())) };
}

/// `HELD`'s contents; clears the cache before the slots go.
struct HeldList(Vec<Held>);

impl Drop for HeldList {
    fn drop(&mut self) {
        let _ = CACHE.try_with(|c| c.set((0, std::ptr::null())));
    }
}

impl Default for PerThread {
    fn default() -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        PerThread {
            shared: Arc::new(Registry {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                state: Mutex::default(),
            }),
        }
    }
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl PerThread {
    /// Adds `n` to this thread's slot. The store is released: whatever the thread did before
    /// (queueing the record it counts) is visible to a snapshot that reads the count.
    #[inline]
    pub(crate) fn add(&self, n: u64) {
        let id = self.shared.id;
        let hit = CACHE
            .try_with(|c| {
                let (cached, slot) = c.get();
                if cached == id {
                    // SAFETY: the cache holds a slot of this thread's `HELD` list, which keeps
                    // it alive; `HeldList::drop` resets the cache before the list goes.
                    let slot = unsafe { &*slot };
                    // Only this thread writes its slot: no read-modify-write needed.
                    slot.store(
                        slot.load(Ordering::Relaxed).wrapping_add(n),
                        Ordering::Release,
                    );
                    true
                } else {
                    false
                }
            })
            .unwrap_or(false);
        if !hit {
            self.add_slow(n);
        }
    }

    /// Takes `n` back from this thread's slot (it added them before).
    #[inline]
    pub(crate) fn sub(&self, n: u64) {
        self.add(n.wrapping_neg());
    }

    /// The first count of this thread on this counter, or a thread that alternates counters.
    #[cold]
    fn add_slow(&self, n: u64) {
        let id = self.shared.id;
        let registered = HELD.try_with(|held| {
            let mut held = held.borrow_mut();
            held.0.retain(|h| h.registry.strong_count() > 0);
            let slot = match held
                .0
                .iter()
                .find(|h| h.registry.upgrade().is_some_and(|r| r.id == id))
            {
                Some(h) => Arc::clone(&h.slot),
                None => {
                    let slot = Arc::new(Slot::default());
                    self.shared.lock().slots.push(Arc::clone(&slot));
                    held.0.push(Held {
                        registry: Arc::downgrade(&self.shared),
                        slot: Arc::clone(&slot),
                    });
                    slot
                }
            };
            slot.0.store(
                slot.0.load(Ordering::Relaxed).wrapping_add(n),
                Ordering::Release,
            );
            let _ = CACHE.try_with(|c| c.set((id, &*slot.0 as *const AtomicU64)));
        });
        if registered.is_err() {
            // The thread's locals are gone (a record made during thread exit): count it as a
            // retired thread's, under the lock.
            let mut state = self.shared.lock();
            state.retired = state.retired.wrapping_add(n);
        }
    }

    /// The sum over every thread, those that exited included.
    pub(crate) fn sum(&self) -> u64 {
        let state = self.shared.lock();
        // Wrapping arithmetic throughout: `sub` adds the negation right after the `add` it takes
        // back, so each slot, and the sum, is a true count.
        state.slots.iter().fold(state.retired, |sum, s| {
            sum.wrapping_add(s.0.load(Ordering::Acquire))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_from_many_threads_add_up_also_after_they_exit() {
        let counter = Arc::new(PerThread::default());
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let c = Arc::clone(&counter);
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        c.add(1);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(counter.sum(), 80_000);
        assert!(
            counter.shared.lock().slots.is_empty(),
            "exited threads' slots are folded in"
        );
        counter.add(2);
        assert_eq!(counter.sum(), 80_002);
    }

    #[test]
    fn one_thread_counting_on_several_counters() {
        let (a, b) = (PerThread::default(), PerThread::default());
        for _ in 0..100 {
            a.add(1);
            b.add(2);
        }
        assert_eq!((a.sum(), b.sum()), (100, 200));
        drop(a);
        b.add(1); // a's registration is cleaned up on the way
        assert_eq!(b.sum(), 201);
    }
}
