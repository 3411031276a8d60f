# mlfastsim — every target creates .venv on a fresh machine.
# torch==2.13.0 goes in first (a CPU build; a bare 'torch' would pull a multi-GB CUDA build),
# then the package with all extras; pythia8mc is pinned to 8.317.2 (binary wheel) in pyproject.toml.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_OUT ?= demo-output

.PHONY: venv demo demo-quick demo-particle-jets demo-ttbar test test-all lint clean performance

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[all,dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/mlfastsim demo --overwrite --out $(DEMO_OUT)

demo-quick: $(STAMP)
	$(BIN)/mlfastsim demo --quick --overwrite --out $(DEMO_OUT)

demo-particle-jets: $(STAMP)
	$(BIN)/mlfastsim demo particle-jets --overwrite --out $(DEMO_OUT)-particle-jets

demo-ttbar: $(STAMP)
	$(BIN)/mlfastsim demo ttbar --overwrite --out $(DEMO_OUT)-ttbar

performance: $(STAMP)
	bash docs/performance.sh

test: $(STAMP)
	$(BIN)/pytest

test-all: $(STAMP)
	$(BIN)/pytest -m ''

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy

clean:
	rm -rf $(VENV) $(DEMO_OUT) $(DEMO_OUT)-particle-jets .pytest_cache .mypy_cache .ruff_cache
