# Quick start: `make book` and `make test`. Both create .venv and install when needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PROFILE ?= full
MODEL   ?= efficientnet_lite0

.PHONY: install test book bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch/torchvision are pinned by constraints.txt (see the comment there).
$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install -c constraints.txt -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

# Runs the pipeline on the embedded default model and builds the Jupyter Book into _build/html.
book: $(STAMP)
	$(BIN)/advlib notebooks --profile $(PROFILE) --model $(MODEL) --results results --out book/generated
	$(BIN)/jupyter-book build --all .
	@echo "book: open _build/html/index.html"

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_stimuli.py
	$(BIN)/python benchmarks/bench_rsa.py
	$(BIN)/python benchmarks/bench_fmri.py
	$(BIN)/python benchmarks/bench_searchlight.py
	$(BIN)/python benchmarks/bench_encoding.py

clean:
	rm -rf _build book/generated results
