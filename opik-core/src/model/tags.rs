//! Tags, and Opik's rules for them, written once.
//!
//! The rules are `const fn`s so that one definition serves three callers: `#[track(tags = [..])]`
//! and `opik::tags!` check every tag at compile time (the generated code evaluates
//! [`check_tag_at`] / [`check_tag`] in a `const`, so a broken rule is a compile error naming the
//! tag, at the tag), and tags added at run time (`update_current_span(|s| s.tag(..))`) are checked
//! by [`tag_problem`] before they are kept.

use serde::Serialize;

/// At most this many tags on one span or trace.
pub const MAX_TAGS: usize = 50;
/// At most this many characters in one tag.
pub const MAX_TAG_CHARS: usize = 100;

/// Tags of a trace or span. Tags written in `#[track(tags = [...])]` are `'static` and cost no
/// allocation per call; tags added at run time make the list owned.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Tags {
    /// No tags.
    #[default]
    None,
    /// Tags known at compile time.
    Static(&'static [&'static str]),
    /// Tags built or extended at run time.
    Owned(Vec<String>),
}

impl Tags {
    /// Tags written in the source (`Tags::None` for none).
    pub const fn from_static(tags: &'static [&'static str]) -> Tags {
        if tags.is_empty() {
            Tags::None
        } else {
            Tags::Static(tags)
        }
    }

    /// Whether there are no tags.
    pub fn is_empty(&self) -> bool {
        match self {
            Tags::None => true,
            Tags::Static(t) => t.is_empty(),
            Tags::Owned(t) => t.is_empty(),
        }
    }

    /// The tags in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let (a, b): (&[&'static str], &[String]) = match self {
            Tags::None => (&[], &[]),
            Tags::Static(t) => (t, &[]),
            Tags::Owned(t) => (&[], t),
        };
        a.iter().copied().chain(b.iter().map(String::as_str))
    }

    /// Appends tags, keeping the list free of duplicates (the spec says `uniqueItems`).
    pub fn extend<I: IntoIterator<Item = S>, S: Into<String>>(&mut self, more: I) {
        let mut owned: Vec<String> = self.iter().map(str::to_owned).collect();
        for tag in more {
            let tag = tag.into();
            if !owned.contains(&tag) {
                owned.push(tag);
            }
        }
        *self = Tags::Owned(owned);
    }
}

