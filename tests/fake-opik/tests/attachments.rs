//! Attachments in both modes: MinIO (the backend's own upload endpoint) and S3 multipart
//! (presigned part URLs on the fake's port), kept and read back.

mod common;

use common::*;
use fake_opik::{AttachmentMode, FakeOpik, Reply};
use serde_json::{json, Value};

const P: &str = "fake-opik-files";

fn start(server: &FakeOpik, file: &str, parts: u64, entity: &str) -> Value {
    let body = json!({"file_name": file, "num_of_file_parts": parts, "entity_type": "trace",
        "entity_id": entity, "path": "aHR0cDovL2xvY2FsaG9zdDo1MTczL2FwaQ==", "project_name": P,
        "mime_type": "text/plain"});
    let r = send_json(server, "POST", "/v1/private/attachment/upload-start", &body);
    assert_eq!(r.status, 200);
    r.json()
}

/// The path and query of a URL the fake handed out (it points at the server itself).
fn local(server: &FakeOpik, url: &str) -> String {
    let origin = format!("http://127.0.0.1:{}", server.port());
    assert!(url.starts_with(&origin), "{url}");
    url[origin.len()..].to_string()
}

#[test]
fn minio_mode_uploads_through_the_backend() {
    let server = FakeOpik::start();
    let started = start(&server, "notes.txt", 1, &v7(1));
    assert_eq!(started["upload_id"], "BEMinIO");
    let url = started["pre_sign_urls"][0].as_str().unwrap();
    assert!(
        url.contains("/api/v1/private/attachment/upload?file_name=notes.txt&project_name="),
        "{url}"
    );
    server.script("PUT /attachment/upload", [Reply::status(503)]);
    let put = |bytes: &[u8]| {
        send_raw(
            server.port(),
            "PUT",
            &local(&server, url),
            &[("authorization", KEY), ("content-type", "text/plain")],
            bytes,
        )
        .unwrap()
    };
    assert_eq!(put(b"first").status, 503);
    assert!(
        server.attachments().is_empty(),
        "a failed upload keeps nothing"
    );
    assert_eq!(put(b"hello, file").status, 204);
    let r = send_json(
        &server,
        "POST",
        "/v1/private/attachment/upload-complete",
        &json!({
        "file_name": "notes.txt", "project_name": P, "entity_type": "trace", "entity_id": v7(1),
        "file_size": 11, "upload_id": "BEMinIO", "uploaded_file_parts": []}),
    );
    assert_eq!(r.status, 204, "complete is a no-op for MinIO");

    let files = server.attachments();
    assert_eq!(files.len(), 1);
    let f = &files[0];
    assert_eq!(
        (
            f.file_name.as_str(),
            f.mime_type.as_str(),
            f.entity_type.as_str()
        ),
        ("notes.txt", "text/plain", "trace")
    );
    assert_eq!(
        (
            f.entity_id.clone(),
            f.project_name.as_str(),
            f.size,
            f.parts
        ),
        (v7(1), P, 11, 1)
    );
    assert_eq!(f.content(), b"hello, file");
    let upload = server
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path.ends_with("/attachment/upload"))
        .unwrap();
    assert!(
        upload.body_bytes.is_empty(),
        "the bytes are kept once, in attachments()"
    );
    assert_eq!(upload.wire_size, 11);

    let project = server.project_id(P).unwrap();
    let list = get(&server, "GET", &format!("/v1/private/attachment/list?project_id={project}&entity_type=trace&entity_id={}&path={}",
        v7(1), enc("aHR0cDovL2xvY2FsaG9zdDo1MTczL2FwaQ=="))).json();
    assert_eq!(list["total"], 1);
    let link = list["content"][0]["link"].as_str().unwrap();
    assert!(
        link.starts_with("http://localhost:5173/api/v1/private/attachment/download?"),
        "the SDK's base, from `path`: {link}"
    );
    let r = get(&server, "GET", &link["http://localhost:5173/api".len()..]);
    assert_eq!(
        (r.status, r.header("content-type"), r.body.as_slice()),
        (200, Some("text/plain"), b"hello, file".as_slice())
    );
    server.assert_valid();
}

