//! The HTTP side: a hyper 1 server on its own thread and current-thread tokio runtime.

use std::collections::VecDeque;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming as HyperBody;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpSocket;
use tokio::sync::oneshot;

use crate::attachments;
use crate::backend::{Answer as Stateful, Body, Ctx, Store};
use crate::check::{check, check_answer, Incoming};
use crate::record::{percent_decode, RecordedRequest};
use crate::reply::{Action, Reply};
use crate::spec::{Match, WriteOp, SPEC};
use crate::util::strip_nulls;

/// "METHOD /suffix" or "/suffix": which requests a script, a time window or a query applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Route {
    method: Option<String>,
    suffix: String,
}

impl Route {
    pub fn parse(route: &str) -> Route {
        match route.trim().split_once(' ') {
            Some((m, s)) => Route {
                method: Some(m.trim().to_ascii_uppercase()),
                suffix: s.trim().to_string(),
            },
            None => Route {
                method: None,
                suffix: route.trim().to_string(),
            },
        }
    }

    pub fn matches(&self, method: &str, path: &str) -> bool {
        self.method.as_deref().is_none_or(|m| m == method) && path.ends_with(&self.suffix)
    }

    fn specificity(&self) -> (usize, bool) {
        (self.suffix.len(), self.method.is_some())
    }
}

struct Script {
    route: Route,
    queue: VecDeque<Reply>,
}

struct Window {
    route: Route,
    length: Duration,
    reply: Reply,
}

#[derive(Default)]
pub(crate) struct State {
    seq: u64,
    pub requests: Vec<RecordedRequest>,
    pub problems: Vec<String>,
    scripts: Vec<Script>,
    windows: Vec<Window>,
    pub listening_since: Option<Instant>,
    /// Throughput mode (see `FakeOpik::discard_bodies`) and the requests it answered.
    pub discard: bool,
    pub discarded: u64,
    /// The bytes of the bodies discarded, as they came over the wire.
    pub discarded_bytes: u64,
    /// The stateful backend: what the requests answered by default wrote.
    pub store: Store,
}

impl State {
    pub fn script(&mut self, route: Route, replies: impl IntoIterator<Item = Reply>) {
        match self.scripts.iter_mut().find(|s| s.route == route) {
            Some(s) => s.queue.extend(replies),
            None => self.scripts.push(Script {
                route,
                queue: replies.into_iter().collect(),
            }),
        }
    }

    pub fn scripted_left(&self, route: &Route) -> usize {
        self.scripts
            .iter()
            .filter(|s| &s.route == route)
            .map(|s| s.queue.len())
            .sum()
    }

    pub fn window(&mut self, route: Route, length: Duration, reply: Reply) {
        self.windows.push(Window {
            route,
            length,
            reply,
        });
    }

    /// The reply for a request: the most specific non-empty script queue, else an open time
    /// window, else the default.
    fn pick(&mut self, method: &str, path: &str, arrived: Instant) -> Reply {
        let script = self
            .scripts
            .iter_mut()
            .filter(|s| !s.queue.is_empty() && s.route.matches(method, path))
            .max_by_key(|s| s.route.specificity());
        if let Some(reply) = script.and_then(|s| s.queue.pop_front()) {
            return reply;
        }
        let since = self.listening_since.unwrap_or(arrived);
        let elapsed = arrived.saturating_duration_since(since);
        self.windows
            .iter()
            .find(|w| elapsed < w.length && w.route.matches(method, path))
            .map(|w| w.reply.clone())
            .unwrap_or_default()
    }
}

#[derive(Default)]
pub(crate) struct Shared {
    state: Mutex<State>,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The error a service returns to make hyper drop the connection without answering.
#[derive(Debug)]
struct CloseConnection;

impl std::fmt::Display for CloseConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("scripted connection close")
    }
}

impl std::error::Error for CloseConnection {}

