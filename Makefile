# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
SAMPLE  ?= ../shared/data/video/grid/bbaf2n.mpg

.PHONY: install demo test bench clean

install: $(STAMP)

# Re-runs only when the dependency list changes; a second `make install` is instant.
$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet --no-deps facenet-pytorch==2.6.0 audiomentations==0.43.1 resemblyzer==0.1.4
	touch $(STAMP)

demo: install
	$(BIN)/python -m avdetect.demo

test: install
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python benchmarks/perception.py

clean:
	rm -rf $(VENV) build *.egg-info
