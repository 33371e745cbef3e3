//! What a tracked function returns, read from its signature: the shape decides how the call is
//! wrapped (`expand`), and the value kind how its output is captured (`capture`).
//!
//! Shapes, from the signature alone (a type alias to a future or stream is a plain value):
//! - `async fn`;
//! - a future: `impl Future<Output = T>`, `Pin<Box<dyn Future<Output = T> ...>>`,
//!   `BoxFuture<'_, T>` / `LocalBoxFuture` (what `#[async_trait]` makes of methods);
//! - a stream: `impl Stream<Item = T>`, `Pin<Box<dyn Stream<Item = T> ...>>`,
//!   `BoxStream<'_, T>` / `LocalBoxStream`;
//! - an iterator: `impl Iterator<Item = T>`, `Box<dyn Iterator<Item = T> ...>`;
//! - anything else: a value.

use syn::visit_mut::VisitMut;
use syn::{GenericArgument, PathArguments, ReturnType, Signature, Type, TypeParamBound};

/// How a tracked function is wrapped.
pub enum Shape {
    /// `async fn`.
    Async,
    /// A future; `boxed` when the signature boxes it. Its output's kind.
    Future { output: Value, boxed: bool },
    /// A stream of items of this kind; `boxed` when the signature boxes it.
    Stream { item: Value, boxed: bool },
    /// An iterator of items of this kind; `boxed` when the signature boxes it.
    Iter { item: Value, boxed: bool },
    /// A sync function returning a value of this kind.
    Plain(Value),
}

/// What a returned value (or an item) is, as far as capturing it is concerned.
pub enum Value {
    /// `()`: nothing to record.
    Unit,
    /// `Result<T, E>`: `Ok` is the output, `Err` the error.
    Result(Type),
    /// `Option<T>`: `None` records no output.
    Option(Type),
    /// Any other nameable type.
    Other(Type),
    /// A type with `impl Trait` in it (or `!`): it cannot be named in the generated code.
    Opaque,
}

impl Shape {
    pub fn of(sig: &Signature) -> Self {
        if sig.asyncness.is_some() {
            return Shape::Async;
        }
        let ReturnType::Type(_, ty) = &sig.output else {
            return Shape::Plain(Value::Unit);
        };
        if let Some((trait_name, inner, boxed)) = wrapped(ty) {
            let kind = Value::of(&inner);
            return match trait_name {
                Wrapper::Future => Shape::Future {
                    output: kind,
                    boxed,
                },
                Wrapper::Stream => Shape::Stream { item: kind, boxed },
                Wrapper::Iterator => Shape::Iter { item: kind, boxed },
            };
        }
        Shape::Plain(Value::of(ty))
    }
}

impl Value {
    pub fn of_return(output: &ReturnType) -> Self {
        match output {
            ReturnType::Default => Value::Unit,
            ReturnType::Type(_, ty) => Self::of(ty),
        }
    }

    pub fn of(ty: &Type) -> Self {
        if contains_impl_trait(ty) || matches!(ty, Type::Never(_)) {
            return Value::Opaque;
        }
        if let Type::Tuple(t) = ty {
            if t.elems.is_empty() {
                return Value::Unit;
            }
        }
        let ty = ty.clone();
        match last_segment_with_args(&ty).as_deref() {
            Some("Result") => Value::Result(ty),
            Some("Option") => Value::Option(ty),
            _ => Value::Other(ty),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Wrapper {
    Future,
    Stream,
    Iterator,
}

impl Wrapper {
    /// The trait and its associated type: `Future<Output = T>`, `Stream<Item = T>`...
    const ALL: [(Wrapper, &'static str, &'static str); 3] = [
        (Wrapper::Future, "Future", "Output"),
        (Wrapper::Stream, "Stream", "Item"),
        (Wrapper::Iterator, "Iterator", "Item"),
    ];
}

/// `(wrapper, T, boxed)` when `ty` is a future, stream or iterator of `T` by its spelling.
fn wrapped(ty: &Type) -> Option<(Wrapper, Type, bool)> {
    match ty {
        Type::ImplTrait(t) => bound_item(&t.bounds).map(|(w, inner)| (w, inner, false)),
        Type::Path(p) => {
            let seg = p.path.segments.last()?;
            let args = generic_types(&seg.arguments);
            match seg.ident.to_string().as_str() {
                // futures' `BoxFuture<'a, T>`, `BoxStream<'a, T>` and their `Local` twins.
                "BoxFuture" | "LocalBoxFuture" => {
                    Some((Wrapper::Future, args.first().copied()?.clone(), true))
                }
                "BoxStream" | "LocalBoxStream" => {
                    Some((Wrapper::Stream, args.first().copied()?.clone(), true))
                }
                // `Pin<Box<dyn Future | Stream>>`.
                "Pin" => {
                    let (w, inner) = boxed_dyn(args.first().copied()?)?;
                    (w != Wrapper::Iterator).then_some((w, inner, true))
                }
                // `Box<dyn Iterator>`.
                "Box" => {
                    let (w, inner) = boxed_dyn(ty)?;
                    (w == Wrapper::Iterator).then_some((w, inner, true))
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// `Box<dyn Trait<Assoc = T> ...>`.
fn boxed_dyn(ty: &Type) -> Option<(Wrapper, Type)> {
    let Type::Path(boxed) = ty else { return None };
    let seg = boxed.path.segments.last()?;
    if seg.ident != "Box" {
        return None;
    }
    match generic_types(&seg.arguments).first() {
        Some(Type::TraitObject(d)) => bound_item(&d.bounds),
        _ => None,
    }
}

/// The wrapper trait among `bounds` and its associated type.
fn bound_item<'a>(bounds: impl IntoIterator<Item = &'a TypeParamBound>) -> Option<(Wrapper, Type)> {
    bounds.into_iter().find_map(|b| {
        let TypeParamBound::Trait(t) = b else {
            return None;
        };
        let seg = t.path.segments.last()?;
        let (wrapper, _, assoc) = Wrapper::ALL
            .into_iter()
            .find(|(_, name, _)| seg.ident == name)?;
        let PathArguments::AngleBracketed(a) = &seg.arguments else {
            return None;
        };
        a.args.iter().find_map(|g| match g {
            GenericArgument::AssocType(at) if at.ident == assoc => Some((wrapper, at.ty.clone())),
            _ => None,
        })
    })
}

fn generic_types(args: &PathArguments) -> Vec<&Type> {
    match args {
        PathArguments::AngleBracketed(a) => a
            .args
            .iter()
            .filter_map(|g| match g {
                GenericArgument::Type(t) => Some(t),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
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

/// `ty` with every `impl Trait` replaced by `_` (`Result<impl Display, E>` → `Result<_, E>`),
/// for a type annotation the generated code can write; `None` when nothing is left to say.
pub fn erase_impl_trait(ty: &Type) -> Option<Type> {
    struct Eraser;
    impl VisitMut for Eraser {
        fn visit_type_mut(&mut self, ty: &mut Type) {
            if let Type::ImplTrait(t) = ty {
                *ty = Type::Infer(syn::TypeInfer {
                    underscore_token: syn::Token![_](syn::spanned::Spanned::span(t)),
                });
                return;
            }
            syn::visit_mut::visit_type_mut(self, ty);
        }
    }
    let mut ty = ty.clone();
    Eraser.visit_type_mut(&mut ty);
    (!matches!(ty, Type::Infer(_))).then_some(ty)
}
