//! Issue 16, reading traces back: searches with filters of every kind over what the SDK
//! wrote in the same test (read after write through the batching), from Opik and from the
//! local view's file with the same answers; a bad filter's error before anything is sent,
//! and the server's 400 for one it refuses; gets; updates after the fact that never reach
//! Opik before their record's create; every body spec-valid.

mod common;

use fake_opik::{FakeOpik, Reply};
use opik::export::{Client, LocalTransport};
use opik::read::{ReadError, SearchOptions, SpanRecord, ThreadStatus, TraceRecord};
use opik::{ErrorInfo, Opik, SpanType, Usage};
use serde_json::json;
use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};
use uuid::Uuid;

/// A v7 id nothing has.
const UNKNOWN: Uuid = Uuid::from_u128(0x01890a5d_ac96_774b_bcce_b302099a8057);

/// What one practice session writes: two coaching traces and a planner trace, in two threads.
struct Written {
    coach_good: Uuid,
    coach_bad: Uuid,
    planner: Uuid,
    llm_span: Uuid,
}

fn write_session(opik: &Opik) -> Written {
    let trace = |name: &'static str, tag: &str, model: &str, thread: &str| {
        let t = opik.trace(name);
        t.update(|u| {
            u.tags([tag])
                .metadata(&json!({"model": model, "window": 3}))
                .thread_id(thread)
                .input(&json!({"q": format!("{name} question")}))
                .output(&json!({"a": format!("{name} answer")}));
        });
        t
    };
    let good = trace("coach-session", "live-coach", "gpt-4o", "th-1");
    let llm = good.span_with_type("live-coach-feedback", SpanType::Llm);
    llm.update(|s| {
        s.model("gpt-4o")
            .provider("openai")
            .usage(Usage::new(100, 50))
            .tags(["live-coach"]);
    });
    let llm_span = llm.id().unwrap();
    llm.end();
    good.log_feedback_score("quality", 0.9).unwrap();
    good.end();

    let bad = trace("coach-session", "live-coach", "gpt-4o-mini", "th-1");
    let small = bad.span_with_type("live-coach-feedback", SpanType::Llm);
    small.update(|s| {
        s.usage(Usage::new(10, 5)).tags(["live-coach"]);
    });
    small.end();
    bad.update(|u| {
        u.error_info(ErrorInfo::new(
            "LlmError",
            "gpt-4o-mini did not answer within 8s",
        ));
    });
    bad.log_feedback_score("quality", 0.2).unwrap();
    bad.end();

    let planner = trace("planner", "planning", "gpt-4o", "th-2");
    planner.span("plan").end();
    planner.end();
    Written {
        coach_good: good.id().unwrap(),
        coach_bad: bad.id().unwrap(),
        planner: planner.id().unwrap(),
        llm_span,
    }
}

async fn ids<T>(opik: &Opik, search: Result<opik::read::RecordStream<T>, ReadError>) -> Vec<Uuid>
where
    T: HasId,
{
    let _ = opik;
    let mut found = search.expect("the filter parses");
    let mut out = Vec::new();
    while let Some(record) = found.next().await {
        out.push(record.expect("a readable record").id());
    }
    out
}

trait HasId {
    fn id(&self) -> Uuid;
}
impl HasId for TraceRecord {
    fn id(&self) -> Uuid {
        self.id
    }
}
impl HasId for SpanRecord {
    fn id(&self) -> Uuid {
        self.id
    }
}

fn set(ids: &[Uuid]) -> BTreeSet<Uuid> {
    ids.iter().copied().collect()
}

