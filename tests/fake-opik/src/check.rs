//! Everything the fake checks about a request: the path resolves to an operation of the spec,
//! the query and path parameters against the spec's, the body's encoding and media type, the
//! body against the operation's schema, and what the schema cannot say (UUID v7 ids, RFC 3339
//! timestamps with a zone, no `null`s, a `content-encoding` that tells the truth about the body:
//! gzip, or plain JSON). And what it checks about its own answers: each success
//! body (or each line of a stream) against the spec's response schema, error bodies against
//! the backend's two error shapes.

use serde_json::Value;

use crate::record::percent_decode;
use crate::spec::{Match, WriteOp, SPEC};

/// Fields holding ids of traces, spans and other entities: UUID version 7 strings.
pub(crate) const ID_FIELDS: &[&str] = &["id", "trace_id", "parent_span_id", "entity_id"];
/// Fields holding lists of such ids.
pub(crate) const ID_LIST_FIELDS: &[&str] = &["ids"];
/// Timestamps: RFC 3339 with a zone.
pub(crate) const TIME_FIELDS: &[&str] = &["start_time", "end_time", "last_updated_at"];
/// User data: free-form JSON, not checked (and `null` is allowed inside). `data` is a dataset
/// item's content, `config` an evaluator's; the others are traces' and spans' (and their
/// copies in threads and experiment items).
pub(crate) const USER_DATA_FIELDS: &[&str] = &[
    "input",
    "output",
    "metadata",
    "data",
    "config",
    "trace_metadata",
    "first_message",
    "last_message",
];

/// What the server decoded from a request, as [`check`] needs it.
pub(crate) struct Incoming<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// The raw query string, without `?`.
    pub query: &'a str,
    pub content_type: Option<&'a str>,
    pub content_encoding: Option<&'a str>,
    pub wire_size: usize,
    /// Whether the body as sent starts with gzip's magic bytes.
    pub raw_starts_gzip: bool,
    pub body: Option<&'a Value>,
    pub decode_error: Option<&'a str>,
}

/// The result of checking one request: its problems (each "WHERE: WHAT"), and the matched
/// operation (operationId, default status), if any.
pub(crate) struct Checked {
    pub problems: Vec<String>,
    pub operation_id: Option<String>,
    pub template: Option<String>,
    pub default_status: Option<u16>,
    /// The path parameters of the matched template.
    pub params: Vec<(String, String)>,
}

