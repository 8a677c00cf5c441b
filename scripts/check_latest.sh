#!/usr/bin/env bash
# Early warning: run the suite against the newest versions pyproject.toml's ranges allow
# (no lock), in a separate venv (.venv-latest), and report what broke. It never fails:
# CI runs it after the locked suite so the next upstream break is seen before a user sees it.
# When it reports a failure, fix the code or tighten the range, then ./scripts/lock.sh.
set -uo pipefail
cd "$(dirname "$0")/.."
log=${LATEST_LOG:-.venv-latest.log}
{
  echo "== newest allowed versions: set-up"
  if ! VENV=.venv-latest REASONER_LOCK= ./scripts/setup.sh; then
    echo "RESULT: set-up with the newest allowed versions FAILED (see above)"
    exit 0
  fi
  # what differs from the lock, package by package
  .venv-latest/bin/python -m pip freeze --disable-pip-version-check 2>/dev/null | .venv-latest/bin/python -P -c '
import re, sys
key = lambda line: re.sub(r"[-_.]+", "-", line.split("==")[0]).lower()
locked = {key(l): l.strip().split("==")[1] for l in open("scripts/constraints.txt") if "==" in l and l[0].isalnum()}
for line in sys.stdin:
    if "==" in line and key(line) in locked and line.strip().split("==")[1] != locked[key(line)]:
        print(f"newer than the lock: {line.strip()} (locked {locked[key(line)]})")
' || true
  echo "== newest allowed versions: test suite"
  if timeout 1800 .venv-latest/bin/pytest -q -p no:randomly -x --no-header -rf; then
    echo "RESULT: the suite passes with the newest allowed versions"
  else
    echo "RESULT: the suite FAILS with the newest allowed versions (the locked run is what gates CI)"
  fi
} 2>&1 | tee "$log" | tail -n 40
exit 0