/// The searches of the test, each with the traces it must find.
async fn check_searches(opik: &Opik, w: &Written, since: SystemTime) {
    let traces = |filter: &str| opik.search_traces(SearchOptions::new().filter(filter));
    let cases: Vec<(&str, Vec<Uuid>)> =
        vec![
        // LIST
        ("tags contains \"live-coach\"", vec![w.coach_good, w.coach_bad]),
        // NUMBER, summed by the backend over the trace's spans
        ("usage.total_tokens > 100", vec![w.coach_good]),
        // DICTIONARY with a key
        ("metadata.model = \"gpt-4o\"", vec![w.coach_good, w.planner]),
        // FEEDBACK_SCORES_NUMBER by name
        ("feedback_scores.quality >= 0.5", vec![w.coach_good]),
        // STRING
        ("name starts_with \"plan\"", vec![w.planner]),
        // ERROR_CONTAINER
        ("error_info is_not_empty", vec![w.coach_bad]),
        // several, ANDed
        (
            "tags contains \"live-coach\" and metadata.window >= 3 and usage.total_tokens < 100",
            vec![w.coach_bad],
        ),
    ];
    for (filter, expected) in cases {
        let found = ids(opik, traces(filter)).await;
        assert_eq!(set(&found), set(&expected), "{filter}");
    }
    // DATE_TIME, and newest first (by id, UUID v7: by start time to the millisecond).
    let all = ids(opik, traces("start_time >= \"2000-01-01T00:00:00Z\"")).await;
    assert_eq!(set(&all), set(&[w.planner, w.coach_bad, w.coach_good]));
    assert!(all.windows(2).all(|p| p[0] > p[1]), "{all:?}");
    assert!(ids(opik, traces("start_time < \"2000-01-01T00:00:00Z\""))
        .await
        .is_empty());
    // A time range (bounding the time in the ids: when the records started).
    let recent = opik.search_traces(SearchOptions::new().from_time(since - Duration::from_secs(1)));
    assert_eq!(ids(opik, recent).await.len(), 3);
    let old = opik.search_traces(SearchOptions::new().to_time(since - Duration::from_secs(60)));
    assert!(ids(opik, old).await.is_empty());
    // Spans: ENUM, NUMBER, and a trace's spans.
    let spans = opik.search_spans(
        SearchOptions::new()
            .filter("type = \"llm\" and usage.total_tokens > 20 and model = \"gpt-4o\""),
    );
    assert_eq!(ids(opik, spans).await, vec![w.llm_span]);
    let of_trace = opik.search_spans(SearchOptions::new().trace_id(w.coach_good));
    assert_eq!(ids(opik, of_trace).await, vec![w.llm_span]);
    let llm_only = opik.search_spans(SearchOptions::new().span_type(SpanType::Llm).limit(1));
    assert_eq!(ids(opik, llm_only).await.len(), 1);
    // Threads.
    let mut threads = opik
        .search_threads(SearchOptions::new().filter("number_of_messages = 4"))
        .unwrap();
    let th1 = threads.next().await.unwrap().unwrap();
    assert_eq!(th1.id, "th-1");
    assert!(threads.next().await.is_none());
}

#[tokio::test]
async fn searches_find_what_the_sdk_just_wrote_with_filters_of_every_kind() {
    let server = FakeOpik::start();
    let client = common::client_for(&server);
    let opik = Opik::new(client.clone());
    let since = SystemTime::now();
    let written = write_session(&opik);
    // Read after write: what is still batching is not in Opik yet.
    assert!(client.flush_async(Duration::from_secs(5)).await.completed);
    check_searches(&opik, &written, since).await;

    // Typed records with what the backend adds.
    let trace = opik.get_trace(written.coach_good).await.unwrap().unwrap();
    assert_eq!(trace.name.as_deref(), Some("coach-session"));
    assert_eq!(trace.usage.get("total_tokens"), Some(&150));
    assert_eq!(trace.feedback_score("quality").map(|s| s.value), Some(0.9));
    assert_eq!(trace.thread_id.as_deref(), Some("th-1"));
    assert!(trace.duration().is_some());
    let content = opik
        .get_trace_content(written.coach_good)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(content.spans.len(), 1);
    assert_eq!(content.children(None).count(), 1);
    let span = opik.get_span(written.llm_span).await.unwrap().unwrap();
    assert_eq!(
        (span.model.as_deref(), span.span_type),
        (Some("gpt-4o"), Some(SpanType::Llm))
    );
    assert!(opik.get_trace(UNKNOWN).await.unwrap().is_none());
    let thread = opik.get_thread("th-1").await.unwrap().unwrap();
    assert_eq!(thread.status, Some(ThreadStatus::Active));
    assert_eq!(thread.number_of_messages, Some(4));
    assert!(opik.get_thread("nobody").await.unwrap().is_none());
    server.assert_valid();
}

