#!/usr/bin/env bash
# Experiment readout end to end: USERS exposed people and EVENTS events in
# the embedded store (written straight into SQLite in the store's schema to
# keep set-up short), then `allele report experiment` timed with hyperfine
# or /usr/bin/time.  Usage: bench/readout.sh [users] [events]
set -euo pipefail
cd "$(dirname "$0")/.."
USERS=${1:-1000000}
EVENTS=${2:-5000000}
cargo build --release -q -p allele --bin allele
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
target/release/allele init --data "$WORK/data" > /dev/null
python3 - "$WORK/data/allele.db" "$USERS" "$EVENTS" <<'PY'
import json, random, sqlite3, sys
db, users, events = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
random.seed(7)
conn = sqlite3.connect(db)
conn.execute("PRAGMA synchronous=OFF")
conn.executemany("INSERT INTO profiles (id, workspace_id, root_id, created_at) VALUES (?, 'default', ?, 0)",
                 ((f"prf_{i:012d}", f"prf_{i:012d}") for i in range(users)))
def rows():
    seq = 0
    for i in range(users):
        pid = f"prf_{i:012d}"
        variation = "control" if i % 2 else "treatment"
        body = json.dumps({"type": "track", "event": "Experiment Viewed", "properties": {"experiment_id": "bench", "variation_id": variation}})
        seq += 1
        yield (seq, f"x{seq}", pid, "track", "Experiment Viewed", 1000, 0, body)
    rest = events - users
    for j in range(rest):
        i = random.randrange(users)
        seq += 1
        body = json.dumps({"type": "track", "event": "Order Completed", "properties": {"revenue": round(random.random() * 100, 2)}})
        yield (seq, f"x{seq}", f"prf_{i:012d}", "track", "Order Completed", 2000 if j % 3 else 500, 0, body)
conn.executemany("INSERT INTO events (seq, message_id, profile_id, type, name, ts, received_at, body, workspace_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'default')", rows())
conn.commit()
PY
echo "data: $USERS exposed users, $EVENTS events"
/usr/bin/time -f '{"wall_s": %e, "max_rss_kb": %M}' target/release/allele report experiment bench --data "$WORK/data" \
  --metric 'Order Completed' --value revenue --control control --json > bench/out/readout.json
python3 -c 'import json; r=json.load(open("bench/out/readout.json")); print(json.dumps({"variations": [(v["variation_id"], v["n"], v["conversions"]) for v in r["variations"]]}))'