pub(crate) fn check(req: &Incoming<'_>) -> Checked {
    let mut out = Checked {
        problems: Vec::new(),
        operation_id: None,
        template: None,
        default_status: None,
        params: Vec::new(),
    };
    let p = &mut out.problems;
    let (op, params) = match SPEC.resolve(req.method, req.path) {
        Match::OutsideBase => {
            p.push("path: not under the `/api` base path".into());
            return out;
        }
        Match::UnknownPath => {
            p.push("path: no operation of the Opik spec has this path".into());
            return out;
        }
        Match::WrongMethod { template, allowed } => {
            p.push(format!(
                "path: the spec has no {} on {template} (it has {})",
                req.method,
                allowed.join(", ")
            ));
            return out;
        }
        Match::Found { op, params } => (op, params),
    };
    out.template = Some(op.template.clone());
    out.default_status = Some(op.status);
    out.params = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    for (name, value) in &params {
        if *name == "id" {
            if let Err(e) = check_uuid_v7(value) {
                p.push(format!("path parameter {{id}}: {value:?} {e}"));
            }
        }
    }
    if let Some(write) = &op.write {
        check_parameters(write, &params, req.query, p);
    }
    let Some(write) = &op.write else {
        if req.wire_size > 0 {
            p.push(format!(
                "body: {} {} takes a body, but schema/opik-write-schemas.json keeps no schema for it \
                 (add it to WRITE_OPERATIONS in schema/trim.py and regenerate)",
                op.method, op.template
            ));
        }
        return out;
    };
    out.operation_id = Some(write.operation_id.clone());
    if !write.is_json() {
        return out; // raw bytes (attachment upload) or no body: nothing to check
    }
    let what = &write.operation_id;
    if req.wire_size == 0 {
        p.push(format!("body: empty; {what} takes a JSON body"));
        return out;
    }
    let media = req.content_type.map(|c| {
        c.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    });
    if media.as_deref() != Some("application/json") {
        p.push(format!(
            "header content-type: {:?}, want application/json",
            req.content_type.unwrap_or("(absent)")
        ));
    }
    if matches!(req.method, "POST" | "PUT" | "PATCH") {
        // Gzip, or plain JSON when the request says so (an SDK with compression off, or a body
        // too small to gain from it). A header that lies is caught either way: gzip that does
        // not gunzip below, gzip bytes under a plain header here.
        match req.content_encoding.map(|e| e.trim().to_ascii_lowercase()) {
            Some(e) if e == "gzip" => {}
            None => {
                if req.raw_starts_gzip {
                    p.push(
                        "header content-encoding: absent, but the body is gzip data (say \
                         content-encoding: gzip)"
                            .into(),
                    );
                }
            }
            Some(e) if e == "identity" => {
                if req.raw_starts_gzip {
                    p.push(
                        "header content-encoding: identity, but the body is gzip data (say \
                         content-encoding: gzip)"
                            .into(),
                    );
                }
            }
            Some(e) => p.push(format!(
                "header content-encoding: {e:?}, want gzip, or none for a plain JSON body"
            )),
        }
    }
    if let Some(e) = req.decode_error {
        p.push(format!("body: {e}"));
    }
    let Some(body) = req.body else {
        if req.decode_error.is_none() {
            p.push("body: not JSON".into());
        }
        return out;
    };
    match SPEC.validator(write) {
        Ok(v) => {
            for e in v.iter_errors(body) {
                let at = e.instance_path().to_string();
                let at = if at.is_empty() {
                    "<body>".to_string()
                } else {
                    at
                };
                p.push(format!("{at}: {}", shorten(&e.to_string(), 240)));
            }
        }
        Err(e) => p.push(format!("schema: {e}")),
    }
    extra_checks(body, &mut String::new(), p);
    out
}

