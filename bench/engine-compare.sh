#!/usr/bin/env bash
# Per-rule evaluation of one four-clause eligibility rule on allele,
# datalogic-rs, cel (interpreter) and unleash-yggdrasil, in one divan binary.
# The comparison lives in its own workspace (bench/engine-compare) so that
# its dependencies never enter the main build.
set -euo pipefail
cd "$(dirname "$0")/engine-compare"
exec cargo bench --locked --bench compare -- "$@"
