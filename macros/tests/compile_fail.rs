//! Misuses of `#[derive(Dataset)]` and the errors they get, pinned by `tests/ui/*.stderr`.

#[test]
fn misuse_is_a_compile_error_at_the_culprit() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
