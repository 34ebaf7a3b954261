# Ketnoi: every target installs what it needs first (Python deps here; Kafka jars and the
# FerretDB build happen inside `ketnoi infra up`, cached under ~/.cache/ketnoi and ~/.m2).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
KETNOI := $(VENV)/bin/ketnoi
STAMP := $(VENV)/.installed
ASYNCAPI_CHECK := tools/asyncapi-check
NODE_STAMP := $(ASYNCAPI_CHECK)/node_modules/.package-lock.json

.PHONY: install engine browser demo test test-unit lint format schemas bench infra-up infra-down infra-status clean

install: $(STAMP) $(NODE_STAMP) engine

# The matching engine compiled by mypyc from its own Python files (about 1.4x faster); rebuilt
# whenever those files differ from what the build was made of (a content check, not mtimes).
engine: $(STAMP)
	@$(KETNOI) engine status >/dev/null || $(KETNOI) engine build

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required, found " + sys.version' 
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

# The official AsyncAPI parser (Node.js) checks the published AsyncAPI document in the tests.
$(NODE_STAMP): $(ASYNCAPI_CHECK)/package-lock.json
	@command -v npm >/dev/null || { echo "Node.js and npm are needed for the AsyncAPI check (apt-get install nodejs npm)"; exit 1; }
	cd $(ASYNCAPI_CHECK) && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error

# Debian's Chromium for the monitor's browser tests (Playwright drives it; it downloads no browser).
browser:
	@command -v chromium >/dev/null || { \
	  echo "installing Debian's chromium for the browser tests ..."; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

demo: install
	$(KETNOI) demo

# Everything on the compiled engine (as deployed), then the unit tests again on its source.
test: install browser lint
	KETNOI_ENGINE=compiled $(PY) -m pytest
	KETNOI_ENGINE=python $(PY) -m pytest tests/unit

# Prints every figure and writes docs/benchmarks.md (starts, or reuses, Kafka and the store).
bench: install browser
	$(PY) -m bench

test-unit: install
	KETNOI_ENGINE=compiled $(PY) -m pytest tests/unit

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

schemas: install
	$(KETNOI) schemas export

infra-up: install
	$(KETNOI) infra up

infra-down: install
	$(KETNOI) infra down

infra-status: install
	$(KETNOI) infra status

clean: infra-down
	rm -rf .ketnoi $(VENV)
