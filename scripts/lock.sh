#!/usr/bin/env bash
# Refresh scripts/constraints.txt, the lock that scripts/setup.sh installs with, from
# pyproject.toml and its extras (all but flash, which has no wheels): every package pinned to one version, resolved for CPython
# 3.11 on x86_64 Linux (CI's platform). torch is pinned by scripts/setup.sh itself (the CPU
# build, installed first) and left out here. Run it after changing a dependency range, and
# commit the result:   ./scripts/lock.sh
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check "uv>=0.9,<1"
find_links=()
[ -d /opt/wheels ] && find_links=(--find-links /opt/wheels)  # where this machine keeps the CPU torch
echo "torch==2.13.0" > .venv/torch-pin.txt
.venv/bin/uv pip compile pyproject.toml --extra test --extra server --extra outlines --extra xgrammar --extra tune --no-emit-package torch \
  --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
  -c .venv/torch-pin.txt "${find_links[@]}" \
  --custom-compile-command "./scripts/lock.sh" -o scripts/constraints.txt
