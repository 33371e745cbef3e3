//! Attachments, in the two ways the backend takes them (`AttachmentService`): self-hosted
//! ("MinIO": `upload-start` answers `upload_id: "BEMinIO"` and one URL of the backend's own
//! `PUT /v1/private/attachment/upload`, which stores the file; `upload-complete` is a no-op) or
//! S3 (`upload-start` answers an upload id and one presigned URL a part; the client `PUT`s each
//! part there, gets an `ETag`, and `upload-complete` lists the parts). The fake's S3 lives on
//! the server's own port, outside `/api`: `PUT /fake-s3/upload-part?uploadId=&partNumber=` and
//! `GET /fake-s3/object?key=`, and checks what S3 would (one auth mechanism, part numbers and
//! ETags, the minimum part size). Files are kept per (project, entity type, entity id, file
//! name), each as the byte buffers it arrived in, never copied.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use serde_json::{json, Value};

use crate::backend::{Answer, Body, Ctx, Store};
use crate::check::Checked;
use crate::util::{fnv_hex, page_of};

/// Where the fake's S3 takes parts and serves objects (path suffixes for `FakeOpik::script`).
pub(crate) const S3_PART_PATH: &str = "/fake-s3/upload-part";
pub(crate) const S3_OBJECT_PATH: &str = "/fake-s3/object";

/// How `POST /v1/private/attachment/upload-start` answers (see `FakeOpik::attachment_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AttachmentMode {
    /// Self-hosted Opik: `upload_id` `BEMinIO` and one URL of the backend's upload endpoint.
    #[default]
    Minio,
    /// Opik on S3: a real upload id and one presigned URL per part. `part_size` is the least
    /// size of every part but the last that `upload-complete` accepts (S3's is 5 MiB).
    S3Multipart {
        /// Bytes.
        part_size: usize,
    },
}

/// One stored attachment, as [`crate::FakeOpik::attachments`] returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The project's name.
    pub project_name: String,
    /// `trace` or `span`.
    pub entity_type: String,
    pub entity_id: String,
    pub file_name: String,
    /// As sent, or as the backend detects it from the file name.
    pub mime_type: String,
    /// Bytes stored.
    pub size: usize,
    /// How many parts it was uploaded in (1 in MinIO mode).
    pub parts: usize,
    chunks: Vec<Bytes>,
}

impl Attachment {
    /// The file's bytes.
    pub fn content(&self) -> Vec<u8> {
        self.chunks.concat()
    }

    fn bytes(&self) -> Bytes {
        match self.chunks.as_slice() {
            [one] => one.clone(),
            many => Bytes::from(many.concat()),
        }
    }
}

#[derive(Debug)]
struct Upload {
    project_name: String,
    entity_type: String,
    entity_id: String,
    file_name: String,
    mime_type: String,
    parts: BTreeMap<u64, (String, Bytes)>,
}

#[derive(Debug, Default)]
pub(crate) struct Attachments {
    pub mode: AttachmentMode,
    stored: Vec<(String, Attachment)>,
    uploads: HashMap<String, Upload>,
}

impl Attachments {
    pub fn all(&self) -> Vec<Attachment> {
        self.stored.iter().map(|(_, a)| a.clone()).collect()
    }

    fn put(&mut self, project_id: String, a: Attachment) {
        self.stored.retain(|(p, b)| {
            !(*p == project_id
                && b.entity_type == a.entity_type
                && b.entity_id == a.entity_id
                && b.file_name == a.file_name)
        });
        self.stored.push((project_id, a));
    }
}

/// Whether a path is the fake's S3.
pub(crate) fn is_fake_s3(path: &str) -> bool {
    path == S3_PART_PATH || path == S3_OBJECT_PATH
}

/// The checks of a request to the fake S3: only its two operations, and no `authorization`
/// header (a presigned URL carries its own; S3 refuses two auth mechanisms, and the API key
/// must not leave for another host).
pub(crate) fn check_s3(method: &str, path: &str, headers: &[(String, String)]) -> Checked {
    let mut problems = Vec::new();
    let known =
        (method == "PUT" && path == S3_PART_PATH) || (method == "GET" && path == S3_OBJECT_PATH);
    if !known {
        problems.push(format!("path: the fake S3 has no {method} {path}"));
    }
    if headers.iter().any(|(k, _)| k == "authorization") {
        problems.push(
            "header authorization: sent to a presigned S3 URL (S3 refuses a request with two auth \
             mechanisms, and the API key must not be sent to the storage host)"
                .into(),
        );
    }
    Checked {
        problems,
        operation_id: None,
        template: known.then(|| path.to_string()),
        default_status: Some(200),
        params: Vec::new(),
    }
}