#[tokio::test]
async fn the_local_view_answers_the_same_searches_from_its_file() {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!("opik-read-{}-{nanos}", std::process::id()));
    let path = dir.join("session.jsonl");
    let config = opik::config::ConfigBuilder::with_env_map(Vec::<(String, String)>::new())
        .local(true)
        .project_name(common::TEST_PROJECT)
        .flush_interval(Duration::from_millis(20))
        .resolve()
        .unwrap()
        .into_config()
        .unwrap();
    let transport = LocalTransport::open(&path)
        .unwrap()
        .with_output(std::io::sink());
    let client = Client::with_transport(&config, Box::new(transport)).unwrap();
    assert_eq!(client.local_file(), Some(path.as_path()));
    let opik = Opik::new(client.clone());
    let since = SystemTime::now();
    let written = write_session(&opik);
    assert!(client.flush_async(Duration::from_secs(5)).await.completed);
    check_searches(&opik, &written, since).await;
    let trace = opik.get_trace(written.coach_good).await.unwrap().unwrap();
    assert_eq!(trace.usage.get("total_tokens"), Some(&150));
    assert_eq!(trace.project_name.as_deref(), Some(common::TEST_PROJECT));
    let thread = opik.get_thread("th-2").await.unwrap().unwrap();
    assert_eq!(thread.number_of_messages, Some(2));
    // What needs a server says so.
    let err = opik.close_thread("th-1").await.unwrap_err();
    assert!(matches!(err, ReadError::NoServer { .. }), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_bad_filter_is_an_error_before_anything_is_sent_and_a_refused_one_is_the_servers() {
    let server = FakeOpik::start();
    let client = common::client_for(&server);
    let opik = Opik::new(client.clone());
    opik.trace("planner").end();
    assert!(client.flush_async(Duration::from_secs(5)).await.completed);
    let err = opik
        .search_traces(SearchOptions::new().filter("nmae = \"planner\""))
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ReadError::Filter(_)), "{text}");
    assert!(
        text.contains("unknown field `nmae` for traces; did you mean `name`?"),
        "{text}"
    );
    assert!(text.contains("^^^^"), "{text}");
    let err = opik
        .search_spans(SearchOptions::new().filter("duration contains 5"))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("operator `contains` is not supported for `duration`"),
        "{err}"
    );
    let err = opik
        .search_traces(SearchOptions::new().trace_id(UNKNOWN))
        .unwrap_err();
    assert!(err.to_string().contains("use search_spans"), "{err}");
    assert_eq!(server.request_count("/traces/search"), 0);
    assert_eq!(server.request_count("/spans/search"), 0);
    // A filter the parser takes and the backend refuses: the stream's first item is the 400.
    let mut found = opik
        .search_traces(SearchOptions::new().filter("start_time > \"yesterday\""))
        .unwrap();
    let err = found.next().await.unwrap().unwrap_err();
    assert!(
        matches!(&err, ReadError::Rest(e) if e.http_status() == Some(400)),
        "{err}"
    );
    assert!(
        err.to_string().contains("Invalid value 'yesterday'"),
        "{err}"
    );
    assert!(found.next().await.is_none());
    server.assert_valid();
}

#[tokio::test]
async fn a_rate_limited_search_waits_and_goes_on() {
    let server = FakeOpik::start();
    let client = common::client_for(&server);
    let opik = Opik::new(client.clone());
    write_session(&opik);
    assert!(client.flush_async(Duration::from_secs(5)).await.completed);
    server.script(
        "/traces/search",
        [Reply::status(429).header("Retry-After", "0.2")],
    );
    let started = std::time::Instant::now();
    let found = ids(&opik, opik.search_traces(SearchOptions::new())).await;
    assert_eq!(found.len(), 3);
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(server.request_count("/traces/search"), 2);
    server.assert_valid();
}

