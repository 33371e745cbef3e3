//! Issue "Streams, spans you open yourself, and attachments", part 3: files that go with a span
//! or trace, uploaded on the exporter's side as Opik expects, in both of the fake's modes
//! (self-hosted `BEMinIO`, and presigned S3-style parts), counted, bounded in memory, and
//! checked against the spec (`assert_valid` covers upload-start and upload-complete bodies).
//!
//! The memory test runs the SDK in a child process (this binary again, selecting an
//! `#[ignore]`d test by environment variable), so that the fake's own copy of the bytes does
//! not count. Every test prints a `FIGURES` line (run with `--nocapture`).

mod common;

use common::{config_for, TEST_PROJECT};
use fake_opik::{AttachmentMode, FakeOpik, Reply};
use opik::export::{Client, DropReason, Stats};
use opik::Attachment;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

const MIB: usize = 1 << 20;

fn client_with(
    server: &FakeOpik,
    tune: impl FnOnce(opik::config::ConfigBuilder) -> opik::config::ConfigBuilder,
) -> Client {
    let config = tune(
        config_for(server)
            .backoff_base(Duration::from_millis(10))
            .backoff_max(Duration::from_millis(50)),
    )
    .resolve()
    .expect("valid")
    .into_config()
    .expect("enabled");
    Client::new(&config).expect("client")
}

fn flushed(client: &Client) -> Stats {
    let report = client.flush(Duration::from_secs(20));
    assert!(report.completed, "flush completed: {}", report.stats);
    report.stats
}

/// Bytes that differ from one position to the next, so a part sent twice or out of order shows.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + i / 4096) as u8).collect()
}

fn temp_file(name: &str, len: usize) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("opik-rs-attachments-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    // Written a mebibyte at a time: the test must not hold the file whole either.
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut written = 0;
    while written < len {
        let n = MIB.min(len - written);
        let chunk: Vec<u8> = (written..written + n)
            .map(|i| (i * 31 + i / 4096) as u8)
            .collect();
        f.write_all(&chunk).unwrap();
        written += n;
    }
    f.flush().unwrap();
    path
}

#[opik::track(type = "tool")]
fn speak(text: &str) -> usize {
    let wav = pattern(3000);
    opik::update_current_span(|s| {
        s.attachment(Attachment::from_bytes(wav, "answer.wav", "audio/wav"));
    });
    text.len()
}

#[opik::track]
fn coach(text: &str) -> usize {
    opik::update_current_trace(|t| {
        t.attachment(Attachment::from_bytes(
            b"{\"bpm\":92}".to_vec(),
            "session.json",
            "application/json",
        ));
    });
    speak(text)
}

#[test]
fn a01_span_and_trace_attachments_upload_to_a_self_hosted_opik() {
    let server = FakeOpik::start();
    let client = client_with(&server, |b| b);
    client.run(|| coach("slow down"));
    let stats = flushed(&client);
    server.assert_valid();
    let spans = server.spans();
    let span = common::span(&spans, "speak");
    let trace = &server.traces()[0];
    let mut stored = server.attachments();
    stored.sort_by(|a, b| a.file_name.cmp(&b.file_name));
    assert_eq!(stored.len(), 2, "{stored:?}");
    let (wav, json) = (&stored[0], &stored[1]);
    assert_eq!(
        (
            wav.file_name.as_str(),
            wav.mime_type.as_str(),
            wav.entity_type.as_str()
        ),
        ("answer.wav", "audio/wav", "span")
    );
    assert_eq!(wav.entity_id, span["id"].as_str().unwrap());
    assert_eq!(wav.content(), pattern(3000));
    assert_eq!(wav.project_name, TEST_PROJECT);
    assert_eq!(
        (json.entity_type.as_str(), json.entity_id.as_str()),
        ("trace", trace["id"].as_str().unwrap())
    );
    assert_eq!(json.content(), b"{\"bpm\":92}");
    // What upload-start carried: the part count and the base64 of the API base.
    let starts = server.bodies_to("POST /attachment/upload-start");
    assert_eq!(starts.len(), 2);
    let expected_path = b64(server.base_url().as_bytes());
    for s in &starts {
        assert_eq!(s["num_of_file_parts"], 1);
        assert_eq!(s["path"], expected_path.as_str());
    }
    // The bytes went to the backend's own URL, with Opik's headers.
    let puts = server.requests_to("PUT /attachment/upload");
    assert_eq!(puts.len(), 2);
    assert!(puts.iter().all(|r| r.header("authorization").is_some()));
    assert_eq!(
        server.request_count("POST /attachment/upload-complete"),
        0,
        "no complete call for BEMinIO"
    );
    assert_eq!(
        (stats.attachments_uploaded, stats.attachments_dropped),
        (2, 0),
        "{stats}"
    );
    assert_eq!(
        stats.produced,
        3 + 2,
        "a trace, two spans, two attachments: {stats}"
    );
    assert_eq!(stats.delivered, stats.produced, "{stats}");
    println!("FIGURES a01 {stats}; upload-start body: {}", starts[0]);
}

