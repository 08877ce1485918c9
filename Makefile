# egressui — the two commands of the quick start are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
# Two stamps: `make run` installs only what runs; `make test`, lint and the tools add the dev extra.
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
PYTEST_ARGS ?=
# Embedded defaults for `make run`: debug on (from .env, which every command of this checkout reads),
# SQLite and a filesystem broker under var/, unless DATABASE_URL / REDIS_URL are set in the environment.
RUN_ENV := PATH=$(BIN):$$PATH

.PHONY: install install-dev run test lint format bench screenshots clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	@touch $(STAMP)

$(DEV_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(DEV_STAMP)

install: $(STAMP)

install-dev: $(DEV_STAMP)

# Written once, never overwritten: edit it to try other settings (git-ignored, not in the image).
.env:
	@printf '%s\n' '# Development settings of this checkout, read by manage.py, the worker and beat (git-ignored).' \
		'DJANGO_DEBUG=true' > $@
	@echo "wrote .env (DJANGO_DEBUG=true): manage.py commands of this checkout run in development mode"

run: install .env
	$(RUN_ENV) python manage.py migrate --noinput
	$(RUN_ENV) python manage.py seed_demo
	@echo "egressui on http://127.0.0.1:8000 (web + worker + beat); Ctrl-C stops all"
	@$(RUN_ENV) python scripts/run_dev.py

test: install-dev
	$(BIN)/ruff check .
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m mypy

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install-dev
	@for script in bench/[!_]*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

screenshots: install-dev
	$(BIN)/python scripts/screenshots.py

clean:
	rm -rf var .pytest_cache .ruff_cache .mypy_cache .hypothesis
