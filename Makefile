# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The Hanabi Learning Environment's CMake file predates CMake 4's policy floor.
export CMAKE_POLICY_VERSION_MINIMUM := 3.5
# Keep JAX on the CPU and off other cores' toes on the 2-core CI machine.
export JAX_PLATFORMS ?= cpu

.PHONY: demo lint test test-slow benchmarks colabs install clean browser replay-screenshot

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
	$(VENV)/bin/mypy

test: $(STAMP)
	$(PY) -m pytest -q -n 2 --dist loadfile --durations=25

test-slow: $(STAMP) browser
	$(PY) -m pytest -q -m slow

benchmarks: $(STAMP)
	$(PY) -m benchmarks.env_throughput

# Debian's chromium: the slow suite opens the replay page in it (root, or sudo, to install).
browser:
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)

# The README's screenshot: the pretrained full agent's replay page, at move 30.
replay-screenshot: $(STAMP) browser
	$(PY) -m experiments.hanabi_replay --agents=full --seed=0 --output_dir=runs/replay_screenshot
	chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1200,720 \
	    --screenshot=docs/replay.png 'file://$(CURDIR)/runs/replay_screenshot/replay.html#30'

# Executes every notebook with its small settings and saves it with its outputs.
colabs: $(STAMP)
	$(PY) colabs/execute.py colabs/*.ipynb

clean:
	rm -rf $(VENV) build *.egg-info
