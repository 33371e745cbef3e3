//! Code generation for `#[track]`. The expansion is small on purpose: a `static` with what is
//! known at compile time, one `Call::start` (a relaxed load and a branch when the SDK is off),
//! and one call that runs the body with the span current. Everything else lives in the runtime.
//!
//! Shapes:
//! - `async fn`: the body becomes an `async move` block wrapped in `Tracked`;
//! - `fn` returning a future (`impl Future<Output = T>`, `Pin<Box<dyn Future<Output = T>>>`,
//!   `BoxFuture<'_, T>`, which is also what `#[async_trait]` turns methods into): the arguments
//!   are captured at the call, the body runs at the call (it builds the future), and the span
//!   starts at the future's first poll and ends when it completes: it covers the future's run;
//! - `fn` returning a stream or an iterator (`impl Stream<Item = T>`, a boxed stream,
//!   `impl Iterator<Item = T>`...): the arguments and the current span are captured at the
//!   call, the span starts at the first item asked for, is current during every poll, and
//!   ends with the stream, its items aggregated (see the runtime's `recorder::stream`);
//! - any other `fn`: the body becomes a closure run by `run_sync`.
//!
//! Which shape a signature has is `shape`'s business; the capture closures are `capture`'s.

use crate::attr::{NameArg, TagArg, TrackArgs};
use crate::capture;
use crate::shape::{erase_impl_trait, Shape, Value};
use crate::valid::{pat_idents, unraw};
use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{AttrStyle, Attribute, FnArg, Item, ItemFn, ReturnType, Signature, Type, Visibility};

/// The original item with the error next to it: one error, not a cascade from a missing fn.
pub fn with_error(err: syn::Error, item: TokenStream) -> TokenStream {
    let err = err.to_compile_error();
    quote! { #err #item }
}

/// A function whose body may not parse yet (the user is typing): enough to tell a function
/// from another item, so that rust-analyzer keeps working on the raw tokens.
struct MaybeFn {
    _attrs: Vec<Attribute>,
    _vis: Visibility,
    _sig: Signature,
    _body: TokenStream,
}

impl Parse for MaybeFn {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis = input.parse()?;
        let sig = input.parse()?;
        let content;
        syn::braced!(content in input);
        Ok(MaybeFn {
            _attrs: attrs,
            _vis: vis,
            _sig: sig,
            _body: content.parse()?,
        })
    }
}

pub fn track(args: TrackArgs, item: TokenStream) -> TokenStream {
    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(_) if syn::parse2::<MaybeFn>(item.clone()).is_ok() => {
            // A function whose body does not parse: hand it back untouched, so the compiler
            // reports the user's syntax error and rust-analyzer still sees the code.
            return item;
        }
        Err(_) => return with_error(not_a_function(&item), item),
    };
    if let Some(c) = &func.sig.constness {
        return with_error(
            syn::Error::new(
                c.span(),
                "#[opik::track] cannot go on a `const fn`: recording a span is not const; \
                 remove `const` or the attribute",
            ),
            item,
        );
    }
    if let Err(e) = crate::valid::validate_against(&args, &func.sig) {
        return with_error(e, item);
    }
    if cfg!(not(feature = "enabled")) {
        return unchanged(&args, func);
    }
    expand_fn(&args, func)
}

/// The error for an item that is not a function, at its keyword.
fn not_a_function(item: &TokenStream) -> syn::Error {
    let (span, what) = match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Struct(i)) => (i.struct_token.span, "a struct"),
        Ok(Item::Enum(i)) => (i.enum_token.span, "an enum"),
        Ok(Item::Const(i)) => (i.const_token.span, "a constant"),
        Ok(Item::Static(i)) => (i.static_token.span, "a static"),
        Ok(Item::Impl(i)) => (i.impl_token.span, "an impl block (put it on each method)"),
        Ok(Item::Trait(i)) => (i.trait_token.span, "a trait"),
        Ok(Item::Mod(i)) => (i.mod_token.span, "a module"),
        Ok(Item::Type(i)) => (i.type_token.span, "a type alias"),
        Ok(Item::Use(i)) => (i.use_token.span, "a use declaration"),
        Ok(Item::Union(i)) => (i.union_token.span, "a union"),
        _ => match syn::parse2::<syn::TraitItemFn>(item.clone()) {
            // `fn f(&self);` in a trait: nothing to run, so nothing to record.
            Ok(f) if f.default.is_none() => {
                return syn::Error::new(
                    f.sig.fn_token.span,
                    "#[opik::track] needs a function body; put it on the implementations of \
                     this trait method",
                )
            }
            _ => (Span::call_site(), "this item"),
        },
    };
    syn::Error::new(
        span,
        format!("#[opik::track] goes on a function (`fn` or `async fn`), not on {what}"),
    )
}

