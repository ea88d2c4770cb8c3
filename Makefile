# Set-up and everyday commands. Everything runs inside a virtual environment (.venv).
#   make quickstart   run the main job on the embedded default
#   make install      the runtime requirements and this project (pip install -e .: the sct package)
#   make test         install runtime + dev requirements, run ruff and the fast tests (well under 2 min)
#   make test-all     the same with every test: subprocesses, torchrun, ONNX, end to end (what CI runs)
#   make demo-offline the offline 2D backend of the video demo (MediaPipe BlazePose), see docs/DEMO.md
#   make benchmark    time all models side by side on this machine (docs/BENCHMARKS.md)
#   make pretrained BVH=DIR   train the shipped motion-capture lifters from the CMU corpus (docs/EXPERIMENTS.md);
#                             ARGS="--device cuda --override epochs=30 ..." passes options to tools/mocap_pretrained.py
# TORCH pins the torch build installed when the environment has none yet, e.g.
#   make test TORCH="torch==2.5.1 --index-url https://download.pytorch.org/whl/cu121"
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: install install-dev quickstart demo-offline test test-all lint benchmark pretrained clean

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
	$(PY) tools/quickstart.py

# mediapipe pulls opencv-contrib-python; the project keeps its one OpenCV (opencv-python-headless, which has
# everything the demo uses): contrib is removed again and headless reinstalled over the shared cv2 folder.
$(VENV)/.demo-offline: demo/constraints-offline.txt requirements.txt $(VENV)/.torch
	$(PY) -m pip install -c demo/constraints-offline.txt -r requirements.txt mediapipe==0.10.21
	$(PY) -m pip uninstall -y opencv-contrib-python opencv-python opencv-contrib-python-headless
	$(PY) -m pip install --force-reinstall --no-deps -c demo/constraints-offline.txt opencv-python-headless
	$(PY) -c "import cv2, mediapipe, numpy, torch; print('demo-offline: mediapipe', mediapipe.__version__, \
		'OpenCV', cv2.__version__, 'numpy', numpy.__version__, 'torch', torch.__version__)"
	@touch $@

demo-offline: $(VENV)/.demo-offline $(VENV)/.editable

benchmark: install
	$(PY) tools/benchmark.py --out-md outputs/benchmark/benchmark.md --out-csv outputs/benchmark/benchmark.csv

pretrained: install
	@test -n "$(BVH)" || { echo "usage: make pretrained BVH=<folder of the CMU corpus, see docs/DATA.md>" >&2; exit 2; }
	$(PY) tools/mocap_pretrained.py --bvh $(BVH) $(ARGS)

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
