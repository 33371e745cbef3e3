//! Parsing `#[track(...)]` arguments into [`TrackArgs`]. Only syntax here (and the checks that
//! need nothing but the tokens: unknown and repeated keys); the rules Opik imposes on the values
//! are checked in `valid`.

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{braced, bracketed, parenthesized, Expr, Ident, LitBool, LitStr, Path, Token};

/// Everything `#[track(...)]` was given.
#[derive(Default)]
pub struct TrackArgs {
    /// `name = "lit"` or `name = expr`.
    pub name: Option<NameArg>,
    /// `type = "llm"`.
    pub span_type: Option<LitStr>,
    /// `tags = ["a", LIVE_COACH]`.
    pub tags: Option<Vec<TagArg>>,
    /// `metadata = { "key": expr, ... }`.
    pub metadata: Option<Vec<MetaEntry>>,
    /// `capture_input = false`.
    pub capture_input: Option<LitBool>,
    /// `capture_output = false`.
    pub capture_output: Option<LitBool>,
    /// `skip(a, b)`.
    pub skip: Option<(Ident, Vec<Ident>)>,
    /// `skip_all`, with the span of the key.
    pub skip_all: Option<Ident>,
    /// `thread_id = expr`.
    pub thread_id: Option<Box<Expr>>,
    /// `project_name = "lit"`.
    pub project_name: Option<LitStr>,
    /// `flush = true`.
    pub flush: Option<LitBool>,
    /// `distributed_headers = expr`: continue the trace of incoming headers.
    pub distributed_headers: Option<Box<Expr>>,
    /// `aggregate = path::to_fn`: makes a stream's output from its items; with the key's span.
    pub aggregate: Option<Box<Expr>>,
    pub aggregate_key: Option<Span>,
    /// The keys in the order given.
    pub keys: Vec<String>,
}

impl TrackArgs {
    /// Whether arguments are recorded at all.
    pub fn capture_input(&self) -> bool {
        self.capture_input.as_ref().is_none_or(|b| b.value) && self.skip_all.is_none()
    }

    /// Whether return values are recorded (errors always are).
    pub fn capture_output(&self) -> bool {
        self.capture_output.as_ref().is_none_or(|b| b.value)
    }

    /// Whether the call flushes when it ends.
    pub fn flush(&self) -> bool {
        self.flush.as_ref().is_some_and(|b| b.value)
    }
}

/// The span name: a literal is stored in the `static` metadata; an expression is evaluated per
/// call.
pub enum NameArg {
    Lit(LitStr),
    Expr(Box<Expr>),
}

/// One tag: a literal (checked by the macro) or the path of a constant declared with
/// `opik::tags!` (checked by const evaluation).
pub enum TagArg {
    Lit(LitStr),
    Path(Path),
}

/// One `"key": value` of `metadata = {...}`.
pub struct MetaEntry {
    pub key: LitStr,
    pub value: Expr,
}

impl Parse for MetaEntry {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let key: LitStr = input.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected a string key: `metadata = { \"key\": value, ... }`",
            )
        })?;
        input.parse::<Token![:]>()?;
        let value = input.parse()?;
        Ok(MetaEntry { key, value })
    }
}

/// The keys `#[track]` understands, for the "unknown argument" message.
pub const KNOWN_KEYS: &[&str] = &[
    "name",
    "type",
    "tags",
    "metadata",
    "capture_input",
    "capture_output",
    "skip",
    "skip_all",
    "thread_id",
    "project_name",
    "flush",
    "distributed_headers",
    "aggregate",
];

impl Parse for TrackArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = TrackArgs::default();
        let mut seen: Vec<String> = Vec::new();
        while !input.is_empty() {
            let (key, key_span) = parse_key(input)?;
            if !KNOWN_KEYS.contains(&key.as_str()) {
                return Err(unknown_key(&key, key_span));
            }
            if seen.contains(&key) {
                return Err(syn::Error::new(
                    key_span,
                    format!("`{key}` is given twice; give each argument of #[track] once"),
                ));
            }
            seen.push(key.clone());
            match key.as_str() {
                // Flags and lists without `=`.
                "skip_all" => args.skip_all = Some(Ident::new("skip_all", key_span)),
                "skip" => {
                    let content;
                    parenthesized!(content in input);
                    let names = Punctuated::<Ident, Token![,]>::parse_terminated(&content)?;
                    args.skip = Some((Ident::new("skip", key_span), names.into_iter().collect()));
                }
                _ => {
                    input.parse::<Token![=]>().map_err(|e| {
                        syn::Error::new(e.span(), format!("expected `=` after `{key}`"))
                    })?;
                    parse_value(&mut args, &key, input)?;
                    if key == "aggregate" {
                        args.aggregate_key = Some(key_span);
                    }
                }
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        args.keys = seen;
        Ok(args)
    }
}

fn parse_value(args: &mut TrackArgs, key: &str, input: ParseStream<'_>) -> syn::Result<()> {
    match key {
        "name" => {
            let expr: Expr = input.parse()?;
            args.name = Some(match expr {
                Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => NameArg::Lit(s),
                other => NameArg::Expr(Box::new(other)),
            });
        }
        "type" => args.span_type = Some(lit_str(input, "type", "\"llm\"")?),
        "tags" => {
            let content;
            bracketed!(content in input);
            let list = Punctuated::<TagArg, Token![,]>::parse_terminated(&content)?;
            args.tags = Some(list.into_iter().collect());
        }
        "metadata" => {
            let content;
            braced!(content in input);
            let list = Punctuated::<MetaEntry, Token![,]>::parse_terminated(&content)?;
            args.metadata = Some(list.into_iter().collect());
        }
        "capture_input" => args.capture_input = Some(lit_bool(input, key)?),
        "capture_output" => args.capture_output = Some(lit_bool(input, key)?),
        "flush" => args.flush = Some(lit_bool(input, key)?),
        "thread_id" => args.thread_id = Some(Box::new(input.parse()?)),
        "distributed_headers" => args.distributed_headers = Some(Box::new(input.parse()?)),
        "aggregate" => args.aggregate = Some(Box::new(input.parse()?)),
        "project_name" => {
            args.project_name = Some(lit_str(input, "project_name", "\"my-project\"")?)
        }
        _ => unreachable!("keys are checked against KNOWN_KEYS first"),
    }
    Ok(())
}

impl Parse for TagArg {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.peek(LitStr) {
            return input.parse().map(TagArg::Lit);
        }
        input.parse().map(TagArg::Path).map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected a tag: a string literal, or a constant declared with `opik::tags!`",
            )
        })
    }
}

fn lit_str(input: ParseStream<'_>, key: &str, example: &str) -> syn::Result<LitStr> {
    input.parse().map_err(|e| {
        syn::Error::new(
            e.span(),
            format!("`{key}` takes a string literal, e.g. `{key} = {example}`"),
        )
    })
}

fn lit_bool(input: ParseStream<'_>, key: &str) -> syn::Result<LitBool> {
    input
        .parse()
        .map_err(|e| syn::Error::new(e.span(), format!("`{key}` takes `true` or `false`")))
}

fn unknown_key(key: &str, span: Span) -> syn::Error {
    let closest = KNOWN_KEYS
        .iter()
        .map(|k| (strsim::jaro_winkler(key, k), k))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| format!(" (did you mean `{k}`?)"))
        .unwrap_or_default();
    syn::Error::new(
        span,
        format!(
            "unknown argument `{key}` of #[track]{closest}; expected one of: {}",
            KNOWN_KEYS.join(", ")
        ),
    )
}

/// An argument key: an identifier, or the keyword `type`.
fn parse_key(input: ParseStream<'_>) -> syn::Result<(String, Span)> {
    if input.peek(Token![type]) {
        let kw: Token![type] = input.parse()?;
        return Ok(("type".to_owned(), kw.span));
    }
    let ident: Ident = input.call(syn::ext::IdentExt::parse_any).map_err(|e| {
        syn::Error::new(
            e.span(),
            format!(
                "expected an argument of #[track] ({})",
                KNOWN_KEYS.join(", ")
            ),
        )
    })?;
    Ok((ident.to_string(), ident.span()))
}