/// The query parameters against the operation's: no unknown name, every required one present,
/// each value of the declared type (integer, number, boolean, uuid, date-time, enum, pattern).
/// Path parameters other than `{id}` (checked above as UUID v7) against their schemas.
fn check_parameters(op: &WriteOp, path: &[(&str, String)], query: &str, p: &mut Vec<String>) {
    let pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect();
    for (name, value) in &pairs {
        let Some(param) = op
            .parameters
            .iter()
            .find(|x| x.location == "query" && &x.name == name)
        else {
            p.push(format!(
                "query parameter {name}: {} has no such parameter (it has: {})",
                op.operation_id,
                op.parameters
                    .iter()
                    .filter(|x| x.location == "query")
                    .map(|x| x.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            continue;
        };
        check_param_value(param, &format!("query parameter {name}"), value, p);
    }
    for param in op.parameters.iter().filter(|x| x.location == "query") {
        if param.required && !pairs.iter().any(|(k, _)| k == &param.name) {
            p.push(format!(
                "query parameter {}: required by {}, absent",
                param.name, op.operation_id
            ));
        }
    }
    for (name, value) in path {
        if *name == "id" {
            continue;
        }
        if let Some(param) = op
            .parameters
            .iter()
            .find(|x| x.location == "path" && x.name == *name)
        {
            check_param_value(param, &format!("path parameter {{{name}}}"), value, p);
        }
    }
}

fn check_param_value(param: &crate::spec::Param, what: &str, raw: &str, p: &mut Vec<String>) {
    let value = match param.json_type() {
        "integer" => match raw.parse::<i64>() {
            Ok(n) => Value::from(n),
            Err(_) => {
                p.push(format!("{what}: {raw:?} is not an integer"));
                return;
            }
        },
        "number" => match raw.parse::<f64>() {
            Ok(n) => Value::from(n),
            Err(_) => {
                p.push(format!("{what}: {raw:?} is not a number"));
                return;
            }
        },
        "boolean" => match raw {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => {
                p.push(format!("{what}: {raw:?} is not true or false"));
                return;
            }
        },
        _ => Value::String(raw.to_string()),
    };
    match param.validator() {
        Ok(v) => {
            for e in v.iter_errors(&value) {
                p.push(format!("{what}: {}", shorten(&e.to_string(), 240)));
            }
        }
        Err(e) => p.push(format!("{what}: schema: {e}")),
    }
}

/// What the fake itself answers: a success body (`stream`: each line of an NDJSON stream)
/// against the operation's response schema, with no `null` outside user data (the backend
/// leaves absent fields out); an error body (4xx/5xx) in one of the backend's two shapes,
/// `{"code": int, "message": string}` (Jersey/Dropwizard) or `{"errors": [string]}` (Opik's own).
pub(crate) fn check_answer(
    op: Option<&WriteOp>,
    status: u16,
    lines: &[Value],
    stream: bool,
) -> Vec<String> {
    let mut out = Vec::new();
    if status >= 400 {
        for body in lines {
            if !is_error_body(body) {
                out.push(format!(
                    "response: a {status} body must be {{\"code\",\"message\"}} or {{\"errors\":[..]}}, got {}",
                    shorten(&body.to_string(), 200)
                ));
            }
        }
        return out;
    }
    let Some(op) = op else { return out };
    let Some(spec) = op.response.as_ref() else {
        if !lines.is_empty() {
            out.push(format!(
                "response: {} answers {status} with no body in the spec",
                op.operation_id
            ));
        }
        return out;
    };
    if status != spec.status {
        return out;
    }
    if spec.stream != stream && !lines.is_empty() {
        out.push(format!(
            "response: {} answers {} in the spec",
            op.operation_id,
            if spec.stream {
                "an NDJSON stream"
            } else {
                "one JSON body"
            }
        ));
    }
    let validator = match spec.validator() {
        None => return out,
        Some(Ok(v)) => v,
        Some(Err(e)) => {
            out.push(format!("response: schema: {e}"));
            return out;
        }
    };
    for (i, body) in lines.iter().enumerate() {
        if stream && is_error_body(body) {
            continue; // a stream may end with the error that stopped it
        }
        let at = if stream {
            format!("response line {i}")
        } else {
            "response".to_string()
        };
        for e in validator.iter_errors(body) {
            let ptr = e.instance_path().to_string();
            out.push(format!(
                "{at} {}: {}",
                if ptr.is_empty() { "<body>" } else { &ptr },
                shorten(&e.to_string(), 240)
            ));
        }
        let mut nulls = Vec::new();
        null_checks(body, &mut String::new(), &mut nulls);
        out.extend(nulls.into_iter().map(|n| format!("{at} {n}")));
    }
    out
}

fn is_error_body(v: &Value) -> bool {
    let Some(map) = v.as_object() else {
        return false;
    };
    let code_message = map.get("code").is_some_and(Value::is_i64)
        && map.get("message").is_some_and(Value::is_string)
        && map
            .keys()
            .all(|k| matches!(k.as_str(), "code" | "message" | "details"));
    let errors = map.len() == 1
        && map
            .get("errors")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().all(Value::is_string));
    code_message || errors
}

/// `null`s outside user data, in the fake's own answers.
fn null_checks(v: &Value, ptr: &mut String, out: &mut Vec<String>) {
    match v {
        Value::Null => out.push(format!(
            "{}: null (the backend leaves absent fields out)",
            at(ptr)
        )),
        Value::Object(map) => {
            for (k, val) in map {
                if USER_DATA_FIELDS.contains(&k.as_str()) {
                    continue;
                }
                let len = pointer_push(ptr, k);
                null_checks(val, ptr, out);
                ptr.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = pointer_push(ptr, &i.to_string());
                null_checks(item, ptr, out);
                ptr.truncate(len);
            }
        }
        _ => {}
    }
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max).collect();
        t.push('…');
        t
    }
}