/// A running (or scheduled) server thread.
/// (Behind mutexes so that `FakeOpik` is `RefUnwindSafe` for tests that use `catch_unwind`.)
pub(crate) struct ServerThread {
    shutdown: Mutex<Option<oneshot::Sender<()>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl ServerThread {
    /// Starts the thread. It calls `listen` on `socket` after `delay` (none: at once), and
    /// when `wait` is set, this returns only once the socket listens.
    pub fn spawn(
        socket: TcpSocket,
        addr: SocketAddr,
        delay: Option<Duration>,
        shared: Arc<Shared>,
    ) -> ServerThread {
        let (shutdown_tx, mut shutdown_rx) = oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
        let thread = std::thread::Builder::new()
            .name(format!("fake-opik-{}", addr.port()))
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(format!("tokio runtime: {e}")));
                        return;
                    }
                };
                rt.block_on(async move {
                    if let Some(delay) = delay {
                        tokio::select! {
                            _ = tokio::time::sleep(delay) => {}
                            _ = &mut shutdown_rx => return,
                        }
                    }
                    let listener = match socket.listen(1024) {
                        Ok(l) => l,
                        Err(e) => {
                            let msg = format!("fake-opik: cannot listen on {addr}: {e}");
                            shared.lock().problems.push(msg.clone());
                            let _ = ready_tx.send(Err(msg));
                            return;
                        }
                    };
                    shared.lock().listening_since = Some(Instant::now());
                    let _ = ready_tx.send(Ok(()));
                    loop {
                        tokio::select! {
                            _ = &mut shutdown_rx => break,
                            accepted = listener.accept() => {
                                let Ok((stream, _)) = accepted else {
                                    tokio::time::sleep(Duration::from_millis(5)).await;
                                    continue;
                                };
                                let _ = stream.set_nodelay(true);
                                let shared = shared.clone();
                                tokio::spawn(async move {
                                    let service = service_fn(move |req| handle(shared.clone(), addr, req));
                                    let _ = http1::Builder::new()
                                        .keep_alive(true)
                                        .serve_connection(TokioIo::new(stream), service)
                                        .await;
                                });
                            }
                        }
                    }
                });
                // Dropping the runtime here drops every connection task: held requests end.
            })
            .expect("spawn the fake-opik thread");
        if delay.is_none() {
            match ready_rx.recv() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => panic!("{e}"),
                Err(_) => panic!("fake-opik: the server thread died before listening"),
            }
        }
        ServerThread {
            shutdown: Mutex::new(Some(shutdown_tx)),
            thread: Mutex::new(Some(thread)),
        }
    }
}

impl Drop for ServerThread {
    fn drop(&mut self) {
        if let Some(tx) = self
            .shutdown
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            let _ = tx.send(());
        }
        if let Some(t) = self
            .thread
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            let _ = t.join();
        }
    }
}

type Answer = Result<Response<Full<Bytes>>, CloseConnection>;

