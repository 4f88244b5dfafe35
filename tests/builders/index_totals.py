"""Config-only listings against real checkpoint indexes (tests/test_index_totals_*.py): the fixture's
entries, each one's listing from its config.json, and the refusal every unpriceable entry must give."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from paramscope.errors import ParamscopeError
from paramscope.knowledge.config_tensors import config_tensors
from paramscope.knowledge.families import expected_tensors
from paramscope.knowledge.quant_configs import from_config

FIXTURES = Path(__file__).parent.parent / "fixtures" / "quantized_totals"


def entries(name: str) -> list[dict[str, Any]]:
    """The checkpoints of ``tests/fixtures/quantized_totals/NAME``."""
    return json.loads((FIXTURES / name).read_text())["checkpoints"]


def listed(cfg: dict):
    """The tensors (as stored) and notes paramscope lists for a config.json alone."""
    return config_tensors(expected_tensors(cfg), from_config(cfg), cfg)


def entry_id(entry: dict) -> str:
    return entry["name"].split(" (")[0]


def refused_as_expected(entry: dict) -> bool:
    """True when the entry expects a refusal, which it then checks: that error class, one line."""
    expected = entry["expected"]
    if not (isinstance(expected, dict) and "refused" in expected):
        return False
    with pytest.raises(ParamscopeError) as raised:
        listed(entry["config"])
    assert type(raised.value).__name__ == expected["refused"]
    assert "\n" not in str(raised.value)
    return True


def first_names_listed(entry: dict) -> bool:
    """Whether the first weight_map keys the entry copied are among the names its config's listing gives."""
    return set(entry["names"]) <= {t.name for t in listed(entry["config"])[0]}