fn pointer_push(ptr: &mut String, key: &str) -> usize {
    let len = ptr.len();
    ptr.push('/');
    ptr.push_str(&key.replace('~', "~0").replace('/', "~1"));
    len
}

fn at(ptr: &str) -> &str {
    if ptr.is_empty() {
        "<body>"
    } else {
        ptr
    }
}

/// What the schema cannot say. `ptr` is the JSON pointer of `v`.
pub(crate) fn extra_checks(v: &Value, ptr: &mut String, out: &mut Vec<String>) {
    match v {
        Value::Null => out.push(format!("{}: null (omit absent fields instead)", at(ptr))),
        Value::Object(map) => {
            for (k, val) in map {
                let len = pointer_push(ptr, k);
                if USER_DATA_FIELDS.contains(&k.as_str()) {
                    // free-form user data
                } else if let (true, Value::String(s)) = (ID_FIELDS.contains(&k.as_str()), val) {
                    if let Err(e) = check_uuid_v7(s) {
                        out.push(format!("{ptr}: {s:?} {e}"));
                    }
                } else if let (true, Value::String(s)) = (TIME_FIELDS.contains(&k.as_str()), val) {
                    if let Err(e) = check_rfc3339(s) {
                        out.push(format!("{ptr}: {s:?} {e}"));
                    }
                } else if let (true, Value::Array(items)) =
                    (ID_LIST_FIELDS.contains(&k.as_str()), val)
                {
                    for (i, item) in items.iter().enumerate() {
                        let len = pointer_push(ptr, &i.to_string());
                        match item {
                            Value::String(s) => {
                                if let Err(e) = check_uuid_v7(s) {
                                    out.push(format!("{ptr}: {s:?} {e}"));
                                }
                            }
                            other => extra_checks(other, ptr, out),
                        }
                        ptr.truncate(len);
                    }
                } else {
                    extra_checks(val, ptr, out);
                }
                ptr.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = pointer_push(ptr, &i.to_string());
                extra_checks(item, ptr, out);
                ptr.truncate(len);
            }
        }
        _ => {}
    }
}

