"""`inspect --tensors --json` on a DeepSeek-V3-shaped checkpoint of 28,113 tensors (20 of its 61 layers,
headers only: tests/builders/big_checkpoints.py), against recomputations done here: the safetensors
library's reading of every shard, the sizes from the spec's bits per element, totals summed by hand,
and the text json.dumps writes."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import pytest

from builders.big_checkpoints import deepseek_v3_tensors, write_deepseek_v3
from builders.safetensors_files import SPEC_BITS, library_view
from paramscope.app.inspect import inspect
from paramscope.cli.json_text import dumps

LAYERS = 20
CATALOGUE = Path(__file__).resolve().parents[1] / "src/paramscope/knowledge/catalogue/DeepSeek-V3.json"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("deepseek-v3-20")
    write_deepseek_v3(folder, layers=LAYERS, shards=40)
    config = json.loads(CATALOGUE.read_text())
    config["num_hidden_layers"] = LAYERS
    (folder / "config.json").write_text(json.dumps(config))
    return folder


@pytest.mark.slow
def test_tensor_list_is_the_librarys_and_totals_add_up(checkpoint: Path) -> None:
    data = inspect(str(checkpoint), tensors=True, layers=True).to_json()
    listed = data["tensors"]
    library: dict[str, tuple[str, list[int]]] = {}
    for shard in sorted(checkpoint.glob("*.safetensors")):
        library.update(library_view(shard)[0])
    assert len(listed) == data["tensor_count"] == len(library) == len(deepseek_v3_tensors(LAYERS)) == 28113
    assert {t["name"]: (t["dtype"], t["shape"]) for t in listed} == library
    for t in listed:
        assert t["bytes"] == math.prod(t["shape"]) * SPEC_BITS[t["dtype"]] // 8
    assert data["weights_bytes"] == sum(t["bytes"] for t in listed)
    counted = [t for t in listed if t["counted"] and t["is_parameter"]]
    assert data["total_params"] == sum(t["params"] for t in counted)
    # FP8 block scales are quantization side data, not parameters (README_WEIGHTS.md)
    scales = {n for n in library if n.endswith("_scale_inv")}
    assert {t["name"] for t in listed if not t["is_parameter"]} == scales
    per_dtype = Counter(t["dtype"] for t in listed)
    assert {k: v["tensors"] for k, v in data["by_dtype"].items()} == dict(per_dtype)
    assert sum(row["total"]["params"] for row in data["by_layer"]) + sum(
        t["params"] for t in counted if t["layer"] is None) == data["total_params"]


@pytest.mark.slow
def test_json_text_is_what_json_dumps_writes(checkpoint: Path) -> None:
    data = inspect(str(checkpoint), tensors=True, layers=True).to_json()
    assert dumps(data) == json.dumps(data, indent=2, ensure_ascii=False)
