//! Code generation for `#[track]`. The expansion is small on purpose: a `static` with what is
//! known at compile time, one `Call::start` (a relaxed load and a branch when the SDK is off),
//! and one call that runs the body with the span current. Everything else lives in the runtime.

use crate::attr::{NameArg, TrackArgs};
use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{FnArg, GenericArgument, ItemFn, Pat, PathArguments, ReturnType, Type};

/// The original item with the error next to it: one error, not a cascade from a missing fn.
pub fn with_error(err: syn::Error, item: TokenStream) -> TokenStream {
    let err = err.to_compile_error();
    quote! { #err #item }
}

pub fn track(args: TrackArgs, item: TokenStream) -> TokenStream {
    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(_) => {
            // Not a function (or not parseable yet while the user types): point at the item and
            // keep it, so that rust-analyzer still sees the user's code.
            let err = syn::Error::new(
                Span::call_site(),
                "#[opik::track] goes on a function (`fn` or `async fn`)",
            );
            return with_error(err, item);
        }
    };
    if let Some(c) = &func.sig.constness {
        return with_error(
            syn::Error::new(
                c.span(),
                "#[opik::track] cannot go on a `const fn`: recording a span is not const",
            ),
            item,
        );
    }
    if cfg!(not(feature = "enabled")) {
        return func.into_token_stream();
    }
    expand_fn(&args, func)
}

fn expand_fn(args: &TrackArgs, func: ItemFn) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = func;
    let meta = span_meta(args, &sig);
    let describe = describe_call(args, &sig);
    let output = ReturnKind::of(&sig.output);
    let capture_output = output.capture(args.capture_output.as_ref().is_none_or(|b| b.value));
    let fake_return = output.fake_return_edge();
    let stmts = &block.stmts;

    let run = if sig.asyncness.is_some() {
        quote! {
            ::opik::__private::Tracked::new(
                __opik_call,
                async move {
                    #fake_return
                    #(#stmts)*
                },
                #capture_output,
            ).await
        }
    } else {
        quote! {
            ::opik::__private::run_sync(
                __opik_call,
                move || {
                    #fake_return
                    #(#stmts)*
                },
                #capture_output,
            )
        }
    };

    quote! {
        #(#attrs)*
        #vis #sig {
            static __OPIK_META: ::opik::__private::SpanMeta = #meta;
            let __opik_call = ::opik::__private::Call::start(&__OPIK_META, #describe);
            #run
        }
    }
}

