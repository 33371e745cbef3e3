//! The report itself: the newest practice session's live-coach spans, read back through
//! `Opik::search_spans`, summed per feature (span name).

use opik::read::{ReadError, SearchOptions};
use opik::Opik;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// Calls, errors, latency and tokens of one feature.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Feature {
    pub name: String,
    pub calls: usize,
    pub errors: usize,
    /// Every call's latency, sorted.
    pub latencies: Vec<Duration>,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
}

impl Feature {
    /// The latency at quantile `q` (0..=1) of the calls, nearest rank.
    pub fn latency_at(&self, q: f64) -> Option<Duration> {
        let last = self.latencies.len().checked_sub(1)?;
        let rank = ((last as f64) * q).round() as usize;
        self.latencies.get(rank.min(last)).copied()
    }

    pub fn mean_latency(&self) -> Option<Duration> {
        let n = u32::try_from(self.latencies.len())
            .ok()
            .filter(|n| *n > 0)?;
        Some(self.latencies.iter().sum::<Duration>() / n)
    }
}

/// The report of one practice session.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    /// The session's thread (`session-<id>`), when a session was found.
    pub session: Option<String>,
    pub features: Vec<Feature>,
}

/// The performance and token usage per feature of the newest practice session's live-coach
/// spans (`tags contains "live-coach"`); of all live-coach spans when no session is found.
pub async fn session_report(opik: &Opik) -> Result<Report, ReadError> {
    let mut sessions = opik.search_traces(
        SearchOptions::new()
            .filter(r#"name = "practice-session""#)
            .limit(1),
    )?;
    let session = sessions.next().await.transpose()?;
    let mut options = SearchOptions::new().filter(r#"tags contains "live-coach""#);
    if let Some(s) = &session {
        options = options.trace_id(s.id);
    }
    let mut features: BTreeMap<String, Feature> = BTreeMap::new();
    let mut spans = opik.search_spans(options)?;
    while let Some(span) = spans.next().await {
        let span = span?;
        let name = span.name.clone().unwrap_or_else(|| "(unnamed)".to_owned());
        let f = features.entry(name.clone()).or_insert_with(|| Feature {
            name,
            ..Feature::default()
        });
        f.calls += 1;
        f.errors += usize::from(span.error_info.is_some());
        if let Some(took) = span.duration() {
            f.latencies.push(took);
        }
        let tokens = |key: &str| span.usage.get(key).copied().unwrap_or(0);
        f.prompt_tokens += tokens("prompt_tokens");
        f.completion_tokens += tokens("completion_tokens");
        f.total_tokens += tokens("total_tokens");
    }
    let mut features: Vec<Feature> = features.into_values().collect();
    for f in &mut features {
        f.latencies.sort();
    }
    Ok(Report {
        session: session.and_then(|s| s.thread_id),
        features,
    })
}

fn ms(d: Option<Duration>) -> String {
    d.map_or_else(
        || "-".to_owned(),
        |d| format!("{:.0} ms", d.as_secs_f64() * 1000.0),
    )
}

/// One line of the table: the name, counts, the four latencies (blank for the total) and
/// the tokens.
fn row(f: &mut fmt::Formatter<'_>, feature: &Feature, latencies: [String; 4]) -> fmt::Result {
    let [mean, p50, p95, max] = latencies;
    writeln!(
        f,
        "{:<22} {:>5} {:>6} {mean:>9} {p50:>9} {p95:>9} {max:>9} {:>8} {:>10} {:>7}",
        feature.name,
        feature.calls,
        feature.errors,
        feature.prompt_tokens,
        feature.completion_tokens,
        feature.total_tokens
    )
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.session {
            Some(s) => writeln!(f, "Live coaching of {s}")?,
            None => writeln!(f, "Live coaching, all sessions")?,
        }
        writeln!(
            f,
            "{:<22} {:>5} {:>6} {:>9} {:>9} {:>9} {:>9} {:>8} {:>10} {:>7}",
            "feature",
            "calls",
            "errors",
            "mean",
            "p50",
            "p95",
            "max",
            "prompt",
            "completion",
            "tokens"
        )?;
        let mut total = Feature {
            name: "total".to_owned(),
            ..Feature::default()
        };
        for feature in &self.features {
            let latencies = [
                ms(feature.mean_latency()),
                ms(feature.latency_at(0.5)),
                ms(feature.latency_at(0.95)),
                ms(feature.latencies.last().copied()),
            ];
            row(f, feature, latencies)?;
            total.calls += feature.calls;
            total.errors += feature.errors;
            total.prompt_tokens += feature.prompt_tokens;
            total.completion_tokens += feature.completion_tokens;
            total.total_tokens += feature.total_tokens;
        }
        row(f, &total, Default::default())
    }
}
