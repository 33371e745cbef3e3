//! Finding base64 runs in JSON text, in one pass and without building a tree.
//!
//! Python (`AttachmentsExtractor`) walks the *decoded* payload: for every
//! string value (never a dict key) of at least `min_size` characters it runs
//!
//! ```text
//! (?P<prefix>data:[^,]*;base64,)?(?P<base64>(?:[A-Za-z0-9+/]{4}){N,}(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?)
//! ```
//!
//! with `N = min_size / 4`, and replaces each decodable match. We find string
//! literals in the JSON text with `memchr`, skip keys (a key is the only
//! string followed by `:`), and simulate that regex over the literal's
//! characters as JSON decodes them (so `\/` counts as `/`), keeping raw byte
//! offsets so the text around a match is copied untouched. Rust's `regex`
//! cannot take the pattern itself: a `{64000,}` repetition compiles into an
//! automaton far over its size limit.
//!
//! The simulation relies on how leftmost-first matching plays out for this
//! pattern: a match without prefix can only start at the first character of
//! a run of base64 characters (a later start gives a shorter run); the
//! `data:` prefix can only start four characters before a `:` that ends a
//! run (`data` is base64 alphabet, `:` is not); `[^,]*;base64,` can only end
//! at the first comma after `data:`; greedy repetition never backtracks here,
//! because the optional padding cannot make a failing match succeed.

/// Base64 alphabet of the pattern (standard, no `=`).
const ALPHABET: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || c == b'+' || c == b'/';
        b += 1;
    }
    table
};

#[inline]
fn is_b64(unit: u8) -> bool {
    ALPHABET[unit as usize]
}

/// A string value's content (between the quotes), as byte offsets into the
/// document.
pub(super) struct Literal {
    pub start: usize,
    pub end: usize,
    pub has_escapes: bool,
}

/// The string values of `doc` whose raw length is at least `min_len` bytes
/// (a literal has at least as many bytes as characters), in document order.
/// Object keys are skipped. Stops at an unterminated string.
pub(super) fn long_string_values(doc: &[u8], min_len: usize) -> impl Iterator<Item = Literal> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        loop {
            let open = at + memchr::memchr(b'"', doc.get(at..)?)?;
            let start = open + 1;
            let mut pos = start;
            let mut has_escapes = false;
            let end = loop {
                let i = pos + memchr::memchr2(b'"', b'\\', doc.get(pos..)?)?;
                if doc[i] == b'"' {
                    break i;
                }
                has_escapes = true;
                // Skip the escaped character; `\uXXXX`'s hex digits hold no
                // quote or backslash.
                pos = i + 2;
            };
            at = end + 1;
            if end - start < min_len {
                continue;
            }
            let next = doc[at..]
                .iter()
                .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
            if next.is_some_and(|n| doc[at + n] == b':') {
                continue;
            }
            return Some(Literal {
                start,
                end,
                has_escapes,
            });
        }
    })
}

/// Reads a literal's characters as JSON decodes them, one *unit* at a time:
/// an ASCII character as its byte, anything else as a byte >= 0x80 (which
/// matches nothing in the pattern). Offsets are raw byte offsets.
pub(super) trait Units {
    fn bytes(&self) -> &[u8];
    /// The unit at `i` and the offset of the next one.
    fn unit(&self, i: usize) -> (u8, usize);

    /// The offset `n` units after `i`.
    fn skip(&self, mut i: usize, n: usize) -> usize {
        for _ in 0..n {
            i = self.unit(i).1;
        }
        i
    }

    /// Number of base64 units from `i`, and the offset after them.
    fn run(&self, mut i: usize) -> (usize, usize) {
        let len = self.bytes().len();
        let mut n = 0;
        while i < len {
            let (u, next) = self.unit(i);
            if !is_b64(u) {
                break;
            }
            n += 1;
            i = next;
        }
        (n, i)
    }

    /// Writes the `out.len()` units from `i` into `out`; returns the offset
    /// after them.
    fn copy(&self, mut i: usize, out: &mut [u8]) -> usize {
        for slot in out {
            let (u, next) = self.unit(i);
            *slot = u;
            i = next;
        }
        i
    }
}

/// A literal without backslashes: every byte is a unit.
pub(super) struct Plain<'a>(pub &'a [u8]);

impl Units for Plain<'_> {
    fn bytes(&self) -> &[u8] {
        self.0
    }

    #[inline]
    fn unit(&self, i: usize) -> (u8, usize) {
        (self.0[i], i + 1)
    }

    fn skip(&self, i: usize, n: usize) -> usize {
        i + n
    }

    fn run(&self, i: usize) -> (usize, usize) {
        let n = self.0[i..].iter().take_while(|&&b| is_b64(b)).count();
        (n, i + n)
    }

    fn copy(&self, i: usize, out: &mut [u8]) -> usize {
        out.copy_from_slice(&self.0[i..i + out.len()]);
        i + out.len()
    }
}

