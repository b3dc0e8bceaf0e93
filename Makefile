# facecheck-gateway: `make run` starts the gateway on its embedded default; `make test` checks everything.
PYTHON ?= python3
VENV ?= .venv
HOST ?= 127.0.0.1
PORT ?= 8000
BIN := $(VENV)/bin

.PHONY: run install install-test services lint typecheck test bench bench-quick clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test services

# redis-server and PostgreSQL, which the tests start as their own processes on loopback.
services:
	scripts/install-test-services.sh

run: install
	$(BIN)/facecheck-gateway serve --host $(HOST) --port $(PORT)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/python scripts/check_layers.py

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy

test: install-test lint typecheck
	$(BIN)/pytest

# The gateway against a bare FastAPI route and the upstream alone; prints the table, writes
# bench/results/latest.{md,json}, then where a worker's CPU goes (bench/results/profile.md).
bench: install-test
	VENV=$(VENV) scripts/install-bench-tools.sh
	$(BIN)/python -m bench $(BENCH_ARGS)
	$(BIN)/python -m bench.profile --seconds 5 $(BENCH_PROFILE_ARGS)
	$(BIN)/python -m bench.audit_queries $(BENCH_AUDIT_ARGS)

# A smoke run of the same harness (embedded configuration, one short round): about half a minute.
bench-quick: install-test
	$(BIN)/python -m bench --quick --out bench/results/quick $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
