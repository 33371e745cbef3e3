//! The CA certificates a self-hosted Opik behind a private CA is checked against:
//! [`ConfigBuilder::ssl_cert_file`](super::ConfigBuilder::ssl_cert_file), else `SSL_CERT_FILE`,
//! read once when the configuration is resolved, so that a wrong path is an error naming the
//! setting at `init` rather than a TLS failure per batch later. The HTTP client (`net`) turns
//! the PEM text into its roots.

use super::error::{ConfigError, ErrorKind, Origin};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The PEM text of the CA certificates file, with where its path came from.
#[derive(Clone)]
pub(crate) struct CaBundle {
    pub(crate) path: PathBuf,
    pub(crate) origin: Origin,
    pub(crate) pem: Arc<[u8]>,
}

impl std::fmt::Debug for CaBundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaBundle")
            .field("path", &self.path)
            .field("origin", &self.origin)
            .field("bytes", &self.pem.len())
            .finish()
    }
}

/// The most a CA bundle may hold: the system bundles are a few hundred KiB.
const MAX_BUNDLE_BYTES: u64 = 16 << 20;

/// Reads the file at `path` and checks that it holds at least one PEM certificate.
pub(crate) fn read_bundle(path: &Path, origin: Origin) -> Result<CaBundle, ConfigError> {
    let fail = |problem: String| {
        ConfigError::new(
            ErrorKind::CertificateFile,
            "ssl_cert_file",
            origin.clone(),
            Some(path.display().to_string()),
            problem,
            "Point it at a readable PEM file of your CA's certificates (\"-----BEGIN \
             CERTIFICATE-----\" blocks), or unset it to trust the built-in roots.",
        )
    };
    let size = std::fs::metadata(path)
        .map_err(|e| fail(format!("cannot be read ({e})")))?
        .len();
    if size > MAX_BUNDLE_BYTES {
        return Err(fail(format!(
            "is {size} bytes, too large for a file of CA certificates"
        )));
    }
    let pem = std::fs::read(path).map_err(|e| fail(format!("cannot be read ({e})")))?;
    let certificates = count_certificates(&pem);
    if certificates == 0 {
        return Err(fail(
            "holds no PEM certificate (no \"-----BEGIN CERTIFICATE-----\" line)".to_owned(),
        ));
    }
    tracing::debug!(
        target: "opik",
        "opik: trusting the {certificates} CA certificate(s) of {} (from {origin}) instead of the built-in roots",
        path.display()
    );
    Ok(CaBundle {
        path: path.to_path_buf(),
        origin,
        pem: pem.into(),
    })
}

fn count_certificates(pem: &[u8]) -> usize {
    let text = String::from_utf8_lossy(pem);
    text.lines()
        .filter(|l| l.trim() == "-----BEGIN CERTIFICATE-----")
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bundle_without_certificates_is_an_error_naming_the_file() {
        let path = std::env::temp_dir().join(format!("opik-ca-test-{}.pem", std::process::id()));
        std::fs::write(&path, "not a certificate\n").unwrap();
        let e = read_bundle(&path, Origin::Env("SSL_CERT_FILE")).unwrap_err();
        let _ = std::fs::remove_file(&path);
        assert_eq!(e.kind(), ErrorKind::CertificateFile);
        assert_eq!(e.setting(), "ssl_cert_file");
        let text = e.to_string();
        assert!(
            text.contains("SSL_CERT_FILE") && text.contains("no PEM certificate"),
            "{text}"
        );

        let missing = Path::new("/nonexistent/opik-ca.pem");
        let e = read_bundle(missing, Origin::Env("SSL_CERT_FILE")).unwrap_err();
        assert!(e.to_string().contains("cannot be read"), "{e}");
    }

    #[test]
    fn certificates_are_counted_by_their_begin_lines() {
        let two = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n\
                   -----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----\n";
        assert_eq!(count_certificates(two.as_bytes()), 2);
        assert_eq!(count_certificates(b"-----BEGIN PRIVATE KEY-----\n"), 0);
    }
}
