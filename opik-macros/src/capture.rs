//! The closures the expansion hands to the runtime to record what a call returned, or what a
//! stream yielded, for each kind of value (`shape::Value`). Each goes through the runtime's
//! probes (`::opik::__private::Probe`/`ErrProbe`), which pick by autoref specialization the best
//! capture the type allows: `Serialize`, else `Debug`, else the type's name; for errors
//! `std::error::Error` with its causes, else `Display`, else `Debug`.

use crate::shape::Value;
use proc_macro2::TokenStream;
use quote::quote;

fn probes() -> TokenStream {
    quote! {
        #[allow(unused_imports)]
        use ::opik::__private::{
            ErrViaDebug as _, ErrViaDisplay as _, ErrViaError as _, ErrViaTypeName as _,
            ViaDebug as _, ViaFast as _, ViaSerialize as _, ViaTypeName as _,
        };
    }
}

/// `(&&&Probe(v)).opik_write(buf)`, or nothing when values are not captured.
fn write(v: TokenStream, buf: TokenStream, values: bool) -> TokenStream {
    if values {
        quote! { (&&&&::opik::__private::Probe(#v)).opik_write(#buf); }
    } else {
        quote! { let _ = #v; }
    }
}

/// `|ret: &T, out: &mut OutputCapture| ...`: what a call returned (with `values`, its value;
/// errors always).
pub fn output(value: &Value, values: bool) -> TokenStream {
    let uses = probes();
    let out = quote!(__opik_out.value());
    match value {
        Value::Unit | Value::Opaque => quote! {
            |_: &_, _: &mut ::opik::__private::OutputCapture| {}
        },
        Value::Result(ty) => {
            let ok = write(quote!(__opik_v), out, values);
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
        Value::Option(ty) => {
            let some = write(quote!(__opik_v), out, values);
            quote! {
                |__opik_ret: &#ty, __opik_out: &mut ::opik::__private::OutputCapture| {
                    #uses
                    if let ::core::option::Option::Some(__opik_v) = __opik_ret { #some }
                }
            }
        }
        Value::Other(ty) => {
            let value = write(quote!(__opik_ret), out, values);
            quote! {
                |__opik_ret: &#ty, __opik_out: &mut ::opik::__private::OutputCapture| {
                    #uses
                    #value
                }
            }
        }
    }
}

/// `|item: &T, items: &mut ItemCapture| ...`: one item a stream or iterator yielded (`Ok`
/// values aggregated, `Err` the span's error; an `Option` item is its value or nothing).
pub fn item(value: &Value, values: bool) -> TokenStream {
    let uses = probes();
    let into = quote!(__opik_items.item());
    match value {
        Value::Unit | Value::Opaque => quote! {
            |_: &_, _: &mut ::opik::__private::ItemCapture| {}
        },
        Value::Result(ty) => {
            let ok = write(quote!(__opik_v), into, values);
            quote! {
                |__opik_item: &#ty, __opik_items: &mut ::opik::__private::ItemCapture| {
                    #uses
                    match __opik_item {
                        ::core::result::Result::Ok(__opik_v) => { #ok }
                        ::core::result::Result::Err(__opik_e) => __opik_items
                            .error((&&&&::opik::__private::ErrProbe(__opik_e)).opik_error()),
                    }
                }
            }
        }
        Value::Option(ty) | Value::Other(ty) => {
            let value = write(quote!(__opik_item), into, values);
            quote! {
                |__opik_item: &#ty, __opik_items: &mut ::opik::__private::ItemCapture| {
                    #uses
                    #value
                }
            }
        }
    }
}