async fn handle(shared: Arc<Shared>, addr: SocketAddr, req: Request<HyperBody>) -> Answer {
    let arrived = Instant::now();
    let (parts, body) = req.into_parts();
    let Ok(collected) = body.collect().await else {
        return Err(CloseConnection); // the client went away mid-body
    };
    let raw = collected.to_bytes();
    if shared.lock().discard {
        shared.lock().discarded_bytes += raw.len() as u64;
        return discarded(&shared, parts.method.as_str(), parts.uri.path(), arrived).await;
    }
    let method = parts.method.as_str().to_string();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or("").to_string();
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let content_type = header("content-type");
    let content_encoding = header("content-encoding");
    let fake_s3 = attachments::is_fake_s3(&path);
    // Attachment bytes are kept once, by the attachment store: not decoded into the record.
    let upload = fake_s3 || (method == "PUT" && path.ends_with("/v1/private/attachment/upload"));
    let gzip = content_encoding.is_some_and(|e| e.trim().eq_ignore_ascii_case("gzip"));
    let (body_bytes, body_json, decode_error) = if upload && !gzip {
        (Vec::new(), None, None)
    } else {
        decode(content_encoding, content_type, &raw)
    };
    let upload_bytes = match (upload, gzip) {
        (true, true) => Bytes::from(body_bytes.clone()),
        (true, false) => raw.clone(),
        _ => Bytes::new(),
    };

    let checked = if fake_s3 {
        attachments::check_s3(&method, &path, &headers)
    } else {
        check(&Incoming {
            method: &method,
            path: &path,
            query: &query,
            content_type,
            content_encoding,
            wire_size: raw.len(),
            raw_starts_gzip: raw.starts_with(&[0x1f, 0x8b]),
            body: body_json.as_ref(),
            decode_error: decode_error.as_deref(),
        })
    };
    let host = header("host")
        .map(str::to_string)
        .unwrap_or_else(|| addr.to_string());

    let reply = {
        let mut guard = shared.lock();
        let state = &mut *guard;
        state.seq += 1;
        let seq = state.seq;
        let picked = state.pick(&method, &path, arrived);
        let mut problems = checked.problems.clone();
        let stateful = |store: &mut Store| -> Option<crate::backend::Answer> {
            let template = checked.template.as_deref()?;
            let mut body = body_json.clone().unwrap_or(Value::Null);
            strip_nulls(&mut body);
            let ctx = Ctx {
                method: &method,
                path: &path,
                template,
                params: &checked.params,
                query: query_pairs(&query),
                body,
                raw: upload_bytes.clone(),
                headers: &headers,
                base: format!("http://{host}/api"),
            };
            crate::backend::answer(store, &ctx)
        };
        let refused = state.store.auth.refusal(&path, &headers);
        let reply = match (refused, picked.action.clone()) {
            // The backend's auth filter runs before any resource, scripted or not.
            (Some(refusal), _) => {
                let (lines, stream) = refusal.lines();
                let lines: Vec<Value> = lines.into_iter().cloned().collect();
                problems.extend(check_answer(None, refusal.status, &lines, stream));
                reply_of(refusal)
            }
            (None, Action::Default) => match stateful(&mut state.store) {
                Some(answer) => {
                    let op = write_op(&method, &path);
                    let (lines, stream) = answer.lines();
                    let lines: Vec<Value> = lines.into_iter().cloned().collect();
                    problems.extend(check_answer(op, answer.status, &lines, stream));
                    problems.extend(answer.problems.iter().cloned());
                    reply_of(answer)
                }
                None => default_reply(&method, &path, &checked, body_json.as_ref()),
            },
            // A scripted success of a write still writes (as `FakeOpik::traces` counts it).
            (None, Action::Respond) if (200..300).contains(&picked.status) && method != "GET" => {
                let _ = stateful(&mut state.store);
                picked
            }
            (None, _) => picked,
        };
        let rec = RecordedRequest {
            seq,
            arrived,
            method: method.clone(),
            path: path.clone(),
            query,
            headers,
            wire_size: raw.len(),
            body_bytes,
            body: body_json,
            operation_id: checked.operation_id.clone(),
            status: reply.status_code(),
            problems: problems.clone(),
        };
        let label = rec.label();
        state
            .problems
            .extend(problems.iter().map(|p| format!("{label}: {p}")));
        state.requests.push(rec);
        reply
    };

    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    match reply.action {
        Action::Never => std::future::pending::<Answer>().await,
        Action::Close => Err(CloseConnection),
        Action::Respond | Action::Default => Ok(respond(&reply)),
    }
}

/// Throughput mode: the scripted reply if any (so `Reply::never` still stalls a route), else
/// `204 No Content`, with no decoding, validation or record kept.
async fn discarded(shared: &Shared, method: &str, path: &str, arrived: Instant) -> Answer {
    let reply = {
        let mut state = shared.lock();
        state.discarded += 1;
        state.pick(method, path, arrived)
    };
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    match reply.action {
        Action::Never => std::future::pending::<Answer>().await,
        Action::Close => Err(CloseConnection),
        Action::Respond => Ok(respond(&reply)),
        Action::Default => Ok(respond(&Reply::status(204))),
    }
}

/// The spec's operation for a request, when the schema file keeps it.
fn write_op(method: &str, path: &str) -> Option<&'static WriteOp> {
    match SPEC.resolve(method, path) {
        Match::Found { op, .. } => op.write.as_ref(),
        _ => None,
    }
}

fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// The stateful backend's answer as a reply: JSON, or NDJSON lines ending in `\r\n` sent as
/// `application/octet-stream` (as the backend's `ChunkedOutput` streams are), or bytes.
fn reply_of(answer: Stateful) -> Reply {
    let mut reply = Reply::status(answer.status);
    for (k, v) in &answer.headers {
        reply = reply.header(k.as_str(), v.as_str());
    }
    match answer.body {
        Body::None => reply,
        Body::Json(v) => reply.json(v.to_string()),
        Body::Stream(lines) => {
            let mut out = Vec::new();
            for line in &lines {
                out.extend_from_slice(line.to_string().as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            reply.body = Some(("application/octet-stream".into(), Bytes::from(out)));
            reply
        }
        Body::Bytes { content_type, data } => {
            reply.body = Some((content_type, data));
            reply
        }
    }
}

fn respond(reply: &Reply) -> Response<Full<Bytes>> {
    let mut builder = Response::builder().status(reply.status);
    for (k, v) in &reply.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    let body = match &reply.body {
        Some((content_type, bytes)) => {
            builder = builder.header("content-type", content_type.as_str());
            bytes.clone()
        }
        None => Bytes::new(),
    };
    builder.body(Full::new(body)).unwrap_or_else(|e| {
        let mut r = Response::new(Full::new(Bytes::from(format!(
            "fake-opik: bad scripted reply: {e}"
        ))));
        *r.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
        r
    })
}

/// What the server answers when nothing is scripted, close to the Opik backend.
fn default_reply(
    method: &str,
    path: &str,
    checked: &crate::check::Checked,
    body: Option<&Value>,
) -> Reply {
    let Some(template) = checked.template.as_deref() else {
        // Unknown path or method: what Dropwizard answers.
        let (status, text) = if checked
            .problems
            .iter()
            .any(|p| p.contains("the spec has no"))
        {
            (405, "HTTP 405 Method Not Allowed")
        } else {
            (404, "HTTP 404 Not Found")
        };
        return Reply::status(status)
            .json(serde_json::json!({"code": status, "message": text}).to_string());
    };
    let status = checked.default_status.unwrap_or(200);
    match (method, template) {
        ("GET", "/is-alive/ping") => Reply::status(200).json(r#"{"healthy":true}"#),
        ("GET", "/is-alive/ver") => Reply::status(200).json(r#"{"version":"fake-opik"}"#),
        _ => {
            let mut reply = Reply::status(status);
            if status == 201 {
                if let Some(id) = body.and_then(|b| b.get("id")).and_then(Value::as_str) {
                    reply = reply.header("location", format!("{path}/{id}"));
                }
            } else if status == 200 {
                reply = reply.json("{}");
            }
            reply
        }
    }
}

/// Gunzips (when `content-encoding: gzip`) and parses JSON (when the media type says JSON, or
/// the bytes look like JSON). Returns the decoded bytes, the JSON and what went wrong.
fn decode(
    encoding: Option<&str>,
    content_type: Option<&str>,
    raw: &[u8],
) -> (Vec<u8>, Option<Value>, Option<String>) {
    if raw.is_empty() {
        return (Vec::new(), None, None);
    }
    let mut bytes = raw.to_vec();
    if encoding.is_some_and(|e| e.trim().eq_ignore_ascii_case("gzip")) {
        let mut out = Vec::new();
        match flate2::read::GzDecoder::new(raw).read_to_end(&mut out) {
            Ok(_) => bytes = out,
            Err(e) => {
                return (
                    bytes,
                    None,
                    Some(format!("content-encoding is gzip, but gunzip failed: {e}")),
                )
            }
        }
    }
    let says_json = content_type.is_some_and(|c| c.to_ascii_lowercase().contains("json"));
    let looks_json = bytes
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| matches!(b, b'{' | b'['));
    if !(says_json || looks_json) {
        return (bytes, None, None);
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(v) => (bytes, Some(v), None),
        Err(e) => (bytes, None, Some(format!("not valid JSON: {e}"))),
    }
}
