#!/usr/bin/env bash
# /v1/decide over HTTP: peak decisions/s and p99, then p99 at 50 % of peak.
# 10,000 known customers with consent; a 3-action policy. Every decision is
# logged durably (decision log, exposure event, access log) before it answers.
# Usage: bench/decide.sh [seconds-per-phase]   (PORT=7077 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-15}
PORT=${PORT:-7077}
OUT=bench/out; mkdir -p "$OUT"
cargo build --release -q -p allele --bin allele --example loadgen
BIN=${CARGO_TARGET_DIR:-target}/release
DATA=$(mktemp -d)
"$BIN/allele" serve --data "$DATA" --listen "127.0.0.1:$PORT" > "$OUT/decide-serve.out" 2> /dev/null & SRV=$!
trap 'kill $SRV 2>/dev/null || true; rm -rf "$DATA"' EXIT
for _ in $(seq 100); do grep -q listening "$OUT/decide-serve.out" 2>/dev/null && break; sleep 0.05; done
read -r WK AK < <(head -1 "$OUT/decide-serve.out" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["write_key"], d["admin_key"])')
python3 bench/seed.py "$WK" "$AK" "$PORT"
"$BIN/examples/loadgen" --mode decide --url "http://127.0.0.1:$PORT" --key "$AK" --users 10000 --seconds "$SECS" --concurrency 32 | tee "$OUT/decide_peak.json"
curl -s "http://127.0.0.1:$PORT/metrics" > "$OUT/decide_peak.metrics" || true
PEAK=$(python3 -c 'import json; print(json.load(open("bench/out/decide_peak.json"))["requests_per_sec"])')
HALF=$(python3 -c "print(round($PEAK / 2, 1))")
"$BIN/examples/loadgen" --mode decide --url "http://127.0.0.1:$PORT" --key "$AK" --users 10000 --seconds "$SECS" --concurrency 32 --rate "$HALF" | tee "$OUT/decide_half.json"
# Per-stage timings (`allele_decide_stage_seconds`, writer queue and commit):
curl -s "http://127.0.0.1:$PORT/metrics" > "$OUT/decide_half.metrics" || true
