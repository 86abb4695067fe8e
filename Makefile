# Quick start: `make book` and `make test`. Both create .venv and install when needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PROFILE ?= full
MODEL   ?= efficientnet_lite0
JOBS    ?= 2
# The paper's image design from a folder of ImageNet images (class subfolders, or files
# named <WordNet id>_*.JPEG): make book MODEL=alexnet_caffe IMAGES=/path/to/folder
IMAGES  ?=
# A folder whose images fall short of 5 x 8 at P > 0.99 stops the build at the stimulus stage
# with the count per superclass. The ways out, each reported in the book as a deviation from
# the paper: MIN_CONFIDENCE=0.9 (a lower threshold), ALLOW_SHORT=1 (go on with fewer images).
MIN_CONFIDENCE ?=
ALLOW_SHORT    ?=
# Other stimulus options for `make book`, e.g. STIMULI="--images DIR" (no paper design)
STIMULI ?= $(if $(IMAGES),--images $(IMAGES) --paper-design) \
	$(if $(MIN_CONFIDENCE),--min-confidence $(MIN_CONFIDENCE)) $(if $(ALLOW_SHORT),--allow-short)

.PHONY: install test test-fast lint book bench clean chromium lab

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch/torchvision are pinned by constraints.txt (see the comment there).
$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install -c constraints.txt -e ".[test]"
	$(BIN)/python -m ipykernel install --sys-prefix --name advlib --display-name "Python (advlib)"
	touch $(STAMP)

install: $(STAMP)

# The browser test drives Debian's chromium (installed here when missing) with Playwright.
CHROMIUM := $(shell command -v chromium || command -v chromium-browser || command -v google-chrome)
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

chromium:
ifeq ($(CHROMIUM),)
	$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium
endif

# Lint (ruff: pyflakes, pycodestyle, import order, bug-prone patterns; see pyproject.toml).
lint: $(STAMP)
	$(BIN)/ruff check advlib tests benchmarks

# Everything: lint, then every test (the smoke book and the browser checks included).
# On TEST_JOBS pytest-xdist workers (2 by default; 0 runs them in one process). The smoke
# book's tests share one worker, so the book is built once; the other worker takes the rest.
# On 2 cores, one fresh clone: 623 s in one process, 454 s on 2 workers (issue 26).
TEST_JOBS ?= 2
test: $(STAMP) chromium lint
	$(BIN)/python -m pytest -q -n $(TEST_JOBS) --dist loadgroup

# The fast loop while editing: no network model, no notebooks, no browser, no simulation
# of 4 s or more (those run in `make test`). On 2 pytest-xdist workers by default (FAST_JOBS),
# each with its share of the cores' threads (tests/conftest.py): pytest 48.9-49.3 s on 2 cores
# (558 tests, 2026-12-06, two runs; 61.2-62.4 s in the same hour with the three 4 s
# simulations in it; 3 workers: 80.0 s).
FAST_JOBS ?= 2
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow" -n $(FAST_JOBS) --dist loadgroup

# Runs the whole pipeline (only what is out of date) on the embedded default model, executes
# the notebooks and builds the Jupyter Book into _build/html.
book: $(STAMP)
	$(BIN)/advlib reproduce --profile $(PROFILE) --model $(MODEL) --jobs $(JOBS) --results results --out book/generated $(STIMULI)

# JupyterLab on notebooks/ with the project's kernel ("Python (advlib)"). Every notebook
# finds or computes the results it needs (the same cached stages as `make book`).
LAB_PORT ?= 8888
lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=notebooks --port=$(LAB_PORT) \
	    --MappingKernelManager.default_kernel_name=advlib \
	    $(if $(filter 0,$(shell id -u)),--allow-root)

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_stimuli.py
	$(BIN)/python benchmarks/bench_rsa.py
	$(BIN)/python benchmarks/bench_fmri.py
	$(BIN)/python benchmarks/bench_searchlight.py
	$(BIN)/python benchmarks/bench_encoding.py
	$(BIN)/python benchmarks/bench_scale.py

clean:
	rm -rf _build book/generated results
