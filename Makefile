# Two commands do all setup on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup run test test-fast bench serve clean browser

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

# The tutorial end to end: fetch + verify MNIST, train the `seed` preset, evaluate, predict, plot.
run: setup
	$(BIN)/mnistlab data fetch
	$(BIN)/mnistlab train --preset seed
	$(BIN)/mnistlab evaluate runs/latest
	$(BIN)/mnistlab predict runs/latest --test-index 0:5
	@echo
	@echo "Everything is in runs/latest/ (model.keras, metrics.json, history.json, plots/, logs/)."

# Debian's Chromium for the browser test (skipped with a reason when it is missing).
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

test: setup
	$(BIN)/mnistlab data fetch
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/mnistlab data fetch
	$(BIN)/python benchmarks/bench.py

serve: setup
	$(BIN)/mnistlab serve runs/latest

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
