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
python3 - "$WK" "$AK" "$PORT" <<'PY'
import base64, json, sys, urllib.request
wk, ak, port = sys.argv[1:4]
def call(method, path, body, auth, ctype="application/json"):
    req = urllib.request.Request(f"http://127.0.0.1:{port}" + path, data=body.encode(), method=method,
                                 headers={"Authorization": auth, "Content-Type": ctype})
    urllib.request.urlopen(req).read()
basic = "Basic " + base64.b64encode((wk + ":").encode()).decode()
for start in range(0, 10000, 500):
    batch = [{"type": "identify", "userId": f"user-{i}", "traits": {"age": 18 + i % 60, "country": ["GB", "US", "IE", "FR"][i % 4], "tier": ["bronze", "silver", "gold"][i % 3]}} for i in range(start, start + 500)]
    call("POST", "/v1/batch", json.dumps({"batch": batch}), basic)
for i in range(0, 10000, 2):
    call("PUT", f"/v1/profiles/user_id:user-{i}/consent", json.dumps({"purpose": "dpv:DirectMarketing", "channel": "email", "status": "given"}), "Bearer " + ak)
policy = open("crates/allele/src/demo_story.rs").read().split('const POLICY: &str = r#"')[1].split('"#;')[0]
call("PUT", "/v1/policies", policy, "Bearer " + ak, "application/yaml")
PY
"$BIN/examples/loadgen" --mode decide --url "http://127.0.0.1:$PORT" --key "$AK" --users 10000 --seconds "$SECS" --concurrency 32 | tee "$OUT/decide_peak.json"
curl -s "http://127.0.0.1:$PORT/metrics" > "$OUT/decide_peak.metrics" || true
PEAK=$(python3 -c 'import json; print(json.load(open("bench/out/decide_peak.json"))["requests_per_sec"])')
HALF=$(python3 -c "print(round($PEAK / 2, 1))")
"$BIN/examples/loadgen" --mode decide --url "http://127.0.0.1:$PORT" --key "$AK" --users 10000 --seconds "$SECS" --concurrency 32 --rate "$HALF" | tee "$OUT/decide_half.json"
# Per-stage timings (`allele_decide_stage_seconds`, writer queue and commit):
curl -s "http://127.0.0.1:$PORT/metrics" > "$OUT/decide_half.metrics" || true