#[test]
fn a02_a_multi_part_upload_to_presigned_urls_sends_every_part_once_in_order() {
    let server = FakeOpik::start();
    server.attachment_mode(AttachmentMode::S3Multipart { part_size: 5 * MIB });
    let client = client_with(&server, |b| b);
    let data = pattern(12 * MIB + 7);
    client.run(|| {
        let span = opik::span("render").start();
        span.update(|s| {
            s.attachment(Attachment::from_bytes(data.clone(), "take.bin", ""));
        });
        span.end();
    });
    let stats = flushed(&client);
    server.assert_valid();
    let stored = server.attachments();
    assert_eq!(stored.len(), 1);
    let a = &stored[0];
    assert_eq!(
        (a.parts, a.size, a.mime_type.as_str()),
        (3, data.len(), "application/octet-stream")
    );
    assert!(a.content() == data, "the stored bytes are the attachment's");
    // Parts go to storage without Opik's headers; the complete call lists their ETags in order.
    let parts = server.requests_to("PUT /fake-s3/upload-part");
    assert_eq!(parts.len(), 3);
    assert!(parts.iter().all(|r| r.header("authorization").is_none()));
    let complete = server.bodies_to("POST /attachment/upload-complete");
    assert_eq!(complete.len(), 1);
    let numbers: Vec<u64> = complete[0]["uploaded_file_parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["part_number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [1, 2, 3]);
    assert_eq!(complete[0]["file_size"], data.len());
    assert_eq!(stats.attachments_uploaded, 1, "{stats}");
    println!("FIGURES a02 {stats}; upload-complete body: {}", complete[0]);
}

#[test]
fn a03_a_file_from_a_path_is_streamed_in_both_modes() {
    for mode in [
        AttachmentMode::Minio,
        AttachmentMode::S3Multipart { part_size: 5 * MIB },
    ] {
        let server = FakeOpik::start();
        server.attachment_mode(mode);
        let client = client_with(&server, |b| b);
        let path = temp_file(
            &format!("clip-{}.wav", matches!(mode, AttachmentMode::Minio)),
            6 * MIB + 1,
        );
        let attachment = Attachment::from_path(&path).expect("a readable file");
        assert_eq!(
            (attachment.mime_type(), attachment.size()),
            ("audio/wav", (6 * MIB + 1) as u64)
        );
        let trace = opik::Opik::new(client.clone()).trace("upload-a-file");
        trace.update(|t| {
            t.attachment(attachment);
        });
        trace.end();
        let stats = flushed(&client);
        server.assert_valid();
        let stored = server.attachments();
        assert_eq!(stored.len(), 1, "{mode:?}");
        assert_eq!(stored[0].size, 6 * MIB + 1);
        assert!(
            stored[0].content() == pattern(6 * MIB + 1),
            "{mode:?}: the file's bytes"
        );
        assert_eq!(stored[0].entity_type, "trace");
        assert_eq!(stats.attachments_uploaded, 1);
        std::fs::remove_file(&path).unwrap();
    }
}

