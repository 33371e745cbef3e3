//! Compile-time behaviour of `#[track]` and `tags!`: every shape in `tests/ui/pass` compiles
//! (and runs), every mistake in `tests/ui/fail` is an error pointing at the offending token, with
//! the message in the `.stderr` next to it. Regenerate with `TRYBUILD=overwrite` and read them.
//!
//! Only on a stable toolchain (as `tracing` gates its UI tests): the compiler's wording and
//! notes change between releases and on nightly, and that drift says nothing about this crate.

#[rustversion::attr(not(stable), ignore)]
#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
