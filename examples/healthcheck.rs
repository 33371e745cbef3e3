//! Checks that this machine's Opik configuration works, like the Python SDK's
//! `opik healthcheck`: the settings in effect and where each came from (the API key masked),
//! whether the server answers, and whether it accepts the key and the workspace, each failure
//! with its fix. It reads the same environment and `~/.opik.config` as `opik::init()`.
//!
//! ```text
//! cargo run --example healthcheck
//! OPIK_URL_OVERRIDE=http://localhost:5173/api cargo run --example healthcheck
//! ```
//!
//! Exits with status 1 when a check fails, so scripts and CI can use it.

fn main() {
    // The SDK's own warnings (a proxy it cannot use, TLS verification turned off) on stderr.
    tracing_subscriber::fmt()
        .with_env_filter("opik=warn")
        .with_writer(std::io::stderr)
        .init();
    let report = opik::healthcheck();
    println!("{report}");
    if !report.is_healthy() {
        std::process::exit(1);
    }
}