#[test]
fn a04_failed_uploads_are_retried_and_then_counted_by_reason() {
    let server = FakeOpik::start();
    server.attachment_mode(AttachmentMode::S3Multipart { part_size: 5 * MIB });
    // One part fails twice with a 503, then goes: retried alone, not the whole upload.
    server.script(
        "PUT /fake-s3/upload-part",
        [Reply::status(503), Reply::status(503)],
    );
    let client = client_with(&server, |b| b.max_retries(3));
    let data = pattern(6 * MIB);
    client.run(|| {
        let span = opik::span("retried").start();
        span.update(|s| {
            s.attachment(Attachment::from_bytes(
                data.clone(),
                "a.bin",
                "application/octet-stream",
            ));
        });
        span.end();
    });
    let stats = flushed(&client);
    assert_eq!(stats.attachments_uploaded, 1, "{stats}");
    assert_eq!(
        server.request_count("POST /attachment/upload-start"),
        1,
        "one upload-start"
    );
    assert_eq!(server.request_count("PUT /fake-s3/upload-part"), 2 + 2);
    assert!(server.attachments()[0].content() == data);

    // A refusal (400) is final; 500s until the retries run out are counted as such.
    let server = FakeOpik::start();
    server.script("PUT /attachment/upload", [Reply::status(400)]);
    server.script(
        "POST /attachment/upload-start",
        [Reply::status(200).json("{}")],
    );
    let client = client_with(&server, |b| b.max_retries(2));
    client.run(|| {
        for name in ["refused.txt", "garbled.txt", "refused-upload.txt"] {
            let span = opik::span(name).start();
            span.update(|s| {
                s.attachment(Attachment::from_bytes(b"x".to_vec(), name, "text/plain"));
            });
            span.end();
        }
    });
    let stats = flushed(&client);
    assert_eq!(
        (stats.attachments_uploaded, stats.attachments_dropped),
        (1, 2),
        "{stats}"
    );
    assert_eq!(
        stats.dropped(DropReason::BadAnswer),
        1,
        "an upload-start answer without URLs: {stats}"
    );
    assert_eq!(stats.dropped(DropReason::Http4xx), 1, "{stats}");
    assert_eq!(
        stats.produced,
        stats.delivered + stats.dropped_total(),
        "{stats}"
    );

    let server = FakeOpik::start();
    server.script(
        "PUT /attachment/upload",
        std::iter::repeat_n(Reply::status(500), 3),
    );
    let client = client_with(&server, |b| b.max_retries(2));
    client.run(|| {
        let span = opik::span("flaky").start();
        span.update(|s| {
            s.attachment(Attachment::from_bytes(b"x".to_vec(), "x.txt", "text/plain"));
        });
        span.end();
    });
    let stats = flushed(&client);
    assert_eq!(stats.dropped(DropReason::Http5xxExhausted), 1, "{stats}");
    assert_eq!(
        server.request_count("PUT /attachment/upload"),
        3,
        "the first try and 2 retries"
    );
    assert!(
        server.attachments().is_empty(),
        "a failed upload keeps nothing"
    );
    println!("FIGURES a04 {stats}");
}

#[test]
fn a05_a_file_gone_before_its_upload_is_counted_as_unreadable() {
    let server = FakeOpik::start();
    let client = client_with(&server, |b| b);
    let path = temp_file("gone.png", 100);
    let attachment = Attachment::from_path(&path).unwrap();
    client.run(|| {
        let span = opik::span("screenshot").start();
        span.update(|s| {
            s.attachment(attachment);
        });
        std::fs::remove_file(&path).unwrap();
        span.end();
    });
    let stats = flushed(&client);
    assert_eq!(stats.dropped(DropReason::FileUnreadable), 1, "{stats}");
    assert_eq!(stats.attachments_dropped, 1);
    assert_eq!(server.spans().len(), 1, "the span itself is sent");
}

#[test]
fn a06_attachments_opik_would_refuse_are_left_out_where_they_are_added() {
    let server = FakeOpik::start();
    let client = client_with(&server, |b| b);
    client.run(|| {
        let span = opik::span("empties").start();
        span.update(|s| {
            s.attachment(Attachment::from_bytes(Vec::new(), "empty.bin", "x/y"))
                .attachment(Attachment::from_bytes(vec![1], "", "x/y"))
                .attachment(Attachment::from_bytes(vec![1], "dup.txt", "text/plain"))
                .attachment(Attachment::from_bytes(vec![2], "dup.txt", "text/plain"));
        });
        span.end();
    });
    let stats = flushed(&client);
    let stored = server.attachments();
    assert_eq!(stored.len(), 1, "only the second dup.txt: {stored:?}");
    assert_eq!(stored[0].content(), [2]);
    assert_eq!(
        stats.produced, 3,
        "the trace, its span and one attachment: {stats}"
    );
    let err = Attachment::from_path("/no/such/file.wav")
        .unwrap_err()
        .to_string();
    assert!(err.contains("/no/such/file.wav"), "{err}");
}

#[test]
fn a07_uploads_still_running_at_the_shutdown_deadline_are_counted() {
    let server = FakeOpik::start();
    server.script("PUT /attachment/upload", [Reply::never()]);
    let client = client_with(&server, |b| b.shutdown_timeout(Duration::from_millis(300)));
    client.run(|| {
        let span = opik::span("stalled").start();
        span.update(|s| {
            s.attachment(Attachment::from_bytes(
                vec![9; 10],
                "s.bin",
                "application/octet-stream",
            ));
        });
        span.end();
    });
    let report = client.shutdown(Duration::from_millis(300));
    let stats = report.stats;
    assert!(!report.completed, "{stats}");
    assert_eq!(stats.dropped(DropReason::ShutdownDeadline), 1, "{stats}");
    assert_eq!(
        (stats.attachments_uploaded, stats.attachments_dropped),
        (0, 1),
        "{stats}"
    );
    assert_eq!(
        stats.produced,
        stats.delivered + stats.dropped_total(),
        "{stats}"
    );
}

