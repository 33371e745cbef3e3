//! A fake Opik REST server on loopback, for the SDK's tests.
//!
//! [`FakeOpik::start`] binds `127.0.0.1` on a free port and serves on its own thread and tokio
//! runtime, so tests of sync code need no runtime. It
//!
//! - **records** every request ([`FakeOpik::requests`]) and offers views of what was delivered
//!   ([`FakeOpik::traces`], [`FakeOpik::spans`], [`FakeOpik::feedback_scores`],
//!   [`FakeOpik::delivery_counts`]);
//! - **validates** every request against the Opik OpenAPI spec (the request-body, query and
//!   path parameter schemas kept in `schema/opik-write-schemas.json`) plus rules the schema
//!   cannot state: ids are UUID version 7, timestamps RFC 3339 with a zone, no JSON `null`
//!   outside user data (`input`, `output`, `metadata`, a dataset item's `data`, ...), bodies
//!   JSON, gzip-encoded or plain as `content-encoding` says (a header that does not match the
//!   bytes is a problem), no unknown paths or parameters, no API key sent to a presigned S3 URL;
//!   and **validates its own answers**: every success body it makes (each line of an NDJSON
//!   stream) against the spec's response schema, every error body against the backend's two
//!   error shapes. Problems collect in [`FakeOpik::problems`]; [`FakeOpik::assert_valid`]
//!   panics listing them. Validation never changes the answer;
//! - **keeps state** like the backend, per server, in memory: traces and spans (upserts by id,
//!   the newer `last_updated_at` winning; `PATCH`es merged; scores and comments), read back by
//!   id, through the `search` NDJSON streams (newest first, `last_retrieved_id` paging, the
//!   backend's filters and their 400s) and list pages; threads derived from their traces
//!   (closed, reopened, scored); projects created on first use; datasets with versioned items
//!   (batch groups, upserts by item id, the items stream with `steam_limit` paging, pages of any
//!   version); experiments and their items linking dataset items and traces; prompts and their
//!   versions (commits, text and chat, mustache and jinja2); attachments, uploaded the
//!   self-hosted way ([`AttachmentMode::Minio`]) or in parts to presigned URLs that point back
//!   at this server ([`AttachmentMode::S3Multipart`]). See what it holds with
//!   [`FakeOpik::stored_trace`], [`FakeOpik::thread_status`], [`FakeOpik::dataset_items`],
//!   [`FakeOpik::experiment_items`], [`FakeOpik::prompt_versions`], [`FakeOpik::attachments`]
//!   and their neighbours;
//! - **answers** like the Opik backend (204 for batch creates, PUT and PATCH, 201 with a
//!   `Location` for single creates, the stored entities for reads, the backend's 404s, 409s
//!   and 400s) unless told otherwise: [`FakeOpik::script`] queues [`Reply`]s per route (a
//!   status with headers and body, a delay, holding the request forever, closing the
//!   connection), [`FakeOpik::fail_for`] fails a route for a while. A scripted success of a
//!   write still writes; a scripted failure does not.
//!
//! Routes are path suffixes, optionally after a method: `"/spans/batch"`,
//! `"POST /traces/batch"`, `"/feedback-scores"`, `"POST /datasets/items/stream"`, and for the
//! fake S3 `"PUT /fake-s3/upload-part"`.
//!
//! ```
//! use fake_opik::{FakeOpik, Reply};
//! use std::time::Duration;
//!
//! let server = FakeOpik::start();
//! server.script("/traces/batch", [Reply::status(429).header("Retry-After", "1")]);
//! let base = server.base_url(); // "http://127.0.0.1:PORT/api"; give it to the SDK
//! # let _ = base;
//! // ... run the code under test ...
//! server.wait_until(Duration::from_millis(50), |s| !s.traces().is_empty());
//! server.assert_valid();
//! ```
//!
//! Reading back what was written, here through the HTTP API the SDK would use:
//!
//! ```
//! use fake_opik::{AttachmentMode, FakeOpik};
//! use std::io::{Read, Write};
//!
//! let server = FakeOpik::start();
//! server.attachment_mode(AttachmentMode::S3Multipart { part_size: 5 * 1024 * 1024 });
//! // A minimal client: one request, gzip JSON, the answer read to the end.
//! let post = |path: &str, body: &str| {
//!     let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
//!     gz.write_all(body.as_bytes()).unwrap();
//!     let gz = gz.finish().unwrap();
//!     let mut s = std::net::TcpStream::connect(("127.0.0.1", server.port())).unwrap();
//!     write!(s, "{path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/json\r\n\
//!                content-encoding: gzip\r\ncontent-length: {}\r\n\r\n", gz.len()).unwrap();
//!     s.write_all(&gz).unwrap();
//!     let mut out = String::new();
//!     s.read_to_string(&mut out).unwrap();
//!     out
//! };
//! let item = r#"{"id":"01890a5d-ac96-774b-bcce-b302099a8057","source":"sdk","data":{"q":"2+2"}}"#;
//! post("PUT /api/v1/private/datasets/items", &format!(r#"{{"dataset_name":"qa","items":[{item}]}}"#));
//! assert_eq!(server.dataset_items("qa")[0]["data"]["q"], "2+2");
//! let stream = post("POST /api/v1/private/datasets/items/stream", r#"{"dataset_name":"qa","steam_limit":100}"#);
//! assert!(stream.contains(r#""q":"2+2""#));
//! server.assert_valid();
//! ```
//!
//! The schema file is generated by `schema/trim.py` from the upstream spec; see
//! `schema/README.md`.

