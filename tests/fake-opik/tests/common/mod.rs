//! A minimal HTTP/1.1 client on std's TcpStream for the fake's own tests, as an SDK would talk
//! to it: gzip JSON bodies, the API key header, NDJSON streams read back.
#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use fake_opik::FakeOpik;
use flate2::write::GzEncoder;
use flate2::Compression;
use serde_json::Value;

pub const T0: &str = "2024-05-01T12:00:00.000000Z";
pub const T1: &str = "2024-05-01T12:00:01.250000Z";
pub const KEY: &str = "test-api-key-123";

/// A UUID version 7 made from a fixed time plus `n` (ids grow with `n`).
pub fn v7(n: u64) -> String {
    let ms: u64 = 1_714_564_800_000 + n;
    let mut b = [0u8; 16];
    b[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    b[6] = 0x70 | ((n >> 8) & 0x0f) as u8;
    b[7] = n as u8;
    b[8] = 0x80 | ((n >> 16) & 0x3f) as u8;
    b[9..].copy_from_slice(&[0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77]);
    uuid::Uuid::from_bytes(b).to_string()
}

pub fn gzip(body: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(body).unwrap();
    enc.finish().unwrap()
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }

    /// The lines of an NDJSON answer.
    pub fn lines(&self) -> Vec<Value> {
        String::from_utf8_lossy(&self.body)
            .split('\n')
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(end) = raw.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size = usize::from_str_radix(
            std::str::from_utf8(&raw[..end])
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .trim(),
            16,
        )
        .unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&raw[end + 2..end + 2 + size]);
        raw = &raw[end + 2 + size + 2..];
    }
}

/// Sends one request on a fresh connection (`Connection: close`) and reads the answer to EOF.
pub fn send_raw(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Resp> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Err(std::io::Error::new(ErrorKind::UnexpectedEof, "no response"));
    };
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Ok(Resp {
        status,
        headers,
        body,
    })
}

/// A request with a gzip JSON body and the API key, as the SDK sends (`rel` after `/api`).
pub fn send_json(server: &FakeOpik, method: &str, rel: &str, body: &Value) -> Resp {
    let gz = gzip(body.to_string().as_bytes());
    send_raw(
        server.port(),
        method,
        &format!("/api{rel}"),
        &[
            ("content-type", "application/json"),
            ("content-encoding", "gzip"),
            ("authorization", KEY),
            ("comet-workspace", "default"),
        ],
        &gz,
    )
    .expect("request")
}

/// A GET (or DELETE) without a body (`rel` after `/api`, with its query).
pub fn get(server: &FakeOpik, method: &str, rel: &str) -> Resp {
    send_raw(
        server.port(),
        method,
        &format!("/api{rel}"),
        &[("authorization", KEY), ("comet-workspace", "default")],
        b"",
    )
    .expect("request")
}

/// Percent-encodes a query value.
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