#[test]
fn a08_bytes_waiting_for_upload_count_against_the_memory_budget() {
    let server = FakeOpik::start();
    server.script("PUT /attachment/upload", [Reply::never()]);
    let client = client_with(&server, |b| {
        b.max_buffered_bytes(4 * MIB)
            .max_concurrent_uploads(1)
            .shutdown_timeout(Duration::from_millis(100))
    });
    client.run(|| {
        for i in 0..8 {
            let span = opik::span("big").start();
            span.update(|s| {
                s.attachment(Attachment::from_bytes(
                    vec![1u8; MIB],
                    format!("{i}.bin"),
                    "application/octet-stream",
                ));
            });
            span.end();
        }
    });
    // Charged where the attachments are added: counted before anything reaches the exporter.
    let stats = client.stats();
    assert!(
        stats.dropped(DropReason::MemoryBudget) >= 4,
        "at most 4 MiB held: {stats}"
    );
    let report = client.shutdown(Duration::from_millis(100));
    assert_eq!(report.stats.attachments_dropped, 8, "{}", report.stats);
    println!("FIGURES a08 {}", report.stats);
}

// ---- memory: a 20 MiB file --------------------------------------------------------------

const CHILD_VAR: &str = "OPIK_ATTACHMENT_CHILD_URL";
const FILE_MIB: usize = 20;

/// Run by [`a09_a_20_mib_file_is_uploaded_without_the_memory_of_its_size`] in a child process.
#[test]
#[ignore = "run by a09 in a child process"]
fn a09_child() {
    let Ok(url) = std::env::var(CHILD_VAR) else {
        return;
    };
    let path = PathBuf::from(std::env::var("OPIK_ATTACHMENT_CHILD_FILE").unwrap());
    let config = opik::config::ConfigBuilder::with_env_map(Vec::<(String, String)>::new())
        .url(url)
        .api_key(common::TEST_KEY)
        .workspace(common::TEST_WORKSPACE)
        .project_name(TEST_PROJECT)
        .flush_interval(Duration::from_millis(20))
        .resolve()
        .unwrap()
        .into_config()
        .unwrap();
    let client = Client::new(&config).unwrap();
    // Warm up: the runtime, the connection, TLS-free HTTP; then measure from here.
    let warm = opik::Opik::new(client.clone()).trace("warm-up");
    warm.update(|t| {
        t.attachment(Attachment::from_bytes(
            vec![1; 1000],
            "warm.bin",
            "application/octet-stream",
        ));
    });
    warm.end();
    assert!(client.flush(Duration::from_secs(10)).completed);
    let before = common::proc_status_kib("VmHWM").unwrap_or(0);
    let trace = opik::Opik::new(client.clone()).trace("big-file");
    trace.update(|t| {
        t.attachment(Attachment::from_path(&path).unwrap());
    });
    trace.end();
    let report = client.flush(Duration::from_secs(60));
    let after = common::proc_status_kib("VmHWM").unwrap_or(0);
    assert!(report.completed, "{}", report.stats);
    println!(
        "CHILD growth_kib={} peak_kib={after} uploaded={}",
        after.saturating_sub(before),
        report.stats.attachments_uploaded
    );
}

#[test]
fn a09_a_20_mib_file_is_uploaded_without_the_memory_of_its_size() {
    if common::proc_status_kib("VmHWM").is_none() {
        println!("FIGURES a09 skipped: no /proc/self/status here");
        return;
    }
    let path = temp_file("twenty.bin", FILE_MIB * MIB);
    for mode in [
        AttachmentMode::Minio,
        AttachmentMode::S3Multipart { part_size: 5 * MIB },
    ] {
        let server = FakeOpik::start();
        server.attachment_mode(mode);
        let file = path.to_str().expect("a UTF-8 temp path");
        let stdout = common::run_child(
            "a09_child",
            &[
                (CHILD_VAR, &*server.base_url()),
                ("OPIK_ATTACHMENT_CHILD_FILE", file),
            ],
            &[],
        );
        let growth = common::child_figure(&stdout, "growth_kib").expect("the child's figures");
        assert_eq!(
            common::child_figure(&stdout, "uploaded"),
            Some(2),
            "{stdout}"
        );
        let big = server
            .attachments()
            .into_iter()
            .find(|a| a.file_name == "twenty.bin")
            .expect("the file arrived");
        assert_eq!(big.size, FILE_MIB * MIB);
        assert!(big.content() == pattern(FILE_MIB * MIB), "its bytes");
        println!(
            "FIGURES a09 {mode:?}: {FILE_MIB} MiB file, peak RSS grew {growth} KiB while uploading"
        );
        // The file is 20 480 KiB; streamed, the upload holds a few 64 KiB pieces at a time.
        assert!(
            growth < 8 * 1024,
            "{mode:?}: peak RSS grew {growth} KiB for a {FILE_MIB} MiB file"
        );
    }
    std::fs::remove_file(&path).unwrap();
}

