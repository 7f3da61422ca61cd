# cardcert: every target installs what it needs first (idempotent, fast when done).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.install-stamp
PYTEST_ARGS ?=

.PHONY: demo test lint bench load load-ui fuzz system-deps-test system-deps-demo clean help

help:
	@echo "make demo   - run issuer + merchant + demo shop on SQLite and print the URLs"
	@echo "make test   - install everything missing (chromium, postgresql, venv) and run the suite"
	@echo "make lint   - ruff and mypy"
	@echo "make bench  - benchmarks with ratios measured side by side"

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

bench: system-deps-test $(STAMP)
	$(PY) scripts/bench.py

demo: system-deps-demo $(STAMP)
	$(PY) scripts/demo.py

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache .hypothesis
