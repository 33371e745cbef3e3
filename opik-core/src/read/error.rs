//! [`ReadError`]: why a read, an update after the fact or a thread call failed.

use crate::model::ScoreError;
use crate::rest::{FilterError, RestError};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Why a search, a get, an update after the fact or a thread call failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReadError {
    /// The filter string does not parse; the error shows where and what was expected.
    Filter(FilterError),
    /// The call needs an Opik server (reads also work from the local view's file), and the
    /// client has neither: the SDK is off, or records go to a test capture.
    NoServer {
        /// What was asked.
        operation: &'static str,
    },
    /// A REST call failed; the error names the call, the status and the server's message.
    Rest(RestError),
    /// An option that does not apply to this call.
    InvalidOption {
        /// The option.
        option: &'static str,
        /// Why, and what to do instead.
        reason: String,
    },
    /// Records this client produced before the call were still not delivered when it gave up
    /// waiting, so the call was not made: it could have reached Opik before them (an update
    /// before its record's create, a close before the thread's last traces).
    NotDelivered {
        /// What was asked.
        operation: &'static str,
        /// How long it waited.
        waited: Duration,
        /// Records still on their way.
        pending: u64,
    },
    /// Opik refused a thread's feedback scores (409): this backend takes them only once the
    /// thread is closed.
    ThreadOpen {
        /// The thread.
        thread_id: String,
        /// The server's answer.
        error: RestError,
    },
    /// A feedback score is invalid.
    Score(ScoreError),
    /// The local view's file could not be read.
    LocalFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

impl ReadError {
    /// Whether the server said the thing asked for does not exist (404).
    pub fn is_not_found(&self) -> bool {
        matches!(self, ReadError::Rest(e) if e.is_not_found())
    }

    /// Whether the server refused the call (a 4xx other than 404 and 429), or the call was
    /// not made because Opik would have refused it.
    pub fn is_refused(&self) -> bool {
        match self {
            ReadError::ThreadOpen { .. } => true,
            ReadError::Rest(e) => {
                matches!(e.http_status(), Some(400..=499))
                    && !matches!(e.http_status(), Some(404 | 429))
            }
            _ => false,
        }
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Filter(e) => write!(f, "opik: {e}"),
            ReadError::NoServer { operation } => write!(
                f,
                "opik: {operation} needs an Opik server, and this client sends to none (the \
                 SDK is off, or records go to a test capture). Configure one with \
                 OPIK_URL_OVERRIDE or OPIK_API_KEY; searches and gets also answer from the \
                 local view's file (OPIK_LOCAL=1)"
            ),
            ReadError::Rest(e) => fmt::Display::fmt(e, f),
            ReadError::InvalidOption { option, reason } => {
                write!(f, "opik: the option {option} does not apply here: {reason}")
            }
            ReadError::NotDelivered {
                operation,
                waited,
                pending,
            } => write!(
                f,
                "opik: {operation} was not sent: {pending} records this client produced before \
                 it were still on their way after {waited:.1?}, and it could have reached Opik \
                 before them. Try again once Opik takes records again (opik::stats() shows \
                 what is pending)"
            ),
            ReadError::ThreadOpen { thread_id, error } => write!(
                f,
                "opik: Opik refused the feedback scores of thread {thread_id:?} ({error}): this \
                 Opik takes a thread's scores only once the thread is closed. Close it first: \
                 Opik::close_thread, or Opik::score_thread with OpenThread::CloseFirst"
            ),
            ReadError::Score(e) => fmt::Display::fmt(e, f),
            ReadError::LocalFile { path, message } => write!(
                f,
                "opik: could not read the local view's file {}: {message}",
                path.display()
            ),
        }
    }
}

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReadError::Filter(e) => Some(e),
            ReadError::Rest(e) | ReadError::ThreadOpen { error: e, .. } => Some(e),
            ReadError::Score(e) => Some(e),
            _ => None,
        }
    }
}

impl From<RestError> for ReadError {
    fn from(e: RestError) -> Self {
        ReadError::Rest(e)
    }
}

impl From<FilterError> for ReadError {
    fn from(e: FilterError) -> Self {
        ReadError::Filter(e)
    }
}

impl From<ScoreError> for ReadError {
    fn from(e: ScoreError) -> Self {
        ReadError::Score(e)
    }
}