mod attachments;
mod auth;
mod backend;
mod check;
mod dataset_items;
mod datasets;
mod experiments;
mod filters;
mod inspect;
pub mod openai;
mod projects;
mod prompts;
mod record;
mod reply;
mod server;
mod spec;
mod threads;
mod trace_reads;
mod traces;
mod util;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::net::TcpSocket;

pub use attachments::{Attachment, AttachmentMode};
pub use experiments::ExperimentItem;
pub use record::RecordedRequest;
pub use reply::Reply;

use server::{Route, ServerThread, Shared};

/// The kind of item a batch create delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Entity {
    /// Traces: `POST /v1/private/traces/batch` items and `POST /v1/private/traces` bodies.
    Trace,
    /// Spans: `POST /v1/private/spans/batch` items and `POST /v1/private/spans` bodies.
    Span,
}

impl Entity {
    fn operations(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Entity::Trace => ("createTraces", "traces", "createTrace"),
            Entity::Span => ("createSpans", "spans", "createSpan"),
        }
    }
}

/// A running fake Opik server. Dropping it stops the server and closes every connection,
/// including requests held by [`Reply::never`].
pub struct FakeOpik {
    shared: Arc<Shared>,
    addr: SocketAddr,
    _thread: ServerThread,
}

/// A port that is bound but does not listen yet: connections to it are refused until
/// [`Reserved::start_now`] or [`Reserved::start_after`]. Made by [`FakeOpik::reserve`].
///
/// ```
/// use fake_opik::FakeOpik;
/// use std::time::Duration;
///
/// let reserved = FakeOpik::reserve();
/// let base = reserved.base_url(); // connections are refused for now
/// # let _ = base;
/// let server = reserved.start_after(Duration::from_millis(300));
/// assert!(!server.is_listening());
/// assert!(server.wait_until(Duration::from_secs(5), |s| s.is_listening()));
/// ```
pub struct Reserved {
    socket: TcpSocket,
    addr: SocketAddr,
}

impl Reserved {
    /// `http://127.0.0.1:PORT/api`, as [`FakeOpik::base_url`] will be.
    pub fn base_url(&self) -> String {
        base_url(self.addr)
    }

