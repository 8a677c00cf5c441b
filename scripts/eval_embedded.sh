#!/usr/bin/env bash
# Base vs tuned embedded model, on the demo eval set and on the unseen-tools set, one after
# the other (same machine, same commit); reports in build/eval-*.json, tables on stdout.
#   scripts/eval_embedded.sh [TUNED_MODEL]   (default: smollm2-135m, the shipped adapter)
set -euo pipefail
cd "$(dirname "$0")/.."
TUNED=${1:-smollm2-135m}
BASE=smollm2-135m-base
mkdir -p build
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
ROOT=$PWD
# from outside the checkout: --tools imports a module, and the checkout's kernels/ must not
# shadow the installed transformers' kernels; a report already there is kept (rerun = resume)
ev() {
  [ -s "$2" ] && return 0
  (cd "${TMPDIR:-/tmp}" && "$ROOT/.venv/bin/python" -P -m reasoner eval --planner "$1" --joiner "$1" --answerer "$1" --out "$ROOT/$2" "${@:3}" > /dev/null)
}
UNSEEN=(--dataset unseen --tools reasoner.evals.unseen_tools:TOOLS --no-demo --no-plugins)
ev "$TUNED" build/eval-demo-tuned.json
ev "$TUNED" build/eval-unseen-tuned.json "${UNSEEN[@]}"
ev "$BASE" build/eval-unseen-base.json --timeout 90 "${UNSEEN[@]}"
ev "$BASE" build/eval-demo-base.json --timeout 90
echo "demo.jsonl ($(git rev-parse --short HEAD))"
.venv/bin/python -P scripts/eval_table.py base=build/eval-demo-base.json tuned=build/eval-demo-tuned.json
echo
echo "unseen.jsonl: tools the adapter never saw"
.venv/bin/python -P scripts/eval_table.py base=build/eval-unseen-base.json tuned=build/eval-unseen-tuned.json