#[test]
fn s3_mode_takes_parts_on_presigned_urls() {
    let server = FakeOpik::start();
    server.attachment_mode(AttachmentMode::S3Multipart { part_size: 4 });
    let started = start(&server, "big.bin", 3, &v7(2));
    let upload_id = started["upload_id"].as_str().unwrap().to_string();
    assert_ne!(upload_id, "BEMinIO");
    let urls: Vec<String> = started["pre_sign_urls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| local(&server, u.as_str().unwrap()))
        .collect();
    assert_eq!(urls.len(), 3);
    assert!(
        urls[1].starts_with("/fake-s3/upload-part?") && urls[1].contains("partNumber=2"),
        "{urls:?}"
    );

    // The API key must not go to S3: S3 refuses two auth mechanisms.
    let r = send_raw(
        server.port(),
        "PUT",
        &urls[0],
        &[("authorization", KEY)],
        b"aaaa",
    )
    .unwrap();
    assert_eq!(r.status, 400);
    assert!(server
        .problems()
        .iter()
        .any(|p| p.contains("presigned S3 URL")));
    let before = server.problems().len();

    server.script("PUT /fake-s3/upload-part", [Reply::status(503)]);
    let put = |url: &str, bytes: &[u8]| send_raw(server.port(), "PUT", url, &[], bytes).unwrap();
    assert_eq!(put(&urls[0], b"aaaa").status, 503);
    let mut etags = Vec::new();
    for (url, part) in urls.iter().zip([b"aaaa".as_slice(), b"bbbb", b"cc"]) {
        let r = put(url, part);
        assert_eq!(r.status, 200);
        etags.push(r.header("etag").unwrap().to_string());
    }
    let complete = |parts: Value, size: u64| {
        send_json(
            &server,
            "POST",
            "/v1/private/attachment/upload-complete",
            &json!({
            "file_name": "big.bin", "project_name": P, "entity_type": "trace", "entity_id": v7(2),
            "file_size": size, "upload_id": upload_id, "uploaded_file_parts": parts}),
        )
    };
    let wrong =
        json!([{"e_tag": etags[0], "part_number": 1}, {"e_tag": "\"nope\"", "part_number": 2}]);
    assert_eq!(complete(wrong, 10).status, 500);
    assert!(server.problems()[before..]
        .iter()
        .any(|p| p.contains("InvalidPart")));
    assert!(server.attachments().is_empty());
    let parts: Vec<Value> = etags
        .iter()
        .enumerate()
        .map(|(i, e)| json!({"e_tag": e, "part_number": i + 1}))
        .collect();
    assert_eq!(complete(json!(parts), 10).status, 204);
    let f = &server.attachments()[0];
    assert_eq!(
        (f.size, f.parts, f.mime_type.as_str()),
        (10, 3, "text/plain")
    );
    assert_eq!(f.content(), b"aaaabbbbcc");

    let project = server.project_id(P).unwrap();
    let list = get(&server, "GET", &format!("/v1/private/attachment/list?project_id={project}&entity_type=trace&entity_id={}&path=eA", v7(2))).json();
    let link = list["content"][0]["link"].as_str().unwrap();
    assert!(link.contains("X-Amz-Signature"), "{link}");
    let r = send_raw(server.port(), "GET", &local(&server, link), &[], b"").unwrap();
    assert_eq!(r.body, b"aaaabbbbcc");

    let direct = send_raw(
        server.port(),
        "PUT",
        &format!(
            "/api/v1/private/attachment/upload?file_name=x.txt&entity_type=trace&entity_id={}",
            v7(3)
        ),
        &[("authorization", KEY)],
        b"x",
    )
    .unwrap();
    assert_eq!(
        direct.status, 403,
        "no direct upload when the backend uses S3"
    );
    let after: Vec<String> = server.problems()[before..]
        .iter()
        .filter(|p| !p.contains("InvalidPart"))
        .cloned()
        .collect();
    assert!(after.is_empty(), "{after:?}");
}

#[test]
fn s3_parts_under_the_part_size_are_refused() {
    let server = FakeOpik::start();
    server.attachment_mode(AttachmentMode::S3Multipart {
        part_size: 5 * 1024 * 1024,
    });
    let started = start(&server, "small.bin", 2, &v7(4));
    let urls: Vec<String> = started["pre_sign_urls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| local(&server, u.as_str().unwrap()))
        .collect();
    let etags: Vec<String> = urls
        .iter()
        .map(|u| {
            send_raw(server.port(), "PUT", u, &[], b"tiny")
                .unwrap()
                .header("etag")
                .unwrap()
                .to_string()
        })
        .collect();
    let r = send_json(
        &server,
        "POST",
        "/v1/private/attachment/upload-complete",
        &json!({
        "file_name": "small.bin", "project_name": P, "entity_type": "trace", "entity_id": v7(4),
        "file_size": 8, "upload_id": started["upload_id"],
        "uploaded_file_parts": [{"e_tag": etags[0], "part_number": 1}, {"e_tag": etags[1], "part_number": 2}]}),
    );
    assert_eq!(r.status, 500);
    assert!(server
        .problems()
        .iter()
        .any(|p| p.contains("EntityTooSmall")));
}