    /// The reserved port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Starts listening now; returns once the port accepts connections.
    pub fn start_now(self) -> FakeOpik {
        FakeOpik::spawn(self, None)
    }

    /// Returns at once; the server starts listening after `delay` (connections are refused
    /// until then). Scripts set meanwhile apply from the first request.
    pub fn start_after(self, delay: Duration) -> FakeOpik {
        FakeOpik::spawn(self, Some(delay))
    }
}

fn base_url(addr: SocketAddr) -> String {
    format!("http://{addr}/api")
}

impl FakeOpik {
    /// Starts a server on `127.0.0.1` and a free port; returns once it listens.
    pub fn start() -> FakeOpik {
        FakeOpik::reserve().start_now()
    }

    /// Binds a free port on `127.0.0.1` without listening: see [`Reserved`].
    pub fn reserve() -> Reserved {
        let socket = TcpSocket::new_v4().expect("fake-opik: create a socket");
        socket.set_reuseaddr(true).expect("fake-opik: SO_REUSEADDR");
        socket
            .bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .expect("fake-opik: bind 127.0.0.1:0");
        let addr = socket.local_addr().expect("fake-opik: local address");
        Reserved { socket, addr }
    }

    /// Same as `FakeOpik::reserve().start_after(delay)`.
    pub fn start_after(delay: Duration) -> FakeOpik {
        FakeOpik::reserve().start_after(delay)
    }

    fn spawn(reserved: Reserved, delay: Option<Duration>) -> FakeOpik {
        let shared = Arc::new(Shared::default());
        let thread = ServerThread::spawn(reserved.socket, reserved.addr, delay, shared.clone());
        FakeOpik {
            shared,
            addr: reserved.addr,
            _thread: thread,
        }
    }

    /// `http://127.0.0.1:PORT/api`: the SDK's base URL (it appends `/v1/private/...`).
    pub fn base_url(&self) -> String {
        base_url(self.addr)
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Whether the server listens yet (see [`Reserved::start_after`]).
    pub fn is_listening(&self) -> bool {
        self.listening_since().is_some()
    }

    /// When the server began listening. [`FakeOpik::fail_for`] windows count from here.
    pub fn listening_since(&self) -> Option<Instant> {
        self.shared.lock().listening_since
    }

    // ---- scripting ----

    /// Queues replies for the requests matching `route`, consumed in order; once the queue is
    /// empty, the route answers by default again. Calling it again for the same route appends.
    /// When several routes' queues match a request, the longest suffix wins.
    ///
    /// ```
    /// # use fake_opik::{FakeOpik, Reply};
    /// let server = FakeOpik::start();
    /// server.script("/spans/batch", [Reply::status(503), Reply::status(503)]);
    /// server.script("POST /traces/batch", [Reply::status(413), Reply::close(), Reply::never()]);
    /// ```
    pub fn script(&self, route: &str, replies: impl IntoIterator<Item = Reply>) {
        self.shared.lock().script(Route::parse(route), replies);
    }

    /// How many scripted replies for exactly this `route` are still queued.
    pub fn scripted_left(&self, route: &str) -> usize {
        self.shared.lock().scripted_left(&Route::parse(route))
    }

    /// From now on, requests to the API (`/v1/private/...`) need `authorization: api_key`,
    /// or they are answered 401 `User not allowed to access workspace`, as the backend's auth
    /// filter answers; with the key, a `Comet-Workspace` not in `workspaces` is answered 403.
    /// `GET /v1/private/auth/workspace` names the first of `workspaces` as the key's default
    /// (with the key, whatever workspace the request names). Without this, the fake is an
    /// open-source Opik: no key needed, any workspace, `default` the default.
    ///
    /// ```
    /// # use fake_opik::FakeOpik;
    /// let server = FakeOpik::start();
    /// server.require_auth("sk-test", &["team-a", "team-b"]);
    /// ```
    pub fn require_auth(&self, api_key: &str, workspaces: &[&str]) {
        self.shared.lock().store.auth.require(api_key, workspaces);
    }

    /// Answers `status` to the requests matching `route` that arrive within `length` after the
    /// server began listening (scripts queued with [`FakeOpik::script`] still come first).
    pub fn fail_for(&self, route: &str, length: Duration, status: u16) {
        self.fail_for_with(route, length, Reply::status(status));
    }

    /// Like [`FakeOpik::fail_for`] with any reply (e.g. a 429 with `Retry-After`).
    pub fn fail_for_with(&self, route: &str, length: Duration, reply: Reply) {
        self.shared
            .lock()
            .window(Route::parse(route), length, reply);
    }

    // ---- what arrived ----

    /// Every request so far, in arrival order, whatever the answer.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// The requests matching `route`, whatever the answer.
    pub fn requests_to(&self, route: &str) -> Vec<RecordedRequest> {
        let route = Route::parse(route);
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|r| route.matches(&r.method, &r.path))
            .cloned()
            .collect()
    }

