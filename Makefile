# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The Hanabi Learning Environment's CMake file predates CMake 4's policy floor.
export CMAKE_POLICY_VERSION_MINIMUM := 3.5
# Keep JAX on the CPU and off other cores' toes on the 2-core CI machine.
export JAX_PLATFORMS ?= cpu

.PHONY: demo lint test test-slow benchmarks colabs install clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel
	$(PY) -m pip install --quiet -e '.[test,hanabi]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m experiments.demo

lint: $(STAMP)
	$(VENV)/bin/ruff check .

test: $(STAMP)
	$(PY) -m pytest -q -n 2 --dist loadfile

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

benchmarks: $(STAMP)
	$(PY) -m benchmarks.env_throughput

# Executes every notebook with its small settings and saves it with its outputs.
colabs: $(STAMP)
	$(PY) colabs/execute.py colabs/*.ipynb

clean:
	rm -rf $(VENV) build *.egg-info