/// A literal with escapes: `\/`, `\"`, `\u002B`... decode to their character.
pub(super) struct Escaped<'a>(pub &'a [u8]);

fn hex4(b: &[u8]) -> Option<u32> {
    let s = std::str::from_utf8(b.get(..4)?).ok()?;
    u32::from_str_radix(s, 16).ok()
}

impl Units for Escaped<'_> {
    fn bytes(&self) -> &[u8] {
        self.0
    }

    #[inline]
    fn unit(&self, i: usize) -> (u8, usize) {
        let b = self.0;
        if b[i] != b'\\' {
            return (b[i], i + 1);
        }
        match b.get(i + 1) {
            Some(b'u') => match hex4(&b[i + 2..]) {
                Some(cp) if cp < 0x80 => (cp as u8, i + 6),
                // A surrogate pair is one character.
                Some(0xD800..=0xDBFF) if b.get(i + 6..i + 8) == Some(b"\\u") => {
                    match hex4(&b[i + 8..]) {
                        Some(0xDC00..=0xDFFF) => (0xFF, i + 12),
                        _ => (0xFF, i + 6),
                    }
                }
                Some(_) => (0xFF, i + 6),
                // Not valid JSON; step over the backslash and go on.
                None => (0xFF, i + 1),
            },
            Some(b'b') => (0x08, i + 2),
            Some(b'f') => (0x0C, i + 2),
            Some(b'n') => (b'\n', i + 2),
            Some(b'r') => (b'\r', i + 2),
            Some(b't') => (b'\t', i + 2),
            Some(&c) if c < 0x80 => (c, i + 2),
            _ => (0xFF, i + 1),
        }
    }

    // Between escapes a literal is plain bytes, so the work is done in bulk
    // there and unit by unit only at a backslash.

    fn skip(&self, mut i: usize, mut n: usize) -> usize {
        while n > 0 {
            let plain = memchr::memchr(b'\\', &self.0[i..]).unwrap_or(self.0.len() - i);
            if plain >= n {
                return i + n;
            }
            i += plain;
            n -= plain;
            i = self.unit(i).1;
            n -= 1;
        }
        i
    }

    fn run(&self, mut i: usize) -> (usize, usize) {
        let mut n = 0;
        loop {
            let (k, end) = Plain(self.0).run(i);
            n += k;
            i = end;
            if i >= self.0.len() || self.0[i] != b'\\' {
                return (n, i);
            }
            let (u, next) = self.unit(i);
            if !is_b64(u) {
                return (n, i);
            }
            n += 1;
            i = next;
        }
    }

    fn copy(&self, mut i: usize, out: &mut [u8]) -> usize {
        let mut filled = 0;
        while filled < out.len() {
            let want = out.len() - filled;
            let plain = memchr::memchr(b'\\', &self.0[i..])
                .unwrap_or(self.0.len() - i)
                .min(want);
            out[filled..filled + plain].copy_from_slice(&self.0[i..i + plain]);
            filled += plain;
            i += plain;
            if filled < out.len() {
                let (u, next) = self.unit(i);
                out[filled] = u;
                filled += 1;
                i = next;
            }
        }
        i
    }
}

/// Python's `len(string)` for the literal: its number of characters. Every
/// byte but UTF-8 continuation bytes starts one, except that an escape
/// sequence (all ASCII) spells one character with several bytes.
pub(super) fn char_count<U: Units>(units: &U, has_escapes: bool) -> usize {
    let bytes = units.bytes();
    let starts = bytes.len() - bytes.iter().filter(|&&b| (0x80..0xC0).contains(&b)).count();
    if !has_escapes {
        return starts;
    }
    let (mut i, mut extra) = (0, 0);
    while let Some(offset) = memchr::memchr(b'\\', &bytes[i..]) {
        let at = i + offset;
        let next = units.unit(at).1;
        extra += next - at - 1;
        i = next;
    }
    starts.saturating_sub(extra)
}

/// One regex match inside a literal (offsets relative to the literal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Match {
    /// The whole match, `data:...;base64,` prefix included.
    pub start: usize,
    pub end: usize,
    /// The base64 part, padding included.
    pub b64_start: usize,
    /// Number of base64 units (a multiple of 4).
    pub b64_units: usize,
}

/// First comma after a position, and whether `;base64` ends right before it.
#[derive(Clone, Copy)]
struct CommaInfo {
    from: usize,
    comma: Option<usize>,
    marker_start: Option<usize>,
}

/// The regex matches of one literal, left to right, for `min_groups` >= 1.
pub(super) struct Matches<'u, U> {
    units: &'u U,
    min_units: usize,
    pos: usize,
    comma: Option<CommaInfo>,
}

impl<'u, U: Units> Matches<'u, U> {
    pub(super) fn new(units: &'u U, min_groups: usize) -> Self {
        Matches {
            units,
            min_units: min_groups.max(1).saturating_mul(4),
            pos: 0,
            comma: None,
        }
    }

