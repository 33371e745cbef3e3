//! Opik's rules for tags as `const fn`s, so that tags whose values the `#[track]` macro cannot
//! see (constants declared with `opik::tags!`) are still checked at compile time: the generated
//! code evaluates these in a `const` item, and a broken rule is a compile error whose message
//! names the tag. The macro checks literal tags itself with the same rules.

/// At most this many tags on one span.
pub const MAX_TAGS: usize = 50;
/// At most this many characters in one tag.
pub const MAX_TAG_CHARS: usize = 100;

/// Returns `tag` when it follows Opik's rules; otherwise panics, which in a `const` is a
/// compile error naming the tag.
pub const fn check_tag(tag: &'static str) -> &'static str {
    if let Some(problem) = problem(tag) {
        fail(tag, problem, "")
    }
    tag
}

/// Checks `tags[i]`: the rules for one tag, and that no tag before it is the same.
pub const fn check_tag_at(tags: &[&str], i: usize) {
    if tags.len() > MAX_TAGS {
        panic!("too many tags: Opik takes at most 50 on a span");
    }
    let tag = tags[i];
    if let Some(problem) = problem(tag) {
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

/// What is wrong with `tag`, if anything.
const fn problem(tag: &str) -> Option<&'static str> {
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
        return Some(": a tag has at most 100 characters");
    }
    if is_space(first_char(bytes)) || is_space(last_char(bytes)) {
        return Some(" has leading or trailing whitespace");
    }
    None
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
        assert_eq!(problem("é-ok"), None);
        assert!(problem("").is_some());
        assert!(problem(" x").is_some());
        assert!(problem("x\u{3000}").is_some());
        assert!(problem(&"a".repeat(100)).is_none());
        assert!(problem(&"é".repeat(101)).is_some());
        let err = std::panic::catch_unwind(|| check_tag_at(&["a", "b", "a"], 2)).unwrap_err();
        assert_eq!(
            err.downcast_ref::<String>().map(String::as_str),
            Some("tag \"a\" is given twice in `tags`")
        );
        check_tag_at(&["a", "b", "c"], 2);
    }
}
