#!/usr/bin/env bash
# Per-call latency percentiles of a whole decision over 100 actions
# (allele-engine, in process, one thread). Usage: bench/engine-latency.sh [calls]
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run --release --quiet -p allele-engine --example decide_latency -- "$@"
