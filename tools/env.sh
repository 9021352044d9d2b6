# shellcheck shell=bash
# Sourced by the Makefile before every cargo command: picks the toolchain that can build the
# wasm front end and puts Gantry's cached tools on PATH. Prints nothing, changes no files.
#
# Two routes; the second exists because rustup cannot fetch the wasm32 standard library on
# machines that reach only package registries:
# - rustup's default toolchain already has the wasm32-unknown-unknown target: use it as it is;
# - otherwise Debian's rustc-web 1.96, linked into rustup as "debian-web", which builds the
#   wasm32 standard library from source (-Zbuild-std) and links with lld-22.

export GANTRY_CACHE="${GANTRY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gantry}"

if rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  export GANTRY_TOOLCHAIN_ROUTE=rustup
else
  export GANTRY_TOOLCHAIN_ROUTE=debian-web
  export RUSTUP_TOOLCHAIN=debian-web
  # Lets the stable 1.96 compiler accept -Zbuild-std; nothing else uses unstable features.
  export RUSTC_BOOTSTRAP=1
  export CARGO_UNSTABLE_BUILD_STD=std,panic_abort
  export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=/usr/lib/llvm-22/bin/wasm-ld
fi

# What cargo-leptos sets when it builds, set for every cargo command, so that cargo test and
# clippy reuse the crates cargo leptos compiled instead of rebuilding them for a changed
# environment (Leptos reads LEPTOS_OUTPUT_NAME at compile time). erase_components type-erases
# views: debug builds compile markedly faster, and the release wasm is a quarter smaller
# (1.88 → 1.49 MB after wasm-opt, 730 → 548 KB gzipped), so `make release` keeps it too.
export LEPTOS_OUTPUT_NAME=gantry
export RUSTFLAGS="--cfg erase_components"

GANTRY_WASM_BINDGEN_VERSION="$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/[^0-9.]/, ""); print; exit}' Cargo.lock)"
export GANTRY_WASM_BINDGEN_VERSION
export GANTRY_CARGO_LEPTOS_VERSION=0.3.11
export GANTRY_WASM_OPT_VERSION=0.116.1
export PATH="$GANTRY_CACHE/tools/wasm-bindgen-$GANTRY_WASM_BINDGEN_VERSION/bin:$GANTRY_CACHE/tools/cargo-leptos-$GANTRY_CARGO_LEPTOS_VERSION/bin:$GANTRY_CACHE/tools/wasm-opt-$GANTRY_WASM_OPT_VERSION/bin:$PATH"

# The MLflow client the registry's integration tests run (server/tests/integration/models.rs), in a virtual
# environment named after its pinned requirements; tools/setup.sh installs it.
GANTRY_MLFLOW_VENV="$GANTRY_CACHE/mlflow-$(sha256sum "$(dirname "${BASH_SOURCE[0]}")/../server/tests/mlflow/requirements.txt" | cut -c1-12)"
export GANTRY_MLFLOW_VENV
export GANTRY_MLFLOW_PYTHON="$GANTRY_MLFLOW_VENV/bin/python"