impl Serialize for Tags {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

/// Returns `tag` when it follows Opik's rules; otherwise panics, which in a `const` is a
/// compile error naming the tag (what `opik::tags!` expands to).
pub const fn check_tag(tag: &'static str) -> &'static str {
    if let Some(problem) = tag_problem(tag) {
        fail(tag, problem, "")
    }
    tag
}

/// Checks `tags[i]` of a `#[track(tags = [...])]` list: the rules for one tag, that no tag before
/// it is the same, and (at the first tag past the limit) the number of tags. The expansion makes
/// one such check per tag, spanned at it, so the error points at the offending tag.
pub const fn check_tag_at(tags: &[&str], i: usize) {
    if i == MAX_TAGS {
        too_many(tags.len())
    }
    if i > MAX_TAGS {
        return;
    }
    let tag = tags[i];
    if let Some(problem) = tag_problem(tag) {
        fail(tag, problem, "")
    }
    let mut j = 0;
    while j < i {
        if eq(tags[j], tag) {
            fail(tag, " is given twice", " in `tags`")
        }
        j += 1;
    }
}

/// What is wrong with `tag` under Opik's rules (not empty, no leading or trailing whitespace,
/// at most [`MAX_TAG_CHARS`] characters), as the end of a sentence that starts with
/// `tag "<tag>"`; `None` when it is a good tag.
pub const fn tag_problem(tag: &str) -> Option<&'static str> {
    let bytes = tag.as_bytes();
    if bytes.is_empty() {
        return Some(": a tag must not be empty");
    }
    let mut chars = 0;
    let mut k = 0;
    while k < bytes.len() {
        // Count the bytes that start a character (not UTF-8 continuation bytes).
        if bytes[k] & 0xC0 != 0x80 {
            chars += 1;
        }
        k += 1;
    }
    if chars > MAX_TAG_CHARS {
        return Some(" is longer than 100 characters, Opik's limit");
    }
    if is_space(first_char(bytes)) || is_space(last_char(bytes)) {
        return Some(" has leading or trailing whitespace");
    }
    None
}

/// Panics with the number of tags (a `const` cannot format numbers with `format!`).
const fn too_many(n: usize) -> ! {
    let mut digits = [0u8; 20];
    let mut len = 0;
    let mut v = n;
    loop {
        digits[19 - len] = b'0' + (v % 10) as u8;
        len += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let (_, number) = digits.split_at(20 - len);
    let mut msg = Msg {
        buf: [0; 512],
        len: 0,
    };
    msg = msg.push("too many tags: ");
    match core::str::from_utf8(number) {
        Ok(n) => msg = msg.push(n),
        Err(_) => msg = msg.push("more than 50"),
    }
    msg = msg.push(" given, Opik takes at most 50");
    let (bytes, _) = msg.buf.split_at(msg.len);
    match core::str::from_utf8(bytes) {
        Ok(text) => panic!("{}", text),
        Err(_) => panic!("too many tags: Opik takes at most 50"),
    }
}

/// Panics with `tag "<tag>"<what><suffix>`; the message is built in a fixed buffer because
/// const code cannot allocate.
const fn fail(tag: &str, what: &str, suffix: &str) -> ! {
    let mut msg = Msg {
        buf: [0; 512],
        len: 0,
    };
    msg = msg.push("tag \"");
    // A tag too long to show is described by its length instead.
    if tag.len() <= 400 {
        msg = msg.push(tag);
    } else {
        msg = msg.push("...");
    }
    msg = msg.push("\"");
    msg = msg.push(what);
    msg = msg.push(suffix);
    let (bytes, _) = msg.buf.split_at(msg.len);
    match core::str::from_utf8(bytes) {
        Ok(text) => panic!("{}", text),
        Err(_) => panic!("a tag breaks Opik's rules"),
    }
}

struct Msg {
    buf: [u8; 512],
    len: usize,
}

impl Msg {
    const fn push(mut self, s: &str) -> Msg {
        let bytes = s.as_bytes();
        let mut k = 0;
        while k < bytes.len() && self.len < self.buf.len() {
            self.buf[self.len] = bytes[k];
            self.len += 1;
            k += 1;
        }
        self
    }
}

const fn eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut k = 0;
    while k < a.len() {
        if a[k] != b[k] {
            return false;
        }
        k += 1;
    }
    true
}

/// The first character of non-empty UTF-8 `bytes`, as a code point.
const fn first_char(bytes: &[u8]) -> u32 {
    decode(bytes, 0)
}

/// The last character of non-empty UTF-8 `bytes`, as a code point.
const fn last_char(bytes: &[u8]) -> u32 {
    let mut start = bytes.len() - 1;
    while start > 0 && bytes[start] & 0xC0 == 0x80 {
        start -= 1;
    }
    decode(bytes, start)
}

/// Decodes the UTF-8 character starting at `at` (`bytes` comes from a `str`).
const fn decode(bytes: &[u8], at: usize) -> u32 {
    let b0 = bytes[at] as u32;
    if b0 < 0x80 {
        b0
    } else if b0 < 0xE0 {
        ((b0 & 0x1F) << 6) | cont(bytes, at + 1)
    } else if b0 < 0xF0 {
        ((b0 & 0x0F) << 12) | (cont(bytes, at + 1) << 6) | cont(bytes, at + 2)
    } else {
        ((b0 & 0x07) << 18)
            | (cont(bytes, at + 1) << 12)
            | (cont(bytes, at + 2) << 6)
            | cont(bytes, at + 3)
    }
}

/// The payload bits of the continuation byte at `k`.
const fn cont(bytes: &[u8], k: usize) -> u32 {
    (bytes[k] & 0x3F) as u32
}

/// Unicode `White_Space`, as `str::trim` uses it.
const fn is_space(c: u32) -> bool {
    matches!(
        c,
        0x09..=0x0D
            | 0x20
            | 0x85
            | 0xA0
            | 0x1680
            | 0x2000..=0x200A
            | 0x2028
            | 0x2029
            | 0x202F
            | 0x205F
            | 0x3000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_tags_pass_and_bad_ones_are_named() {
        assert_eq!(check_tag("live-coach"), "live-coach");
        assert_eq!(tag_problem("é-ok"), None);
        assert!(tag_problem("").is_some());
        assert!(tag_problem(" x").is_some());
        assert!(tag_problem("x\u{3000}").is_some());
        assert!(tag_problem(&"a".repeat(100)).is_none());
        assert!(tag_problem(&"é".repeat(101)).is_some());
        let err = std::panic::catch_unwind(|| check_tag_at(&["a", "b", "a"], 2)).unwrap_err();
        assert_eq!(
            err.downcast_ref::<String>().map(String::as_str),
            Some("tag \"a\" is given twice in `tags`")
        );
        check_tag_at(&["a", "b", "c"], 2);
    }
}
