//! The rules Opik imposes on `#[track]` values, checked at compile time so that mistakes show up
//! in the editor instead of in the dashboard. Every error points at the offending token.

use crate::attr::TrackArgs;
use syn::LitStr;

/// The span types Opik knows.
pub const SPAN_TYPES: &[&str] = &["general", "llm", "tool", "guardrail"];

/// Opik's limits on tags.
pub const MAX_TAGS: usize = 50;
pub const MAX_TAG_CHARS: usize = 100;

/// Checks `args`; returns them unchanged when they are valid.
pub fn validate(args: TrackArgs) -> syn::Result<TrackArgs> {
    if let Some(t) = &args.span_type {
        check_span_type(t)?;
    }
    if let Some(tags) = &args.tags {
        check_tags(tags)?;
    }
    if let Some(crate::attr::NameArg::Lit(name)) = &args.name {
        if name.value().trim().is_empty() {
            return Err(syn::Error::new(
                name.span(),
                "the span name must not be blank",
            ));
        }
    }
    Ok(args)
}

fn check_span_type(t: &LitStr) -> syn::Result<()> {
    let value = t.value();
    if SPAN_TYPES.contains(&value.as_str()) {
        return Ok(());
    }
    let closest = SPAN_TYPES
        .iter()
        .min_by_key(|c| strsim::levenshtein(&value.to_lowercase(), c))
        .copied()
        .unwrap_or("general");
    Err(syn::Error::new(
        t.span(),
        format!(
            "unknown span type \"{value}\"; expected one of \"general\", \"llm\", \"tool\", \
             \"guardrail\" (did you mean \"{closest}\"?)"
        ),
    ))
}

fn check_tags(tags: &[LitStr]) -> syn::Result<()> {
    if tags.len() > MAX_TAGS {
        return Err(syn::Error::new(
            tags[MAX_TAGS].span(),
            format!(
                "too many tags: {} given, Opik takes at most {MAX_TAGS}",
                tags.len()
            ),
        ));
    }
    for (i, tag) in tags.iter().enumerate() {
        let value = tag.value();
        if value.is_empty() {
            return Err(syn::Error::new(tag.span(), "a tag must not be empty"));
        }
        if value.trim() != value {
            return Err(syn::Error::new(
                tag.span(),
                format!("tag \"{value}\" has leading or trailing whitespace"),
            ));
        }
        let chars = value.chars().count();
        if chars > MAX_TAG_CHARS {
            return Err(syn::Error::new(
                tag.span(),
                format!("tag is {chars} characters long; Opik takes at most {MAX_TAG_CHARS}"),
            ));
        }
        if tags[..i].iter().any(|t| t.value() == value) {
            return Err(syn::Error::new(
                tag.span(),
                format!("tag \"{value}\" is given twice"),
            ));
        }
    }
    Ok(())
}
