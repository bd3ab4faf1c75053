# The two commands of the README: `make run` (set up and start the app) and `make test`
# (set up and run the whole test suite). Both create or reuse .venv/ in the repository root.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8501

.PHONY: run test system-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: $(BIN)/python requirements.txt pyproject.toml
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

run: $(VENV)/.runtime
	$(BIN)/streamlit run app/streamlit_app.py --server.port $(PORT) --server.headless true \
		--browser.gatherUsageStats false

# ngspice (SPICE checks) and Debian's chromium (browser tests) are real components, installed here.
system-deps:
	@command -v chromium >/dev/null && command -v ngspice >/dev/null || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium ngspice >/dev/null; }

test: $(VENV)/.dev system-deps
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .pytest_cache tests/browser/artifacts
