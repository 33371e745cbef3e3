//! Moving large base64 payloads out of a span's / trace's JSON into
//! attachments, as the Python SDK's `AttachmentsExtractionProcessor` does
//! (opik 2.2.122, `opik/api_objects/attachment/attachments_extractor.py`).
//!
//! Python, for each of `input`, `output`, `metadata`:
//! - looks at every string *value* (never a key) of at least
//!   `min_base64_embedded_attachment_size` characters (default 256,000);
//! - finds, anywhere inside it, runs of at least `size / 4` base64 groups
//!   (optionally with padding), each optionally preceded by a
//!   `data:<anything>;base64,` prefix;
//! - decodes each run and detects its type from magic bytes (PNG, JPEG, GIF,
//!   WebP, PDF, SVG, MP4, JSON; the data URI's declared type is ignored);
//!   runs of any other type are left alone;
//! - replaces the run, prefix included, with `[<file name>]`, where the file
//!   name is `<context>-attachment-<random 1..=99999999>-<unix ms>-sdk.<ext>`.
//!
//! Here the payload is JSON text. [`extract`] scans it once (see `scan.rs`),
//! never parses it into a tree, and returns it borrowed, uncopied, when
//! nothing is extracted. Text outside the replaced runs is copied byte for
//! byte, escapes included, so the result is valid UTF-8 and valid JSON
//! whenever the input is.
//!
//! Two deliberate differences:
//! - Python extracts from a payload that is a bare string but leaves the string
//!   itself unchanged (it only rewrites dicts and lists in place), so the data
//!   is uploaded and still sent inline. We rewrite it like any other string.
//! - Audio (WAV, MP3, Ogg, FLAC) is extracted too (see `mime::detect`).
//!
//! What becomes of the attachments (records queued after their span or trace,
//! charged to the byte budget) is in `records`.

mod mime;
mod records;
mod scan;

#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::GeneralPurposeConfig;
use base64::engine::{DecodePaddingMode, Simd};
use base64::Engine as _;

use self::scan::{Escaped, Match, Matches, Plain, Units};

/// The Python SDK's `min_base64_embedded_attachment_size`.
pub const DEFAULT_MIN_SIZE: usize = 256_000;

/// Which part of the span or trace the JSON is; it starts the file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    Input,
    Output,
    Metadata,
}

impl Context {
    pub fn as_str(self) -> &'static str {
        match self {
            Context::Input => "input",
            Context::Output => "output",
            Context::Metadata => "metadata",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Strings shorter than this many characters are left alone, and a base64
    /// run needs at least `min_size / 4` groups of 4 characters.
    pub min_size: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            min_size: DEFAULT_MIN_SIZE,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub file_name: String,
    /// One of the eight types Python extracts (see the module docs).
    pub mime_type: &'static str,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extraction<'a> {
    /// The JSON with each extracted run replaced by `[<file name>]`;
    /// borrowed when nothing was extracted.
    pub json: Cow<'a, str>,
    /// In document order.
    pub attachments: Vec<Attachment>,
}

/// Extracts attachments from `json` with Python's file names.
pub fn extract<'a>(json: &'a str, context: Context, options: &Options) -> Extraction<'a> {
    extract_with(json, context, options, &mut |context, extension| {
        file_name(context, extension)
    })
}

/// Like [`extract`], naming each attachment with `name(context, extension)`
/// (`extension` without its dot). The name is JSON-escaped where it is
/// written into the text.
pub fn extract_with<'a>(
    json: &'a str,
    context: Context,
    options: &Options,
    name: &mut dyn FnMut(Context, &str) -> String,
) -> Extraction<'a> {
    let doc = json.as_bytes();
    let mut attachments = Vec::new();
    // (start, end) in `doc` of each replaced run, parallel to `attachments`.
    let mut replaced: Vec<(usize, usize)> = Vec::new();
    for literal in scan::long_string_values(doc, options.min_size) {
        let content = &doc[literal.start..literal.end];
        let decoded = if literal.has_escapes {
            extract_literal(&Escaped(content), true, options.min_size)
        } else {
            extract_literal(&Plain(content), false, options.min_size)
        };
        for (m, mime_type, bytes) in decoded {
            let file_name = name(context, mime::extension(mime_type));
            attachments.push(Attachment {
                file_name,
                mime_type,
                bytes,
            });
            replaced.push((literal.start + m.start, literal.start + m.end));
        }
    }
    if attachments.is_empty() {
        return Extraction {
            json: Cow::Borrowed(json),
            attachments,
        };
    }
    let placeholders: Vec<String> = attachments
        .iter()
        .map(|a| placeholder(&a.file_name))
        .collect();
    let removed: usize = replaced.iter().map(|(s, e)| e - s).sum();
    let added: usize = placeholders.iter().map(String::len).sum();
    let mut out = String::with_capacity(json.len() - removed + added);
    let mut last = 0;
    for ((start, end), placeholder) in replaced.iter().zip(&placeholders) {
        // Runs start and end at ASCII bytes or at an escape's backslash, so
        // these are character boundaries.
        out.push_str(&json[last..*start]);
        out.push_str(placeholder);
        last = *end;
    }
    out.push_str(&json[last..]);
    Extraction {
        json: Cow::Owned(out),
        attachments,
    }
}

