# The two commands of the README: `make run` answers a demo question, `make test` runs the suite.
# Both set everything up first (scripts/setup.sh is idempotent).
Q ?= Which three cloud providers are largest, what are their latest stock prices, and chart them
PYTEST_ARGS ?=

.PHONY: setup run test lint bench lock
setup:
	./scripts/setup.sh

run: setup
	.venv/bin/reasoner run "$(Q)"

test: setup
	.venv/bin/pytest $(PYTEST_ARGS)

# ruff over the tree; mypy --strict over the installed package (the subpackages live in
# top-level folders that only the install maps under reasoner.*)
lint: setup
	.venv/bin/ruff check .
	cd .venv && bin/mypy --config-file ../pyproject.toml -p reasoner
	cd .venv && bin/mypy --config-file ../pyproject.toml ../tests/typing_user.py

# refresh scripts/constraints.txt from pyproject.toml
lock:
	./scripts/lock.sh

bench: setup
	for b in benchmarks/bench_*.py; do .venv/bin/python $$b || exit 1; done
