# Set-up and everyday commands. Everything runs inside a virtual environment (.venv).
#   make quickstart   run the main job on the embedded default
#   make install      the runtime requirements and this project (pip install -e .: console scripts sct-*)
#   make test         install runtime + dev requirements, run ruff and the fast tests (well under 2 min)
#   make test-all     the same with every test: subprocesses, torchrun, ONNX, end to end (what CI runs)
#   make benchmark    time all models side by side on this machine (docs/BENCHMARKS.md)
# TORCH pins the torch build installed when the environment has none yet, e.g.
#   make test TORCH="torch==2.5.1 --index-url https://download.pytorch.org/whl/cu121"
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: install install-dev quickstart test test-all lint benchmark clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.torch: | $(PY)
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install $(TORCH)
	@touch $@

$(VENV)/.runtime: requirements.txt $(VENV)/.torch
	$(PY) -m pip install -r requirements.txt
	@touch $@

$(VENV)/.editable: pyproject.toml $(VENV)/.runtime
	$(PY) -m pip install --no-deps -e .
	@touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.editable
	$(PY) -m pip install -r requirements-dev.txt
	@touch $@

install: $(VENV)/.editable

install-dev: $(VENV)/.dev

quickstart: install
	$(PY) -m lib.quickstart

benchmark: install
	$(PY) tools/benchmark.py --out-md outputs/benchmark/benchmark.md --out-csv outputs/benchmark/benchmark.csv

lint: install-dev
	$(PY) -m ruff check .

test: install-dev
	$(PY) -m ruff check .
	$(PY) -m pytest $(PYTEST_ARGS)

test-all: install-dev
	$(PY) -m ruff check .
	$(PY) -m pytest -m "" $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
