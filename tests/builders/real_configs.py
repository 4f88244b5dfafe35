"""The real config.json files kept in tests/fixtures/configs (sources in its README), as the
real-config tests read them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from paramscope.knowledge.families import expected_tensors

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures/configs"


def load_config(name: str) -> dict[str, Any]:
    """A fixture's config, parsed."""
    cfg: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return cfg


def table_shapes(cfg: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """Tensor name → shape from our own family table (no transformers fallback)."""
    return {t.name: t.shape for t in expected_tensors(cfg, fallback=False)}
