//! FretCoach's performance and token report, from code: the live-coach spans of the newest
//! practice session (`tags contains "live-coach"`), read back from Opik, summed per feature
//! (calls, errors, latency mean/p50/p95/max, prompt/completion/total tokens): the seed's
//! "Performance monitoring" and "Token usage" views.
//!
//! ```text
//! cargo run --example fretcoach            # a practice session, to Opik or the local view
//! cargo run --example fretcoach_report     # its report: from Opik when configured, else from
//!                                          # the local view's file (OPIK_LOCAL_FILE, or the
//!                                          # newest opik-local-*.jsonl in the temp directory)
//! cargo run --example fretcoach_report -- /tmp/session.jsonl   # from that file
//! ```

mod report;

use opik::config::{ConfigBuilder, Resolved};
use opik::export::{default_path, Client, LocalTransport};
use opik::Opik;
use std::path::PathBuf;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let file = std::env::args().nth(1).map(PathBuf::from);
    let client = match (file, ConfigBuilder::new().resolve()?) {
        (None, Resolved::Enabled(config)) => {
            println!(
                "Reading from Opik at {} (project {:?})",
                config.base_url(),
                config.project_name()
            );
            Client::new(&config)?
        }
        (file, _) => {
            let Some(path) = file.or_else(local_file) else {
                println!(
                    "Nothing to read: no Opik is configured and no local view file was found. \
                     Run `cargo run --example fretcoach` first, or pass the JSON lines file."
                );
                return Ok(());
            };
            if !path.is_file() {
                return Err(format!("{} is not a file", path.display()).into());
            }
            println!("Reading from the local view's file {}", path.display());
            let config = ConfigBuilder::new().local(true).resolve()?;
            let config = config
                .into_config()
                .ok_or("the local view is off (OPIK_TRACK_DISABLE?)")?;
            // Reads answer from the file the transport writes; this program writes nothing.
            let transport = LocalTransport::open(&path)?.with_output(std::io::sink());
            Client::with_transport(&config, Box::new(transport))?
        }
    };
    let report = report::session_report(&Opik::new(client)).await?;
    println!("{report}");
    Ok(())
}

/// `OPIK_LOCAL_FILE`, else the newest local view file in the temp directory (where the
/// local view writes when nothing names a file).
fn local_file() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("OPIK_LOCAL_FILE").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let dir = default_path().parent()?.to_path_buf();
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with("opik-local-") && name.ends_with(".jsonl")
        })
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .max()
        .map(|(_, path)| path)
}