/// The MIME type the backend (Apache Tika) detects from a file name, for common types.
fn detect_mime(file_name: &str) -> String {
    let ext = file_name
        .rsplit('.')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "pdf" => "application/pdf",
        "json" => "application/json",
        "txt" | "log" => "text/plain",
        "csv" => "text/csv",
        "html" | "htm" => "text/html",
        "mp3" => "audio/mpeg",
        "wav" => "audio/vnd.wave",
        "mp4" => "video/mp4",
        _ => "application/octet-stream",
    }
    .to_string()
}

fn mime_or_detect(mime: Option<&str>, file_name: &str) -> String {
    mime.filter(|m| !m.trim().is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| detect_mime(file_name))
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An S3-style error (XML), as the real service answers.
fn s3_error(status: u16, code: &str, message: &str) -> Answer {
    Answer {
        status,
        headers: Vec::new(),
        body: Body::Bytes {
            content_type: "application/xml".into(),
            data: Bytes::from(format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>"
            )),
        },
        problems: Vec::new(),
    }
}

/// `POST /v1/private/attachment/upload-start`.
pub(crate) fn start(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    let file_name = ctx.str("file_name").unwrap_or_default();
    let mime = mime_or_detect(ctx.str("mime_type"), file_name);
    match store.attachments.mode {
        AttachmentMode::Minio => {
            let mut q = vec![
                ("file_name", file_name.to_string()),
                ("mime_type", mime),
                (
                    "entity_type",
                    ctx.str("entity_type").unwrap_or_default().to_string(),
                ),
                (
                    "entity_id",
                    ctx.str("entity_id").unwrap_or_default().to_string(),
                ),
            ];
            if let Some(p) = ctx.str("project_name") {
                q.insert(1, ("project_name", p.to_string()));
            }
            let q: Vec<String> = q.iter().map(|(k, v)| format!("{k}={}", enc(v))).collect();
            let url = format!("{}/v1/private/attachment/upload?{}", ctx.base, q.join("&"));
            Answer::ok(json!({"upload_id": "BEMinIO", "pre_sign_urls": [url]}))
        }
        AttachmentMode::S3Multipart { .. } => {
            let project_name = ctx.str("project_name").map(str::to_string);
            let project_id = store
                .projects
                .get_or_create(&mut store.ids, project_name.as_deref());
            let upload_id = format!("fake-s3-{}", store.ids.v7().replace('-', ""));
            let parts = ctx.body["num_of_file_parts"].as_u64().unwrap_or(1).max(1);
            let urls: Vec<String> = (1..=parts)
                .map(|n| {
                    format!(
                        "{}{S3_PART_PATH}?uploadId={upload_id}&partNumber={n}&X-Amz-Signature=fake",
                        ctx.origin()
                    )
                })
                .collect();
            store.attachments.uploads.insert(
                upload_id.clone(),
                Upload {
                    project_name: store.projects.name_of(&project_id),
                    entity_type: ctx.str("entity_type").unwrap_or_default().to_string(),
                    entity_id: ctx.str("entity_id").unwrap_or_default().to_string(),
                    file_name: file_name.to_string(),
                    mime_type: mime,
                    parts: BTreeMap::new(),
                },
            );
            Answer::ok(json!({"upload_id": upload_id, "pre_sign_urls": urls}))
        }
    }
}

