# Every target creates .venv first when it is missing (or older than pyproject.toml).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

.PHONY: venv test lint demo bench

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
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

## Until the pipeline lands: the local broker and the topics, and what runs.
demo: venv
	$(BIN)/tracecode broker up
	$(BIN)/tracecode topics apply
	$(BIN)/tracecode topics list
	$(BIN)/tracecode broker status
	@echo
	@echo "Kafka runs in the background with every tracecode topic."
	@echo "Stop it with: $(BIN)/tracecode broker down"

bench: venv
	@found=0; for file in bench/*.py; do \
		name=$$(basename $$file .py); \
		[ "$$name" = "__init__" ] && continue; \
		found=1; echo "== bench.$$name"; $(BIN)/python -m bench.$$name || exit 1; \
	done; [ $$found = 1 ] || echo "No benchmarks yet."
