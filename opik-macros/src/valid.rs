//! The rules Opik imposes on `#[track]` values, checked at compile time so that mistakes show up
//! in the editor instead of in the dashboard. Every error points at the offending token.
//!
//! Tags given as constants (declared with `opik::tags!`) have values the macro cannot see; the
//! expansion checks them by const evaluation with the same rules (`opik_core::recorder::tags`).

use crate::attr::{NameArg, TagArg, TrackArgs};
use syn::{FnArg, LitStr, Pat, Signature};

/// The span types Opik knows.
pub const SPAN_TYPES: &[&str] = &["general", "llm", "tool", "guardrail"];

/// Opik's limits on tags (kept equal to `opik_core::recorder::tags`).
pub const MAX_TAGS: usize = 50;
pub const MAX_TAG_CHARS: usize = 100;

/// Checks what can be checked from the arguments alone; all errors at once, each at its token.
pub fn validate(args: TrackArgs) -> syn::Result<TrackArgs> {
    let mut errors = Errors::default();
    if let Some(t) = &args.span_type {
        errors.push(check_span_type(t));
    }
    if let Some(tags) = &args.tags {
        errors.push(check_tags(tags));
    }
    if let Some(NameArg::Lit(name)) = &args.name {
        errors.push(not_blank(name, "the span name"));
    }
    if let Some(p) = &args.project_name {
        errors.push(not_blank(p, "the project name"));
    }
    if let Some(entries) = &args.metadata {
        for (i, entry) in entries.iter().enumerate() {
            let key = entry.key.value();
            if entries[..i].iter().any(|e| e.key.value() == key) {
                errors.add(syn::Error::new(
                    entry.key.span(),
                    format!("metadata key \"{key}\" is given twice"),
                ));
            }
        }
    }
    if let (Some((skip, _)), Some(all)) = (&args.skip, &args.skip_all) {
        // Point at whichever came second: that is the one to delete.
        let pos = |k: &str| args.keys.iter().position(|x| x == k);
        let later = if pos("skip") > pos("skip_all") {
            skip.span()
        } else {
            all.span()
        };
        errors.add(syn::Error::new(
            later,
            "`skip(..)` and `skip_all` together: `skip_all` already leaves out every argument; \
             keep one of them",
        ));
    }
    errors.finish().map(|()| args)
}

/// Checks the arguments that refer to the function: every name in `skip(..)` is a parameter.
pub fn validate_against(args: &TrackArgs, sig: &Signature) -> syn::Result<()> {
    let Some((_, names)) = &args.skip else {
        return Ok(());
    };
    let params = param_names(sig);
    let mut errors = Errors::default();
    for name in names {
        let name_str = name.to_string();
        if name_str == "self" || params.contains(&name_str) {
            continue;
        }
        let suggestion = params
            .iter()
            .map(|p| (strsim::jaro_winkler(&name_str, p), p))
            .filter(|(score, _)| *score > 0.8)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, p)| format!(" (did you mean `{p}`?)"))
            .unwrap_or_default();
        let list = if params.is_empty() {
            "it has none".to_owned()
        } else {
            format!(
                "its parameters are: {}",
                params
                    .iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        errors.add(syn::Error::new(
            name.span(),
            format!(
                "`skip({name_str})`: `{}` has no parameter `{name_str}`{suggestion}; {list}",
                sig.ident
            ),
        ));
    }
    errors.finish()
}

/// The names bound by the function's parameters (the receiver excluded).
pub fn param_names(sig: &Signature) -> Vec<String> {
    let mut names = Vec::new();
    for input in &sig.inputs {
        if let FnArg::Typed(pt) = input {
            pat_idents(&pt.pat, &mut |ident| names.push(unraw(&ident.to_string())));
        }
    }
    names
}

/// Calls `f` on every identifier a pattern binds (`(a, b)` binds `a` and `b`).
pub fn pat_idents<'a>(pat: &'a Pat, f: &mut impl FnMut(&'a syn::Ident)) {
    match pat {
        Pat::Ident(p) => {
            f(&p.ident);
            if let Some((_, sub)) = &p.subpat {
                pat_idents(sub, f);
            }
        }
        Pat::Tuple(t) => t.elems.iter().for_each(|p| pat_idents(p, f)),
        Pat::TupleStruct(t) => t.elems.iter().for_each(|p| pat_idents(p, f)),
        Pat::Struct(s) => s.fields.iter().for_each(|fp| pat_idents(&fp.pat, f)),
        Pat::Slice(s) => s.elems.iter().for_each(|p| pat_idents(p, f)),
        Pat::Reference(r) => pat_idents(&r.pat, f),
        Pat::Paren(p) => pat_idents(&p.pat, f),
        Pat::Type(t) => pat_idents(&t.pat, f),
        _ => {}
    }
}

/// `r#type` is recorded as `type`.
pub fn unraw(name: &str) -> String {
    name.strip_prefix("r#").unwrap_or(name).to_owned()
}

fn not_blank(lit: &LitStr, what: &str) -> syn::Result<()> {
    if lit.value().trim().is_empty() {
        return Err(syn::Error::new(
            lit.span(),
            format!("{what} must not be blank"),
        ));
    }
    Ok(())
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

fn check_tags(tags: &[TagArg]) -> syn::Result<()> {
    let mut errors = Errors::default();
    if tags.len() > MAX_TAGS {
        errors.add(syn::Error::new(
            tag_span(&tags[MAX_TAGS]),
            format!(
                "too many tags: {} given, Opik takes at most {MAX_TAGS}",
                tags.len()
            ),
        ));
    }
    for (i, tag) in tags.iter().enumerate() {
        let TagArg::Lit(lit) = tag else { continue };
        errors.push(check_tag_literal(lit));
        let value = lit.value();
        let repeated = tags[..i]
            .iter()
            .any(|t| matches!(t, TagArg::Lit(l) if l.value() == value));
        if repeated {
            errors.add(syn::Error::new(
                lit.span(),
                format!("tag \"{value}\" is given twice"),
            ));
        }
    }
    errors.finish()
}

fn tag_span(tag: &TagArg) -> proc_macro2::Span {
    match tag {
        TagArg::Lit(l) => l.span(),
        TagArg::Path(p) => syn::spanned::Spanned::span(p),
    }
}

/// Opik's rules for one tag: not empty, no leading or trailing whitespace, at most 100
/// characters. Shared by `#[track(tags = [...])]` and `opik::tags!`.
pub fn check_tag_literal(tag: &LitStr) -> syn::Result<()> {
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
    Ok(())
}

/// Collects errors so that the user sees all of them in one build.
#[derive(Default)]
pub struct Errors(Option<syn::Error>);

impl Errors {
    pub fn add(&mut self, e: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }

    pub fn push(&mut self, r: syn::Result<()>) {
        if let Err(e) = r {
            self.add(e);
        }
    }

    pub fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}
