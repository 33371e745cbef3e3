//! [`OpikHttp`]: the HTTP clients every request to Opik goes through, built once from a
//! [`Config`]: the exporter's batches, attachment uploads and REST calls all carry the same
//! headers, proxy choice, timeouts and redirect rule.
//!
//! What they do not do, on purpose:
//! - follow redirects: a 3xx is an error naming its `Location` (a 301/302/303 would be replayed
//!   as a body-less GET whose 2xx would count records as delivered that no server got; a
//!   307/308 would carry them, and the API key, to another host);
//! - use the proxies of the process environment: they go through the proxy `Config` chose
//!   (`config::proxy`: https only, never for loopback or for a key over plain http), or none.

use crate::config::{Config, ProxyChoice, ProxyIgnored};
use flate2::write::GzEncoder;
use flate2::Compression;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_ENCODING, CONTENT_TYPE};
use reqwest::Method;
use std::io::Write;
use std::sync::Arc;

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
        let opik = builder(config)?
            .default_headers(headers)
            .build()
            .map_err(|e| format!("could not build the HTTP client: {e}"))?;
        let presigned = builder(config)?
            .build()
            .map_err(|e| format!("could not build the HTTP client: {e}"))?;
        Ok(OpikHttp {
            opik,
            presigned,
            base_url: config.base_url().into(),
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

    /// A request with a gzip-encoded JSON body to `path` below the API base.
    pub(crate) fn json(
        &self,
        method: Method,
        path: &str,
        json: &[u8],
    ) -> std::io::Result<reqwest::RequestBuilder> {
        Ok(self.gzipped_json(method, path, gzip(json)?))
    }

    /// [`json`](Self::json) with a body already gzipped (sent again on retries).
    pub(crate) fn gzipped_json(
        &self,
        method: Method,
        path: &str,
        gzipped: Vec<u8>,
    ) -> reqwest::RequestBuilder {
        self.to_api(method, path)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(CONTENT_ENCODING, HeaderValue::from_static("gzip"))
            .body(gzipped)
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

/// What every client of the SDK shares: timeouts, no redirects, the proxy `Config` chose.
fn builder(config: &Config) -> Result<reqwest::ClientBuilder, String> {
    let mut builder = reqwest::Client::builder()
        // Never the proxies of the process environment: `Config` chose, from the variables its
        // own environment gives, whether this URL goes through one.
        .no_proxy()
        .user_agent(concat!("opik-rs/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(config.connect_timeout())
        .timeout(config.request_timeout())
        .redirect(reqwest::redirect::Policy::none());
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

/// `json` gzip-encoded, as every request body to Opik is sent.
pub(crate) fn gzip(json: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc = GzEncoder::new(Vec::with_capacity(json.len() / 4), Compression::fast());
    enc.write_all(json)?;
    enc.finish()
}
