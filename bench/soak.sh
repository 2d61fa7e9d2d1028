#!/usr/bin/env bash
# Soak: a mixed workload for DURATION seconds at half of the peak measured
# at the start of the same run, with the server's RSS and probe latencies
# sampled every 10 s (bench/out/soak.csv, plot in bench/soak.png).
#
# Peak first: 15 s of ingest alone and 15 s of decisions alone. Both share
# the single writer; the soak runs ingest at INGEST_SHARE of its peak and
# decisions at DECIDE_SHARE of theirs (defaults 0.25 + 0.25: half of the
# writer for the mix; every event and decision is kept, ~1.2 KB each, so
# mind the disk: the defaults write ~25 GB an hour here), plus a sampler that every
# 10 s measures one round of each kind of call: ingest (`/v1/track`), a
# decision, an experiment readout, a funnel, a profile read, and the
# customer portal (`/v1/me/consent`, `/v1/me/export`) for a customer outside
# the load (token renewed every 10 minutes).
# Decisions get DECIDE_CONNECTIONS (default 64): with 16, ~35 ms decisions
# under the mix could not carry the scheduled rate and the generator fell behind.
# Usage: bench/soak.sh [duration-seconds]   (default 3600)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-3600}
PORT=${PORT:-7076}
OUT=bench/out; mkdir -p "$OUT"
cargo build --release -q -p allele --bin allele --example loadgen
BIN=${CARGO_TARGET_DIR:-target}/release
DATA=$(mktemp -d)
"$BIN/allele" serve --data "$DATA" --listen "127.0.0.1:$PORT" > "$OUT/soak-serve.out" 2> /dev/null & SRV=$!
LOADS=""
trap 'kill $SRV $LOADS 2>/dev/null || true; rm -rf "$DATA"' EXIT
for _ in $(seq 100); do grep -q listening "$OUT/soak-serve.out" 2>/dev/null && break; sleep 0.05; done
read -r WK AK < <(head -1 "$OUT/soak-serve.out" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["write_key"], d["admin_key"])')
# 10,000 customers, half with consent, the demo's policy (as bench/decide.sh).
python3 bench/seed.py "$WK" "$AK" "$PORT"
"$BIN/examples/loadgen" --mode batch --url "http://127.0.0.1:$PORT" --key "$WK" --users 10000 --seconds 15 --concurrency 32 > "$OUT/soak_peak_ingest.json"
"$BIN/examples/loadgen" --mode decide --url "http://127.0.0.1:$PORT" --key "$AK" --users 10000 --seconds 15 --concurrency 32 > "$OUT/soak_peak_decide.json"
INGEST=$(python3 -c "import json; print(round(json.load(open('bench/out/soak_peak_ingest.json'))['requests_per_sec'] * ${INGEST_SHARE:-0.25}, 2))")
DECIDE=$(python3 -c "import json; print(round(json.load(open('bench/out/soak_peak_decide.json'))['requests_per_sec'] * ${DECIDE_SHARE:-0.25}, 2))")
echo "peaks: $(cat "$OUT/soak_peak_ingest.json")"
echo "       $(cat "$OUT/soak_peak_decide.json")"
echo "soak: $DURATION s at $INGEST ingest requests/s (100 events each) + $DECIDE decisions/s"
"$BIN/examples/loadgen" --mode batch --url "http://127.0.0.1:$PORT" --key "$WK" --users 10000 --seconds "$DURATION" --concurrency 16 --rate "$INGEST" > "$OUT/soak_ingest.json" & LOADS="$!"
"$BIN/examples/loadgen" --mode decide --url "http://127.0.0.1:$PORT" --key "$AK" --users 10000 --seconds "$DURATION" --concurrency "${DECIDE_CONNECTIONS:-64}" --rate "$DECIDE" > "$OUT/soak_decide.json" & LOADS="$LOADS $!"
python3 bench/soak_sample.py "$PORT" "$WK" "$AK" "$SRV" "$DURATION" "$OUT/soak.csv"
wait $LOADS
echo "ingest: $(cat "$OUT/soak_ingest.json")"
echo "decide: $(cat "$OUT/soak_decide.json")"
python3 bench/soak_sample.py --report "$OUT/soak.csv" bench/soak.png
