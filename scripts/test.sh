#!/usr/bin/env bash
# Run every test: installs the real clients and reference packages the tests
# compare against (from PyPI and npm), then the whole workspace's tests.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check -r .ci/requirements.txt
(cd crates/allele/tests/clients && npm ci --no-audit --no-fund --loglevel=error)

cargo test --workspace --locked