    /// How many requests matched `route` (for "no retry storm" checks).
    pub fn request_count(&self, route: &str) -> usize {
        let route = Route::parse(route);
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|r| route.matches(&r.method, &r.path))
            .count()
    }

    /// The JSON bodies of the requests matching `route` that were answered 2xx.
    pub fn bodies_to(&self, route: &str) -> Vec<Value> {
        let route = Route::parse(route);
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|r| r.is_success() && route.matches(&r.method, &r.path))
            .filter_map(|r| r.body.clone())
            .collect()
    }

    /// Every trace delivered: the items of the `traces` arrays of `POST .../traces/batch`
    /// bodies and the bodies of single `POST .../traces` creates, in arrival order, from
    /// requests answered 2xx only.
    pub fn traces(&self) -> Vec<Value> {
        self.items(Entity::Trace)
    }

    /// Every span delivered, as [`FakeOpik::traces`] for spans.
    pub fn spans(&self) -> Vec<Value> {
        self.items(Entity::Span)
    }

    /// [`FakeOpik::traces`] or [`FakeOpik::spans`].
    pub fn items(&self, entity: Entity) -> Vec<Value> {
        let (batch_op, field, single_op) = entity.operations();
        let state = self.shared.lock();
        let mut out = Vec::new();
        for r in state.requests.iter().filter(|r| r.is_success()) {
            let (Some(op), Some(body)) = (r.operation_id.as_deref(), r.body.as_ref()) else {
                continue;
            };
            if op == batch_op {
                out.extend(
                    body.get(field)
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .cloned(),
                );
            } else if op == single_op {
                out.push(body.clone());
            }
        }
        out
    }

    /// The `scores` items of the feedback-score requests matching `route` that were answered
    /// 2xx, e.g. `"/traces/feedback-scores"`, `"/spans/feedback-scores"`,
    /// `"/threads/feedback-scores"`.
    pub fn feedback_scores(&self, route: &str) -> Vec<Value> {
        self.bodies_to(route)
            .iter()
            .filter_map(|b| b.get("scores").and_then(Value::as_array))
            .flatten()
            .cloned()
            .collect()
    }

    /// Every delivered record of each trace or span id, in arrival order. Batch creates are
    /// upserts: an SDK may send a start record (no `end_time`) and later an end record.
    pub fn deliveries(&self, entity: Entity) -> BTreeMap<String, Vec<Value>> {
        let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for item in self.items(entity) {
            let id = item
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or("<no id>")
                .to_string();
            out.entry(id).or_default().push(item);
        }
        out
    }

    /// How many times each trace or span id was delivered.
    pub fn delivery_counts(&self, entity: Entity) -> BTreeMap<String, usize> {
        self.deliveries(entity)
            .into_iter()
            .map(|(k, v)| (k, v.len()))
            .collect()
    }

    /// Ids delivered other than exactly once; with `allow_start_end`, an id may also come
    /// twice as one record without `end_time` and one with it. Empty when all is well.
    pub fn delivery_problems(&self, entity: Entity, allow_start_end: bool) -> Vec<String> {
        let mut out = Vec::new();
        for (id, records) in self.deliveries(entity) {
            if id == "<no id>" {
                out.push(format!(
                    "{} {entity:?} record(s) without an id",
                    records.len()
                ));
                continue;
            }
            let ends = records
                .iter()
                .filter(|r| r.get("end_time").is_some())
                .count();
            let ok = records.len() == 1 || (allow_start_end && records.len() == 2 && ends == 1);
            if !ok {
                out.push(format!(
                    "{entity:?} {id} delivered {} times ({ends} with end_time)",
                    records.len()
                ));
            }
        }
        out
    }

    /// Panics unless every trace or span id was delivered exactly once.
    pub fn assert_delivered_once(&self, entity: Entity) {
        let problems = self.delivery_problems(entity, false);
        assert!(
            problems.is_empty(),
            "fake-opik: duplicate deliveries:\n  {}",
            problems.join("\n  ")
        );
    }

    /// Panics unless every trace or span id was delivered once, or twice as a start record
    /// (no `end_time`) plus an end record.
    pub fn assert_delivered_once_or_start_end(&self, entity: Entity) {
        let problems = self.delivery_problems(entity, true);
        assert!(
            problems.is_empty(),
            "fake-opik: duplicate deliveries:\n  {}",
            problems.join("\n  ")
        );
    }

    /// Throughput mode, for benchmarks: while `on`, every request is answered as soon as its
    /// body has arrived, without gunzip, parsing, validation or keeping a record, so that the
    /// server costs the machine little CPU and no memory. Scripted replies still apply (a
    /// [`Reply::never`] still stalls its route); otherwise the answer is `204 No Content`.
    /// [`FakeOpik::requests`] and the views built on it see none of these requests; count them
    /// with [`FakeOpik::discarded`].
    pub fn discard_bodies(&self, on: bool) {
        self.shared.lock().discard = on;
    }

    /// How many requests arrived in throughput mode ([`FakeOpik::discard_bodies`]), whether
    /// answered or held by a scripted [`Reply::never`].
    pub fn discarded(&self) -> u64 {
        self.shared.lock().discarded
    }

    /// The bytes of the request bodies that arrived in throughput mode, as sent (compressed).
    pub fn discarded_bytes(&self) -> u64 {
        self.shared.lock().discarded_bytes
    }

    // ---- validation ----

    /// Every problem found so far, each naming the request (`#SEQ METHOD PATH`), then the
    /// JSON pointer (or header, path) and what is wrong.
    pub fn problems(&self) -> Vec<String> {
        self.shared.lock().problems.clone()
    }

    /// Panics listing [`FakeOpik::problems`], if any.
    pub fn assert_valid(&self) {
        let problems = self.problems();
        assert!(
            problems.is_empty(),
            "fake-opik: {} problem(s) in the requests received:\n  {}",
            problems.len(),
            problems.join("\n  ")
        );
    }

    /// Polls `condition` every 5 ms until it holds (`true`) or `timeout` passes (`false`,
    /// after one last try).
    pub fn wait_until(
        &self,
        timeout: Duration,
        mut condition: impl FnMut(&FakeOpik) -> bool,
    ) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if condition(self) {
                return true;
            }
            if Instant::now() >= deadline {
                return condition(self);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Where the schema file came from: its `_generated` header (upstream file, sha256 of the
    /// spec, the command that regenerates it).
    pub fn schema_source() -> Value {
        spec::Spec::header()
    }
}

impl std::fmt::Debug for FakeOpik {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeOpik")
            .field("base_url", &self.base_url())
            .finish_non_exhaustive()
    }
}
