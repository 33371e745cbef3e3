//! The current span (the running span a new span nests under) and the scoped client (the one
//! a `Client::scope` installed around the caller): what each thread is running right now.
//!
//! Each is a thread-local pointer, set for the length of a scope and put back when it ends
//! (also when it unwinds). Async code gets its own value on every poll: a tracked future (or a
//! future made current with `OpikContext::scope`) sets the pointer around each poll of its inner
//! future, so that wherever the executor polls it, on whatever thread, the inner future sees
//! its own span, and two children awaited together with `join!` each see their own parent.
//! Sync code uses the same scopes and needs no runtime at all: one mechanism for both.
//!
//! Why not tokio's `task_local!` (which works the same way inside): its values are moved into
//! and out of the slot around every poll and borrowed through a `RefCell`, and its future
//! wrapper can only be made around a future that already exists. Here the pointer borrows the
//! span from its owner (the tracked call): setting it is two plain stores, no reference count
//! changes hands, and a tracked future can start its span at its first poll, inside its own
//! `poll`, without a second future around it. Together with keeping the ends of a call out of
//! line (`recorder`), this took the stack a level of tracked recursion costs from 529 to 208
//! bytes (sync), 643 to 321 (`async fn`) and 882 to 257 (a function returning a boxed future);
//! untracked, the same functions take 16, 49 and 81 (`tests/hostile_input.rs` measures them).
//!
//! Soundness: a pointer is only ever set by a scope that holds the `Arc` (or the `Client`) it
//! points into, for exactly the scope's length, and is restored by a guard's `Drop`, so a
//! pointer in the slot is always alive. Readers that keep a span take their own reference
//! (`Arc::increment_strong_count` on a pointer obtained from `Arc::as_ptr`).

use crate::pipe::Client;
use crate::span::ActiveSpan;
use std::cell::Cell;
use std::ptr;
use std::sync::Arc;

thread_local! {
    // `const` and no destructor: readable at any point of a thread's life, teardown included.
    static CURRENT_SPAN: Cell<*const ActiveSpan> = const { Cell::new(ptr::null()) };
    static SCOPED_CLIENT: Cell<*const Client> = const { Cell::new(ptr::null()) };
}

/// Puts the previous pointer back when a scope ends or unwinds.
struct Restore<T: 'static> {
    key: &'static std::thread::LocalKey<Cell<*const T>>,
    previous: *const T,
}

impl<T> Drop for Restore<T> {
    #[inline]
    fn drop(&mut self) {
        let previous = self.previous;
        self.key.with(|c| c.set(previous));
    }
}

#[inline]
fn enter<T>(key: &'static std::thread::LocalKey<Cell<*const T>>, value: &T) -> Restore<T> {
    let previous = key.with(|c| c.replace(value as *const T));
    Restore { key, previous }
}

/// Runs `f` with `span` as the current span. `span` is borrowed for the scope: no reference
/// count changes.
#[inline]
pub(crate) fn sync_scope_span<R>(span: &Arc<ActiveSpan>, f: impl FnOnce() -> R) -> R {
    let _restore = enter(&CURRENT_SPAN, &**span);
    f()
}

/// Runs `f` with `client` receiving the traces that start inside it.
#[inline]
pub(crate) fn sync_scope_client<R>(client: &Client, f: impl FnOnce() -> R) -> R {
    let _restore = enter(&SCOPED_CLIENT, client);
    f()
}

/// `f` of the innermost running span, if any, without taking a reference to it (a new span
/// only needs its parent's trace and id: no reference-count round trip on the parent).
#[inline]
pub(crate) fn with_current_span<R>(f: impl FnOnce(&ActiveSpan) -> R) -> Option<R> {
    let p = CURRENT_SPAN.with(Cell::get);
    // SAFETY: a non-null pointer was set by a scope that borrows a live span (module docs).
    (!p.is_null()).then(|| f(unsafe { &*p }))
}

/// The innermost running span of this task (or of this thread, in sync code), if any: a
/// reference of the caller's own.
#[inline]
pub(crate) fn current_span() -> Option<Arc<ActiveSpan>> {
    let p = CURRENT_SPAN.with(Cell::get);
    if p.is_null() {
        return None;
    }
    // SAFETY: `p` came from `Arc::as_ptr` of an `Arc` the scope holds for as long as the
    // pointer is set, so the allocation is alive and counting one more reference is sound.
    unsafe {
        Arc::increment_strong_count(p);
        Some(Arc::from_raw(p))
    }
}

/// The client installed with `Client::run`/`scope` around the caller, if any.
#[inline]
pub(crate) fn scoped_client() -> Option<Client> {
    let p = SCOPED_CLIENT.with(Cell::get);
    // SAFETY: as for spans: the scope holds the client while the pointer is set.
    (!p.is_null()).then(|| unsafe { (*p).clone() })
}

/// The client that records made here go to: the current trace's, else the scoped one, else the
/// global one.
pub(crate) fn current_client() -> Option<Client> {
    match with_current_span(|span| span.trace.client.clone()) {
        Some(client) => Some(client),
        None => super::clients::client_for_new_trace(),
    }
}
