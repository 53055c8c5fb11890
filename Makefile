# The front door: `make run` starts everything on this machine, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint install clean bench faults

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/levee up

lint: $(STAMP)
	$(BIN)/ruff check .

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest

faults: $(STAMP) ## fault-injection scenarios
	$(BIN)/pytest tests/faults tests/integration/cluster -p no:cacheprovider

bench: $(STAMP)
	$(BIN)/python bench/eventstore.py

clean:
	rm -rf $(VENV) .pytest_cache