/// `PUT /v1/private/attachment/upload` (MinIO mode): stores the file; 403 in S3 mode.
pub(crate) fn upload(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    if store.attachments.mode != AttachmentMode::Minio {
        return Answer::error(
            403,
            "Direct attachment upload is forbidden for S3, please use multi-part upload with presigned urls",
        );
    }
    let q = |k: &str| ctx.query(k).unwrap_or_default().to_string();
    let project_id = store
        .projects
        .get_or_create(&mut store.ids, ctx.query("project_name"));
    let file_name = q("file_name");
    let a = Attachment {
        project_name: store.projects.name_of(&project_id),
        entity_type: q("entity_type"),
        entity_id: q("entity_id"),
        mime_type: mime_or_detect(ctx.query("mime_type"), &file_name),
        file_name,
        size: ctx.raw.len(),
        parts: 1,
        chunks: vec![ctx.raw.clone()],
    };
    store.attachments.put(project_id, a);
    Answer::empty(204)
}

/// `PUT /fake-s3/upload-part?uploadId=&partNumber=`: 200 with the part's `ETag`.
pub(crate) fn put_part(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    if ctx.header("authorization").is_some() {
        return s3_error(400, "InvalidArgument", "Only one auth mechanism allowed");
    }
    let upload_id = ctx.query("uploadId").unwrap_or_default();
    let Some(upload) = store.attachments.uploads.get_mut(upload_id) else {
        return s3_error(404, "NoSuchUpload", "The specified upload does not exist.");
    };
    let Some(part) = ctx.query("partNumber").and_then(|p| p.parse::<u64>().ok()) else {
        return s3_error(400, "InvalidArgument", "Part number must be an integer");
    };
    let etag = format!(
        "\"{}\"",
        fnv_hex(&[upload_id.as_bytes(), &part.to_be_bytes(), &ctx.raw])
    );
    upload.parts.insert(part, (etag.clone(), ctx.raw.clone()));
    Answer::empty(200).header("ETag", etag)
}

/// `POST /v1/private/attachment/upload-complete`: a no-op in MinIO mode; in S3 mode the parts
/// listed must be the uploaded ones with their ETags, ascending, each but the last at least the
/// part size, or S3 refuses (`InvalidPart`, `InvalidPartOrder`, `EntityTooSmall`) and the
/// backend answers 500.
pub(crate) fn complete(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    let AttachmentMode::S3Multipart { part_size } = store.attachments.mode else {
        return Answer::empty(204);
    };
    let upload_id = ctx.str("upload_id").unwrap_or_default();
    let failed = |why: String| {
        let mut a = Answer::error(
            500,
            "There was an error processing your request. It has been logged.",
        );
        a.problems.push(format!("upload-complete: {why}"));
        a
    };
    let Some(upload) = store.attachments.uploads.get(upload_id) else {
        return failed(format!(
            "no upload {upload_id:?} was started (S3: NoSuchUpload)"
        ));
    };
    let listed: Vec<(u64, String)> = ctx.body["uploaded_file_parts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let etag = p["e_tag"]
                .as_str()
                .unwrap_or_default()
                .trim_matches('"')
                .to_string();
            (p["part_number"].as_u64().unwrap_or(0), etag)
        })
        .collect();
    if listed.is_empty() {
        return failed("no parts listed (S3: MalformedXML)".into());
    }
    if listed.windows(2).any(|w| w[0].0 >= w[1].0) {
        return failed("parts are not in ascending order (S3: InvalidPartOrder)".into());
    }
    let mut chunks = Vec::new();
    for (i, (n, etag)) in listed.iter().enumerate() {
        match upload.parts.get(n) {
            Some((e, data)) if e.trim_matches('"') == etag => {
                if i + 1 < listed.len() && data.len() < part_size {
                    return failed(format!(
                        "part {n} is {} bytes, under the part size {part_size} (S3: EntityTooSmall)",
                        data.len()
                    ));
                }
                chunks.push(data.clone());
            }
            Some(_) => {
                return failed(format!(
                    "part {n}: the ETag is not the one S3 answered (S3: InvalidPart)"
                ))
            }
            None => return failed(format!("part {n} was not uploaded (S3: InvalidPart)")),
        }
    }
    let size: usize = chunks.iter().map(Bytes::len).sum();
    let mut answer = Answer::empty(204);
    if ctx.body["file_size"].as_u64() != Some(size as u64) {
        answer.problems.push(format!(
            "upload-complete: file_size {} but the parts hold {size} bytes",
            ctx.body["file_size"]
        ));
    }
    let Some(upload) = store.attachments.uploads.remove(upload_id) else {
        return answer;
    };
    let project_id = store
        .projects
        .get_or_create(&mut store.ids, Some(&upload.project_name));
    let a = Attachment {
        project_name: upload.project_name,
        entity_type: upload.entity_type,
        entity_id: upload.entity_id,
        file_name: upload.file_name,
        mime_type: upload.mime_type,
        size,
        parts: chunks.len(),
        chunks,
    };
    store.attachments.put(project_id, a);
    answer
}

