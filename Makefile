# cardcert: every target installs what it needs first (idempotent, fast when done).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.install-stamp
PYTEST_ARGS ?=

.PHONY: demo test fuzz lint bench load load-ui system-deps-test system-deps-demo system-deps-bench clean help

help:
	@echo "make demo   - run issuer + merchant + demo shop on SQLite and print the URLs"
	@echo "make test   - install everything missing (chromium, postgresql, venv) and run the suite"
	@echo "make fuzz   - long parser fuzzing: FUZZ_EXAMPLES (default 20000) per property, random seeds"
	@echo "make lint   - ruff and mypy"
	@echo "make bench  - benchmarks with ratios measured side by side"
	@echo "make load   - issuer + merchant + bounded headless locust run (LOAD_ARGS='--postgres --workers 2 -t 60s')"
	@echo "make load-ui - the same services with locust's web UI on http://127.0.0.1:8089"

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(VENV)/bin/pip install -q -e '.[test,load]'
	touch $(STAMP)

system-deps-test:
	@scripts/ensure-system-deps test

system-deps-demo:
	@scripts/ensure-system-deps demo

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: system-deps-test $(STAMP)
	$(MAKE) --no-print-directory lint
	$(PY) -m pytest $(PYTEST_ARGS)

# Fuzzing (issue 7): the property tests of every parser of untrusted input and the
# schemathesis runs of both APIs (a tenth of FUZZ_EXAMPLES per operation), with many more
# examples than make test runs and fresh random seeds; figures in the summary.
FUZZ_EXAMPLES ?= 20000

fuzz: $(STAMP)
	CARDCERT_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -v --timeout=0 \
		--hypothesis-show-statistics \
		tests/hardening/test_parser_fuzz.py tests/certs/test_properties.py \
		tests/hardening/test_api_schema.py $(PYTEST_ARGS)

BENCH_STAMP := $(VENV)/.install-stamp-bench

$(BENCH_STAMP): pyproject.toml | $(STAMP)
	$(VENV)/bin/pip install -q -e '.[bench]'
	touch $(BENCH_STAMP)

system-deps-bench:
	@scripts/ensure-system-deps bench

bench: system-deps-bench $(STAMP) $(BENCH_STAMP)
	$(PY) scripts/bench.py

load: system-deps-test $(STAMP)
	$(PY) scripts/load.py $(LOAD_ARGS)

load-ui: system-deps-test $(STAMP)
	$(PY) scripts/load.py --ui $(LOAD_ARGS)

demo: system-deps-demo $(STAMP)
	$(PY) scripts/demo.py

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache .hypothesis
