#!/usr/bin/env bash
# A profile read (`GET /v1/profiles/user_id:U`, every computed trait) for a
# customer with EVENTS events spread over the last 60 days, beside one with
# 10 events, on a fresh `allele serve`.
# Usage: bench/profile_read.sh [EVENTS] [BINARY]   (default 100000, target/release/allele)
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${1:-100000}
BIN=${2:-}
if [ -z "$BIN" ]; then
  cargo build --release -q -p allele --bin allele
  BIN=${CARGO_TARGET_DIR:-target}/release/allele
fi
PORT=${PORT:-7075}
DATA=$(mktemp -d)
"$BIN" serve --data "$DATA" --listen "127.0.0.1:$PORT" > "$DATA/serve.out" 2> /dev/null & SRV=$!
trap 'kill $SRV 2>/dev/null || true; rm -rf "$DATA"' EXIT
for _ in $(seq 100); do grep -q listening "$DATA/serve.out" 2>/dev/null && break; sleep 0.05; done
python3 - "$PORT" "$EVENTS" "$(head -1 "$DATA/serve.out")" <<'PY'
import base64, json, statistics, sys, time, urllib.request
keys = json.loads(sys.argv[3])
port, events = sys.argv[1], int(sys.argv[2])
base = f"http://127.0.0.1:{port}"
basic = "Basic " + base64.b64encode((keys["write_key"] + ":").encode()).decode()
admin = "Bearer " + keys["admin_key"]

def call(method, path, auth, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Authorization": auth, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as resp:
        return json.loads(resp.read())

now = time.time()
names = ["Product Viewed", "Cart Viewed", "Order Completed", "Page Viewed"]
def batch(user, count, offset):
    out = []
    for i in range(count):
        k = offset + i
        ts = now - (k * 60 * 86400 / max(events, 1)) % (60 * 86400)
        out.append({"type": "track", "userId": user, "event": names[k % 4], "messageId": f"{user}-{k}",
                    "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + "Z",
                    "properties": {"revenue": k % 97}})
    return {"batch": out}
for offset in range(0, events, 500):
    call("POST", "/v1/batch", basic, batch("heavy", min(500, events - offset), offset))
call("POST", "/v1/batch", basic, batch("light", 10, 0))
for user in ["light", "heavy"]:
    times = []
    for _ in range(30):
        started = time.perf_counter()
        profile = call("GET", f"/v1/profiles/user_id:{user}", admin)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    print(json.dumps({"user": user, "events": profile["computed"]["count_all"],
                      "median_ms": round(statistics.median(times), 2), "max_ms": round(times[-1], 2)}))
PY
