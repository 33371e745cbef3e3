//! [`OpikHttp`]: the HTTP clients every request to Opik goes through, built once from a
//! [`Config`]: the exporter's batches, attachment uploads and REST calls all carry the same
//! headers, proxy choice, timeouts and redirect rule.
//!
//! JSON bodies are gzip-compressed as the Python SDK's client does: when
//! `enable_json_request_compression` is on (the default), at `request_compression_level`, and
//! only from [`MIN_COMPRESSED_BYTES`] up (below it gzip's framing makes a body larger); the
//! `content-encoding` header says which, per request.
//!
//! TLS: the server certificate is checked against the built-in roots, or only against the CA
//! certificates of `SSL_CERT_FILE` when it is set, as OpenSSL and the Python SDK read it;
//! `check_tls_certificate = false` turns the check off for Opik's host (with a warning), never
//! for presigned storage URLs, which the Python SDK also always checks.
//!
//! What they do not do, on purpose:
//! - follow redirects: a 3xx is an error naming its `Location` (a 301/302/303 would be replayed
//!   as a body-less GET whose 2xx would count records as delivered that no server got; a
//!   307/308 would carry them, and the API key, to another host);
//! - use the proxies of the process environment: they go through the proxy `Config` chose
//!   (`config::proxy`: https only, never for loopback or for a key over plain http), or none.

use crate::config::{Config, ProxyChoice, ProxyIgnored};
use bytes::Bytes;
use flate2::write::GzEncoder;
use flate2::Compression;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_ENCODING, CONTENT_TYPE};
use reqwest::Method;
use std::io::Write;
use std::sync::Arc;

/// The smallest body that is compressed: the Python SDK's threshold, itself the backend's
/// (Dropwizard's gzip handler compresses no entity below it).
pub(crate) const MIN_COMPRESSED_BYTES: usize = 256;

/// A JSON request body as it goes on the wire, encoded once and sent again as is on retries.
#[derive(Clone, Debug)]
pub(crate) struct JsonBody {
    bytes: Bytes,
    gzipped: bool,
}

/// The clients of one SDK client. Cheap to clone (the connection pools are shared).
#[derive(Clone)]
pub(crate) struct OpikHttp {
    /// To Opik's REST API: `authorization` (the raw key, no `Bearer`) and `Comet-Workspace` on
    /// every request.
    opik: reqwest::Client,
    /// To presigned storage URLs (S3 parts): no Opik headers, which S3 would refuse next to the
    /// URL's own signature, and which must not leave for a host that is not Opik's.
    presigned: reqwest::Client,
    base_url: Arc<str>,
    /// The gzip level of JSON bodies; `None` sends them as they are.
    compression: Option<Compression>,
}

impl std::fmt::Debug for OpikHttp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpikHttp")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl OpikHttp {
    /// The clients for the server `config` names; the error says which setting is unusable.
    pub(crate) fn new(config: &Config) -> Result<Self, String> {
        let mut headers = HeaderMap::new();
        let workspace = HeaderValue::from_str(config.workspace())
            .map_err(|_| "workspace name is not a valid HTTP header value".to_owned())?;
        headers.insert(HeaderName::from_static("comet-workspace"), workspace);
        if let Some(key) = config.api_key() {
            // Opik takes the raw key, without "Bearer ".
            let mut value = HeaderValue::from_str(key.expose())
                .map_err(|_| "the API key is not a valid HTTP header value".to_owned())?;
            value.set_sensitive(true);
            headers.insert(reqwest::header::AUTHORIZATION, value);
        }
        let opik = builder(config, Peer::Opik)?
            .default_headers(headers)
            .build()
            .map_err(|e| format!("could not build the HTTP client: {e}"))?;
        let presigned = builder(config, Peer::Storage)?
            .build()
            .map_err(|e| format!("could not build the HTTP client: {e}"))?;
        Ok(OpikHttp {
            opik,
            presigned,
            base_url: config.base_url().into(),
            compression: config
                .enable_json_request_compression()
                .then(|| Compression::new(config.request_compression_level())),
        })
    }

    /// The API base, `{url}/api` for a self-hosted Opik.
    pub(crate) fn base_url(&self) -> &str {
        &self.base_url
    }

    /// A request to `path` below the API base.
    pub(crate) fn to_api(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.opik
            .request(method, format!("{}{path}", self.base_url))
    }

    /// `json` as it goes on the wire: gzip-compressed when compression is on and the body is
    /// at least [`MIN_COMPRESSED_BYTES`], else as is.
    pub(crate) fn encode(&self, json: &[u8]) -> std::io::Result<JsonBody> {
        match self.compression {
            Some(level) if json.len() >= MIN_COMPRESSED_BYTES => Ok(JsonBody {
                bytes: gzip(json, level)?.into(),
                gzipped: true,
            }),
            _ => Ok(JsonBody {
                bytes: Bytes::copy_from_slice(json),
                gzipped: false,
            }),
        }
    }

    /// A request with the JSON body `json` to `path` below the API base.
    pub(crate) fn json(
        &self,
        method: Method,
        path: &str,
        json: &[u8],
    ) -> std::io::Result<reqwest::RequestBuilder> {
        Ok(self.with_json(method, path, &self.encode(json)?))
    }

    /// [`json`](Self::json) with a body already encoded (sent again on retries).
    pub(crate) fn with_json(
        &self,
        method: Method,
        path: &str,
        body: &JsonBody,
    ) -> reqwest::RequestBuilder {
        let request = self
            .to_api(method, path)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let request = if body.gzipped {
            request.header(CONTENT_ENCODING, HeaderValue::from_static("gzip"))
        } else {
            request
        };
        request.body(body.bytes.clone())
    }

    /// A request to a URL Opik handed out (its own upload endpoint), with Opik's headers.
    pub(crate) fn to_opik_url(&self, method: Method, url: &str) -> reqwest::RequestBuilder {
        self.opik.request(method, url)
    }

    /// A request to a presigned storage URL, without Opik's headers.
    pub(crate) fn to_presigned_url(&self, method: Method, url: &str) -> reqwest::RequestBuilder {
        self.presigned.request(method, url)
    }
}

