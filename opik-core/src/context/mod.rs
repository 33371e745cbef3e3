//! Which span is current (the one new spans nest under) and which client new traces report to;
//! carrying both into other tasks and threads.
//!
//! Owns: the thread-local scopes and the global client registry. May import `model`, `pipe` and `span`;
//! nothing above (the recorder, the API and the SDK's entry points use it).

mod carry;
mod clients;
mod current;

pub use carry::{current_context, spawn, spawn_blocking, FutureExt, OpikContext, WithContext};
pub use clients::recording;
pub use clients::ClientScoped;
pub(crate) use clients::{client_for_new_trace, global_client, install_global, uninstall_global};
pub(crate) use current::{
    current_client, current_span, scoped_client, sync_scope_span, with_current_span,
};
