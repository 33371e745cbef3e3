//! Which client a new trace reports to: the innermost `Client::scope` around the caller, else
//! the one `opik::init()` installed; and the one relaxed load that tells a tracked call whether
//! anything records at all.

use super::current;
use crate::pipe::Client;
use pin_project_lite::pin_project;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::RwLock;
use std::task::{Context, Poll};

/// The client installed by `init()`.
static GLOBAL_CLIENT: RwLock<Option<Client>> = RwLock::new(None);

/// How many clients could receive records now (the global one plus scoped ones). Zero means the
/// SDK is off and a tracked call runs its body with nothing else than this one relaxed load.
static LIVE_CLIENTS: AtomicUsize = AtomicUsize::new(0);

/// Whether any client could receive records (one relaxed load: the disabled fast path).
#[inline(always)]
pub fn recording() -> bool {
    LIVE_CLIENTS.load(Ordering::Relaxed) != 0
}

/// The client a trace started here reports to: the innermost scoped client, else the global
/// one (while it accepts records).
pub(crate) fn client_for_new_trace() -> Option<Client> {
    if let Some(c) = current::scoped_client() {
        return Some(c);
    }
    GLOBAL_CLIENT
        .read()
        .ok()
        .and_then(|g| g.as_ref().filter(|c| c.is_accepting()).cloned())
}

fn global_slot() -> std::sync::RwLockWriteGuard<'static, Option<Client>> {
    match GLOBAL_CLIENT.write() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Installs `client` as the global client; returns the one it replaces.
pub(crate) fn install_global(client: Client) -> Option<Client> {
    let mut slot = global_slot();
    let previous = slot.replace(client);
    if previous.is_none() {
        LIVE_CLIENTS.fetch_add(1, Ordering::Relaxed);
    }
    previous
}

/// Uninstalls `client` if it is still the global client; `false` when another `init()` has
/// replaced it since (that one stays installed).
pub(crate) fn uninstall_global(client: &Client) -> bool {
    let mut slot = global_slot();
    if !slot.as_ref().is_some_and(|c| c.same_as(client)) {
        return false;
    }
    *slot = None;
    LIVE_CLIENTS.fetch_sub(1, Ordering::Relaxed);
    true
}

/// The global client, if one is installed.
pub(crate) fn global_client() -> Option<Client> {
    GLOBAL_CLIENT.read().ok().and_then(|g| g.clone())
}

/// Counts a scoped client as live while it is alive.
pub(crate) struct LiveGuard;

impl LiveGuard {
    fn new() -> Self {
        LIVE_CLIENTS.fetch_add(1, Ordering::Relaxed);
        LiveGuard
    }
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        LIVE_CLIENTS.fetch_sub(1, Ordering::Relaxed);
    }
}

pub(crate) fn sync_scope_client<R>(client: &Client, f: impl FnOnce() -> R) -> R {
    let _live = LiveGuard::new();
    current::sync_scope_client(client, f)
}

pin_project! {
    /// A future polled with a client receiving the traces that start in it; made by
    /// [`Client::scope`].
    pub struct ClientScoped<F> {
        #[pin]
        fut: F,
        client: Client,
        live: LiveGuard,
    }
}

impl<F: Future> Future for ClientScoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let fut = this.fut;
        current::sync_scope_client(this.client, || fut.poll(cx))
    }
}

impl Client {
    /// Runs `f` with this client receiving the traces that start inside it (sync code, or code
    /// with no runtime), like `tracing`'s `with_default`. ([`run`](Self::run) for a closure,
    /// [`scope`](Self::scope) for a future: the convention of every context in this crate.)
    pub fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        sync_scope_client(self, f)
    }

    /// `fut`, with this client receiving the traces that start inside it.
    pub fn scope<F: Future>(&self, fut: F) -> ClientScoped<F> {
        ClientScoped {
            fut,
            client: self.clone(),
            live: LiveGuard::new(),
        }
    }
}
