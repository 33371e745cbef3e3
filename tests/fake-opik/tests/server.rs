//! The fake server end to end, through a minimal HTTP/1.1 client on std's TcpStream.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use fake_opik::{Entity, FakeOpik, Reply};
use flate2::write::GzEncoder;
use flate2::Compression;
use serde_json::{json, Value};

const T0: &str = "2024-05-01T12:00:00.000000Z";
const T1: &str = "2024-05-01T12:00:01.250000Z";
const KEY: &str = "test-api-key-123";

/// A UUID version 7 made from a fixed time plus `n` (no uuid features needed).
fn v7(n: u64) -> String {
    let ms: u64 = 1_714_564_800_000 + n;
    let mut b = [0u8; 16];
    b[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    b[6] = 0x70 | ((n >> 8) & 0x0f) as u8;
    b[7] = n as u8;
    b[8] = 0x80 | ((n >> 16) & 0x3f) as u8;
    b[9..].copy_from_slice(&[0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77]);
    uuid::Uuid::from_bytes(b).to_string()
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(body).unwrap();
    enc.finish().unwrap()
}

#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends one request on a fresh connection (`Connection: close`) and reads the answer to EOF.
fn send_raw(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> std::io::Result<Resp> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(timeout))?;
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
        return Err(std::io::Error::new(
            ErrorKind::UnexpectedEof,
            format!("no response ({} bytes)", raw.len()),
        ));
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
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Ok(Resp {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    })
}

/// POSTs/PUTs/PATCHes `body` as gzip JSON with the API key, as the SDK should.
fn send_json(server: &FakeOpik, method: &str, rel: &str, body: &Value) -> Resp {
    let path = format!("/api{rel}");
    let gz = gzip(body.to_string().as_bytes());
    send_raw(
        server.port(),
        method,
        &path,
        &[
            ("content-type", "application/json"),
            ("content-encoding", "gzip"),
            ("authorization", KEY),
            ("comet-workspace", "default"),
        ],
        &gz,
        Duration::from_secs(10),
    )
    .expect("request")
}

fn trace(n: u64) -> Value {
    json!({"id": v7(n), "project_name": "fake-opik-tests", "name": "t", "start_time": T0, "end_time": T1,
           "input": {"q": "hi", "nothing": null}, "output": {"a": "yo"}, "metadata": {"k": null},
           "tags": ["x"], "thread_id": "thread-1"})
}

fn span(n: u64, trace_n: u64) -> Value {
    json!({"id": v7(n), "trace_id": v7(trace_n), "project_name": "fake-opik-tests", "name": "s",
           "type": "llm", "start_time": T0, "end_time": T1, "usage": {"prompt_tokens": 3},
           "model": "m", "provider": "openai", "input": {"messages": []}})
}