/// With the `enabled` feature off: the function as written, plus the compile-time checks of
/// declared tags (consts: no run-time cost).
fn unchanged(args: &TrackArgs, mut func: ItemFn) -> TokenStream {
    let checks = tag_checks(args);
    if !checks.is_empty() {
        let check_stmt: syn::Stmt = syn::parse_quote! { const _: () = { #checks }; };
        func.block.stmts.insert(0, check_stmt);
    }
    func.into_token_stream()
}

fn expand_fn(args: &TrackArgs, func: ItemFn) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = func;
    // Inner attributes (`#![allow(..)]`) stay inside the body.
    let (inner, outer): (Vec<Attribute>, Vec<Attribute>) = attrs
        .into_iter()
        .partition(|a| matches!(a.style, AttrStyle::Inner(_)));
    let meta = span_meta(args, &sig);
    let checks = tag_checks(args);
    let describe = describe_call(args, &sig);
    // The user's block is kept whole, in its own braces: items and `use`s in it (a `use` of a
    // name of the return type, say) stay scoped to it and cannot change what the generated
    // code around it means.
    // A function that never returns has nothing to flush after (and `!` cannot be bound).
    let never = matches!(&sig.output, ReturnType::Type(_, t) if matches!(**t, Type::Never(_)));
    let flush_sync =
        (args.flush() && !never).then(|| quote! { ::opik::__private::flush_current(); });
    let flush_async = args
        .flush()
        .then(|| quote! { ::opik::__private::flush_current_async().await; });

    let fake_return = fake_return_edge(&sig.output);
    let run = match Shape::of(&sig) {
        Shape::Async => {
            let capture_output =
                capture::output(&Value::of_return(&sig.output), args.capture_output());
            let run = quote! {
                let __opik_call = ::opik::__private::Call::start(&__OPIK_META, #describe);
                let __opik_ret = ::opik::__private::Tracked::new(
                    __opik_call,
                    async move {
                        #fake_return
                        #block
                    },
                    #capture_output,
                ).await;
                #flush_async
                __opik_ret
            };
            match &args.distributed_headers {
                // The headers are read now (they may borrow arguments); the whole call,
                // `Call::start` included, then runs under the remote parent.
                Some(headers) => quote! {
                    let __opik_remote =
                        ::opik::__private::DistributedHeaders::from_headers(&(#headers));
                    ::opik::__private::continue_remote(__opik_remote, async move { #run }).await
                },
                None => run,
            }
        }
        Shape::Future { output, boxed } => {
            let capture_output = capture::output(&output, args.capture_output());
            // The span starts at the future's first poll, inside `Tracked` itself: no async
            // block around it (one frame less per level of nesting), unless a flush follows.
            let tracked = quote! {
                ::opik::__private::Tracked::deferred(
                    &__OPIK_META,
                    __opik_pre,
                    __opik_fut,
                    __opik_output,
                )
            };
            let wrapped = match &flush_async {
                Some(flush) => quote! {
                    async move {
                        let __opik_ret = #tracked.await;
                        #flush
                        __opik_ret
                    }
                },
                None => tracked,
            };
            let (remote, wrapped) = match &args.distributed_headers {
                Some(headers) => (
                    quote! {
                        let __opik_remote =
                            ::opik::__private::DistributedHeaders::from_headers(&(#headers));
                    },
                    quote! { ::opik::__private::continue_remote(__opik_remote, #wrapped) },
                ),
                None => (TokenStream::new(), wrapped),
            };
            let wrapped = if boxed {
                quote! { ::std::boxed::Box::pin(#wrapped) }
            } else {
                wrapped
            };
            quote! {
                // Arguments are captured now, while they are still borrowed here; the span
                // starts when the future is first polled, under the span current then.
                #remote
                let __opik_pre = ::opik::__private::CallStart::capture(#describe);
                let __opik_fut = ::opik::__private::call_once(move || {
                    #fake_return
                    #block
                });
                let __opik_output = #capture_output;
                #wrapped
            }
        }
        Shape::Stream { item, boxed } | Shape::Iter { item, boxed } => {
            let is_stream = matches!(Shape::of(&sig), Shape::Stream { .. });
            let capture_items = capture::item(&item, args.capture_output());
            let wrapper = if is_stream {
                quote!(::opik::__private::TrackedStream)
            } else {
                quote!(::opik::__private::TrackedIter)
            };
            let aggregate = args.aggregate.as_ref().map(|f| quote! { .aggregate(#f) });
            let tracked = quote! {
                #wrapper::new(&__OPIK_META, __opik_pre, __opik_inner, #capture_items) #aggregate
            };
            let tracked = match (boxed, is_stream) {
                (true, true) => quote! { ::std::boxed::Box::pin(#tracked) },
                (true, false) => quote! { ::std::boxed::Box::new(#tracked) },
                (false, _) => tracked,
            };
            // The arguments and the span current now (the stream's parent) are captured at the
            // call; the span starts at the first item asked for.
            let made = quote! {
                let __opik_pre = ::opik::__private::CallStart::capture(#describe);
                let __opik_inner = ::opik::__private::call_once(move || {
                    #fake_return
                    #block
                });
                #tracked
            };
            match &args.distributed_headers {
                Some(headers) => quote! {
                    let __opik_remote = ::opik::__private::OpikContext::from_headers(&(#headers));
                    __opik_remote.run(move || { #made })
                },
                None => made,
            }
        }
        Shape::Plain(output) => {
            let capture_output = capture::output(&output, args.capture_output());
            let call = quote! {
                ::opik::__private::run_sync(
                    __opik_call,
                    move || {
                        #fake_return
                        #block
                    },
                    #capture_output,
                )
            };
            let run = match flush_sync {
                Some(flush) => quote! {
                    let __opik_ret = #call;
                    #flush
                    __opik_ret
                },
                None => call,
            };
            let run = quote! {
                let __opik_call = ::opik::__private::Call::start(&__OPIK_META, #describe);
                #run
            };
            match &args.distributed_headers {
                Some(headers) => quote! {
                    let __opik_remote = ::opik::__private::OpikContext::from_headers(&(#headers));
                    __opik_remote.run(move || { #run })
                },
                None => run,
            }
        }
    };

    let checks = (!checks.is_empty()).then(|| quote! { const _: () = { #checks }; });
    quote! {
        #(#outer)*
        #vis #sig {
            #(#inner)*
            #checks
            static __OPIK_META: ::opik::__private::SpanMeta = #meta;
            #run
        }
    }
}

/// The `static SpanMeta` initializer.
fn span_meta(args: &TrackArgs, sig: &Signature) -> TokenStream {
    let fn_name = unraw(&sig.ident.to_string());
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
    let tags = args.tags.iter().flatten().map(|t| match t {
        TagArg::Lit(l) => l.to_token_stream(),
        TagArg::Path(p) => p.to_token_stream(),
    });
    let capture_input = args.capture_input();
    let capture_output = args.capture_output();
    let project_name = match &args.project_name {
        Some(p) => quote!(::core::option::Option::Some(#p)),
        None => quote!(::core::option::Option::None),
    };
    quote! {
        ::opik::__private::SpanMeta {
            name: #name,
            span_type: ::opik::__private::SpanType::#span_type,
            tags: &[#(#tags),*],
            capture_input: #capture_input,
            capture_output: #capture_output,
            project_name: #project_name,
            warned_project: ::opik::__private::AtomicBool::new(false),
        }
    }
}

/// Const checks of the tags: one per tag, spanned at it, evaluating the runtime's one set of
/// tag rules (`::opik::__private::check_tag_at`), so that a bad tag, a repeated one or one too
/// many is a compile error pointing at that tag.
fn tag_checks(args: &TrackArgs) -> TokenStream {
    let Some(tags) = &args.tags else {
        return TokenStream::new();
    };
    let all: Vec<TokenStream> = tags
        .iter()
        .map(|t| match t {
            TagArg::Lit(l) => l.to_token_stream(),
            TagArg::Path(p) => p.to_token_stream(),
        })
        .collect();
    let mut checks = TokenStream::new();
    for (i, tag) in tags.iter().enumerate() {
        let span = match tag {
            TagArg::Path(p) => p.span(),
            TagArg::Lit(l) => l.span(),
        };
        checks.extend(quote_spanned! {span=>
            ::opik::__private::check_tag_at(&[#(#all),*], #i);
        });
    }
    checks
}

/// The closure that describes a call when it starts: arguments and run-time settings.
fn describe_call(args: &TrackArgs, sig: &Signature) -> TokenStream {
    let skipped: Vec<String> = args
        .skip
        .iter()
        .flat_map(|(_, names)| names.iter().map(|n| unraw(&n.to_string())))
        .collect();
    let mut body = Vec::new();
    if args.capture_input() {
        for input in &sig.inputs {
            let FnArg::Typed(pat_type) = input else {
                continue; // the receiver (`self`) is never captured
            };
            // A `#[cfg]`ed parameter is captured under the same `cfg`.
            let cfgs: Vec<&Attribute> = pat_type
                .attrs
                .iter()
                .filter(|a| a.path().is_ident("cfg"))
                .collect();
            pat_idents(&pat_type.pat, &mut |ident| {
                let key = unraw(&ident.to_string());
                if skipped.contains(&key) {
                    return;
                }
                // The key as JSON, `"name":`, written out here: an identifier needs no escaping,
                // so the call copies one literal instead of checking and quoting the name.
                let json_key = format!("\"{key}\":");
                body.push(quote_spanned! {ident.span()=>
                    #(#cfgs)*
                    (&&&&::opik::__private::Probe(&#ident)).opik_write(__opik_start.arg_key(#json_key));
                });
            });
        }
    }
    if let Some(NameArg::Expr(expr)) = &args.name {
        body.push(quote_spanned! {expr.span()=>
            __opik_start.name(::std::string::ToString::to_string(&(#expr)));
        });
    }
    for entry in args.metadata.iter().flatten() {
        let key = &entry.key;
        let value = &entry.value;
        body.push(quote_spanned! {value.span()=>
            __opik_start.metadata_value(#key, &(#value));
        });
    }
    if let Some(expr) = &args.thread_id {
        body.push(quote_spanned! {expr.span()=>
            __opik_start.thread_id(::std::string::ToString::to_string(&(#expr)));
        });
    }
    quote! {
        |__opik_start: &mut ::opik::__private::CallStart| {
            #[allow(unused_imports)]
            use ::opik::__private::{ViaDebug as _, ViaFast as _, ViaSerialize as _, ViaTypeName as _};
            #(#body)*
        }
    }
}

/// `if false { return <a value of the declared type>; }`: gives the body block its type
/// before the body is checked, so type errors point at the user's own lines (the trick
/// `tracing`'s `#[instrument]` uses). Spanned at the return type, so that an error the edge
/// itself causes points at `-> T`, not at the attribute. `impl Trait` cannot be named in the
/// generated code, so it is erased to `_` (`Result<impl Display, E>` gives `Result<_, E>`:
/// still an edge for the rest of the type); `!` has nothing to return.
fn fake_return_edge(output: &ReturnType) -> TokenStream {
    let ty = match output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) if matches!(**ty, Type::Never(_)) => return TokenStream::new(),
        ReturnType::Type(_, ty) => match erase_impl_trait(ty) {
            Some(ty) => ty.to_token_stream(),
            None => return TokenStream::new(), // a bare `impl Trait`: nothing left to say
        },
    };
    let span = match output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => Span::call_site(),
    };
    quote_spanned! {span=>
        #[allow(
            unreachable_code,
            clippy::diverging_sub_expression,
            clippy::empty_loop,
            clippy::needless_return
        )]
        if false {
            let __opik_fake_return: #ty = loop {};
            return __opik_fake_return;
        }
    }
}
