#!/usr/bin/env bash
# allele edge: /v1/decide throughput and latency at the edge, then outbox
# replay after a partition. 10,000 customers (half with consent) known to
# the centre and the edge; the centre is then stopped while events keep
# arriving at the edge for QUEUE_SECS seconds; the centre restarts and the
# drain is timed (from the first accepted upload to an empty outbox).
# Every decision and event is committed to the edge's outbox before it answers.
# Usage: bench/edge.sh [seconds-per-decide-phase] [queue-seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
QUEUE_SECS=${2:-30}
OUT=bench/out; mkdir -p "$OUT"
cargo build --release -q -p allele --bin allele --example loadgen
T=${CARGO_TARGET_DIR:-target}
BIN=$T/release/allele
CENTRE=$(mktemp -d); EDGE=$(mktemp -d)
$BIN serve --data "$CENTRE" --listen 127.0.0.1:7078 > "$OUT/edge-centre.out" 2> /dev/null & SRV=$!
EDG=""
trap 'kill $SRV $EDG 2>/dev/null || true; rm -rf "$CENTRE" "$EDGE"' EXIT
for _ in $(seq 100); do grep -q listening "$OUT/edge-centre.out" 2>/dev/null && break; sleep 0.05; done
read -r WK AK < <(head -1 "$OUT/edge-centre.out" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["write_key"], d["admin_key"])')
DK=$($BIN keys create --data "$CENTRE" --role decide | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
$BIN edge --central http://127.0.0.1:7078 --key "$DK" --data "$EDGE" --listen 127.0.0.1:7079 > "$OUT/edge-edge.out" 2> "$OUT/edge-edge.err" & EDG=$!
for _ in $(seq 100); do grep -q listening "$OUT/edge-edge.out" 2>/dev/null && break; sleep 0.05; done
python3 - "$WK" "$AK" "$DK" <<'PY'
import base64, json, sys, time, urllib.request
wk, ak, dk = sys.argv[1:4]
def call(base, method, path, body, auth, ctype="application/json"):
    req = urllib.request.Request(base + path, data=body.encode() if body else None, method=method,
                                 headers={"Authorization": auth, "Content-Type": ctype})
    return urllib.request.urlopen(req).read()
centre, edge = "http://127.0.0.1:7078", "http://127.0.0.1:7079"
basic = "Basic " + base64.b64encode((wk + ":").encode()).decode()
for start in range(0, 10000, 500):
    batch = [{"type": "identify", "userId": f"user-{i}", "messageId": f"seed-{i}", "traits": {"age": 18 + i % 60, "country": ["GB", "US", "IE", "FR"][i % 4], "tier": ["bronze", "silver", "gold"][i % 3]}} for i in range(start, start + 500)]
    call(centre, "POST", "/v1/batch", json.dumps({"batch": batch}), basic)
    # The edge learns traits from the events it sees (the centre stores them once).
    call(edge, "POST", "/v1/batch", json.dumps({"batch": batch}), "Bearer " + dk)
for i in range(0, 10000, 2):
    call(centre, "PUT", f"/v1/profiles/user_id:user-{i}/consent", json.dumps({"purpose": "dpv:DirectMarketing", "channel": "email", "status": "given"}), "Bearer " + ak)
policy = open("crates/allele/src/demo_story.rs").read().split('const POLICY: &str = r#"')[1].split('"#;')[0]
call(centre, "PUT", "/v1/policies", policy, "Bearer " + ak, "application/yaml")
for _ in range(600):
    s = json.loads(call(edge, "GET", "/v1/edge/status", None, "Bearer " + dk))
    if s["bundle_version"] and s["snapshot_age_ms"] is not None and not s["outbox"]:
        break
    time.sleep(0.1)
print("edge ready:", json.dumps(s))
PY
LG=$T/release/examples/loadgen
$LG --mode decide --url http://127.0.0.1:7079 --key "$DK" --users 10000 --seconds "$SECS" --concurrency 32 | tee "$OUT/edge_decide_peak.json"
PEAK=$(python3 -c 'import json; print(json.load(open("bench/out/edge_decide_peak.json"))["requests_per_sec"])')
HALF=$(python3 -c "print(round($PEAK / 2, 1))")
$LG --mode decide --url http://127.0.0.1:7079 --key "$DK" --users 10000 --seconds "$SECS" --concurrency 32 --rate "$HALF" | tee "$OUT/edge_decide_half.json"

# Partition: stop the centre, queue events at the edge, restart, time the drain.
kill $SRV; wait $SRV 2>/dev/null || true
sleep 1
$LG --mode batch --url http://127.0.0.1:7079 --key "$DK" --events 500 --seconds "$QUEUE_SECS" --concurrency 8 | tee "$OUT/edge_queue.json"
$BIN serve --data "$CENTRE" --listen 127.0.0.1:7078 > "$OUT/edge-centre2.out" 2> /dev/null & SRV=$!
python3 - "$DK" "$CENTRE" <<'PY' | tee "$OUT/edge_replay.json"
import json, sqlite3, sys, time, urllib.request
dk, centre = sys.argv[1:3]
def status():
    req = urllib.request.Request("http://127.0.0.1:7079/v1/edge/status", headers={"Authorization": "Bearer " + dk})
    return json.loads(urllib.request.urlopen(req).read())
def queued(s):
    return sum(v for k, v in s["outbox"].items() if not k.startswith("refused"))
restarted = time.time()
start = queued(status())
first = None
while True:
    left = queued(status())
    now = time.time()
    if first is None and left < start:
        first = now
    if left == 0:
        break
    time.sleep(0.05)
done = time.time()
db = sqlite3.connect(f"file:{centre}/allele.db?mode=ro", uri=True)
stored = db.execute("SELECT COUNT(*) FROM events WHERE name = 'Product Viewed'").fetchone()[0]
print(json.dumps({"queued": start, "drain_seconds": round(done - (first or restarted), 2),
                  "from_restart_seconds": round(done - restarted, 2),
                  "replay_events_per_sec": round(start / max(done - (first or restarted), 1e-9)),
                  "centre_product_viewed_events": stored}))
PY
