# One command per gate; CI runs `make test` through .ci/run.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SERVER_STAMP := $(VENV)/.installed-server
# What the server runs on, and nothing else (no test, lint or browser tools).
SERVER_PACKAGES := -e engine -e .
# Everything the gates need: the server, the Python SDK and the dev tools.
PACKAGES := -e engine -e sdks/python -e '.[dev]'
PIP := $(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt

.PHONY: install install-server serve test test-fast check lint typecheck bench soak dist js-assets clean

install: $(STAMP)

install-server: $(SERVER_STAMP)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip

$(SERVER_STAMP): pyproject.toml engine/pyproject.toml constraints.txt | $(VENV)/bin/python
	$(PIP) $(SERVER_PACKAGES)
	touch $(SERVER_STAMP)

# The full install holds the server's, so it stands for the server's install too.
$(STAMP): pyproject.toml engine/pyproject.toml sdks/python/pyproject.toml constraints.txt | $(VENV)/bin/python
	$(PIP) $(PACKAGES)
	touch $(SERVER_STAMP) $(STAMP)

# The port: `LAUNCHSEQ_PORT=9000 make serve` (every setting reads LAUNCHSEQ_*; see
# docs/configuration.md), or `make serve SERVE_ARGS="--port 9000"`. It serves from a worker
# per core, as installations do; one process to debug: `make serve SERVE_ARGS=--workers=1`.
serve: install-server
	$(BIN)/launchseq serve $(SERVE_ARGS)

# Every test: Python (SQLite, PostgreSQL, the browser, the slow fault tests) and JavaScript.
# Two workers (this kind of machine has two cores); a test file stays on one worker, so its
# module-wide servers and fixtures are shared as before.
test: install
	$(BIN)/pytest -q -n 2 --dist loadfile
	$(MAKE) --no-print-directory test-js

# The quick loop while working: everything but the tests marked slow, and no JavaScript.
test-fast: install
	$(BIN)/pytest -q -m "not slow"

check: lint typecheck

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy --strict engine/src engine/tests
	$(BIN)/mypy --strict sdks/python/src
	$(BIN)/mypy src

bench: install
	$(BIN)/python bench/engine.py
	$(BIN)/python bench/sdk_python.py
	$(BIN)/python bench/dashboard.py

# Minutes of mixed load on one server process (needs wrk); not part of `make bench`.
soak: install
	$(BIN)/python bench/soak.py

# Wheels and sdists of the engine, the Python SDK and the server, and the npm tarballs of the JS
# SDK and the React binding, all at one version, into dist/ (what the release workflow
# publishes). The server's wheel carries the JS SDK's browser builds (js-assets); `npm pack`
# builds the CommonJS builds and the types (prepack, with the exact esbuild and terser of the
# package locks).
dist: install js-assets
	rm -rf dist
	$(BIN)/python -m build --outdir dist engine
	$(BIN)/python -m build --outdir dist sdks/python
	$(BIN)/python -m build --outdir dist .
	cd sdks/js && npm pack --silent --pack-destination ../../dist
	cd sdks/react && npm ci --no-audit --no-fund --silent && npm pack --silent --pack-destination ../../dist

# The JS SDK's browser builds that the server serves at /sdk/js/<version>/, regenerated from
# sdks/js/src into src/launchsequence/jsbundle/ (committed: installing or running the server
# needs no Node; sdks/js/test/build.test.js fails when they are out of date).
js-assets:
	cd sdks/js && npm ci --no-audit --no-fund && node scripts/build.mjs --server

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache dist build

# The JavaScript SDK and the React binding against a real server (needs Node 18+ and npm), the published
# OpenFeature OFREP web provider against the same server, and OpenFeature's Gherkin suites
# through the published Node OFREP providers (from ../shared/openfeature-spec).
.PHONY: test-js
test-js: install
	cd sdks/js && npm ci --no-audit --no-fund && node --test test/*.test.js
	cd sdks/react && npm ci --no-audit --no-fund && npm ci --no-audit --no-fund --prefix test/react18 \
	  && node --test test/*.test.js
	cd tests/ofrep-web && npm ci --no-audit --no-fund && node --test
	cd tests/openfeature-node && npm ci --no-audit --no-fund && node --test
