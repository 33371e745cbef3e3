//! FretCoach, the guitar-practice app of Opik's design documents, replayed with its
//! instrumentation: a practice session with live coaching feedback (LLM + text-to-speech), a
//! session summary, and the practice planner chat in the hub.
//!
//! ```text
//! cargo run --example fretcoach        # nothing configured: prints the traces here and saves
//!                                      # the request bodies to a JSON lines file
//! OPIK_URL_OVERRIDE=http://localhost:5173/api cargo run --example fretcoach   # self-hosted Opik
//! OPIK_API_KEY=... OPIK_WORKSPACE=... cargo run --example fretcoach           # Opik Cloud
//! OPENAI_API_KEY=... cargo run --example fretcoach     # real completions (OPENAI_BASE_URL honoured)
//! ```
//!
//! Without `OPENAI_API_KEY`, the model and the speech engine are a deterministic **offline
//! stand-in** (see `llm.rs`), and simulated time runs 20 times faster: a minute of practice
//! takes three seconds.

mod llm;
mod scenario;
mod tts;

use llm::{Llm, Speed};
use scenario::Scenario;
use std::time::{SystemTime, UNIX_EPOCH};
use tts::Tts;

/// Real time per simulated second with the offline stand-in.
const TIME_COMPRESSION: f64 = 1.0 / 20.0;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The SDK reports problems through `tracing`; show them.
    tracing_subscriber::fmt()
        .with_env_filter("opik=warn")
        .with_writer(std::io::stderr)
        .init();

    // Sends to Opik when OPIK_URL_OVERRIDE / OPIK_API_KEY (or ~/.opik.config) say where;
    // otherwise shows the traces here (the local view), as OPIK_LOCAL=1 would.
    let guard = opik::init_or_local(opik::config::ConfigBuilder::new())?;
    if let Ok(opik::config::Resolved::Enabled(config)) =
        opik::config::ConfigBuilder::new().resolve()
    {
        eprintln!(
            "opik: sending traces to {} (project {:?})",
            config.base_url(),
            config.project_name()
        );
    }

    let speed = Speed(TIME_COMPRESSION);
    let llm = Llm::from_env(speed, Some(Scenario::STALLED_CALL));
    if llm.is_offline() {
        println!(
            "LLM and TTS: offline stand-in (deterministic answers streamed word by word, \
             estimated tokens, simulated latency, tones for speech; time runs 20x faster). \
             Set OPENAI_API_KEY to call a real model and its speech."
        );
    }
    let tts = Tts::from_env(speed);
    let scenario = Scenario::standard(session_id(), speed, llm, tts);
    scenario::run(&scenario).await;

    // Delivers (or prints) what is still queued, waiting at most the shutdown timeout.
    drop(guard);
    Ok(())
}

/// A short id for this run's practice session.
fn session_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() ^ d.as_secs() as u32);
    format!("{:06x}", nanos & 0xff_ffff)
}
