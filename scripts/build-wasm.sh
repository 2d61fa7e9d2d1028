#!/usr/bin/env bash
# Build the browser engine: `allele-wasm` for wasm32-unknown-unknown with the
# lean `wasm` profile, then `wasm-bindgen --target web` into web/pkg/ (an ES
# module plus the .wasm file that web/allele.js loads).
#
# Needs the wasm32 target (`rustup target add wasm32-unknown-unknown`) and
# wasm-bindgen-cli at exactly the version of the `wasm-bindgen` crate in
# Cargo.lock (`cargo install wasm-bindgen-cli --version X`, without
# `--locked`); scripts/test.sh installs both.
set -euo pipefail
cd "$(dirname "$0")/.."

want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [ -z "$want" ]; then
    echo "build-wasm: no wasm-bindgen crate in Cargo.lock" >&2
    exit 1
fi
have=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
if [ "$have" != "$want" ]; then
    echo "build-wasm: wasm-bindgen-cli ${have:-is missing}; need $want (cargo install wasm-bindgen-cli --version $want)" >&2
    exit 1
fi

cargo build --locked --quiet --target wasm32-unknown-unknown --profile wasm -p allele-wasm
target_dir=$(cargo metadata --locked --format-version 1 --no-deps \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
wasm-bindgen --target web --no-typescript --out-dir web/pkg \
    "$target_dir/wasm32-unknown-unknown/wasm/allele_wasm.wasm"
echo "build-wasm: web/pkg/allele_wasm_bg.wasm $(wc -c < web/pkg/allele_wasm_bg.wasm) bytes" >&2
