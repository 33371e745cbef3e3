//! NDJSON answers (`POST .../stream`): one JSON object a line (`\r\n` from the backend, `\n`
//! from others), and an error that happens after the stream started as a last line
//! `{"code": N, "message": "..."}` under status 200.

use super::error::{RestError, RestErrorKind};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The lines of one page as `T`s, in the order sent. An error line, or a line that is not a
/// `T`, is an error naming `call`.
pub(super) fn lines<T: DeserializeOwned>(call: &str, body: &[u8]) -> Result<Vec<T>, RestError> {
    let mut out = Vec::new();
    for (n, line) in body.split(|b| *b == b'\n').enumerate() {
        let line = line.trim_ascii();
        if line.is_empty() {
            continue;
        }
        let value: Value = serde_json::from_slice(line).map_err(|e| decode(call, n, e))?;
        if let Some((code, message)) = error_line(&value) {
            return Err(RestError::new(
                call,
                RestErrorKind::Status,
                Some(code),
                format!("the stream ended with an error: {message}"),
            ));
        }
        out.push(serde_json::from_value(value).map_err(|e| decode(call, n, e))?);
    }
    Ok(out)
}

fn decode(call: &str, n: usize, e: serde_json::Error) -> RestError {
    RestError::new(
        call,
        RestErrorKind::Decode,
        None,
        format!(
            "line {} of the stream is not what the API describes: {e}",
            n + 1
        ),
    )
}

/// `{"code": 404, "message": "..."}` and nothing else: the backend's error line.
fn error_line(value: &Value) -> Option<(u16, &str)> {
    let o = value.as_object()?;
    let code = o.get("code")?.as_u64()?;
    let message = o.get("message").and_then(Value::as_str).unwrap_or("");
    (o.keys()
        .all(|k| k == "code" || k == "message" || k == "details"))
    .then(|| (u16::try_from(code).unwrap_or(500), message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_crlf_lines_and_error_lines() {
        let ok: Vec<Value> = lines("POST /s", b"{\"id\":1}\r\n{\"id\":2}\r\n").unwrap();
        assert_eq!(ok.len(), 2);
        let err = lines::<Value>(
            "POST /s",
            b"{\"id\":1}\r\n{\"code\":404,\"message\":\"Dataset not found\"}\r\n",
        )
        .unwrap_err();
        assert_eq!(err.http_status(), Some(404));
        assert!(err.to_string().contains("Dataset not found"), "{err}");
        let bad = lines::<Value>("POST /s", b"{\"id\":1}\nnot json\n").unwrap_err();
        assert!(bad.to_string().contains("line 2"), "{bad}");
    }
}
