#!/usr/bin/env bash
# `allele import` of a generated CSV (default 1,000,000 rows): rows/s.
# Usage: bench/import.sh [rows]
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-1000000}
OUT=bench/out; mkdir -p "$OUT"
cargo build --release -q -p allele --bin allele
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
python3 - "$ROWS" "$WORK/pos.csv" <<'PY'
import sys
rows, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    f.write("customer,store,sku,amount,ts\n")
    for i in range(rows):
        f.write(f"pos-{i % 100000},store-{i % 40},sku-{i % 5000},{(i % 9000) / 100:.2f},2026-0{1 + i % 9}-1{i % 10}T1{i % 10}:00:00Z\n")
PY
target/release/allele init --data "$WORK/data" > /dev/null
MAP='type=track,event=Purchase,user_id=customer,timestamp=ts,properties.store=store,properties.sku=sku,properties.revenue=amount'
/usr/bin/time -f '{"max_rss_kb": %M, "wall_s": %e}' target/release/allele import --data "$WORK/data" "$WORK/pos.csv" --map "$MAP" 2> "$OUT/import_time.json" | tee "$OUT/import.json"
cat "$OUT/import_time.json"
