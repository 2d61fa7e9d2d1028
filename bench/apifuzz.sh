#!/usr/bin/env bash
# The long API fuzzing run: schemathesis against a real server from its own
# /openapi.json, with every credential (admin, write, decide, customer, and
# another workspace's admin and customer), SECONDS per credential.
# Usage: bench/apifuzz.sh [SECONDS]   (default 300: 30 minutes in all)
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet --disable-pip-version-check schemathesis==4.32.5
start=$(date +%s)
ALLELE_APIFUZZ_SECONDS="${1:-300}" cargo test -p allele --test integration -- \
    --nocapture apifuzz::the_api_survives_fuzzing_with_every_credential
echo "api fuzzing: $(( $(date +%s) - start )) s, no failure"
