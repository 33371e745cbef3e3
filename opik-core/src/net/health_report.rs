//! What [`healthcheck`](super::healthcheck) found: the settings in effect and the checks, and
//! how they print (`cargo run --example healthcheck`).

use crate::config::{Config, Setting};
use std::fmt;

/// The outcome of one check.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// It passed; the text says what was seen.
    Ok(String),
    /// It failed: what is wrong, and how to fix it.
    Failed {
        /// What is wrong, naming the setting, the URL or the server's answer.
        problem: String,
        /// What to change.
        fix: String,
    },
}

/// One check of a [`HealthReport`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Check {
    /// `configuration`, `server reachable` or `API key and workspace`.
    pub name: &'static str,
    /// What it found.
    pub outcome: Outcome,
}

impl Check {
    pub(crate) fn ok(name: &'static str, seen: String) -> Check {
        Check {
            name,
            outcome: Outcome::Ok(seen),
        }
    }

    pub(crate) fn failed(name: &'static str, problem: String, fix: String) -> Check {
        Check {
            name,
            outcome: Outcome::Failed { problem, fix },
        }
    }

    /// Whether it passed.
    pub fn passed(&self) -> bool {
        matches!(self.outcome, Outcome::Ok(_))
    }
}

/// What [`healthcheck`](super::healthcheck) found: the settings in effect (when they
/// resolved) and the checks run, in order; a check runs only when the one before it passed.
/// `Display` prints it all, like the Python SDK's `opik healthcheck`, the API key masked.
#[derive(Clone, Debug)]
pub struct HealthReport {
    settings: Vec<Setting>,
    checks: Vec<Check>,
}

impl HealthReport {
    pub(crate) fn new(config: Option<&Config>, checks: Vec<Check>) -> HealthReport {
        HealthReport {
            settings: config.map(Config::settings).unwrap_or_default(),
            checks,
        }
    }

    /// A healthcheck that could not run at all (no thread, no runtime).
    pub(crate) fn unchecked(problem: String) -> HealthReport {
        HealthReport::new(
            None,
            vec![Check::failed(
                super::health::CONFIGURATION,
                problem,
                "Run the healthcheck again; if it persists, report it as a bug of opik-rs."
                    .to_owned(),
            )],
        )
    }

    /// Whether every check ran and passed: the SDK would send, the server answers, and it
    /// accepts the key and workspace.
    pub fn is_healthy(&self) -> bool {
        self.checks.len() == 3 && self.checks.iter().all(Check::passed)
    }

    /// The settings in effect, each with where it came from; empty when they did not resolve.
    pub fn settings(&self) -> &[Setting] {
        &self.settings
    }

    /// The checks run, in order.
    pub fn checks(&self) -> &[Check] {
        &self.checks
    }

    /// The first failed check, if any.
    pub fn failure(&self) -> Option<&Check> {
        self.checks.iter().find(|c| !c.passed())
    }
}

impl fmt::Display for HealthReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "opik healthcheck (opik-rs {})",
            env!("CARGO_PKG_VERSION")
        )?;
        if !self.settings.is_empty() {
            writeln!(f, "\nconfiguration in effect:")?;
            let name_w = self
                .settings
                .iter()
                .map(|s| s.name.len())
                .max()
                .unwrap_or(0);
            let value_w = self
                .settings
                .iter()
                .map(|s| s.value.chars().count().min(48))
                .max()
                .unwrap_or(0);
            for s in &self.settings {
                writeln!(
                    f,
                    "  {:name_w$}  {:value_w$}  from {}",
                    s.name, s.value, s.origin
                )?;
            }
        }
        writeln!(f, "\nchecks:")?;
        for c in &self.checks {
            match &c.outcome {
                Outcome::Ok(seen) => writeln!(f, "  ok    {}: {seen}", c.name)?,
                Outcome::Failed { problem, fix } => {
                    writeln!(f, "  FAIL  {}: {problem}", c.name)?;
                    writeln!(f, "        fix: {fix}")?;
                }
            }
        }
        let verdict = if self.is_healthy() {
            "healthy: traces will be delivered"
        } else {
            "not healthy: fix the first failure above, then run it again"
        };
        write!(f, "\n{verdict}")
    }
}
