# Benchmarks (bench/): pullgate against distribution's pull-through cache and nginx sendfile.
# `make bench` takes 10-20 minutes; `make bench-quick` under two; `make bench-profile` adds py-spy.
# Each installs what is missing (Debian packages via apt, the project in .venv).

PYTHON ?= python3
VENV := .venv
BENCH := $(VENV)/bin/python -m bench.run

.PHONY: bench bench-quick bench-profile

$(VENV)/bin/pullgate:
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -e '.[test]'

bench: $(VENV)/bin/pullgate
	$(BENCH) $(BENCH_ARGS)

bench-quick: $(VENV)/bin/pullgate
	$(BENCH) --quick $(BENCH_ARGS)

bench-profile: $(VENV)/bin/pullgate
	$(BENCH) --profile $(BENCH_ARGS)
