# Every target creates .venv first when it is missing (or older than pyproject.toml, setup.py
# or a compiled module's source).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

.PHONY: venv test lint demo bench

venv: $(VENV)/.installed

# The modules setup.py compiles count too: an editable install compiles them in place, and a
# changed source only runs once compiled again.
COMPILED_SOURCES := $(shell grep -oE '"(schemas|streams)/[a-z_/]+\.py"' setup.py | tr -d '"')

$(VENV)/.installed: pyproject.toml setup.py $(COMPILED_SOURCES)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

## Unit and integration tests; starts a local broker when none answers.
test: venv
	$(BIN)/pytest

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## The whole pipeline on this machine with simulated traffic, then a report (docs/demo.md).
demo: venv
	$(BIN)/tracecode demo

## Every benchmark under bench/ (bench.e2e at full size takes 20+ minutes; docs/performance.md).
bench: venv
	@found=0; for file in bench/*.py; do \
		name=$$(basename $$file .py); \
		case $$name in __init__|_*) continue;; esac; \
		found=1; echo "== bench.$$name"; $(BIN)/python -m bench.$$name || exit 1; \
	done; [ $$found = 1 ] || echo "No benchmarks yet."