// ---- base64 data in payloads ------------------------------------------------------------

fn b64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            out.push(if i <= chunk.len() {
                ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    out
}

/// A PNG of `len` bytes (a signature, then noise), as a data URI.
fn png_data_uri(len: usize) -> (Vec<u8>, String) {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(pattern(len - 8));
    let uri = format!("data:image/png;base64,{}", b64(&png));
    (png, uri)
}

#[opik::track]
fn describe_screenshot(screenshot: &str) -> &'static str {
    let mut wav = b"RIFF\x24\x08\x00\x00WAVEfmt ".to_vec();
    wav.extend(pattern(300_000));
    opik::update_current_span(|s| {
        s.metadata_entry("voice_note", &b64(&wav));
    });
    let _ = screenshot;
    "a fretboard"
}

#[test]
fn a10_base64_data_in_input_and_metadata_becomes_attachments() {
    let server = FakeOpik::start();
    let client = client_with(&server, |b| b);
    let (png, uri) = png_data_uri(240_000);
    assert!(uri.len() >= 256_000);
    client.run(|| describe_screenshot(&uri));
    let stats = flushed(&client);
    server.assert_valid();
    let spans = server.spans();
    let span = common::span(&spans, "describe_screenshot");
    let input = span["input"]["screenshot"].as_str().unwrap();
    assert!(
        input.starts_with("[input-attachment-") && input.ends_with("-sdk.png]"),
        "{input}"
    );
    let note = span["metadata"]["voice_note"].as_str().unwrap();
    assert!(
        note.starts_with("[metadata-attachment-") && note.ends_with(".wav]"),
        "{note}"
    );
    let trace_input = server.traces()[0]["input"]["screenshot"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        trace_input.ends_with("-sdk.png]"),
        "the trace's copy too: {trace_input}"
    );
    let stored = server.attachments();
    let of = |entity: &str, mime: &str| {
        stored
            .iter()
            .find(|a| a.entity_id == entity && a.mime_type == mime)
            .unwrap_or_else(|| panic!("{mime} of {entity} in {stored:?}"))
    };
    let span_png = of(span["id"].as_str().unwrap(), "image/png");
    assert_eq!(format!("[{}]", span_png.file_name), input);
    assert!(span_png.content() == png, "the decoded PNG");
    of(server.traces()[0]["id"].as_str().unwrap(), "image/png");
    let wav = of(span["id"].as_str().unwrap(), "audio/wav");
    assert_eq!(wav.size, 16 + 300_000);
    assert_eq!(stats.attachments_uploaded, 3, "{stats}");
    assert_eq!(stats.produced, stats.delivered, "{stats}");
    let wire: usize = server
        .requests_to("POST /spans/batch")
        .iter()
        .map(|r| r.wire_size)
        .sum();
    println!(
        "FIGURES a10 {stats}; span batches {wire} bytes on the wire for a {} KB data URI",
        uri.len() / 1000
    );
}

#[test]
fn a11_extraction_can_be_turned_off_and_skips_short_strings() {
    let server = FakeOpik::start();
    let client = client_with(&server, |b| b.extract_attachments(false));
    let (_, uri) = png_data_uri(240_000);
    client.run(|| describe_screenshot(&uri));
    flushed(&client);
    assert!(server.attachments().is_empty());
    assert_eq!(server.spans()[0]["input"]["screenshot"], uri.as_str());

    let server = FakeOpik::start();
    let client = client_with(&server, |b| b);
    let (_, short) = png_data_uri(1000);
    client.run(|| {
        let span = opik::span("small").start();
        span.update(|s| {
            s.input(&serde_json::json!({ "thumb": short }));
        });
        span.end();
    });
    flushed(&client);
    assert!(
        server.attachments().is_empty(),
        "under 256 000 characters stays inline"
    );
}
