//! The filter-string parser: a port of `OpikQueryLanguage._parse_expressions`
//! that keeps its grammar and character classes (`str.isalnum`, `isspace`,
//! `isalpha`) and reports errors with a position and a suggestion.

use std::ops::Range;

use super::fields::{self, Field};
use super::{Entity, Filter, FilterError, FilterErrorKind as K, Operator};

/// Python's `str.isspace()`: Unicode White_Space plus U+001C..U+001F.
fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `char.isalnum() or char == "_"` for field names and bare keys.
fn is_field_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

pub(super) struct Parser<'a> {
    entity: Entity,
    input: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    pub(super) fn new(entity: Entity, input: &'a str) -> Self {
        Parser {
            entity,
            input,
            pos: 0,
        }
    }

    pub(super) fn parse(mut self) -> Result<Vec<Filter>, FilterError> {
        let mut filters = Vec::new();
        if self.input.is_empty() {
            return Ok(filters);
        }
        loop {
            filters.push(self.condition()?);
            self.skip_space();
            if self.at_end() {
                return Ok(filters);
            }
            let word = self.take_while(char::is_alphabetic);
            let connector = &self.input[word.clone()];
            if connector.eq_ignore_ascii_case("and") {
                continue;
            }
            if connector.eq_ignore_ascii_case("or") {
                return Err(self.error(K::OrNotSupported, word));
            }
            let span = if word.is_empty() {
                self.token_span()
            } else {
                word
            };
            return Err(self.error(K::ExpectedAnd, span));
        }
    }

    fn condition(&mut self) -> Result<Filter, FilterError> {
        self.skip_space();
        let (field, key, shown) = self.field()?;
        let operator = self.operator(field, &shown)?;
        let value = match operator {
            Operator::IsEmpty | Operator::IsNotEmpty => String::new(),
            Operator::In | Operator::NotIn => self.list(operator)?,
            _ => self.value(operator)?,
        };
        Ok(Filter {
            field: field.name.to_owned(),
            operator,
            key,
            value,
            field_type: field.field_type,
        })
    }

    /// `name`, `name.key`, `name."quoted key"`; returns the field, the key and
    /// how the user wrote the field (for messages).
    fn field(&mut self) -> Result<(&'static Field, String, String), FilterError> {
        let name_span = self.take_while(is_field_char);
        let name = &self.input[name_span.clone()];
        if self.peek() != Some('.') {
            if name.is_empty() {
                return Err(self.error(K::ExpectedField, self.token_span()));
            }
            return match fields::field(self.entity, name) {
                Some(field) => Ok((field, String::new(), name.to_owned())),
                None => Err(self.unknown_field(name_span)),
            };
        }
        if name.is_empty() {
            return Err(self.error(K::ExpectedField, self.token_span()));
        }
        self.bump();
        let (key, key_span) = match self.peek() {
            Some(q @ ('"' | '\'')) => self.quoted(q, "key")?,
            _ => {
                let span = self.take_while(is_field_char);
                if span.is_empty() {
                    let field = name.to_owned();
                    return Err(self.error(K::ExpectedKey { field }, self.token_span()));
                }
                (self.input[span.clone()].to_owned(), span)
            }
        };
        // Python treats `usage.<x>` as the flat field "usage.<x>", not as a key.
        if name == "usage" {
            let composite = format!("usage.{key}");
            if let Some(field) = fields::field(self.entity, &composite) {
                if self.peek() == Some('.') {
                    // `usage.total_tokens.x`: Python reports `.x` as an operator.
                    return Err(self.no_keys(field, self.pos + 1));
                }
                return Ok((field, String::new(), composite));
            }
            let usage_fields: Vec<&'static str> = self
                .entity
                .field_names()
                .filter(|f| f.starts_with("usage."))
                .collect();
            let suggestion = closest(&composite, usage_fields.iter().copied());
            return Err(self.error(
                K::UnknownUsageField {
                    suggestion,
                    usage_fields,
                },
                key_span,
            ));
        }
        match fields::field(self.entity, name) {
            Some(field) if field.has_keys => {
                Ok((field, key, format!("{name}.{}", &self.input[key_span])))
            }
            Some(field) => Err(self.no_keys(field, key_span.start)),
            None => Err(self.unknown_field(name_span)),
        }
    }

    /// `field` takes no `.key`; the key's text starts at `key_start`.
    fn no_keys(&self, field: &'static Field, key_start: usize) -> FilterError {
        let keyed = fields::fields(self.entity)
            .iter()
            .filter(|f| f.has_keys)
            .map(|f| f.name)
            .collect();
        let rest = &self.input[key_start..];
        let end = key_start
            + rest
                .find(|c: char| !is_field_char(c) && c != '"' && c != '\'')
                .unwrap_or(rest.len());
        self.error(
            K::FieldHasNoKeys {
                field: field.name,
                keyed,
            },
            key_start..end,
        )
    }

    fn unknown_field(&self, span: Range<usize>) -> FilterError {
        let suggestion = closest(&self.input[span.clone()], self.entity.field_names());
        self.error(
            K::UnknownField {
                entity: self.entity,
                suggestion,
            },
            span,
        )
    }

    fn operator(&mut self, field: &'static Field, shown: &str) -> Result<Operator, FilterError> {
        self.skip_space();
        let allowed = field.operators;
        let start = self.pos;
        let rest = &self.input[start..];
        // Symbolic operators may touch their value (`x>5`, `x="a"`); word
        // operators end at whitespace, as in Python. `==` and `<>` are read
        // whole only to suggest `=` and `!=`.
        let len = if ["==", "<>", "!=", ">=", "<="]
            .iter()
            .any(|op| rest.starts_with(op))
        {
            2
        } else if rest.starts_with(['=', '<', '>']) {
            1
        } else {
            rest.find(is_space).unwrap_or(rest.len())
        };
        if len == 0 {
            let field = shown.to_owned();
            return Err(self.error(K::ExpectedOperator { field, allowed }, self.token_span()));
        }
        let span = start..start + len;
        self.pos = span.end;
        let token = &self.input[span.clone()];
        match Operator::from_token(token) {
            Some(op) if allowed.contains(&op) => Ok(op),
            Some(operator) => {
                let field = shown.to_owned();
                Err(self.error(
                    K::OperatorNotAllowed {
                        operator,
                        field,
                        allowed,
                    },
                    span,
                ))
            }
            None => {
                // `contains"x"`: a known operator glued to its value.
                let glued = allowed.iter().copied().find(|op| {
                    token.strip_prefix(op.as_str()).is_some_and(|r| {
                        r.starts_with(['"', '(', '-'])
                            || r.starts_with(|c: char| c.is_ascii_digit())
                    })
                });
                let suggestion = glued.or_else(|| suggest_operator(token, allowed));
                let field = shown.to_owned();
                Err(self.error(
                    K::UnknownOperator {
                        field,
                        allowed,
                        suggestion,
                        glued: glued.is_some(),
                    },
                    span,
                ))
            }
        }
    }

    fn value(&mut self, operator: Operator) -> Result<String, FilterError> {
        self.skip_space();
        match self.peek() {
            Some('"') => Ok(self.quoted('"', "value")?.0),
            Some(c) if c.is_ascii_digit() || c == '-' => self.number(),
            Some('\'') => Err(self.error(
                K::ExpectedValue {
                    operator,
                    single_quoted: true,
                },
                self.token_span(),
            )),
            _ => Err(self.error(
                K::ExpectedValue {
                    operator,
                    single_quoted: false,
                },
                self.token_span(),
            )),
        }
    }

    /// `-?digits(.digits)?`, kept as written.
    fn number(&mut self) -> Result<String, FilterError> {
        let start = self.pos;
        if self.peek() == Some('-') {
            self.bump();
        }
        if self.take_while(|c| c.is_ascii_digit()).is_empty() {
            let span = start..self.pos + self.peek().map_or(0, char::len_utf8);
            return Err(self.error(
                K::InvalidNumber {
                    reason: "expected digits after `-`",
                },
                span,
            ));
        }
        if self.peek() == Some('.') {
            self.bump();
            if self.take_while(|c| c.is_ascii_digit()).is_empty() {
                let reason = "expected digits after the decimal point";
                return Err(self.error(K::InvalidNumber { reason }, start..self.pos));
            }
        }
        Ok(self.input[start..self.pos].to_owned())
    }

    /// `("a", "b")` for `in` / `not_in`, sent as `a,b`.
    fn list(&mut self, operator: Operator) -> Result<String, FilterError> {
        self.skip_space();
        let open = self.pos;
        if self.peek() != Some('(') {
            return Err(self.error(K::ExpectedList { operator }, self.token_span()));
        }
        self.bump();
        let mut items: Vec<String> = Vec::new();
        loop {
            self.skip_space();
            match self.peek() {
                None => return Err(self.error(K::UnclosedList, self.pos..self.pos)),
                Some(')') if items.is_empty() => {
                    return Err(self.error(K::EmptyList, open..self.pos + 1));
                }
                Some(')') => {
                    self.bump();
                    return Ok(items.join(","));
                }
                Some(',') if !items.is_empty() => {
                    self.bump();
                    self.skip_space();
                }
                Some(_) if !items.is_empty() => {
                    return Err(self.error(K::ExpectedCommaOrParen, self.token_span()));
                }
                Some(_) => {}
            }
            if self.peek() != Some('"') {
                return Err(self.error(K::ExpectedListItem, self.token_span()));
            }
            let (item, span) = self.quoted('"', "value")?;
            if item.contains(',') {
                return Err(self.error(K::CommaInListItem, span));
            }
            items.push(item);
        }
    }

    /// A string in `quote`s starting at the cursor; a doubled quote stands for
    /// one. Returns the text and the span including the quotes.
    fn quoted(
        &mut self,
        quote: char,
        what: &'static str,
    ) -> Result<(String, Range<usize>), FilterError> {
        let start = self.pos;
        self.bump();
        let mut text = String::new();
        loop {
            match self.bump() {
                None => return Err(self.error(K::UnclosedQuote { what }, start..self.input.len())),
                Some(c) if c == quote => {
                    if self.peek() == Some(quote) {
                        self.bump();
                        text.push(quote);
                    } else {
                        return Ok((text, start..self.pos));
                    }
                }
                Some(c) => text.push(c),
            }
        }
    }

    fn error(&self, kind: K, span: Range<usize>) -> FilterError {
        FilterError {
            kind,
            span,
            input: self.input.to_owned(),
        }
    }

    fn at_end(&self) -> bool {
        self.pos >= self.input.len()
    }

    fn peek(&self) -> Option<char> {
        self.input[self.pos..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn take_while(&mut self, pred: impl Fn(char) -> bool) -> Range<usize> {
        let start = self.pos;
        while self.peek().is_some_and(&pred) {
            self.bump();
        }
        start..self.pos
    }

    fn skip_space(&mut self) {
        self.take_while(is_space);
    }

    /// The run of non-space characters at the cursor, to show in an error.
    fn token_span(&self) -> Range<usize> {
        let rest = &self.input[self.pos..];
        self.pos..self.pos + rest.find(is_space).unwrap_or(rest.len())
    }
}

/// The candidate closest to `word` by edit distance (case-insensitive), if it
/// is close enough to be a likely typo, or `word` is a prefix of it.
fn closest<'c>(word: &str, candidates: impl Iterator<Item = &'c str>) -> Option<&'c str> {
    let word = word.to_lowercase();
    if word.is_empty() {
        return None;
    }
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        let distance = if candidate.starts_with(&word) && word.len() >= 3 {
            // `feedback` -> `feedback_scores`, `usage` -> `usage.total_tokens`.
            1
        } else {
            strsim::damerau_levenshtein(&word, candidate)
        };
        if best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    let (distance, candidate) = best?;
    let limit = (candidate.chars().count().max(word.chars().count()) / 3).max(1);
    (distance <= limit).then_some(candidate)
}

