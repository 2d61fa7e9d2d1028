#!/usr/bin/env bash
# Experiment readout end to end: USERS exposed people and EVENTS events in
# the embedded store (written straight into SQLite in the store's schema to
# keep set-up short, with the readout rows ingest derives from each event:
# profiles.num, event_names, event_facts, exposures — see
# crates/allele-store/src/facts.rs), then `allele report experiment` timed
# with /usr/bin/time, then the same readout over HTTP
# (`GET /v1/reports/experiments/bench`) from a running, warmed-up server,
# timed by curl.  Usage: bench/readout.sh [users] [events]
set -euo pipefail
cd "$(dirname "$0")/.."
USERS=${1:-1000000}
EVENTS=${2:-5000000}
cargo build --release -q -p allele --bin allele
ALLELE=${CARGO_TARGET_DIR:-target}/release/allele
WORK=$(mktemp -d)
if [ -z "${KEEP_DATA:-}" ]; then trap 'rm -rf "$WORK"' EXIT; else echo "data kept in $WORK"; fi
"$ALLELE" init --data "$WORK/data" > /dev/null
python3 - "$WORK/data/allele.db" "$USERS" "$EVENTS" <<'PY'
import json, random, sqlite3, struct, sys
db, users, events = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
random.seed(7)
conn = sqlite3.connect(db)
conn.execute("PRAGMA synchronous=OFF")
conn.executemany("INSERT INTO profiles (id, workspace_id, root_id, created_at, num) VALUES (?, 'default', ?, 0, ?)",
                 ((f"prf_{i:012d}", f"prf_{i:012d}", i + 1) for i in range(users)))
conn.execute("INSERT INTO event_names (id, workspace_id, name) VALUES (1, 'default', 'Experiment Viewed'), (2, 'default', 'Order Completed')")
# Facts go to a scratch table first and into the clustered one in key order.
conn.execute("CREATE TEMP TABLE facts (name_id, profile, ts, seq, numbers)")
facts = []
def fact(row):
    facts.append(row)
    if len(facts) >= 100000:
        conn.executemany("INSERT INTO temp.facts VALUES (?, ?, ?, ?, ?)", facts)
        facts.clear()
exposures = []
def rows():
    seq = 0
    for i in range(users):
        pid = f"prf_{i:012d}"
        variation = "control" if i % 2 else "treatment"
        body = json.dumps({"type": "track", "event": "Experiment Viewed", "properties": {"experiment_id": "bench", "variation_id": variation}})
        seq += 1
        fact((1, i + 1, 1000, seq, None))
        exposures.append(("bench", i + 1, 1000, seq, variation))
        yield (seq, f"x{seq}", pid, "track", "Experiment Viewed", 1000, 0, body)
    rest = events - users
    for j in range(rest):
        i = random.randrange(users)
        seq += 1
        revenue = round(random.random() * 100, 2)
        body = json.dumps({"type": "track", "event": "Order Completed", "properties": {"revenue": revenue}})
        ts = 2000 if j % 3 else 500
        numbers = struct.pack("<I", 7) + b"revenue" + struct.pack("<d", revenue) if revenue else None
        fact((2, i + 1, ts, seq, numbers))
        yield (seq, f"x{seq}", f"prf_{i:012d}", "track", "Order Completed", ts, 0, body)
conn.executemany("INSERT INTO events (seq, message_id, profile_id, type, name, ts, received_at, body, workspace_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'default')", rows())
conn.executemany("INSERT INTO temp.facts VALUES (?, ?, ?, ?, ?)", facts)
conn.execute("INSERT INTO event_facts SELECT * FROM temp.facts ORDER BY name_id, profile, ts, seq")
conn.executemany("INSERT INTO exposures (workspace_id, experiment_id, profile, ts, seq, variation) VALUES ('default', ?, ?, ?, ?, ?)", exposures)
conn.commit()
PY
echo "data: $USERS exposed users, $EVENTS events"
/usr/bin/time -f '{"wall_s": %e, "user_s": %U, "sys_s": %S, "max_rss_kb": %M}' "$ALLELE" report experiment bench --data "$WORK/data" \
  --metric 'Order Completed' --value revenue --control control --json > bench/out/readout.json
python3 -c 'import json; r=json.load(open("bench/out/readout.json")); print(json.dumps({"variations": [(v["variation_id"], v["n"], v["conversions"]) for v in r["variations"]]}))'
# The same readout over HTTP from a warm server (one untimed request first).
PORT=${PORT:-7079}
KEY=$("$ALLELE" keys create --data "$WORK/data" --role admin | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
"$ALLELE" serve --data "$WORK/data" --listen "127.0.0.1:$PORT" > /dev/null 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true; [ -n "${KEEP_DATA:-}" ] || rm -rf "$WORK"' EXIT
for _ in $(seq 300); do curl -sf "http://127.0.0.1:$PORT/healthz" > /dev/null && break; sleep 0.2; done
URL="http://127.0.0.1:$PORT/v1/reports/experiments/bench?metric=Order%20Completed&value=revenue&control=control"
curl -s -o /dev/null -H "Authorization: Bearer $KEY" "$URL"
for _ in 1 2 3; do
  curl -s -o bench/out/readout_http.json -w '{"http_total_s": %{time_total}}\n' -H "Authorization: Bearer $KEY" "$URL"
done
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
python3 -c 'import json; assert json.load(open("bench/out/readout.json")) == json.load(open("bench/out/readout_http.json")), "http readout differs"; print("http readout identical to the cli one")'
