# Two commands on a fresh machine:  `make demo`  and  `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_DIR ?= demo

.PHONY: setup demo test clean

setup: $(VENV)/.installed

# torch is named first at the CPU build we test with, so pip never resolves a bare
# `torch` to a multi-GB CUDA build; GPU users install their CUDA torch before this.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "torch==2.13.0"
	$(PY) -m pip install -q -e ".[onnx,training,export,cluster,dev]"
	# One classical swap through every stage: numba compiles the swap's kernels into their
	# on-disk cache now (~25 s once on a 2-core box, this command's start included), so no later start pays it
	# (~2 s for the whole command from the cache).
	$(PY) -m cli bench stages --frames 1 > /dev/null
	touch $@

# The demo target photo is in face_recognition's source archive on PyPI (see convert/demo.py).
demo: setup
	mkdir -p $(DEMO_DIR)
	-$(PY) -m pip download -q --no-deps --no-binary :all: "face_recognition==1.3.0" -d $(DEMO_DIR)
	$(PY) -m convert.demo $(DEMO_DIR)

test: setup
	$(PY) -m pytest

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache
