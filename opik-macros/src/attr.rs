//! Parsing `#[track(...)]` arguments into [`TrackArgs`]. Only syntax here; the rules Opik
//! imposes on the values are checked in `valid`.

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, LitBool, LitStr, Token};

/// Everything `#[track(...)]` was given.
#[derive(Default)]
pub struct TrackArgs {
    /// `name = "lit"` or `name = expr`.
    pub name: Option<NameArg>,
    /// `type = "llm"`.
    pub span_type: Option<LitStr>,
    /// `tags = ["a", "b"]`.
    pub tags: Option<Vec<LitStr>>,
    /// `capture_input = false`.
    pub capture_input: Option<LitBool>,
    /// `capture_output = false`.
    pub capture_output: Option<LitBool>,
}

/// The span name: a literal is stored in the `static` metadata; an expression is evaluated per
/// call.
pub enum NameArg {
    Lit(LitStr),
    Expr(Box<Expr>),
}

/// The keys `#[track]` understands, for the "unknown argument" message.
pub const KNOWN_KEYS: &[&str] = &["name", "type", "tags", "capture_input", "capture_output"];

impl Parse for TrackArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = TrackArgs::default();
        let mut seen: Vec<String> = Vec::new();
        while !input.is_empty() {
            let (key, key_span) = parse_key(input)?;
            if seen.contains(&key) {
                return Err(syn::Error::new(
                    key_span,
                    format!("`{key}` is given twice; give each argument of #[track] once"),
                ));
            }
            seen.push(key.clone());
            input.parse::<Token![=]>()?;
            match key.as_str() {
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
                "type" => args.span_type = Some(input.parse()?),
                "tags" => {
                    let content;
                    syn::bracketed!(content in input);
                    let list = Punctuated::<LitStr, Token![,]>::parse_terminated(&content)?;
                    args.tags = Some(list.into_iter().collect());
                }
                "capture_input" => args.capture_input = Some(input.parse()?),
                "capture_output" => args.capture_output = Some(input.parse()?),
                _ => {
                    return Err(syn::Error::new(
                        key_span,
                        format!(
                            "unknown argument `{key}` of #[track]; expected one of: {}",
                            KNOWN_KEYS.join(", ")
                        ),
                    ))
                }
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(args)
    }
}

/// An argument key: an identifier, or the keyword `type`.
fn parse_key(input: ParseStream<'_>) -> syn::Result<(String, Span)> {
    if input.peek(Token![type]) {
        let kw: Token![type] = input.parse()?;
        return Ok(("type".to_owned(), kw.span));
    }
    let ident: Ident = input.parse().map_err(|e| {
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