#[tokio::test]
async fn an_update_after_the_fact_never_reaches_opik_before_the_create() {
    let server = FakeOpik::start();
    // The create is slow to get through: refused once, then answered after 300 ms.
    let delay = Duration::from_millis(300);
    server.script(
        "POST /traces/batch",
        [Reply::status(503), Reply::status(204).delay(delay)],
    );
    let client = common::client_for(&server);
    let opik = Opik::new(client.clone());
    let trace = opik.trace("late-review");
    trace.update(|t| {
        t.metadata(&json!({"session": "abc", "nested": {"a": 1}}));
    });
    let span = trace.span("answer");
    span.update(|s| {
        s.metadata_entry("kept", &true);
    });
    let (trace_id, span_id) = (trace.id().unwrap(), span.id().unwrap());
    span.end();
    trace.end();
    // At once, while the create is still on its way.
    opik.update_trace(trace_id, |t| {
        t.metadata(&json!({"nested": {"b": 2}, "reviewed": true}))
            .tag("reviewed")
            .feedback_score("review", 1.0);
    })
    .await
    .unwrap();
    opik.update_span(span_id, |s| {
        s.model("gpt-4o").provider("openai").usage(Usage::new(7, 3));
    })
    .await
    .unwrap();

    let requests = server.requests();
    let create = requests
        .iter()
        .find(|r| r.method == "POST" && r.path.ends_with("/traces/batch") && r.is_success())
        .expect("the create");
    let patch = requests
        .iter()
        .find(|r| r.method == "PATCH" && r.path.ends_with(&format!("/traces/{trace_id}")))
        .expect("the update");
    assert!(
        patch.arrived >= create.arrived + delay,
        "the update arrived {:?} after the create began, before it was answered",
        patch.arrived - create.arrived
    );
    let stored = server.stored_trace(&trace_id.to_string()).unwrap();
    // Both the create's and the update's fields are kept; maps merged.
    assert_eq!(stored["name"], "late-review");
    assert_eq!(
        stored["metadata"],
        json!({"session": "abc", "nested": {"a": 1, "b": 2}, "reviewed": true})
    );
    assert!(stored["tags"]
        .as_array()
        .unwrap()
        .contains(&json!("reviewed")));
    let stored = server.stored_span(&span_id.to_string()).unwrap();
    assert_eq!(stored["model"], "gpt-4o");
    assert_eq!(stored["usage"]["total_tokens"], 10);
    assert_eq!(stored["metadata"]["kept"], true);
    assert!(client.flush_async(Duration::from_secs(5)).await.completed);
    let scores = server.feedback_scores("/traces/feedback-scores");
    assert!(scores
        .iter()
        .any(|s| s["name"] == "review" && s["id"] == json!(trace_id)));
    server.assert_valid();
}

#[tokio::test]
async fn an_update_is_not_sent_while_the_create_cannot_be_delivered() {
    let server = FakeOpik::start();
    server.script("POST /traces/batch", [Reply::never()]);
    let config = common::config_for(&server)
        .retry_deadline(Duration::from_millis(300))
        .request_timeout(Duration::from_secs(30))
        .resolve()
        .unwrap()
        .into_config()
        .unwrap();
    let opik = Opik::new(Client::new(&config).unwrap());
    let trace = opik.trace("stuck");
    let id = trace.id().unwrap();
    trace.end();
    let err = opik
        .update_trace(id, |t| {
            t.tag("never-sent");
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err, ReadError::NotDelivered { pending: 1, .. }),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("could have reached Opik before them"),
        "{err}"
    );
    let reads_or_patches = server
        .requests()
        .iter()
        .filter(|r| r.method == "PATCH" || r.method == "GET")
        .count();
    assert_eq!(reads_or_patches, 0, "nothing but the stuck create was sent");
}
