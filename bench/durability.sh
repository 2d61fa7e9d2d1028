#!/usr/bin/env bash
# kill -9 during ingest, many times: every acknowledged event stored once.
# Usage: bench/durability.sh [rounds]   (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
ALLELE_KILL_ROUNDS=${1:-20} cargo test -p allele --test integration acknowledged_events_survive_kill_9 -- --nocapture
