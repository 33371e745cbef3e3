//! The smallest useful opik-rs program: two tracked async functions, one nested in the other.
//!
//! ```text
//! cargo run --example quickstart                       # nothing configured: runs, sends nothing
//! OPIK_URL_OVERRIDE=http://localhost:5173/api cargo run --example quickstart   # self-hosted Opik
//! OPIK_API_KEY=... OPIK_WORKSPACE=... cargo run --example quickstart           # Opik cloud
//! ```

use std::time::Duration;

#[opik::track(type = "tool", tags = ["retrieval"])]
async fn retrieve(question: &str, top_k: usize) -> Vec<String> {
    tokio::time::sleep(Duration::from_millis(20)).await;
    (1..=top_k)
        .map(|i| format!("note {i} about {question}"))
        .collect()
}

#[opik::track(name = "answer-question", tags = ["quickstart"])]
async fn answer(question: &str) -> String {
    let notes = retrieve(question, 2).await;
    format!("{} notes found for {question:?}", notes.len())
}

#[tokio::main]
async fn main() -> Result<(), opik::InitError> {
    // The SDK logs through `tracing`; show its one line about how to enable it, if it is off.
    tracing_subscriber::fmt()
        .with_env_filter("opik=info")
        .with_writer(std::io::stderr)
        .init();
    let _guard = opik::init()?;
    println!("{}", answer("which scale fits a blues in A?").await);
    println!("{}", answer("how do I practise alternate picking?").await);
    Ok(()) // dropping the guard delivers what is queued, waiting at most 2 s
}
