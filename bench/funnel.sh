#!/usr/bin/env bash
# A three-step funnel report (7-day window) over EVENTS events of EVENTS/10
# people, written straight into the embedded store with the `event_facts`
# rows ingest derives (not measured). Usage: bench/funnel.sh [EVENTS]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -q -p allele-server --bench campaigns -- funnel "${1:-10000000}"
