//! Traces and spans read back: the upsert rule, updates, scores, `GET` by id, the search
//! streams with filters and paging, the list pages; every request and answer spec-valid.

mod common;

use common::*;
use fake_opik::{FakeOpik, Reply};
use serde_json::{json, Value};

const P: &str = "fake-opik-reads";

fn trace(n: u64, extra: Value) -> Value {
    let mut t = json!({"id": v7(n), "project_name": P, "name": format!("t{n}"), "start_time": T0,
        "end_time": T1, "input": {"q": format!("question {n}")}, "output": {"a": "yo"},
        "last_updated_at": T1});
    for (k, v) in extra.as_object().unwrap() {
        t[k] = v.clone();
    }
    t
}

fn span(n: u64, trace_n: u64, extra: Value) -> Value {
    let mut s = json!({"id": v7(n), "trace_id": v7(trace_n), "project_name": P, "name": format!("s{n}"),
        "type": "llm", "start_time": T0, "end_time": T1, "model": "gpt-4o", "provider": "openai",
        "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}});
    for (k, v) in extra.as_object().unwrap() {
        s[k] = v.clone();
    }
    s
}

fn search(server: &FakeOpik, body: Value) -> Resp {
    send_json(server, "POST", "/v1/private/traces/search", &body)
}

fn ids(lines: &[Value]) -> Vec<String> {
    lines
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_trace_is_read_back_as_the_backend_keeps_it() {
    let server = FakeOpik::start();
    // A start record, then its end record, then a stale start record (older last_updated_at).
    let mut start = trace(1, json!({"last_updated_at": "2024-05-01T12:00:00.500000Z"}));
    start.as_object_mut().unwrap().remove("end_time");
    let end = trace(1, json!({"output": {"a": "done"}}));
    let mut stale = start.clone();
    stale["last_updated_at"] = json!("2024-05-01T11:00:00Z");
    for body in [&start, &end, &stale] {
        let r = send_json(
            &server,
            "POST",
            "/v1/private/traces/batch",
            &json!({"traces": [body]}),
        );
        assert_eq!(r.status, 204);
    }
    let spans = json!({"spans": [span(10, 1, json!({})), span(11, 1, json!({"type": "tool",
        "provider": "anthropic", "total_estimated_cost": 0.5, "usage": {"total_tokens": 3}}))]});
    assert_eq!(
        send_json(&server, "POST", "/v1/private/spans/batch", &spans).status,
        204
    );
    let r = send_json(
        &server,
        "PATCH",
        &format!("/v1/private/traces/{}", v7(1)),
        &json!({"project_name": P, "tags_to_add": ["late"], "metadata": {"patched": true}}),
    );
    assert_eq!(r.status, 204);
    let scores = json!({"scores": [{"id": v7(1), "project_name": P, "name": "relevance",
        "value": 0.75, "source": "sdk", "reason": "fine"}]});
    assert_eq!(
        send_json(
            &server,
            "PUT",
            "/v1/private/traces/feedback-scores",
            &scores
        )
        .status,
        204
    );

    let r = get(&server, "GET", &format!("/v1/private/traces/{}", v7(1)));
    assert_eq!(r.status, 200);
    let t = r.json();
    assert_eq!(t["id"], v7(1));
    assert_eq!(t["end_time"], T1, "the newer record won");
    assert_eq!(t["output"], json!({"a": "done"}));
    assert_eq!(t["metadata"], json!({"patched": true}));
    assert_eq!(t["tags"], json!(["late"]));
    assert_eq!(t["project_id"], server.project_id(P).unwrap());
    assert!(
        t.get("project_name").is_none(),
        "Trace_Public has no project_name"
    );
    assert_eq!(t["span_count"], 2);
    assert_eq!(t["llm_span_count"], 1);
    assert_eq!(t["has_tool_spans"], true);
    assert_eq!(t["providers"], json!(["anthropic", "openai"]));
    assert_eq!(t["usage"]["total_tokens"], 10);
    assert_eq!(t["total_estimated_cost"], 0.5);
    assert_eq!(t["duration"], 1250.0);
    assert_eq!(t["feedback_scores"][0]["name"], "relevance");
    assert_eq!(t["feedback_scores"][0]["value"], 0.75);
    assert_eq!(server.stored_trace(&v7(1)).unwrap(), t);

    let s = get(&server, "GET", &format!("/v1/private/spans/{}", v7(11))).json();
    assert_eq!(
        (s["trace_id"].as_str(), s["type"].as_str()),
        (Some(v7(1).as_str()), Some("tool"))
    );

    // A PATCH that comes before its create is merged into it.
    let r = send_json(
        &server,
        "PATCH",
        &format!("/v1/private/spans/{}", v7(12)),
        &json!({"trace_id": v7(1), "output": {"early": 1}}),
    );
    assert_eq!(r.status, 204);
    send_json(
        &server,
        "POST",
        "/v1/private/spans",
        &span(12, 1, json!({})),
    );
    assert_eq!(
        server.stored_span(&v7(12)).unwrap()["output"],
        json!({"early": 1})
    );

    let r = get(&server, "GET", &format!("/v1/private/traces/{}", v7(99)));
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json(),
        json!({"code": 404, "message": format!("Trace id: {} not found", v7(99))})
    );
    assert_eq!(server.stored_counts(), (1, 3));
    server.assert_valid();
}

#[test]
fn search_filters_mean_what_the_backend_means() {
    let server = FakeOpik::start();
    let traces = json!({"traces": [
        trace(1, json!({"tags": ["prod", "a"], "metadata": {"model": "gpt-4"}})),
        trace(2, json!({"tags": ["dev"], "name": "special", "start_time": "2024-06-01T00:00:00Z",
            "end_time": "2024-06-01T00:00:02Z", "input": {"q": "needle in here"}})),
        trace(3, json!({"metadata": {"model": "claude"}, "thread_id": "th"})),
    ]});
    send_json(&server, "POST", "/v1/private/traces/batch", &traces);
    send_json(
        &server,
        "POST",
        "/v1/private/spans/batch",
        &json!({"spans": [span(10, 3, json!({"usage": {"total_tokens": 500}}))]}),
    );
    send_json(
        &server,
        "PUT",
        "/v1/private/traces/feedback-scores",
        &json!({"scores": [
        {"id": v7(2), "project_name": P, "name": "acc", "value": 0.9, "source": "sdk"}]}),
    );

    let f = |field: &str, op: &str, key: &str, value: &str| json!({"field": field, "operator": op, "key": key, "value": value});
    let cases = [
        (f("tags", "contains", "", "prod"), vec![v7(1)]),
        (f("name", "=", "", "special"), vec![v7(2)]),
        (f("usage.total_tokens", ">", "", "100"), vec![v7(3)]),
        (f("metadata", "=", "model", "gpt-4"), vec![v7(1)]),
        (
            f("start_time", ">=", "", "2024-05-15T00:00:00Z"),
            vec![v7(2)],
        ),
        (f("input", "contains", "", "needle"), vec![v7(2)]),
        (f("feedback_scores", ">", "acc", "0.5"), vec![v7(2)]),
        (
            f("feedback_scores", "is_empty", "acc", ""),
            vec![v7(3), v7(1)],
        ),
        (f("thread_id", "=", "", "th"), vec![v7(3)]),
        (f("duration", ">", "", "1500"), vec![v7(2)]),
    ];
    for (filter, want) in cases {
        let r = search(&server, json!({"project_name": P, "filters": [filter]}));
        assert_eq!(r.status, 200, "{filter}");
        assert_eq!(r.header("content-type"), Some("application/octet-stream"));
        assert_eq!(ids(&r.lines()), want, "{filter}");
    }
    // No filter: every trace of the project, newest id first.
    let all = search(&server, json!({"project_name": P})).lines();
    assert_eq!(ids(&all), vec![v7(3), v7(2), v7(1)]);
    // exclude drops fields; project_id works as project_name does.
    let r = search(
        &server,
        json!({"project_id": server.project_id(P).unwrap(),
        "exclude": ["input", "output"], "limit": 1}),
    );
    let line = &r.lines()[0];
    assert!(
        line.get("input").is_none() && line.get("output").is_none() && line.get("name").is_some()
    );

    // Spans: by trace and type.
    let r = send_json(
        &server,
        "POST",
        "/v1/private/spans/search",
        &json!({"project_name": P, "trace_id": v7(3), "type": "llm"}),
    );
    assert_eq!(ids(&r.lines()), vec![v7(10)]);
    server.assert_valid();
}

#[test]
fn bad_searches_get_the_backend_errors() {
    let server = FakeOpik::start();
    send_json(
        &server,
        "POST",
        "/v1/private/traces/batch",
        &json!({"traces": [trace(1, json!({}))]}),
    );
    let r = search(&server, json!({}));
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["message"],
        "Either 'project_name' or 'project_id' query params must be provided"
    );
    let r = search(&server, json!({"project_name": "nope"}));
    assert_eq!(
        (r.status, r.json()["message"].as_str()),
        (404, Some("Project name: nope not found"))
    );
    let r = search(
        &server,
        json!({"project_name": P, "filters": [
        {"field": "colour", "operator": "=", "key": "", "value": "red"}]}),
    );
    assert_eq!(
        (r.status, r.json()),
        (400, json!({"errors": ["Unable to process JSON"]}))
    );
    let r = search(
        &server,
        json!({"project_name": P, "filters": [
        {"field": "tags", "operator": ">", "key": "", "value": "x"}]}),
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["message"],
        "Invalid operator '>' for field 'tags' of type 'LIST'"
    );
    let r = search(
        &server,
        json!({"project_name": P, "filters": [
        {"field": "start_time", "operator": ">", "key": "", "value": "yesterday"}]}),
    );
    assert_eq!(r.status, 400);
    assert!(r.json()["message"]
        .as_str()
        .unwrap()
        .starts_with("Invalid value 'yesterday'"));
    let r = get(
        &server,
        "GET",
        &format!(
            "/v1/private/traces?project_name={P}&filters={}",
            enc(r#"[{"field":"colour","operator":"=","value":"x"}]"#)
        ),
    );
    assert_eq!(r.status, 400);
    assert!(r.json()["message"]
        .as_str()
        .unwrap()
        .starts_with("Invalid filters query parameter"));
    // The errors are the backend's; the requests asked for them but were valid.
    let problems = server.problems();
    assert!(problems.is_empty(), "{problems:?}");
}

#[test]
fn ten_thousand_traces_are_searched_in_pages() {
    let server = FakeOpik::start();
    for chunk in 0..10u64 {
        let batch: Vec<Value> = (0..1000u64)
            .map(|i| {
                let n = chunk * 1000 + i + 1;
                json!({"id": v7(n), "project_name": P, "name": "bulk", "start_time": T0,
                    "tags": [if n % 2 == 0 { "even" } else { "odd" }]})
            })
            .collect();
        let r = send_json(
            &server,
            "POST",
            "/v1/private/traces/batch",
            &json!({"traces": batch}),
        );
        assert_eq!(r.status, 204);
    }
    let mut seen = Vec::new();
    let mut last: Option<String> = None;
    loop {
        let mut body = json!({"project_name": P, "limit": 2000, "truncate": true});
        if let Some(l) = &last {
            body["last_retrieved_id"] = json!(l);
        }
        let page = search(&server, body).lines();
        seen.extend(ids(&page));
        if page.len() < 2000 {
            break;
        }
        last = seen.last().cloned();
    }
    assert_eq!(seen.len(), 10_000);
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "newest id first, no repeats"
    );
    assert_eq!(seen[0], v7(10_000));
    let even = search(
        &server,
        json!({"project_name": P, "limit": 2000,
        "filters": [{"field": "tags", "operator": "contains", "key": "", "value": "even"}]}),
    )
    .lines();
    assert_eq!(even.len(), 2000);
    let page = get(
        &server,
        "GET",
        &format!("/v1/private/traces?project_name={P}&page=3&size=100"),
    )
    .json();
    assert_eq!(
        (
            page["page"].as_u64(),
            page["size"].as_u64(),
            page["total"].as_u64()
        ),
        (Some(3), Some(100), Some(10_000))
    );
    assert_eq!(page["content"][0]["id"], v7(10_000 - 200));
    server.assert_valid();
}

#[test]
fn scripted_failures_apply_to_the_read_routes() {
    let server = FakeOpik::start();
    send_json(
        &server,
        "POST",
        "/v1/private/traces/batch",
        &json!({"traces": [trace(1, json!({}))]}),
    );
    server.script(
        "POST /traces/search",
        [
            Reply::status(503),
            Reply::status(429).header("Retry-After", "1"),
        ],
    );
    assert_eq!(search(&server, json!({"project_name": P})).status, 503);
    assert_eq!(search(&server, json!({"project_name": P})).status, 429);
    assert_eq!(search(&server, json!({"project_name": P})).lines().len(), 1);
    // A scripted success of a write still writes.
    server.script("/traces/batch", [Reply::status(204).delay_ms(10)]);
    send_json(
        &server,
        "POST",
        "/v1/private/traces/batch",
        &json!({"traces": [trace(2, json!({}))]}),
    );
    assert!(server.stored_trace(&v7(2)).is_some());
    // A scripted failure does not.
    server.script("/traces/batch", [Reply::status(500)]);
    send_json(
        &server,
        "POST",
        "/v1/private/traces/batch",
        &json!({"traces": [trace(3, json!({}))]}),
    );
    assert!(server.stored_trace(&v7(3)).is_none());
    server.assert_valid();
}

#[test]
fn query_parameters_are_checked_against_the_spec() {
    let server = FakeOpik::start();
    send_json(
        &server,
        "POST",
        "/v1/private/traces/batch",
        &json!({"traces": [trace(1, json!({}))]}),
    );
    get(
        &server,
        "GET",
        &format!("/v1/private/traces?project_name={P}&page=two&colour=red&truncate=yes"),
    );
    let problems = server.problems();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("query parameter page: \"two\" is not an integer")),
        "{problems:?}"
    );
    assert!(problems.iter().any(|p| p.contains("query parameter colour: getTracesByProject has no such parameter")), "{problems:?}");
    assert!(
        problems
            .iter()
            .any(|p| p.contains("query parameter truncate: \"yes\" is not true or false")),
        "{problems:?}"
    );
}
