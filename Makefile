PYTHON ?= python3
PORT ?= 8080
VENV := .venv
BIN := $(VENV)/bin
# `make demo` needs only the runtime (about 50 MB); the test extras (Playwright,
# schemathesis, mypy) come in only for `make test` and `make bench`.
RUNTIME_STAMP := $(VENV)/.installed-runtime
TEST_STAMP := $(VENV)/.installed-test

.PHONY: test demo bench clean

$(RUNTIME_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(TEST_STAMP): $(RUNTIME_STAMP)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# One pytest worker per core (at most four); each starts its own throwaway PostgreSQL
# cluster and browser.
test: $(TEST_STAMP)
	$(BIN)/pytest -q -n auto --maxprocesses 4 $(PYTEST_ARGS)

demo: $(RUNTIME_STAMP)
	$(BIN)/psad demo --port $(PORT)

bench: $(TEST_STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache
