# egressui — the two commands of the quick start are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# Embedded defaults for `make run`: debug on, SQLite and a filesystem broker under var/,
# unless DATABASE_URL / REDIS_URL are set in the environment.
RUN_ENV := DJANGO_DEBUG=$${DJANGO_DEBUG:-true} PATH=$(BIN):$$PATH

.PHONY: install run test lint format bench screenshots clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: install
	$(RUN_ENV) python manage.py migrate --noinput
	$(RUN_ENV) python manage.py seed_demo
	@echo "egressui on http://127.0.0.1:8000 (web + worker + beat); Ctrl-C stops all"
	$(RUN_ENV) honcho --procfile Procfile.dev start

test: install
	$(BIN)/ruff check .
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

screenshots: install
	$(BIN)/python scripts/screenshots.py

clean:
	rm -rf var .pytest_cache .ruff_cache .mypy_cache .hypothesis
