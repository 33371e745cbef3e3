//! MIME detection and file extensions, ported from the Python SDK's
//! `opik/api_objects/attachment/decoder_helpers.py` (`detect_mime_type`,
//! `get_file_extension`).
//!
//! Python does not use a detection library: it checks eight signatures, in a
//! fixed order, and extracts a string only when one matches (anything else is
//! `application/octet-stream`, which it skips). A general detector such as
//! the `infer` crate knows hundreds of formats and would extract strings that
//! Python leaves in place (and disagree on JPEGs without their end marker), so
//! we port Python's rules instead. The rules need only the first 1024 decoded
//! bytes, the last two and the total length, which lets the caller decide
//! before decoding a whole payload.

/// How many leading decoded bytes [`detect`] looks at.
pub(super) const HEAD_LEN: usize = 1024;

/// What [`detect`] reads of the decoded payload.
pub(super) struct Sample<'a> {
    /// The first `min(len, HEAD_LEN)` bytes (more are ignored).
    pub head: &'a [u8],
    /// The last two bytes (`None` if the payload is shorter).
    pub tail: Option<[u8; 2]>,
    pub len: usize,
}

/// Python's `detect_mime_type`, minus the types it never extracts (`None` where
/// Python returns `application/octet-stream`), plus audio: Python leaves a WAV,
/// MP3, Ogg or FLAC clip inline in the span, where it is megabytes of text
/// nobody reads; Opik plays them as attachments, so we extract them too.
pub(super) fn detect(sample: &Sample<'_>) -> Option<&'static str> {
    let data = &sample.head[..sample.head.len().min(HEAD_LEN)];
    if sample.len < 4 {
        return None;
    }
    if let Some(image) = image_from_header(data) {
        // Python only calls a payload JPEG when it ends with the FFD9 marker.
        if image != "image/jpeg" || sample.tail == Some([0xFF, 0xD9]) {
            return Some(image);
        }
    }
    if data.starts_with(b"%PDF") {
        return Some("application/pdf");
    }
    if contains_svg_tag(data) {
        return Some("image/svg+xml");
    }
    if sample.len >= 12 && data.get(4..8) == Some(b"ftyp") {
        return Some("video/mp4");
    }
    if looks_like_json(&data[..data.len().min(100)]) {
        return Some("application/json");
    }
    audio(data)
}

/// The audio types Opik's UI plays, by their signatures.
fn audio(data: &[u8]) -> Option<&'static str> {
    if data.get(..4) == Some(b"RIFF") && data.get(8..12) == Some(b"WAVE") {
        return Some("audio/wav");
    }
    if data.starts_with(b"ID3") || matches!(data, [0xFF, 0xFB | 0xF3 | 0xF2, ..]) {
        return Some("audio/mpeg");
    }
    if data.starts_with(b"OggS") {
        return Some("audio/ogg");
    }
    if data.starts_with(b"fLaC") {
        return Some("audio/flac");
    }
    None
}

/// `detect_image_mime_type_from_header`.
fn image_from_header(data: &[u8]) -> Option<&'static str> {
    const SIGNATURES: [(&[u8], &str); 4] = [
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"\xff\xd8\xff", "image/jpeg"),
        (b"GIF87a", "image/gif"),
        (b"GIF89a", "image/gif"),
    ];
    for (prefix, mime) in SIGNATURES {
        if data.starts_with(prefix) {
            return Some(mime);
        }
    }
    (data.get(..4) == Some(b"RIFF") && data.get(8..12) == Some(b"WEBP")).then_some("image/webp")
}

/// `"<svg" in data[:1024].decode("utf-8", errors="ignore").lower()`: invalid
/// UTF-8 is dropped (so `<s\xffvg` matches, as in Python) and only ASCII
/// letters can lower-case to `s`, `v`, `g`, so an ASCII-insensitive search on
/// the valid pieces is exact.
fn contains_svg_tag(data: &[u8]) -> bool {
    let mut window = [0u8; 4];
    let mut filled = 0;
    for chunk in data.utf8_chunks() {
        for &b in chunk.valid().as_bytes() {
            window.rotate_left(1);
            window[3] = b.to_ascii_lowercase();
            filled += 1;
            if filled >= 4 && &window == b"<svg" {
                return true;
            }
        }
    }
    false
}

/// `data[:100].decode("utf-8", errors="strict").strip()` starts with `{` or
/// `[` (Python's `strip` also removes U+001C..U+001F).
fn looks_like_json(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    let text =
        text.trim_start_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c));
    text.starts_with('{') || text.starts_with('[')
}

/// `get_file_extension` for the types [`detect`] returns: Python asks
/// `mimetypes.guess_extension`, which gives these for them.
pub(super) fn extension(mime: &str) -> &'static str {
    match mime {
        "image/png" => "png",
        "image/jpeg" => "jpg",
        "image/gif" => "gif",
        "image/webp" => "webp",
        "application/pdf" => "pdf",
        "image/svg+xml" => "svg",
        "video/mp4" => "mp4",
        "application/json" => "json",
        "audio/wav" => "wav",
        "audio/mpeg" => "mp3",
        "audio/ogg" => "ogg",
        "audio/flac" => "flac",
        _ => "bin",
    }
}
