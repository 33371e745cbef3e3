//! The rules Opik imposes on `#[track]` values, checked at compile time so that mistakes show up
//! in the editor instead of in the dashboard. Every error points at the offending token.
//!
//! Tags are not checked here: Opik's tag rules are written once, as `const fn`s in the runtime
//! (`opik_core`'s `model::tags`), and the expansion evaluates them for every tag in a `const`,
//! literal or declared with `opik::tags!` alike, so that a broken rule is a compile error at
//! the tag (see `expand::tag_checks`).

use crate::attr::{NameArg, TrackArgs};
use crate::shape::Shape;
use syn::{FnArg, LitStr, Pat, Signature};

/// The span types Opik knows.
pub const SPAN_TYPES: &[&str] = &["general", "llm", "tool", "guardrail"];

/// Checks what can be checked from the arguments alone; all errors at once, each at its token.
pub fn validate(args: TrackArgs) -> syn::Result<TrackArgs> {
    let mut errors = Errors::default();
    if let Some(t) = &args.span_type {
        errors.push(check_span_type(t));
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

/// Checks the arguments that refer to the function: every name in `skip(..)` is a parameter,
/// and the stream arguments go with a function that returns a stream.
pub fn validate_against(args: &TrackArgs, sig: &Signature) -> syn::Result<()> {
    let streams = matches!(Shape::of(sig), Shape::Stream { .. } | Shape::Iter { .. });
    if let (Some(span), false) = (args.aggregate_key, streams) {
        return Err(syn::Error::new(
            span,
            format!(
                "`aggregate` makes the output of a stream or an iterator, and `{}` returns \
                 neither (`impl Stream<Item = T>`, `Pin<Box<dyn Stream<Item = T>>>`, \
                 `BoxStream<'_, T>`, `impl Iterator<Item = T>`); remove it",
                sig.ident
            ),
        ));
    }
    if let (Some(flush), true) = (&args.flush, streams) {
        return Err(syn::Error::new(
            flush.span(),
            format!(
                "`flush` is not supported on `{}`, which returns a stream or an iterator: its \
                 span ends when the stream does, after the function returned; call \
                 `opik::flush_async` where the stream is consumed",
                sig.ident
            ),
        ));
    }
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
