#!/usr/bin/env bash
# A 1,000,000-recipient broadcast send plan prepared against the embedded
# store (consent scan + one outbox row per recipient, committed with
# synchronous=FULL). Usage: bench/send_plan.sh [PEOPLE]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -q -p allele-store --bench send_plan -- "${1:-1000000}"
