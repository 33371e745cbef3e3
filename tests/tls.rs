//! TLS to a self-hosted Opik behind a private CA: a TLS server on loopback, with a certificate
//! of the test CA in `tests/fixtures/tls`, in front of the fake Opik. The SDK must refuse it by
//! default, trust it through `SSL_CERT_FILE`, and accept it unchecked (with a warning) when
//! `check_tls_certificate` is off, from the environment or the file, as the Python SDK does.

mod common;

use common::{TEST_KEY, TEST_WORKSPACE};
use fake_opik::FakeOpik;
use opik::config::ConfigBuilder;
use opik::export::Client;
use opik::health::Outcome;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls");

/// A TLS server on loopback that passes each request on to `backend` (the fake Opik) and its
/// answer back, one request per connection.
struct TlsFront {
    port: u16,
}

impl TlsFront {
    fn start(backend: u16) -> TlsFront {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let certs = CertificateDer::pem_file_iter(format!("{FIXTURES}/server.pem"))
            .expect("server.pem")
            .collect::<Result<Vec<_>, _>>()
            .expect("certificates");
        let key = PrivateKeyDer::from_pem_file(format!("{FIXTURES}/server.key")).expect("key");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = Arc::new(
            rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("TLS versions")
                .with_no_client_auth()
                .with_single_cert(certs, key)
                .expect("server certificate"),
        );
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind");
        let port = listener.local_addr().expect("address").port();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let config = Arc::clone(&config);
                std::thread::spawn(move || serve(stream, config, backend));
            }
        });
        TlsFront { port }
    }

    fn base_url(&self) -> String {
        format!("https://127.0.0.1:{}/api", self.port)
    }
}

/// One request: read it from TLS (head, then `content-length` bytes), send it to the backend
/// with `connection: close`, copy the answer back. A failed handshake just ends here.
fn serve(tcp: TcpStream, config: Arc<rustls::ServerConfig>, backend: u16) {
    let Ok(conn) = rustls::ServerConnection::new(config) else {
        return;
    };
    let mut reader = BufReader::new(rustls::StreamOwned::new(conn, tcp));
    let mut head = Vec::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if !lower.starts_with("connection:") {
            head.extend_from_slice(line.as_bytes());
        }
    }
    head.extend_from_slice(b"connection: close\r\n\r\n");
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let Ok(mut upstream) = TcpStream::connect(("127.0.0.1", backend)) else {
        return;
    };
    let mut answer = Vec::new();
    if upstream.write_all(&head).is_err()
        || upstream.write_all(&body).is_err()
        || upstream.read_to_end(&mut answer).is_err()
    {
        return;
    }
    let mut tls = reader.into_inner();
    let _ = tls.write_all(&answer);
    tls.conn.send_close_notify();
    let _ = tls.flush();
}

fn builder(front: &TlsFront, vars: &[(&str, &str)]) -> ConfigBuilder {
    let mut all = vec![
        ("OPIK_URL_OVERRIDE".to_owned(), front.base_url()),
        ("OPIK_API_KEY".to_owned(), TEST_KEY.to_owned()),
        ("OPIK_WORKSPACE".to_owned(), TEST_WORKSPACE.to_owned()),
    ];
    all.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    ConfigBuilder::with_env_map(all).flush_interval(Duration::from_millis(50))
}

#[opik::track]
fn practice(bpm: u32) -> u32 {
    bpm + 5
}

/// Sends one trace through a client of `builder`; whether the fake got it.
fn delivered(server: &FakeOpik, builder: ConfigBuilder) -> bool {
    let config = builder
        .resolve()
        .expect("valid")
        .into_config()
        .expect("enabled");
    let client = Client::new(&config).expect("client");
    client.run(|| practice(92));
    client.flush(Duration::from_secs(2));
    let got = !server.traces().is_empty();
    client.shutdown(Duration::from_secs(1));
    got
}

#[test]
fn tls01_a_private_ca_is_refused_by_default_and_the_healthcheck_names_ssl_cert_file() {
    let server = FakeOpik::start();
    let front = TlsFront::start(server.port());
    let report = opik::healthcheck_with(builder(&front, &[]));
    println!("{report}");
    let failure = report.failure().expect("the certificate is not trusted");
    assert_eq!(failure.name, "server reachable");
    let Outcome::Failed { problem, fix } = &failure.outcome else {
        unreachable!()
    };
    assert!(problem.contains("certificate"), "{problem}");
    assert!(fix.contains("SSL_CERT_FILE"), "{fix}");
    assert!(
        !delivered(&server, builder(&front, &[])),
        "nothing crosses a connection whose certificate is not trusted"
    );
    assert!(server.requests().is_empty());
}

#[test]
fn tls02_ssl_cert_file_from_the_environment_trusts_the_private_ca() {
    let server = FakeOpik::start();
    let front = TlsFront::start(server.port());
    let ca = format!("{FIXTURES}/ca.pem");
    let vars = [("SSL_CERT_FILE", ca.as_str())];
    let report = opik::healthcheck_with(builder(&front, &vars));
    assert!(report.is_healthy(), "{report}");
    assert!(delivered(&server, builder(&front, &vars)));
    // The same from code.
    let report = opik::healthcheck_with(builder(&front, &[]).ssl_cert_file(&ca));
    assert!(report.is_healthy(), "{report}");
    server.assert_valid();
}

/// The warnings logged while `f` runs on this thread.
fn warnings<R>(f: impl FnOnce() -> R) -> (R, String) {
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .finish();
    let out = tracing::subscriber::with_default(subscriber, f);
    let text = String::from_utf8_lossy(&buf.0.lock().unwrap()).into_owned();
    (out, text)
}

#[test]
fn tls03_check_tls_certificate_false_from_the_environment_accepts_it_loudly() {
    let server = FakeOpik::start();
    let front = TlsFront::start(server.port());
    let vars = [("OPIK_CHECK_TLS_CERTIFICATE", "false")];
    let (got, logged) = warnings(|| delivered(&server, builder(&front, &vars)));
    assert!(got);
    assert!(
        logged.contains("TLS certificate verification is OFF")
            && logged.contains("OPIK_CHECK_TLS_CERTIFICATE"),
        "{logged}"
    );
    assert!(opik::healthcheck_with(builder(&front, &vars)).is_healthy());
    server.assert_valid();
}

#[test]
fn tls04_check_tls_certificate_false_from_the_file() {
    let server = FakeOpik::start();
    let front = TlsFront::start(server.port());
    let file = std::env::temp_dir().join(format!("opik-tls04-{}.ini", std::process::id()));
    std::fs::write(&file, "[opik]\ncheck_tls_certificate = false\n").unwrap();
    let b = || builder(&front, &[]).config_file(&file);
    let (got, logged) = warnings(|| delivered(&server, b()));
    let _ = std::fs::remove_file(&file);
    assert!(got);
    assert!(logged.contains("[opik] check_tls_certificate"), "{logged}");
    server.assert_valid();
}