/// The base URL an SDK sent as `path` (base64 of its URL override), else the server's.
fn sdk_base(ctx: &Ctx<'_>) -> String {
    fn b64(s: &str) -> Option<Vec<u8>> {
        let mut bits = 0u32;
        let mut n = 0;
        let mut out = Vec::new();
        for c in s.trim_end_matches('=').bytes() {
            let v = match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' | b'-' => 62,
                b'/' | b'_' => 63,
                _ => return None,
            };
            bits = (bits << 6) | u32::from(v);
            n += 6;
            if n >= 8 {
                n -= 8;
                out.push((bits >> n) as u8);
            }
        }
        Some(out)
    }
    ctx.query("path")
        .and_then(b64)
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|u| u.starts_with("http"))
        .map(|u| u.trim_end_matches('/').to_string())
        .unwrap_or_else(|| ctx.base.clone())
}

/// `GET /v1/private/attachment/list`: the attachments of an entity, with download links.
pub(crate) fn list(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    let project_id = ctx.query("project_id").unwrap_or_default();
    let (etype, eid) = (
        ctx.query("entity_type").unwrap_or_default(),
        ctx.query("entity_id").unwrap_or_default(),
    );
    let base = sdk_base(ctx);
    let s3 = store.attachments.mode != AttachmentMode::Minio;
    let all: Vec<Value> = store
        .attachments
        .stored
        .iter()
        .filter(|(p, a)| p == project_id && a.entity_type == etype && a.entity_id == eid)
        .map(|(p, a)| {
            let link = if s3 {
                format!(
                    "{}{S3_OBJECT_PATH}?key={}&X-Amz-Signature=fake",
                    ctx.origin(),
                    enc(&format!("{p}/{etype}/{eid}/{}", a.file_name))
                )
            } else {
                format!(
                    "{base}/v1/private/attachment/download?container_id={p}&entity_type={etype}&entity_id={eid}&file_name={}&mime_type={}",
                    enc(&a.file_name),
                    enc(&a.mime_type)
                )
            };
            json!({"link": link, "file_name": a.file_name, "file_size": a.size, "mime_type": a.mime_type})
        })
        .collect();
    let (page, size) = (ctx.query_usize("page", 1), ctx.query_usize("size", 100));
    let content = page_of(&all, page, size);
    Answer::ok(json!({"page": page, "size": content.len(), "total": all.len(), "content": content}))
}

fn bytes_answer(a: &Attachment) -> Answer {
    Answer {
        status: 200,
        headers: vec![(
            "content-disposition".into(),
            format!("attachment; filename=\"{}\"", a.file_name),
        )],
        body: Body::Bytes {
            content_type: a.mime_type.clone(),
            data: a.bytes(),
        },
        problems: Vec::new(),
    }
}

/// `GET /v1/private/attachment/download` (MinIO mode).
pub(crate) fn download(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    let q = |k: &str| ctx.query(k).unwrap_or_default();
    store
        .attachments
        .stored
        .iter()
        .find(|(p, a)| {
            p == q("container_id")
                && a.entity_type == q("entity_type")
                && a.entity_id == q("entity_id")
                && a.file_name == q("file_name")
        })
        .map(|(_, a)| bytes_answer(a))
        .unwrap_or_else(|| Answer::error(404, "Attachment not found"))
}

/// `GET /fake-s3/object?key=PROJECT/TYPE/ID/NAME` (S3 mode download links).
pub(crate) fn get_object(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    let key = ctx.query("key").unwrap_or_default();
    store
        .attachments
        .stored
        .iter()
        .find(|(p, a)| key == format!("{p}/{}/{}/{}", a.entity_type, a.entity_id, a.file_name))
        .map(|(_, a)| bytes_answer(a))
        .unwrap_or_else(|| s3_error(404, "NoSuchKey", "The specified key does not exist."))
}
