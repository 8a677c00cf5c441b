#!/usr/bin/env bash
# Train the embedded model's adapter (planner, joiner, answerer) with the committed recipe:
# the seeds and settings in reasoner/_tune_recipe.py, expanded over the demo data, executed,
# and trained with LoRA on smollm2-135m-base. Resumable: rerun with --resume after a stop.
#   scripts/train_embedded.sh [OUT] [extra reasoner tune flags]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-build/smollm2-135m-reasoner}
shift || true
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
mkdir -p "$(dirname "$OUT")"
exec .venv/bin/python -P -m reasoner tune --recipe embedded --out "$OUT" --save-data "$OUT.data.jsonl" "$@"
