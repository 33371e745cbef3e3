//! Running user code the SDK calls on its own (a `Serialize`, `Debug` or `Display` impl of an
//! argument, an output or an error) so that it cannot take the app down: a panic in it is
//! caught and becomes a note in the record, and the call goes on as if the SDK were off.
//!
//! The app would never have called that code itself, so a panic there is the SDK's to contain.
//! (The panic hook still runs, so the panic's message is printed as usual: it is a real bug in
//! the impl, worth seeing.)

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs `f`; a panic in it comes back as `Err` with its message.
///
/// `AssertUnwindSafe`: what `f` touches is the SDK's own capture buffer (reset by the caller on
/// `Err`) or values it only reads, so nothing is left half-changed for the app.
#[inline]
pub(crate) fn guarded<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| panic_message(&*payload))
}

/// The message of a panic payload (`panic!("...")` gives a `&str` or a `String`).
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_its_message() {
        assert_eq!(guarded(|| 1), Ok(1));
        assert_eq!(guarded(|| -> u8 { panic!("boom") }), Err("boom".to_owned()));
        let n = 3;
        assert_eq!(
            guarded(|| -> u8 { panic!("boom {n}") }),
            Err("boom 3".to_owned())
        );
    }
}
