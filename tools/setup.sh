#!/usr/bin/env bash
# Installs what building and testing Gantry needs, and skips what is already there, so a
# second run takes seconds. Called by `make demo` and `make test`; safe to run by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=tools/env.sh
. tools/env.sh

started=$(date +%s)
say() { printf 'setup: %s\n' "$*"; }

apt_updated=
# apt_install [-t RELEASE] PACKAGE...: installs the packages that are not installed yet.
apt_install() {
  local release=()
  if [ "$1" = -t ]; then release=(-t "$2"); shift 2; fi
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || { say "please install: ${missing[*]}"; exit 1; }
  local sudo=; [ "$(id -u)" -eq 0 ] || sudo=sudo
  if [ -z "$apt_updated" ]; then $sudo apt-get update -q >/dev/null; apt_updated=1; fi
  say "installing ${missing[*]}"
  $sudo apt-get install -y -q "${release[@]}" "${missing[@]}" >/dev/null
}

# Tools are installed without the project's build settings from env.sh: they need neither
# erase_components nor a std rebuilt from source.
tool_install() {
  env -u RUSTFLAGS -u CARGO_UNSTABLE_BUILD_STD -u RUSTC_BOOTSTRAP cargo install --quiet "$@"
}

# 1. A toolchain that can build the wasm front end.
if [ "$GANTRY_TOOLCHAIN_ROUTE" = debian-web ]; then
  apt_install -t bookworm-security rustc-web cargo-web rust-web-src rust-web-clippy rustfmt-web
  apt_install lld-22
  rustup toolchain list | grep -q '^debian-web' || rustup toolchain link debian-web /usr
  say "toolchain: Debian's $(rustc --version) building the wasm32 std from source"
else
  say "toolchain: rustup's $(rustc --version) with the wasm32-unknown-unknown target"
fi

# 2. wasm-bindgen-cli at exactly the lock file's wasm-bindgen version.
bindgen_root="$GANTRY_CACHE/tools/wasm-bindgen-$GANTRY_WASM_BINDGEN_VERSION"
if [ "$("$bindgen_root/bin/wasm-bindgen" --version 2>/dev/null)" != "wasm-bindgen $GANTRY_WASM_BINDGEN_VERSION" ]; then
  say "installing wasm-bindgen-cli $GANTRY_WASM_BINDGEN_VERSION (a few minutes, once)"
  # NB: no --locked: the registry lacks one of the exact versions in its lock file.
  tool_install --root "$bindgen_root" wasm-bindgen-cli --version "$GANTRY_WASM_BINDGEN_VERSION"
fi

# 3. cargo-leptos, using the tools on PATH instead of downloading its own.
leptos_root="$GANTRY_CACHE/tools/cargo-leptos-$GANTRY_CARGO_LEPTOS_VERSION"
if [ "$("$leptos_root/bin/cargo-leptos" --version 2>/dev/null)" != "cargo-leptos $GANTRY_CARGO_LEPTOS_VERSION" ]; then
  say "installing cargo-leptos $GANTRY_CARGO_LEPTOS_VERSION (about 15 minutes, once)"
  # --debug: it only drives cargo and wasm-bindgen, and builds in half the time of a release.
  tool_install --debug --locked --root "$leptos_root" cargo-leptos \
    --version "$GANTRY_CARGO_LEPTOS_VERSION" --features no_downloads
fi

# 3b. wasm-opt for `make release`: Binaryen 116 built from the wasm-opt crate's bundled
#     sources (Debian's Binaryen 108 rejects the module today's Rust emits).
wasm_opt_root="$GANTRY_CACHE/tools/wasm-opt-$GANTRY_WASM_OPT_VERSION"
if [ ! -x "$wasm_opt_root/bin/wasm-opt" ]; then
  say "installing wasm-opt $GANTRY_WASM_OPT_VERSION (Binaryen's C++ compiled; about 15 minutes, once)"
  tool_install --locked --root "$wasm_opt_root" wasm-opt --version "$GANTRY_WASM_OPT_VERSION"
fi

# 4. What `make lint` and the benchmarks run besides cargo, and Debian's PostgreSQL for the
#    tests on the second backend (tools/postgres/with-postgres.sh starts a private server).
apt_install shellcheck wrk postgresql

# 5. Debian's Chromium for the browser tests (Playwright cannot download its own here).
command -v chromium >/dev/null || apt_install chromium

# 6. The end-to-end test dependencies, exactly as the lock file says.
lock_sum=$(sha256sum end2end/package-lock.json | cut -d' ' -f1)
if [ "$(cat end2end/node_modules/.gantry-lock 2>/dev/null)" != "$lock_sum" ]; then
  say "installing end-to-end test dependencies"
  (cd end2end && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lock_sum" > end2end/node_modules/.gantry-lock
fi

# 7. The local cluster: its scripts need openssl, curl and ss; its binaries are
#    built from the Go modules in tools/cluster, tools/operators and tools/s3 (about 6, 10
#    and 10 minutes once, then cached; see the README).
apt_install openssl curl iproute2
go_version=$(go env GOVERSION 2>/dev/null || true)
case "$go_version" in
  go1.2[6-9]* | go1.[3-9]* | go[2-9]*) ;;
  *) say "the local cluster is built with Go >= 1.26 (found: ${go_version:-none}); install it from go.dev/dl and rerun"; exit 1 ;;
esac
tools/cluster/build.sh >/dev/null
tools/operators/kserve/build.sh >/dev/null
# The S3-compatible server the artifact store's tests write to (SeaweedFS; see the README).
tools/s3/build.sh >/dev/null

# 8. The real MLflow client for the registry's tests, in a virtual environment named after
#    its pinned requirements (server/tests/mlflow/requirements.txt; about a minute once).
if [ ! -x "$GANTRY_MLFLOW_PYTHON" ]; then
  say "installing the MLflow client into $GANTRY_MLFLOW_VENV"
  rm -rf "$GANTRY_MLFLOW_VENV.partial"
  python3 -m venv "$GANTRY_MLFLOW_VENV.partial"
  "$GANTRY_MLFLOW_VENV.partial/bin/pip" install --quiet --disable-pip-version-check \
    -r server/tests/mlflow/requirements.txt
  mv "$GANTRY_MLFLOW_VENV.partial" "$GANTRY_MLFLOW_VENV"
fi

say "ready in $(( $(date +%s) - started ))s"
