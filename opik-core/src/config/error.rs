//! [`ConfigError`] and [`Origin`]: a bad setting is reported with its name, where it came from,
//! the offending value and the fix, so the one log line is enough to repair the setup.

use std::fmt;
use std::path::PathBuf;

/// Where a configuration value came from.
///
/// Errors name the origin because the same setting can be given in code, in the environment or in
/// `~/.opik.config`, and the user has to know which one to edit.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Origin {
    /// A [`ConfigBuilder`](super::ConfigBuilder) method; the string is the method's name.
    Builder(&'static str),
    /// An environment variable; the string is its name.
    Env(&'static str),
    /// A key in the `[opik]` section of an INI file.
    File {
        /// Path of the file as it was opened (after `~` expansion).
        path: PathBuf,
        /// The key inside `[opik]`.
        key: &'static str,
    },
    /// The built-in default, including the default location of the config file.
    Default,
    /// The `baseUrl` embedded in an enhanced API key (`<key>*<base64 JSON>`), the way the Python
    /// SDK derives the URL of a Comet on-premises install from the key alone.
    ApiKeyBaseUrl,
}

impl Origin {
    /// Rank used to compare sources: builder > environment > file > anything derived or default.
    pub(crate) fn rank(&self) -> u8 {
        match self {
            Origin::Builder(_) => 3,
            Origin::Env(_) => 2,
            Origin::File { .. } => 1,
            Origin::Default | Origin::ApiKeyBaseUrl => 0,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Builder(method) => write!(f, "ConfigBuilder::{method}()"),
            Origin::Env(name) => f.write_str(name),
            Origin::File { path, key } => write!(f, "{} [opik] {key}", path.display()),
            Origin::Default => f.write_str("the default"),
            Origin::ApiKeyBaseUrl => f.write_str("the baseUrl embedded in the API key"),
        }
    }
}

/// What kind of mistake a [`ConfigError`] reports, for callers that branch on it (tests, a CLI
/// that wants to highlight the config file). The message itself is in the `Display` output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// `url_override` is not an absolute http(s) URL usable as an API base.
    InvalidUrl,
    /// An API key would travel over plain `http://` to a host that is not loopback.
    InsecureTransport,
    /// A name that must contain a non-whitespace character is blank.
    Blank,
    /// An exporter knob is outside its allowed range.
    OutOfRange,
    /// A boolean setting holds something other than true/false/1/0/yes/no/on/off/t/f/y/n.
    InvalidBool,
    /// A setting's text is not a value of its kind (a whole number, a duration).
    InvalidValue,
    /// The API key cannot be sent as an HTTP header, or its embedded attributes are corrupt.
    InvalidApiKey,
    /// A value is wrapped in quotes, which INI files and env files keep literally.
    Quoted,
    /// An environment variable is not valid Unicode.
    NotUnicode,
    /// The config file cannot be read (missing when named explicitly, permissions, directory...).
    FileUnreadable,
    /// The config file is not valid INI (or not UTF-8, or repeats a section or key).
    FileUnparsable,
    /// The CA certificates file (`SSL_CERT_FILE`) cannot be read or holds no PEM certificate.
    CertificateFile,
}

/// A configuration mistake, with everything needed to fix it.
///
/// `Display` renders one line: `opik config: SETTING from ORIGIN is VALUE: PROBLEM. FIX`, e.g.
/// `opik config: url_override from OPIK_URL_OVERRIDE is "htp://x": not an http(s) URL. Set it to
/// your Opik API base, e.g. "http://localhost:5173/api" (self-hosted) or
/// "https://www.comet.com/opik/api" (cloud).`
///
/// The API key's value never appears: errors about the key carry no value (`value()` is `None`)
/// and print `<redacted>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    // Boxed so `Result<_, ConfigError>` stays one pointer wide on the success path.
    inner: Box<Inner>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Inner {
    kind: ErrorKind,
    setting: &'static str,
    origin: Origin,
    value: Option<String>,
    /// Numbers read better unquoted; text is quoted so whitespace and escapes are visible.
    quoted: bool,
    problem: String,
    fix: String,
}

impl ConfigError {
    pub(crate) fn new(
        kind: ErrorKind,
        setting: &'static str,
        origin: Origin,
        value: Option<String>,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        ConfigError {
            inner: Box::new(Inner {
                kind,
                setting,
                origin,
                value,
                quoted: true,
                problem: problem.into(),
                fix: fix.into(),
            }),
        }
    }

    /// Prints the value without quotes (for numbers and durations).
    pub(crate) fn unquoted(mut self) -> Self {
        self.inner.quoted = false;
        self
    }

    /// The kind of mistake.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The setting at fault, spelled as in the INI file (`url_override`, `api_key`, `workspace`,
    /// `project_name`, `track_disable`, `local`, `config_file`) or as the builder method
    /// (`queue_capacity`, `shutdown_timeout`, `ssl_cert_file`, ...); [`origin`](Self::origin)
    /// names the variable or key it was read from.
    pub fn setting(&self) -> &'static str {
        self.inner.setting
    }

    /// Where the bad value came from.
    pub fn origin(&self) -> &Origin {
        &self.inner.origin
    }

    /// The offending value as given (a path for `config_file`). `None` when the value is secret
    /// (the API key), so that it cannot leak through logs.
    pub fn value(&self) -> Option<&str> {
        self.inner.value.as_deref()
    }

    /// What is wrong with the value, without the fix.
    pub fn problem(&self) -> &str {
        &self.inner.problem
    }

    /// How to fix it.
    pub fn fix(&self) -> &str {
        &self.inner.fix
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &self.inner;
        write!(f, "opik config: {} from {} is ", e.setting, e.origin)?;
        match &e.value {
            // `{:?}` quotes the value and escapes whitespace and control characters, which are
            // often the very mistake being reported.
            Some(value) if e.quoted => write!(f, "{value:?}")?,
            Some(value) => f.write_str(value)?,
            None => f.write_str("<redacted>")?,
        }
        write!(f, ": {}. {}", e.problem, e.fix)
    }
}

impl std::error::Error for ConfigError {}