/// Which host a client talks to: Opik's (whose certificate check the configuration may turn
/// off) or presigned storage (always checked, as the Python SDK's storage client is).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Peer {
    Opik,
    Storage,
}

/// What every client of the SDK shares: timeouts, no redirects, the proxy `Config` chose, the
/// TLS roots.
fn builder(config: &Config, peer: Peer) -> Result<reqwest::ClientBuilder, String> {
    let mut builder = reqwest::Client::builder()
        // Never the proxies of the process environment: `Config` chose, from the variables its
        // own environment gives, whether this URL goes through one.
        .no_proxy()
        .user_agent(concat!("opik-rs/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(config.connect_timeout())
        .timeout(config.request_timeout())
        .redirect(reqwest::redirect::Policy::none());
    builder = tls(builder, config, peer)?;
    if peer == Peer::Storage {
        return Ok(builder);
    }
    match config.proxy() {
        ProxyChoice::Direct => {}
        ProxyChoice::Via(proxy) => {
            let via = reqwest::Proxy::all(proxy.url.as_str())
                .map_err(|e| format!("the proxy {proxy} cannot be used: {e}"))?;
            builder = builder.proxy(via);
            tracing::debug!(target: "opik", "opik: sending to Opik through the proxy {proxy}");
        }
        ignored @ ProxyChoice::Ignored { why, .. } => match why {
            ProxyIgnored::KeyOverPlainHttp | ProxyIgnored::Unusable(_) => tracing::warn!(
                target: "opik",
                "opik: connecting to Opik directly, proxy={ignored}; use an https:// URL to \
                 go through the proxy"
            ),
            ProxyIgnored::Loopback | ProxyIgnored::NoProxy(_) => {
                tracing::debug!(target: "opik", "opik: connecting to Opik directly, proxy={ignored}")
            }
        },
    }
    Ok(builder)
}

/// The roots the server certificate is checked against, or no check at all for Opik's host.
fn tls(
    mut builder: reqwest::ClientBuilder,
    config: &Config,
    peer: Peer,
) -> Result<reqwest::ClientBuilder, String> {
    if peer == Peer::Opik && !config.check_tls_certificate() {
        if config.base_url().starts_with("https://") {
            tracing::warn!(
                target: "opik",
                "opik: TLS certificate verification is OFF for {} (check_tls_certificate = \
                 false, from {}): anyone on the network path can pose as Opik and read the API \
                 key and every trace. For a private CA, set SSL_CERT_FILE to its PEM \
                 certificates and turn verification back on.",
                config.base_url(),
                config.knob_origin("check_tls_certificate"),
            );
        }
        return Ok(builder.danger_accept_invalid_certs(true));
    }
    if let Some(bundle) = config.ca_bundle() {
        let certificates = reqwest::Certificate::from_pem_bundle(&bundle.pem).map_err(|e| {
            format!(
                "the CA certificates of {} (ssl_cert_file, from {}) cannot be used: {e}; point it \
                 at a PEM file of CA certificates, or unset it to trust the built-in roots",
                bundle.path.display(),
                bundle.origin
            )
        })?;
        // Only these, as OpenSSL and the Python SDK read SSL_CERT_FILE.
        builder = builder.tls_built_in_root_certs(false);
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    Ok(builder)
}

/// `json` gzip-compressed at `level`.
fn gzip(json: &[u8], level: Compression) -> std::io::Result<Vec<u8>> {
    let mut enc = GzEncoder::new(Vec::with_capacity(json.len() / 4), level);
    enc.write_all(json)?;
    enc.finish()
}
