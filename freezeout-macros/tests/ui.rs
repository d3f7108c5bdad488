//! Misuse of `#[freezeout]` is a compile error pointing at the culprit (trybuild, with the
//! expected messages in `ui/*.stderr`); correct use compiles.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass_*.rs");
    t.compile_fail("tests/ui/fail_*.rs");
}