    fn len(&self) -> usize {
        self.units.bytes().len()
    }

    fn run(&self, i: usize) -> (usize, usize) {
        self.units.run(i)
    }

    fn skip_units(&self, i: usize, n: usize) -> usize {
        self.units.skip(i, n)
    }

    fn unit_at(&self, i: usize) -> Option<(u8, usize)> {
        (i < self.len()).then(|| self.units.unit(i))
    }

    /// The greedy base64 part starting at `start`, which begins a run of `n`
    /// units: `n / 4` groups, then `X{2}==` or `X{3}=` if present.
    fn b64_match(&self, start: usize, n: usize) -> (usize, usize) {
        let groups_end = self.skip_units(start, n / 4 * 4);
        let rest = n % 4;
        let (mut i, mut pads) = (self.skip_units(groups_end, rest), 0);
        let wanted = match rest {
            2 => 2,
            3 => 1,
            _ => 0,
        };
        while pads < wanted {
            match self.unit_at(i) {
                Some((b'=', next)) => {
                    i = next;
                    pads += 1;
                }
                _ => break,
            }
        }
        if wanted > 0 && pads == wanted {
            (i, n / 4 * 4 + 4)
        } else {
            (groups_end, n / 4 * 4)
        }
    }

    /// The last four units of the run `[start, end)` of `n` units, and where
    /// the first of them starts.
    fn last_four(&self, start: usize, end: usize, n: usize) -> (usize, [u8; 4]) {
        let mut i = self.skip_units(start, n - 4);
        let first = i;
        let mut four = [0u8; 4];
        for slot in &mut four {
            let (u, next) = self.units.unit(i);
            *slot = u;
            i = next;
        }
        debug_assert_eq!(i, end);
        (first, four)
    }

    fn comma_after(&mut self, from: usize) -> CommaInfo {
        if let Some(info) = self.comma {
            if info.from <= from && info.comma.is_none_or(|c| from <= c) {
                return info;
            }
        }
        // The last seven units before the comma, and where they start.
        let mut ring = [(0u8, 0usize); 7];
        let (mut seen, mut i) = (0usize, from);
        let mut info = CommaInfo {
            from,
            comma: None,
            marker_start: None,
        };
        while let Some((u, next)) = self.unit_at(i) {
            if u == b',' {
                info.comma = Some(i);
                if seen >= 7 && (0..7).all(|k| ring[(seen + k) % 7].0 == b";base64"[k]) {
                    info.marker_start = Some(ring[seen % 7].1);
                }
                break;
            }
            ring[seen % 7] = (u, i);
            seen += 1;
            i = next;
        }
        self.comma = Some(info);
        info
    }

    fn plain_match(&mut self, start: usize, n: usize) -> Match {
        let (end, b64_units) = self.b64_match(start, n);
        self.pos = end;
        Match {
            start,
            end,
            b64_start: start,
            b64_units,
        }
    }

    /// A prefixed match whose `data` is the end of the run `[start, run_end)`.
    fn data_prefixed(&mut self, start: usize, run_end: usize, n: usize) -> Option<Match> {
        if n < 4 || self.unit_at(run_end).is_none_or(|(u, _)| u != b':') {
            return None;
        }
        let (data_start, four) = self.last_four(start, run_end, n);
        if &four != b"data" {
            return None;
        }
        self.prefixed(data_start, run_end)
    }

    /// `data:[^,]*;base64,` then the base64 part, with `data` at `start` and
    /// the `:` at `colon`.
    fn prefixed(&mut self, start: usize, colon: usize) -> Option<Match> {
        let after_colon = self.units.unit(colon).1;
        let info = self.comma_after(after_colon);
        let comma = info.comma?;
        if info.marker_start? < after_colon {
            return None;
        }
        let b64_start = self.units.unit(comma).1;
        let (n, _) = self.run(b64_start);
        if n < self.min_units {
            return None;
        }
        let (end, b64_units) = self.b64_match(b64_start, n);
        Some(Match {
            start,
            end,
            b64_start,
            b64_units,
        })
    }
}

impl<U: Units> Iterator for Matches<'_, U> {
    type Item = Match;

    fn next(&mut self) -> Option<Match> {
        while self.pos < self.len() {
            let (u, next) = self.units.unit(self.pos);
            if !is_b64(u) {
                self.pos = next;
                continue;
            }
            let start = self.pos;
            let (n, run_end) = self.run(start);
            let long = n >= self.min_units;
            // A `data:` prefix can only start at the run's last four units,
            // i.e. after `start` unless the run is exactly `data`: then the
            // regex, trying the prefix first at `start`, prefers it.
            if long && n > 4 {
                return Some(self.plain_match(start, n));
            }
            if let Some(m) = self.data_prefixed(start, run_end, n) {
                self.pos = m.end;
                return Some(m);
            }
            if long {
                return Some(self.plain_match(start, n));
            }
            self.pos = run_end;
        }
        None
    }
}
