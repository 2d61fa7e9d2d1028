#!/usr/bin/env bash
# Durable HTTP ingest against its ceiling, in one run on this machine:
#   1. an axum handler that only parses the same JSON (examples/parse_only.rs)
#   2. `allele serve`: peak events/s, then p99 at 50% of that peak
#   3. RSS idle and after the load
# Usage: bench/ingest.sh [seconds-per-phase]   (results as JSON lines in bench/out/)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-15}
CONC=${CONC:-32}
OUT=bench/out; mkdir -p "$OUT"
cargo build --release -q -p allele --bin allele --example loadgen --example parse_only
LOADGEN=target/release/examples/loadgen

target/release/examples/parse_only 127.0.0.1:7079 > /dev/null & REF=$!
sleep 0.5
$LOADGEN --url http://127.0.0.1:7079 --key x --seconds "$SECS" --concurrency "$CONC" | tee "$OUT/parse_only.json"
kill $REF; wait $REF 2>/dev/null || true

DATA=$(mktemp -d)
target/release/allele serve --data "$DATA" --listen 127.0.0.1:7078 > "$OUT/serve.out" 2> "$OUT/serve.err" & SRV=$!
trap 'kill $SRV 2>/dev/null || true; rm -rf "$DATA"' EXIT
for _ in $(seq 100); do grep -q listening "$OUT/serve.out" 2>/dev/null && break; sleep 0.05; done
KEY=$(head -1 "$OUT/serve.out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["write_key"])')
rss() { awk '/VmRSS/ {print $2}' /proc/$SRV/status; }
echo "{\"idle_rss_kb\": $(rss)}" | tee "$OUT/rss_idle.json"

$LOADGEN --url http://127.0.0.1:7078 --key "$KEY" --seconds "$SECS" --concurrency "$CONC" | tee "$OUT/allele_peak.json"
PEAK_RPS=$(python3 -c 'import json; print(json.load(open("bench/out/allele_peak.json"))["requests_per_sec"])')
HALF=$(python3 -c "print(round($PEAK_RPS / 2, 1))")
$LOADGEN --url http://127.0.0.1:7078 --key "$KEY" --seconds "$SECS" --concurrency "$CONC" --rate "$HALF" | tee "$OUT/allele_half.json"

EVENTS=$(sqlite3 "$DATA/allele.db" 'SELECT COUNT(*) FROM events' 2>/dev/null || echo "?")
PROFILES=$(sqlite3 "$DATA/allele.db" 'SELECT COUNT(*) FROM profiles' 2>/dev/null || echo "?")
echo "{\"loaded_rss_kb\": $(rss), \"events\": \"$EVENTS\", \"profiles\": \"$PROFILES\", \"db_bytes\": $(du -sb "$DATA" | cut -f1)}" | tee "$OUT/rss_loaded.json"
python3 - <<'PY'
import json
ref = json.load(open("bench/out/parse_only.json"))
peak = json.load(open("bench/out/allele_peak.json"))
print(json.dumps({"allele_over_parse_only": round(peak["events_per_sec"] / ref["events_per_sec"], 3)}))
PY
