#!/usr/bin/env bash
# VADER posts/s: allele-listen (Rust, divan) against the reference Python
# package vaderSentiment 3.3.2, on the same corpus, in the same run.
#   corpus: crates/allele-listen/tests/data/vader_corpus.txt (2,249 posts)
# Usage: bench/sentiment_vs_python.sh   (needs: pip install vaderSentiment==3.3.2)
# Result as one JSON line, also written to bench/out/sentiment.json.
set -euo pipefail
cd "$(dirname "$0")/.."
CORPUS=crates/allele-listen/tests/data/vader_corpus.txt
OUT=bench/out; mkdir -p "$OUT"

# Python: the analyzer is built once (as a service would), then 5 timed
# passes over the corpus; the median pass counts.
PY=$(python3 - "$CORPUS" <<'PYEOF'
import statistics, sys, time
from importlib.metadata import version
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
assert version("vaderSentiment") == "3.3.2", version("vaderSentiment")
posts = open(sys.argv[1], "rb").read().decode("utf-8").split("\n")[:-1]
analyzer = SentimentIntensityAnalyzer()
for post in posts:
    analyzer.polarity_scores(post)  # warm-up
rates = []
for _ in range(5):
    start = time.perf_counter()
    for post in posts:
        analyzer.polarity_scores(post)
    rates.append(len(posts) / (time.perf_counter() - start))
print(f"{statistics.median(rates):.0f}")
PYEOF
)

# Rust: divan's median throughput for the `corpus` bench (same posts).
RUST_OUT=$(cargo bench -q -p allele-listen --bench sentiment -- corpus 2>/dev/null)
echo "$RUST_OUT" >&2
RUST=$(echo "$RUST_OUT" | python3 -c '
import re, sys
lines = sys.stdin.read().splitlines()
row = next(i for i, line in enumerate(lines) if "corpus" in line)
median = lines[row + 1].split("│")[2].strip()          # e.g. "1.43 Mitem/s"
number, unit = re.match(r"([\d.]+)\s*([KMG]?)item/s", median).groups()
print(round(float(number) * {"": 1, "K": 1e3, "M": 1e6, "G": 1e9}[unit]))
')

python3 -c "
import json, sys
python, rust = $PY, $RUST
print(json.dumps({'corpus_posts': $(wc -l < "$CORPUS"), 'python_posts_per_sec': python,
                  'rust_posts_per_sec': rust, 'speedup': round(rust / python, 1)}))
" | tee "$OUT/sentiment.json"
