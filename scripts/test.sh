#!/usr/bin/env bash
# Run every test: installs the real clients and reference packages the tests
# compare against (from PyPI and npm), the browser and the wasm toolchain,
# then the whole workspace's tests.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check -r .ci/requirements.txt
(cd crates/allele/tests/clients && npm ci --no-audit --no-fund --loglevel=error)

# Headless Chromium for the browser tests (CI runs as root on Debian).
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
(cd crates/allele/tests/browser && npm ci --no-audit --no-fund --loglevel=error)

# The wasm toolchain: the target, and wasm-bindgen-cli at exactly the
# version of the wasm-bindgen crate in Cargo.lock (`--locked` fails here).
rustup target add wasm32-unknown-unknown >/dev/null 2>&1 || true
want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }')" != "$want" ]; then
    cargo install --quiet --force wasm-bindgen-cli --version "$want"
fi
./scripts/build-wasm.sh

cargo test --workspace --locked
