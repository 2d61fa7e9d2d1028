#!/usr/bin/env bash
# Segment evaluation over PEOPLE profiles written straight into the embedded
# store (not measured): a full rebuild of one segment's membership, then
# incremental evaluation (one changed profile's memberships) as updates/s.
# Usage: bench/segments.sh [PEOPLE]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -q -p allele-server --bench campaigns -- segment "${1:-1000000}"
