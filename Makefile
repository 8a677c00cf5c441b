# The two commands of the README: `make run` answers a demo question, `make test` runs the suite.
# Both set everything up first (scripts/setup.sh is idempotent).
Q ?= Which three cloud providers are largest, what are their latest stock prices, and chart them
PYTEST_ARGS ?=

.PHONY: setup run test bench
setup:
	./scripts/setup.sh

run: setup
	.venv/bin/reasoner run "$(Q)"

test: setup
	.venv/bin/pytest $(PYTEST_ARGS)

bench: setup
	for b in benchmarks/bench_*.py; do .venv/bin/python $$b || exit 1; done