/// The matches of one string literal that Python would extract, decoded.
fn extract_literal<U: Units>(
    units: &U,
    has_escapes: bool,
    min_size: usize,
) -> Vec<(Match, &'static str, Vec<u8>)> {
    let mut out = Vec::new();
    // Python skips strings under `min_size` characters. A match of that many
    // base64 characters settles it without counting (the usual case, saving
    // a pass over the text); otherwise count once, at the first match.
    let mut long_enough = None;
    for m in Matches::new(units, min_size / 4) {
        let ok = *long_enough.get_or_insert_with(|| {
            m.b64_units >= min_size || scan::char_count(units, has_escapes) >= min_size
        });
        if !ok {
            break;
        }
        if let Some((mime, bytes)) = decode(units, &m) {
            out.push((m, mime, bytes));
        }
    }
    out
}

/// Python's `create_attachment_filename`.
pub fn file_name(context: Context, extension: &str) -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let random = fastrand::u32(1..=99_999_999);
    format!(
        "{}-attachment-{random}-{millis}-sdk.{extension}",
        context.as_str()
    )
}

/// The text that replaces an extracted run, as it appears inside the JSON
/// string: `[<file name>]`, JSON-escaped.
pub fn placeholder(file_name: &str) -> String {
    let mut out = String::with_capacity(file_name.len() + 2);
    out.push('[');
    for c in file_name.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push(']');
    out
}

/// Standard alphabet, decoding as Python's `b64decode(validate=True)`: bits
/// after the last full byte need not be zero. The padding is already checked
/// by the scanner.
fn engine() -> &'static Simd {
    static ENGINE: OnceLock<Simd> = OnceLock::new();
    ENGINE.get_or_init(|| {
        Simd::standard(
            GeneralPurposeConfig::new()
                .with_decode_allow_trailing_bits(true)
                .with_decode_padding_mode(DecodePaddingMode::Indifferent),
        )
    })
}

/// Units of one base64 group run, decoded in bounded chunks; `units` is the
/// number of base64 characters (padding included).
fn decode_units<U: Units>(units: &U, start: usize, count: usize, out: &mut Vec<u8>) -> Option<()> {
    let bytes = units.bytes();
    // Escape-free runs (the usual case) decode straight from the text.
    let plain_end = start + count;
    if plain_end <= bytes.len() && memchr::memchr(b'\\', &bytes[start..plain_end]).is_none() {
        return engine().decode_vec(&bytes[start..plain_end], out).ok();
    }
    // Otherwise unescape through a fixed buffer, a multiple of 4 units long.
    let mut buf = [0u8; 16 * 1024];
    let (mut i, mut left) = (start, count);
    while left > 0 {
        let take = left.min(buf.len());
        i = units.copy(i, &mut buf[..take]);
        engine().decode_vec(&buf[..take], out).ok()?;
        left -= take;
    }
    Some(())
}

/// Decodes a match if Python would extract it: looks at its head and tail
/// first, so a long run of another type is never decoded whole.
fn decode<U: Units>(units: &U, m: &Match) -> Option<(&'static str, Vec<u8>)> {
    let groups = m.b64_units / 4;
    // Decoded length: 3 bytes a group, less one per `=` of the last group.
    let mut i = units.skip(m.b64_start, m.b64_units - 4);
    let mut pads = 0;
    for _ in 0..4 {
        let (u, next) = units.unit(i);
        pads += usize::from(u == b'=');
        i = next;
    }
    let len = groups * 3 - pads;
    // The first HEAD_LEN bytes need ceil(HEAD_LEN / 3) groups.
    let head_units = (mime::HEAD_LEN.div_ceil(3) * 4).min(m.b64_units);
    let mut head = Vec::with_capacity(mime::HEAD_LEN + 3);
    decode_units(units, m.b64_start, head_units, &mut head)?;
    // The last two bytes come from the last two groups.
    let tail = if groups >= 2 {
        let mut t = Vec::with_capacity(6);
        let from = units.skip(m.b64_start, m.b64_units - 8);
        decode_units(units, from, 8, &mut t)?;
        let n = t.len();
        Some([t[n - 2], t[n - 1]])
    } else {
        (head.len() >= 2).then(|| [head[head.len() - 2], head[head.len() - 1]])
    };
    let mime_type = mime::detect(&mime::Sample {
        head: &head,
        tail,
        len,
    })?;
    // `decode_vec` reserves 3 bytes a group before trimming the padding;
    // asking for less would make it reallocate, briefly doubling the memory.
    let mut bytes = Vec::with_capacity(groups * 3);
    decode_units(units, m.b64_start, m.b64_units, &mut bytes)?;
    Some((mime_type, bytes))
}
