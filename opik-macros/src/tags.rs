//! `opik::tags! { pub LIVE_COACH = "live-coach"; }`: tag constants declared once, so that a
//! typo in `#[track(tags = [LIVE_COACH])]` is an unresolved name instead of a new tag in the
//! dashboard. Each value is checked by const evaluation of the runtime's one set of tag rules
//! (`::opik::__private::check_tag`), so that a bad value is a compile error at the value.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{Attribute, Expr, Ident, Token, Visibility};

/// `#[doc] pub NAME = "value";`
struct TagDecl {
    attrs: Vec<Attribute>,
    vis: Visibility,
    name: Ident,
    value: Expr,
}

/// Everything inside `tags! { ... }`.
pub struct TagDecls(Vec<TagDecl>);

impl Parse for TagDecls {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut decls = Vec::new();
        while !input.is_empty() {
            let attrs = input.call(Attribute::parse_outer)?;
            let vis = input.parse()?;
            let name: Ident = input.parse().map_err(|e| {
                syn::Error::new(
                    e.span(),
                    "expected a tag declaration: `pub NAME = \"tag-value\";`",
                )
            })?;
            input.parse::<Token![=]>()?;
            let value = input.parse()?;
            input
                .parse::<Token![;]>()
                .map_err(|e| syn::Error::new(e.span(), "expected `;` after the tag's value"))?;
            decls.push(TagDecl {
                attrs,
                vis,
                name,
                value,
            });
        }
        Ok(TagDecls(decls))
    }
}

impl TagDecls {
    pub fn expand(&self) -> TokenStream {
        let mut out = TokenStream::new();
        for decl in &self.0 {
            let TagDecl {
                attrs,
                vis,
                name,
                value,
            } = decl;
            let value = quote_spanned! {value.span()=> ::opik::__private::check_tag(#value) };
            out.extend(quote! {
                #(#attrs)*
                #vis const #name: &'static str = #value;
            });
        }
        out
    }
}
