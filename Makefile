# One command per gate; CI runs `make test` through .ci/run.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PACKAGES := -e engine -e sdks/python -e '.[dev]'

.PHONY: install serve test test-fast check lint typecheck bench soak clean

install: $(STAMP)

$(STAMP): pyproject.toml engine/pyproject.toml sdks/python/pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt $(PACKAGES)
	touch $(STAMP)

serve: install
	$(BIN)/launchseq serve

# Every test: Python (SQLite, PostgreSQL, the browser, the slow fault tests) and JavaScript.
test: install
	$(BIN)/pytest -q
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

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# The JavaScript SDK against a real server (needs Node 18+ and npm), the published
# OpenFeature OFREP web provider against the same server, and OpenFeature's Gherkin suites
# through the published Node OFREP providers (from ../shared/openfeature-spec).
.PHONY: test-js
test-js: install
	cd sdks/js && npm ci --no-audit --no-fund && node --test test/*.test.js
	cd tests/ofrep-web && npm ci --no-audit --no-fund && node --test
	cd tests/openfeature-node && npm ci --no-audit --no-fund && node --test