/// A UUID in canonical form (lowercase, hyphenated), RFC 9562 variant, version 7.
pub(crate) fn check_uuid_v7(s: &str) -> Result<(), String> {
    let canonical = s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_digit() || ('a'..='f').contains(&c),
        });
    if !canonical {
        return Err("is not a UUID in canonical form (lowercase hex, 8-4-4-4-12)".into());
    }
    let u = uuid::Uuid::parse_str(s).map_err(|e| format!("is not a UUID: {e}"))?;
    if u.get_variant() != uuid::Variant::RFC4122 {
        return Err("is not an RFC 9562 UUID (wrong variant bits)".into());
    }
    match u.get_version_num() {
        7 => Ok(()),
        n => Err(format!("is not a version 7 UUID (version {n})")),
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)`, RFC 3339 `date-time` with an upper-case
/// `T` and `Z` (what Java's `Instant`/`OffsetDateTime` parsers in the Opik backend accept).
pub(crate) fn check_rfc3339(s: &str) -> Result<(), String> {
    let b = s.as_bytes();
    let bad = || {
        Err(
            "is not an RFC 3339 timestamp with a zone (YYYY-MM-DDTHH:MM:SS[.f](Z|±HH:MM))"
                .to_string(),
        )
    };
    let num = |from: usize, len: usize| -> Option<u32> {
        let part = b.get(from..from + len)?;
        if part.iter().all(u8::is_ascii_digit) {
            std::str::from_utf8(part).ok()?.parse().ok()
        } else {
            None
        }
    };
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return bad();
    }
    let (Some(year), Some(month), Some(day), Some(hour), Some(min), Some(sec)) = (
        num(0, 4),
        num(5, 2),
        num(8, 2),
        num(11, 2),
        num(14, 2),
        num(17, 2),
    ) else {
        return bad();
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return bad(),
    };
    if day == 0 || day > days || hour > 23 || min > 59 || sec > 60 {
        return bad();
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return bad();
        }
    }
    match &b[i..] {
        b"Z" => Ok(()),
        [b'+' | b'-', ..] if b.len() - i == 6 && b[i + 3] == b':' => {
            match (num(i + 1, 2), num(i + 4, 2)) {
                (Some(h), Some(m)) if h <= 23 && m <= 59 => Ok(()),
                _ => bad(),
            }
        }
        [] => Err("has no time zone".into()),
        _ => bad(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn uuids() {
        assert!(check_uuid_v7("01890a5d-ac96-774b-bcce-b302099a8057").is_ok());
        assert!(check_uuid_v7("f47ac10b-58cc-4372-a567-0e02b2c3d479")
            .unwrap_err()
            .contains("version 4"));
        assert!(check_uuid_v7("01890A5D-AC96-774B-BCCE-B302099A8057").is_err());
        assert!(check_uuid_v7("01890a5dac96774bbcceb302099a8057").is_err());
        assert!(check_uuid_v7("01890a5d-ac96-774b-0cce-b302099a8057")
            .unwrap_err()
            .contains("variant"));
    }

    #[test]
    fn timestamps() {
        for ok in [
            "2024-05-01T12:30:45Z",
            "2024-05-01T12:30:45.123456Z",
            "2024-02-29T00:00:00+05:30",
        ] {
            assert!(check_rfc3339(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            check_rfc3339("2024-05-01T12:30:45.123").unwrap_err(),
            "has no time zone"
        );
        for bad in [
            "2024-05-01 12:30:45Z",
            "2023-02-29T00:00:00Z",
            "2024-05-01T12:30:45.Z",
            "2024-05-01T12:30:45+0530",
            "2024-05-01t12:30:45z",
            "1714566645",
        ] {
            assert!(check_rfc3339(bad).is_err(), "{bad}");
        }
    }

    fn op(method: &str, path: &str) -> &'static WriteOp {
        match SPEC.resolve(method, path) {
            Match::Found { op, .. } => op.write.as_ref().unwrap(),
            _ => panic!("{method} {path}"),
        }
    }

    #[test]
    fn answers_are_checked_against_the_response_schemas() {
        let get = op(
            "GET",
            "/api/v1/private/traces/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
        );
        let good = json!({"id": "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "start_time": "2024-05-01T12:00:00Z",
            "input": {"x": null}, "span_count": 0});
        assert!(check_answer(Some(get), 200, &[good], false).is_empty());
        let bad =
            json!({"start_time": "noon", "span_count": "none", "project_name": "p", "name": null});
        let problems = check_answer(Some(get), 200, &[bad], false);
        assert_eq!(problems.len(), 5, "{problems:?}");
        assert!(
            problems.iter().any(|p| p.contains("project_name")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.contains("/name: null")),
            "{problems:?}"
        );
        let search = op("POST", "/api/v1/private/traces/search");
        let problems = check_answer(Some(search), 200, &[json!({"id": 1})], true);
        assert!(
            problems[0].starts_with("response line 0 /id"),
            "{problems:?}"
        );
        assert!(check_answer(
            Some(get),
            404,
            &[json!({"code": 404, "message": "x"})],
            false
        )
        .is_empty());
        assert!(check_answer(Some(get), 404, &[json!({"errors": ["x"]})], false).is_empty());
        assert_eq!(
            check_answer(Some(get), 404, &[json!({"error": "x"})], false).len(),
            1
        );
    }

    #[test]
    fn nulls_outside_user_data() {
        let body = json!({"traces": [{"name": null, "input": {"a": null}, "metadata": null,
            "tags": [null], "id": "f47ac10b-58cc-4372-a567-0e02b2c3d479"}]});
        let mut out = Vec::new();
        extra_checks(&body, &mut String::new(), &mut out);
        out.sort(); // map order depends on serde_json's `preserve_order`
        assert_eq!(out.len(), 3, "{out:?}");
        assert!(out[0].starts_with("/traces/0/id: "), "{out:?}");
        assert!(out[1].starts_with("/traces/0/name: null"), "{out:?}");
        assert!(out[2].starts_with("/traces/0/tags/0: null"), "{out:?}");
    }
}
