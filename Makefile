# Two commands do all set-up on a fresh machine:
#   make demo   create .venv, install the package (+ plot extra), run `gennape demo`
#   make test   create .venv, install the package with test extras (tf, onnx, ...), run ruff and pytest
# Installs go through constraints.txt, which pins torch==2.13.0 (an unpinned torch pulls a CUDA build).
# Stamps make a re-run on an installed tree quick; they are refreshed when setup.cfg changes.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
PYTEST_ARGS ?=

.PHONY: demo test lint bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.stamp-demo: setup.cfg pyproject.toml constraints.txt | $(PY)
	$(PIP) install -q -c constraints.txt -e ".[plot]"
	touch $@

$(VENV)/.stamp-test: setup.cfg pyproject.toml constraints.txt | $(PY)
	$(PIP) install -q -c constraints.txt -e ".[plot,tf,onnx,nb201,ray,test,dev]"
	touch $@ $(VENV)/.stamp-demo

demo: $(VENV)/.stamp-demo
	$(VENV)/bin/gennape demo

test: $(VENV)/.stamp-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.stamp-test
	$(VENV)/bin/ruff check .

bench: $(VENV)/.stamp-test
	$(PY) scripts/bench_cg.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