#[test]
fn valid_requests_have_no_problems_and_are_recorded() {
    let server = FakeOpik::start();
    assert!(server.base_url().starts_with("http://127.0.0.1:"));
    assert!(server.base_url().ends_with("/api"));

    let body = json!({"traces": [trace(1), trace(2)]});
    let r = send_json(&server, "POST", "/v1/private/traces/batch", &body);
    assert_eq!(r.status, 204);
    let r = send_json(
        &server,
        "POST",
        "/v1/private/spans/batch",
        &json!({"spans": [span(3, 1), span(4, 1)]}),
    );
    assert_eq!(r.status, 204);
    let r = send_json(&server, "POST", "/v1/private/spans", &span(5, 2));
    assert_eq!(r.status, 201);
    assert_eq!(
        r.header("location"),
        Some(format!("/api/v1/private/spans/{}", v7(5)).as_str())
    );
    let r = send_json(
        &server,
        "PATCH",
        &format!("/v1/private/spans/{}", v7(3)),
        &json!({"trace_id": v7(1), "end_time": T1, "output": {"done": true}}),
    );
    assert_eq!(r.status, 204);
    let score = json!({"id": v7(1), "name": "relevance", "value": 0.5, "source": "sdk", "project_name": "p"});
    let r = send_json(
        &server,
        "PUT",
        "/v1/private/traces/feedback-scores",
        &json!({"scores": [score]}),
    );
    assert_eq!(r.status, 204);
    let thread_score = json!({"thread_id": "thread-1", "name": "q", "value": 1, "source": "sdk", "project_name": "p"});
    let r = send_json(
        &server,
        "PUT",
        "/v1/private/traces/threads/feedback-scores",
        &json!({"scores": [thread_score]}),
    );
    assert_eq!(r.status, 204);
    let r = send_raw(
        server.port(),
        "GET",
        "/api/is-alive/ping",
        &[],
        b"",
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(
        (r.status, r.body.as_slice()),
        (200, br#"{"healthy":true}"#.as_slice())
    );

    server.assert_valid();
    assert_eq!(server.traces(), vec![trace(1), trace(2)]);
    assert_eq!(server.spans().len(), 3);
    assert_eq!(server.feedback_scores("/traces/feedback-scores").len(), 1);
    assert_eq!(server.feedback_scores("/threads/feedback-scores").len(), 1);
    assert_eq!(
        server.bodies_to(&format!("PATCH /spans/{}", v7(3))).len(),
        1
    );
    assert_eq!(server.request_count("/batch"), 2);

    let reqs = server.requests();
    assert_eq!(reqs.len(), 7);
    let first = &reqs[0];
    assert_eq!(
        (first.seq, first.method.as_str(), first.path.as_str()),
        (1, "POST", "/api/v1/private/traces/batch")
    );
    assert_eq!(first.operation_id.as_deref(), Some("createTraces"));
    assert_eq!(first.status, Some(204));
    assert!(first.is_gzip());
    assert_eq!(first.wire_size, gzip(body.to_string().as_bytes()).len());
    assert_eq!(first.body_bytes, body.to_string().into_bytes());
    assert_eq!(first.header("Authorization"), Some(KEY));
    assert!(first
        .headers
        .iter()
        .all(|(k, _)| *k == k.to_ascii_lowercase()));
    let debug = format!("{first:?}");
    assert!(!debug.contains(KEY), "{debug}");
    assert!(debug.contains("<redacted>"), "{debug}");
    assert!(reqs.windows(2).all(|w| w[0].arrived <= w[1].arrived));
}

#[test]
fn each_invalid_request_is_a_problem() {
    let server = FakeOpik::start();
    let mut null_field = trace(1);
    null_field["name"] = Value::Null;
    let mut v4 = trace(2);
    v4["id"] = json!("f47ac10b-58cc-4372-a567-0e02b2c3d479");
    let mut bad_type = span(3, 1);
    bad_type["type"] = json!("agent");
    let mut no_start = trace(4);
    no_start.as_object_mut().unwrap().remove("start_time");
    let mut typo = trace(8);
    typo["start_tme"] = json!(T0);
    let mut no_zone = trace(5);
    no_zone["end_time"] = json!("2024-05-01T12:00:01");

    let cases: Vec<(&str, &str, Value, &str)> = vec![
        (
            "POST",
            "/v1/private/traces/batch",
            json!({"traces": [null_field]}),
            "/traces/0/name: null",
        ),
        (
            "POST",
            "/v1/private/traces/batch",
            json!({"traces": [v4]}),
            "/traces/0/id: \"f47ac10b",
        ),
        (
            "POST",
            "/v1/private/spans/batch",
            json!({"spans": [bad_type]}),
            "/spans/0/type: ",
        ),
        (
            "POST",
            "/v1/private/traces/batch",
            json!({"traces": [no_start]}),
            "/traces/0: ",
        ),
        (
            "POST",
            "/v1/private/traces/batch",
            json!({"traces": [no_zone]}),
            "has no time zone",
        ),
        (
            "POST",
            "/v1/private/traces/batch",
            json!({"traces": []}),
            "/traces: ",
        ),
        (
            "POST",
            "/v1/private/traces/batch",
            json!({"traces": [typo]}),
            "start_tme",
        ),
        (
            "POST",
            "/v1/private/nonsense",
            json!({}),
            "no operation of the Opik spec",
        ),
        (
            "PUT",
            "/v1/private/traces/batch",
            json!({"traces": [trace(6)]}),
            "the spec has no PUT",
        ),
        (
            "PATCH",
            "/v1/private/traces/not-a-uuid",
            json!({"name": "x"}),
            "path parameter {id}",
        ),
    ];
    for (i, (method, rel, body, want)) in cases.iter().enumerate() {
        let before = server.problems().len();
        send_json(&server, method, rel, body);
        let problems = server.problems();
        let new = &problems[before..];
        assert!(!new.is_empty(), "case {i} ({rel}): no problem");
        let label = format!("#{} {method} /api{rel}: ", i + 1);
        assert!(
            new.iter().all(|p| p.starts_with(&label)),
            "case {i}: {new:?}"
        );
        assert!(
            new.iter().any(|p| p.contains(want)),
            "case {i}: want {want:?} in {new:?}"
        );
    }
    // A missing start_time names the field.
    assert!(server.requests()[3]
        .problems
        .iter()
        .any(|p| p.contains("start_time")));

    // Plain JSON, said to be plain (no content-encoding), is fine; not JSON's media type is not.
    let plain = json!({"traces": [trace(7)]}).to_string();
    let r = send_raw(
        server.port(),
        "POST",
        "/api/v1/private/traces/batch",
        &[("content-type", "text/plain")],
        plain.as_bytes(),
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(r.status, 204, "validation does not change the answer");
    let last = server.requests().pop().unwrap();
    assert_eq!(
        last.problems.len(),
        1,
        "only the media type: {:?}",
        last.problems
    );
    assert!(
        last.problems[0].contains("content-type"),
        "{:?}",
        last.problems
    );
    assert_eq!(
        last.body.as_ref().unwrap()["traces"][0]["id"],
        v7(7),
        "still decoded"
    );

    // Gzip sent under a header that says plain, or identity; an encoding nobody sends.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, plain.as_bytes()).unwrap();
    let gz = gz.finish().unwrap();
    for (encoding, want) in [
        (None, "content-encoding: absent, but the body is gzip"),
        (
            Some("identity"),
            "content-encoding: identity, but the body is gzip",
        ),
        (Some("br"), "want gzip, or none"),
    ] {
        let mut headers = vec![("content-type", "application/json")];
        headers.extend(encoding.map(|e| ("content-encoding", e)));
        send_raw(
            server.port(),
            "POST",
            "/api/v1/private/traces/batch",
            &headers,
            &gz,
            Duration::from_secs(5),
        )
        .unwrap();
        let last = server.requests().pop().unwrap();
        assert!(
            last.problems.iter().any(|p| p.contains(want)),
            "{encoding:?}: {:?}",
            last.problems
        );
    }

    // gzip announced but not sent.
    send_raw(
        server.port(),
        "POST",
        "/api/v1/private/traces/batch",
        &[
            ("content-type", "application/json"),
            ("content-encoding", "gzip"),
        ],
        plain.as_bytes(),
        Duration::from_secs(5),
    )
    .unwrap();
    let last = server.requests().pop().unwrap();
    assert!(
        last.problems.iter().any(|p| p.contains("gunzip failed")),
        "{:?}",
        last.problems
    );

    // Outside /api.
    send_raw(
        server.port(),
        "GET",
        "/v1/private/traces",
        &[],
        b"",
        Duration::from_secs(5),
    )
    .unwrap();
    assert!(server.problems().last().unwrap().contains("/api"));

    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| server.assert_valid()));
    let msg = *panic.unwrap_err().downcast::<String>().unwrap();
    assert!(
        msg.contains("#1 POST /api/v1/private/traces/batch: /traces/0/name"),
        "{msg}"
    );
    // Invalid requests answered 2xx still count as delivered: tests see what the SDK sent.
    assert!(server.traces().iter().any(|t| t["id"] == v7(4)));
}

#[test]
fn scripted_replies_come_in_order_then_the_default() {
    let server = FakeOpik::start();
    server.script(
        "/spans/batch",
        [
            Reply::status(503),
            Reply::status(429)
                .header("Retry-After", "1")
                .header("RateLimit-Reset", "1"),
            Reply::status(429).header("Opik-Traces-Remaining-Limit-TTL-Millis", "800"),
            Reply::status(413),
            Reply::status(400).json(r#"{"errors":["bad span"]}"#),
            Reply::status(401),
        ],
    );
    server.script("PATCH /spans/batch", [Reply::status(500)]); // other method: not consumed
    assert_eq!(server.scripted_left("/spans/batch"), 6);
    let body = json!({"spans": [span(1, 2)]});
    let mut got = Vec::new();
    for _ in 0..7 {
        got.push(send_json(&server, "POST", "/v1/private/spans/batch", &body));
    }
    let statuses: Vec<u16> = got.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [503, 429, 429, 413, 400, 401, 204]);
    assert_eq!(got[1].header("retry-after"), Some("1"));
    assert_eq!(got[1].header("ratelimit-reset"), Some("1"));
    assert_eq!(
        got[2].header("opik-traces-remaining-limit-ttl-millis"),
        Some("800")
    );
    assert_eq!(got[4].header("content-type"), Some("application/json"));
    assert_eq!(got[4].body, br#"{"errors":["bad span"]}"#);
    assert_eq!(server.scripted_left("/spans/batch"), 0);
    assert_eq!(server.scripted_left("PATCH /spans/batch"), 1);
    assert_eq!(server.request_count("/spans/batch"), 7);
    // Only the 2xx answer counts as delivered; requests() keeps all.
    assert_eq!(server.spans().len(), 1);
    assert_eq!(
        server
            .requests()
            .iter()
            .map(|r| r.status.unwrap())
            .collect::<Vec<_>>(),
        statuses
    );
    server.assert_valid();
}

#[test]
fn delay_then_answer() {
    let server = FakeOpik::start();
    server.script("/traces/batch", [Reply::status(204).delay_ms(300)]);
    let start = Instant::now();
    let r = send_json(
        &server,
        "POST",
        "/v1/private/traces/batch",
        &json!({"traces": [trace(1)]}),
    );
    assert_eq!(r.status, 204);
    assert!(start.elapsed() >= Duration::from_millis(300));
}

#[test]
fn never_holds_until_the_server_is_dropped() {
    let server = FakeOpik::start();
    server.script("/traces/batch", [Reply::never()]);
    let gz = gzip(json!({"traces": [trace(1)]}).to_string().as_bytes());
    let mut s = TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    write!(
        s,
        "POST /api/v1/private/traces/batch HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
         content-encoding: gzip\r\ncontent-length: {}\r\n\r\n",
        gz.len()
    )
    .unwrap();
    s.write_all(&gz).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(400)))
        .unwrap();
    let mut buf = [0u8; 64];
    let err = s.read(&mut buf).expect_err("no answer while held");
    assert!(
        matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{err:?}"
    );
    assert!(
        server.wait_until(Duration::from_secs(5), |s| s.request_count("/traces/batch")
            == 1)
    );
    assert_eq!(server.requests()[0].status, None);
    assert!(server.traces().is_empty(), "never answered: not delivered");
    server.assert_valid();

    drop(server);
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    match s.read(&mut buf) {
        Ok(0) => {}
        Ok(n) => panic!("got {n} bytes after drop"),
        Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionReset),
    }
}

#[test]
fn close_drops_the_connection_without_an_answer() {
    let server = FakeOpik::start();
    server.script("/spans/batch", [Reply::close()]);
    let err = send_raw(
        server.port(),
        "POST",
        "/api/v1/private/spans/batch",
        &[
            ("content-type", "application/json"),
            ("content-encoding", "gzip"),
        ],
        &gzip(json!({"spans": [span(1, 2)]}).to_string().as_bytes()),
        Duration::from_secs(5),
    )
    .expect_err("closed");
    assert!(
        matches!(
            err.kind(),
            ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset
        ),
        "{err:?}"
    );
    assert_eq!(server.requests()[0].status, None);
    // The next request gets the default again.
    let r = send_json(
        &server,
        "POST",
        "/v1/private/spans/batch",
        &json!({"spans": [span(1, 2)]}),
    );
    assert_eq!(r.status, 204);
    server.assert_valid();
}

#[test]
fn fail_for_switches_to_the_default() {
    let server = FakeOpik::start();
    server.fail_for("/traces/batch", Duration::from_millis(1000), 503);
    let body = json!({"traces": [trace(1)]});
    assert_eq!(
        send_json(&server, "POST", "/v1/private/traces/batch", &body).status,
        503
    );
    assert_eq!(
        send_json(
            &server,
            "POST",
            "/v1/private/spans/batch",
            &json!({"spans": [span(2, 1)]})
        )
        .status,
        204
    );
    let since = server.listening_since().unwrap();
    while since.elapsed() < Duration::from_millis(1050) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        send_json(&server, "POST", "/v1/private/traces/batch", &body).status,
        204
    );
    assert_eq!(server.traces().len(), 1);
}

#[test]
fn connection_refused_until_started() {
    let reserved = FakeOpik::reserve();
    let port = reserved.port();
    assert_eq!(reserved.base_url(), format!("http://127.0.0.1:{port}/api"));
    let err = TcpStream::connect(("127.0.0.1", port)).expect_err("refused before start");
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);

    let server = reserved.start_after(Duration::from_millis(800));
    server.script("/traces/batch", [Reply::status(500)]);
    assert!(!server.is_listening());
    assert_eq!(
        TcpStream::connect(("127.0.0.1", port)).unwrap_err().kind(),
        ErrorKind::ConnectionRefused
    );
    assert!(server.wait_until(Duration::from_secs(5), |s| s.is_listening()));
    let body = json!({"traces": [trace(1)]});
    assert_eq!(
        send_json(&server, "POST", "/v1/private/traces/batch", &body).status,
        500
    );
    assert_eq!(
        send_json(&server, "POST", "/v1/private/traces/batch", &body).status,
        204
    );

    let now = FakeOpik::reserve().start_now();
    assert!(now.is_listening());
    assert_eq!(
        send_json(&now, "POST", "/v1/private/traces/batch", &body).status,
        204
    );
    // Dropping a server that never started does not hang.
    drop(FakeOpik::start_after(Duration::from_secs(3600)));
}

#[test]
fn delivery_helpers() {
    let server = FakeOpik::start();
    let mut start = span(1, 9);
    start.as_object_mut().unwrap().remove("end_time");
    let end = span(1, 9);
    send_json(
        &server,
        "POST",
        "/v1/private/spans/batch",
        &json!({"spans": [start, span(2, 9)]}),
    );
    send_json(
        &server,
        "POST",
        "/v1/private/spans/batch",
        &json!({"spans": [end]}),
    );
    let counts = server.delivery_counts(Entity::Span);
    assert_eq!(counts.get(&v7(1)), Some(&2));
    assert_eq!(counts.get(&v7(2)), Some(&1));
    assert_eq!(server.delivery_problems(Entity::Span, false).len(), 1);
    server.assert_delivered_once_or_start_end(Entity::Span);
    assert!(std::panic::catch_unwind(|| server.assert_delivered_once(Entity::Span)).is_err());

    // A retried end record is a duplicate even with start/end allowed.
    send_json(
        &server,
        "POST",
        "/v1/private/spans/batch",
        &json!({"spans": [span(2, 9)]}),
    );
    let problems = server.delivery_problems(Entity::Span, true);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains(&v7(2)));
    assert!(server.delivery_counts(Entity::Trace).is_empty());
    server.assert_valid();
}

#[test]
fn wait_until_times_out_and_server_is_shareable() {
    fn shareable<T: Send + Sync>() {}
    shareable::<FakeOpik>();
    let server = FakeOpik::start();
    let start = Instant::now();
    assert!(!server.wait_until(Duration::from_millis(100), |s| !s.requests().is_empty()));
    assert!(start.elapsed() >= Duration::from_millis(100));
    std::thread::scope(|scope| {
        scope.spawn(|| {
            send_json(
                &server,
                "POST",
                "/v1/private/traces/batch",
                &json!({"traces": [trace(1)]}),
            )
        });
        assert!(server.wait_until(Duration::from_secs(5), |s| s.traces().len() == 1));
    });
}

#[test]
fn attachment_upload_start_points_back_at_the_server() {
    let server = FakeOpik::start();
    let body = json!({"file_name": "a b.png", "num_of_file_parts": 1, "entity_type": "span",
                      "entity_id": v7(1), "path": "L3RtcA==", "project_name": "p"});
    let r = send_json(
        &server,
        "POST",
        "/v1/private/attachment/upload-start",
        &body,
    );
    assert_eq!(r.status, 200);
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    let url = v["pre_sign_urls"][0].as_str().unwrap();
    assert!(
        url.starts_with(&format!(
            "{}/v1/private/attachment/upload?",
            server.base_url()
        )),
        "{url}"
    );
    assert!(url.contains("file_name=a%20b.png"), "{url}");
    let r = send_raw(
        server.port(),
        "PUT",
        &url[url.find("/api/").unwrap()..],
        &[("content-type", "image/png")],
        b"\x89PNG...",
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(r.status, 204);
    let last = server.requests().pop().unwrap();
    assert_eq!(last.query_param("entity_id"), Some(v7(1)));
    assert_eq!(last.operation_id.as_deref(), Some("uploadAttachment"));
    server.assert_valid();
    assert_eq!(
        FakeOpik::schema_source()["from"],
        "comet-ml/opik: sdks/code_generation/fern/openapi/openapi.yaml"
    );
}
