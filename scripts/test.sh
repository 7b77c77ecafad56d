#!/usr/bin/env bash
# The project's tests: formatting, lints, doc tests, then every unit, integration and
# compile-fail test of the workspace under nextest (its summary is the closing line).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked --doc
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --locked --no-fail-fast
else
    cargo test --workspace --locked --lib --bins --tests
fi
