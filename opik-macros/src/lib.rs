//! The `#[track]` attribute and the `tags!` macro of the [`opik`](https://docs.rs/opik) crate.
//!
//! Three steps, each in its own module: `attr` parses the arguments into one typed struct,
//! `valid` checks them against Opik's rules (every error points at the offending token), and
//! `expand` generates the code (with `shape`, what the signature returns, and `capture`, the
//! closures that record outputs and items); `tags` implements `tags!`. On an argument error the original
//! function is still emitted next to the `compile_error!`, so the user sees that one error and
//! not a cascade.

mod attr;
mod capture;
mod expand;
mod shape;
mod tags;
mod valid;

use proc_macro::TokenStream;

/// Records each call of the function as an Opik span. See the `opik` crate for the arguments.
#[proc_macro_attribute]
pub fn track(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    let args = match syn::parse::<attr::TrackArgs>(args).and_then(valid::validate) {
        Ok(args) => args,
        Err(err) => return expand::with_error(err, item).into(),
    };
    expand::track(args, item).into()
}

/// Declares tag constants, checked against Opik's rules at compile time. See the `opik` crate.
#[proc_macro]
pub fn tags(input: TokenStream) -> TokenStream {
    match syn::parse::<tags::TagDecls>(input) {
        Ok(decls) => decls.expand().into(),
        Err(err) => err.to_compile_error().into(),
    }
}
