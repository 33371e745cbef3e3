//! Rendering a trace and its spans as a tree of lines, with types, models, durations, tokens,
//! tags, threads and errors.

use super::view::{describe_attachment, parent_of, str_field};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::time::Duration;

/// Renders one trace as a tree: the trace line, then its spans nested by `parent_span_id`.
/// When the trace has a single root span of the same name (what `#[track]` records), the root
/// span is folded into the trace line rather than repeated under it.
pub fn render_trace(trace: Option<&Value>, spans: &[Value]) -> String {
    let mut out = String::new();
    let roots: Vec<&Value> = spans.iter().filter(|s| parent_of(s).is_none()).collect();
    let Some(trace) = trace else {
        let trace_id = spans
            .first()
            .and_then(|s| str_field(s, "trace_id"))
            .unwrap_or("?");
        let _ = writeln!(out, "Trace {trace_id} (trace record not received)");
        render_forest(&mut out, spans, None);
        return out;
    };
    let folded = match roots.as_slice() {
        [root] if root.get("name") == trace.get("name") => Some(*root),
        _ => None,
    };
    let _ = write!(out, "Trace: {}", str_field(trace, "name").unwrap_or("?"));
    // The trace line shows the root span's type, model and usage, if it had them.
    out.push_str(&describe(folded.unwrap_or(trace), trace));
    if let Some(thread) = str_field(trace, "thread_id") {
        let _ = write!(out, " (thread {thread})");
    }
    push_tags(&mut out, trace);
    push_error(&mut out, trace);
    out.push('\n');
    push_attachments(&mut out, "  ", trace);
    if let Some(root) = folded {
        push_attachments(&mut out, "  ", root);
    }
    render_forest(&mut out, spans, folded.and_then(|r| str_field(r, "id")));
    if trace.get("end_time").is_none() {
        out.push_str("  (the trace had not ended when the program stopped)\n");
    }
    out
}

/// Renders the spans under `root` (or every parentless span, and spans whose parent is
/// missing, when `root` is `None`).
pub(super) fn render_forest(out: &mut String, spans: &[Value], root: Option<&str>) {
    let ids: HashSet<&str> = spans.iter().filter_map(|s| str_field(s, "id")).collect();
    let mut children: HashMap<Option<&str>, Vec<&Value>> = HashMap::new();
    for s in spans {
        let id = str_field(s, "id");
        if root.is_some() && id == root {
            continue;
        }
        let parent = match parent_of(s) {
            Some(p) if ids.contains(p) => Some(p),
            // A span whose parent never arrived is shown at the top rather than hidden.
            _ => None,
        };
        let parent = if root.is_some() && parent.is_none() {
            root
        } else {
            parent
        };
        children.entry(parent).or_default().push(s);
    }
    for list in children.values_mut() {
        list.sort_by(|a, b| {
            (str_field(a, "start_time"), str_field(a, "id"))
                .cmp(&(str_field(b, "start_time"), str_field(b, "id")))
        });
    }
    render_children(out, &children, root, "  ", 0);
}

fn render_children(
    out: &mut String,
    children: &HashMap<Option<&str>, Vec<&Value>>,
    parent: Option<&str>,
    prefix: &str,
    depth: usize,
) {
    // Deeper than any real program nests; stops a malformed parent cycle from recursing forever.
    if depth > 64 {
        return;
    }
    let Some(list) = children.get(&parent) else {
        return;
    };
    for (i, span) in list.iter().enumerate() {
        let last = i + 1 == list.len();
        let _ = write!(
            out,
            "{prefix}{}{}",
            if last { "└─ " } else { "├─ " },
            str_field(span, "name").unwrap_or("?")
        );
        out.push_str(&describe(span, span));
        push_tags(out, span);
        push_error(out, span);
        out.push('\n');
        let deeper = format!("{prefix}{}", if last { "    " } else { "│   " });
        push_attachments(out, &deeper, span);
        let id = str_field(span, "id");
        if id.is_some() && id != parent {
            render_children(out, children, id, &deeper, depth + 1);
        }
    }
}

/// ` [llm gpt-4o-mini 1.2s ttft 180ms 512 tok]`: type (unless general), model, duration, time
/// to the first item of a stream, tokens.
fn describe(span: &Value, timed: &Value) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(t) = str_field(span, "type").filter(|t| *t != "general") {
        parts.push(t.to_owned());
    }
    if let Some(m) = str_field(span, "model") {
        parts.push(m.to_owned());
    }
    if let Some(d) = duration(timed) {
        parts.push(format_duration(d));
    }
    if let Some(ms) = span.get("ttft").and_then(Value::as_f64) {
        if ms.is_finite() && ms >= 0.0 {
            parts.push(format!(
                "ttft {}",
                format_duration(Duration::from_secs_f64(ms / 1000.0))
            ));
        }
    }
    if let Some(tokens) = span.get("usage").and_then(total_tokens) {
        parts.push(format!("{tokens} tok"));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" [{}]", parts.join(" "))
    }
}

fn total_tokens(usage: &Value) -> Option<i64> {
    let get = |k: &str| usage.get(k).and_then(Value::as_i64);
    get("total_tokens").or_else(|| match (get("prompt_tokens"), get("completion_tokens")) {
        (None, None) => None,
        (p, c) => Some(p.unwrap_or(0) + c.unwrap_or(0)),
    })
}

fn duration(v: &Value) -> Option<Duration> {
    let start = humantime::parse_rfc3339(str_field(v, "start_time")?).ok()?;
    let end = humantime::parse_rfc3339(str_field(v, "end_time")?).ok()?;
    end.duration_since(start).ok()
}

/// `850ms`, `1.2s`, `2m03s`.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format!("{}m{:02}s", ms / 60_000, (ms / 1000) % 60)
    }
}

fn push_tags(out: &mut String, v: &Value) {
    if let Some(tags) = v.get("tags").and_then(Value::as_array) {
        let tags: Vec<&str> = tags.iter().filter_map(Value::as_str).collect();
        if !tags.is_empty() {
            let _ = write!(out, " {}", tags.join(", "));
        }
    }
}

/// One line per attachment of `v` (the view puts them under `attachments`), at `prefix`.
fn push_attachments(out: &mut String, prefix: &str, v: &Value) {
    for about in v
        .get("attachments")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let _ = writeln!(out, "{prefix}+ attachment {}", describe_attachment(about));
    }
}

fn push_error(out: &mut String, v: &Value) {
    if let Some(e) = v.get("error_info") {
        let ty = str_field(e, "exception_type").unwrap_or("error");
        match str_field(e, "message") {
            Some(m) => {
                let _ = write!(out, " !! {ty}: {m}");
            }
            None => {
                let _ = write!(out, " !! {ty}");
            }
        }
    }
}
