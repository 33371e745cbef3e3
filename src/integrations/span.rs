//! A span opened and ended by an integration, outside any function body: a `tracing` span, a
//! streamed completion that ends when its stream does.
//!
//! The span is driven by the recorder's own future (the one `#[track]` wraps async bodies in),
//! polled by hand with a no-op waker: the first poll runs with the new span current and captures
//! its context (so children can start under it); the poll at the end runs the closure given to
//! [`ManualSpan::end`] with the span current (so it can call `update_current_span`) and ends the
//! span. Dropping a span that was not ended records it as cancelled, as `#[track]` does for a
//! dropped future.

use crate::__private::{Call, SpanMeta, Tracked};
use crate::context::{current_context, OpikContext};
use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

type EndFn = Box<dyn FnOnce() + Send>;
type Driver = Pin<Box<dyn Future<Output = ()> + Send>>;

#[derive(Default)]
struct Shared {
    context: Option<OpikContext>,
    end: Option<EndFn>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A recorded span in progress.
pub(crate) struct ManualSpan {
    // A mutex so that the span can live in `Sync` places (`tracing` span extensions).
    driver: Mutex<Driver>,
    shared: Arc<Mutex<Shared>>,
}

impl ManualSpan {
    /// Starts a span described by `meta`, named `name`, under `parent` if given, else under the
    /// current span (or as the root of a new trace). `None` when the SDK is not recording.
    pub(crate) fn start(
        meta: &'static SpanMeta,
        name: Cow<'static, str>,
        parent: Option<&OpikContext>,
    ) -> Option<ManualSpan> {
        let start = || Call::start(meta, |c| c.name(name));
        let call = match parent {
            Some(p) => p.run(start),
            None => start(),
        }?;
        let shared = Arc::new(Mutex::new(Shared::default()));
        let driver: Driver = Box::pin(Tracked::new(
            Some(call),
            drive(Arc::clone(&shared)),
            |_: &(), _: &mut _| {},
        ));
        let span = ManualSpan {
            driver: Mutex::new(driver),
            shared,
        };
        span.poll();
        Some(span)
    }

    /// The span's context: tracked calls and spans run in it nest under this span.
    #[cfg_attr(not(feature = "tracing"), allow(dead_code))] // only the tracing layer nests
    pub(crate) fn context(&self) -> Option<OpikContext> {
        lock(&self.shared).context.clone()
    }

    /// Ends the span: `f` runs with the span current (to update it), then the span is sent.
    pub(crate) fn end(self, f: impl FnOnce() + Send + 'static) {
        lock(&self.shared).end = Some(Box::new(f));
        self.poll();
    }

    fn poll(&self) {
        let mut driver = lock(&self.driver);
        let mut cx = Context::from_waker(Waker::noop());
        // Ready on the poll after `end`; pending before. Either way there is nothing to do.
        let _ = driver.as_mut().poll(&mut cx);
    }
}

/// Runs inside the span: publishes its context, waits for the end, runs it.
async fn drive(shared: Arc<Mutex<Shared>>) {
    lock(&shared).context = Some(current_context());
    let end = std::future::poll_fn(|_| match lock(&shared).end.take() {
        Some(end) => Poll::Ready(end),
        None => Poll::Pending,
    })
    .await;
    end();
}