/// Spellings people bring from SQL or other query languages.
const OPERATOR_ALIASES: &[(&str, Operator)] = &[
    ("==", Operator::Eq),
    ("eq", Operator::Eq),
    ("is", Operator::Eq),
    ("<>", Operator::Ne),
    ("ne", Operator::Ne),
    ("neq", Operator::Ne),
    ("gt", Operator::Gt),
    ("gte", Operator::Ge),
    ("ge", Operator::Ge),
    ("=>", Operator::Ge),
    ("lt", Operator::Lt),
    ("lte", Operator::Le),
    ("le", Operator::Le),
    ("=<", Operator::Le),
    ("like", Operator::Contains),
    ("has", Operator::Contains),
    ("includes", Operator::Contains),
    ("not_like", Operator::NotContains),
    ("startswith", Operator::StartsWith),
    ("endswith", Operator::EndsWith),
    ("is_null", Operator::IsEmpty),
    ("is_not_null", Operator::IsNotEmpty),
];

fn suggest_operator(token: &str, allowed: &[Operator]) -> Option<Operator> {
    let lower = token.to_lowercase();
    let aliased = OPERATOR_ALIASES
        .iter()
        .find(|(alias, _)| *alias == lower)
        .map(|(_, op)| *op);
    if let Some(op) = aliased.filter(|op| allowed.contains(op)) {
        return Some(op);
    }
    let name = closest(&lower, allowed.iter().map(|op| op.as_str()))?;
    Operator::from_token(name)
}
