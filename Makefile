# Ketnoi: every target installs what it needs first. Independent first-run stages run at once
# (pip then the engine build, npm, the Kafka jars and the store's Go build, apt's Chromium); each
# prints a line when it starts, a heartbeat with the tool's latest line, and its elapsed time
# (ketnoi/progress.py). The tools' own output is kept in .ketnoi/setup/*.log.
SHELL := /bin/bash
MAKEFLAGS += --jobs=4
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
KETNOI := $(VENV)/bin/ketnoi
STAMP := $(VENV)/.installed
ASYNCAPI_CHECK := tools/asyncapi-check
NODE_STAMP := $(ASYNCAPI_CHECK)/node_modules/.package-lock.json
# Runs a quiet tool as one progress stage (system Python: it runs before the virtualenv exists).
STAGE := $(PYTHON) -m ketnoi.progress
SETUP_LOGS := .ketnoi/setup

.PHONY: install engine infra-deps browser demo test test-unit lint format schemas bench infra-up infra-down infra-status infra-prune clean

install: $(STAMP) $(NODE_STAMP) engine

# The matching engine compiled by mypyc from its own Python files (about 1.4x faster); rebuilt
# whenever those files differ from what the build was made of (a content check, not mtimes).
engine: $(STAMP)
	@$(KETNOI) engine status >/dev/null || \
	  $(STAGE) "matching engine (mypyc)" $(SETUP_LOGS)/engine.log -- $(KETNOI) engine build

# --no-compile: Python compiles what is imported when it is first imported; compiling all 430 MB
# up front cost a third of pip's CPU time while the store builds.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required, found " + sys.version' 
	@test -x $(PY) || $(STAGE) "virtualenv (.venv)" $(SETUP_LOGS)/venv.log -- $(PYTHON) -m venv $(VENV)
	@$(STAGE) "Python packages (pip)" $(SETUP_LOGS)/pip.log -- bash -c \
	  "$(PY) -m pip install --disable-pip-version-check --upgrade pip && \
	   $(PY) -m pip install --disable-pip-version-check --no-compile -e '.[dev]'"
	@touch $@

# The Kafka jars (Maven) and the store (FerretDB, a Go build: the longest first-run stage), at
# once and cached by version; stdlib only, so it starts with pip instead of after it.
infra-deps:
	@$(PYTHON) -m ketnoi.prepare

# The official AsyncAPI parser (Node.js) checks the published AsyncAPI document in the tests.
$(NODE_STAMP): $(ASYNCAPI_CHECK)/package-lock.json
	@command -v npm >/dev/null || { echo "Node.js and npm are needed for the AsyncAPI check (apt-get install nodejs npm)"; exit 1; }
	@$(STAGE) "AsyncAPI parser (npm ci)" $(SETUP_LOGS)/npm.log -- \
	  npm ci --prefix $(ASYNCAPI_CHECK) --no-audit --no-fund --ignore-scripts

# Debian's Chromium for the monitor's browser tests (Playwright drives it; it downloads no browser).
browser:
	@command -v chromium >/dev/null || { \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $(STAGE) "browser: Debian's chromium (apt-get)" $(SETUP_LOGS)/apt.log -- \
	    $$SUDO env DEBIAN_FRONTEND=noninteractive bash -c \
	    "apt-get update && apt-get install -y chromium"; }

# Ctrl-C is how the demo is stopped: it prints what it stopped and make adds no error line.
demo: install infra-deps
	@$(KETNOI) demo || test $$? -eq 130

# Everything on the compiled engine (as deployed), then again on its source the unit tests that
# can reach the engine (tests/reach.py). pytest-xdist runs test files on TEST_WORKERS processes:
# one more than the cores, as much of an integration test is waiting (a broker, a worker's
# group join, an expiry), at most 4 since each runs services of its own. 2 cores: 3 workers.
# Files go out in collection order (the slowest first, FIRST in tests/conftest.py); xdist would
# otherwise send the files with the most tests first and the longest ones last.
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); echo $$(( n + 1 < 4 ? n + 1 : 4 )))
test: install infra-deps browser lint
	KETNOI_ENGINE=compiled $(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder
	KETNOI_ENGINE=python $(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile tests/unit \
	  --only-reaching services.matcher.engine

# Prints every figure and writes docs/benchmarks.md (starts, or reuses, Kafka and the store).
bench: install infra-deps browser
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

infra-up: install infra-deps
	$(KETNOI) infra up

infra-down: install
	$(KETNOI) infra down

infra-status: install
	$(KETNOI) infra status

# Topics and databases of finished test, demo and benchmark runs (never the virtualenv).
infra-prune: install
	$(KETNOI) infra prune

clean: infra-down
	rm -rf .ketnoi $(VENV)