/// The `static SpanMeta` initializer.
fn span_meta(args: &TrackArgs, sig: &syn::Signature) -> TokenStream {
    let fn_name = sig.ident.to_string();
    let name = match &args.name {
        Some(NameArg::Lit(l)) => l.value(),
        _ => fn_name,
    };
    let span_type = match args.span_type.as_ref().map(|t| t.value()) {
        Some(t) if t == "llm" => quote!(Llm),
        Some(t) if t == "tool" => quote!(Tool),
        Some(t) if t == "guardrail" => quote!(Guardrail),
        _ => quote!(General),
    };
    let tags = args.tags.iter().flatten();
    let capture_input = args.capture_input.as_ref().is_none_or(|b| b.value);
    let capture_output = args.capture_output.as_ref().is_none_or(|b| b.value);
    quote! {
        ::opik::__private::SpanMeta {
            name: #name,
            span_type: ::opik::__private::SpanType::#span_type,
            tags: &[#(#tags),*],
            capture_input: #capture_input,
            capture_output: #capture_output,
            project_name: ::core::option::Option::None,
        }
    }
}

/// The closure that describes a call when it starts: arguments and run-time settings.
fn describe_call(args: &TrackArgs, sig: &syn::Signature) -> TokenStream {
    let capture_input = args.capture_input.as_ref().is_none_or(|b| b.value);
    let mut body = Vec::new();
    if capture_input {
        for input in &sig.inputs {
            let FnArg::Typed(pat_type) = input else {
                continue; // the receiver (`self`) is never captured
            };
            if let Pat::Ident(pat) = &*pat_type.pat {
                let ident = &pat.ident;
                let key = ident.to_string();
                let key = key.strip_prefix("r#").unwrap_or(&key);
                body.push(quote_spanned! {pat_type.span()=>
                    (&&&::opik::__private::Probe(&#ident)).opik_write(__opik_start.arg(#key));
                });
            }
        }
    }
    if let Some(NameArg::Expr(expr)) = &args.name {
        body.push(quote! { __opik_start.name(::std::string::ToString::to_string(&(#expr))); });
    }
    quote! {
        |__opik_start: &mut ::opik::__private::CallStart| {
            #[allow(unused_imports)]
            use ::opik::__private::{ViaDebug as _, ViaSerialize as _, ViaTypeName as _};
            #(#body)*
        }
    }
}

/// What the function returns, as far as recording its output is concerned.
enum ReturnKind {
    /// `()`: nothing to record.
    Unit,
    /// `Result<T, E>`: `Ok` is the output, `Err` the error.
    Result(Type),
    /// `Option<T>`: `None` records no output.
    Option(Type),
    /// Any other nameable type.
    Other(Type),
    /// A type with `impl Trait` in it: it cannot be named in the generated code.
    Opaque,
}

impl ReturnKind {
    fn of(output: &ReturnType) -> Self {
        let ty = match output {
            ReturnType::Default => return ReturnKind::Unit,
            ReturnType::Type(_, ty) => (**ty).clone(),
        };
        if contains_impl_trait(&ty) {
            return ReturnKind::Opaque;
        }
        if let Type::Tuple(t) = &ty {
            if t.elems.is_empty() {
                return ReturnKind::Unit;
            }
        }
        match last_segment_with_args(&ty).as_deref() {
            Some("Result") => ReturnKind::Result(ty),
            Some("Option") => ReturnKind::Option(ty),
            _ => ReturnKind::Other(ty),
        }
    }

    /// `if false { return <a value of the declared type>; }`: gives the body block its type
    /// before the body is checked, so type errors point at the user's own lines (the trick
    /// `tracing`'s `#[instrument]` uses).
    fn fake_return_edge(&self) -> TokenStream {
        let ty = match self {
            ReturnKind::Unit => quote!(()),
            ReturnKind::Result(t) | ReturnKind::Option(t) | ReturnKind::Other(t) => {
                t.to_token_stream()
            }
            ReturnKind::Opaque => return TokenStream::new(),
        };
        quote! {
            #[allow(unreachable_code, clippy::diverging_sub_expression, clippy::needless_return)]
            if false {
                let __opik_fake_return: #ty = loop {};
                return __opik_fake_return;
            }
        }
    }

    /// The closure that records what the call returned.
    fn capture(&self, values: bool) -> TokenStream {
        let uses = quote! {
            #[allow(unused_imports)]
            use ::opik::__private::{
                ErrViaDebug as _, ErrViaDisplay as _, ErrViaError as _, ErrViaTypeName as _,
                ViaDebug as _, ViaSerialize as _, ViaTypeName as _,
            };
        };
        let write_value = |v: TokenStream| {
            if values {
                quote! { (&&&::opik::__private::Probe(#v)).opik_write(__opik_out.value()); }
            } else {
                quote! { let _ = #v; }
            }
        };
        match self {
            ReturnKind::Unit | ReturnKind::Opaque => quote! {
                |_: &_, _: &mut ::opik::__private::OutputCapture| {}
            },
            ReturnKind::Result(ty) => {
                let ok = write_value(quote!(__opik_v));
                quote! {
                    |__opik_ret: &#ty, __opik_out: &mut ::opik::__private::OutputCapture| {
                        #uses
                        match __opik_ret {
                            ::core::result::Result::Ok(__opik_v) => { #ok }
                            ::core::result::Result::Err(__opik_e) => __opik_out
                                .error((&&&&::opik::__private::ErrProbe(__opik_e)).opik_error()),
                        }
                    }
                }
            }
            ReturnKind::Option(ty) => {
                let some = write_value(quote!(__opik_v));
                quote! {
                    |__opik_ret: &#ty, __opik_out: &mut ::opik::__private::OutputCapture| {
                        #uses
                        if let ::core::option::Option::Some(__opik_v) = __opik_ret { #some }
                    }
                }
            }
            ReturnKind::Other(ty) => {
                let value = write_value(quote!(__opik_ret));
                quote! {
                    |__opik_ret: &#ty, __opik_out: &mut ::opik::__private::OutputCapture| {
                        #uses
                        #value
                    }
                }
            }
        }
    }
}

/// The name of the last path segment, when it has generic arguments (`io::Result<T>` →
/// `Result`).
fn last_segment_with_args(ty: &Type) -> Option<String> {
    let Type::Path(p) = ty else { return None };
    let seg = p.path.segments.last()?;
    match &seg.arguments {
        PathArguments::AngleBracketed(a)
            if a.args.iter().any(|g| matches!(g, GenericArgument::Type(_))) =>
        {
            Some(seg.ident.to_string())
        }
        _ => None,
    }
}

fn contains_impl_trait(ty: &Type) -> bool {
    struct Finder(bool);
    impl<'ast> syn::visit::Visit<'ast> for Finder {
        fn visit_type_impl_trait(&mut self, _: &'ast syn::TypeImplTrait) {
            self.0 = true;
        }
    }
    let mut f = Finder(false);
    syn::visit::Visit::visit_type(&mut f, ty);
    f.0
}
