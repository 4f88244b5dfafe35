"""The batch A real configs (tests/fixtures/configs/README.md, "Batch A sources") against what is
published about the checkpoints themselves, and the one of them transformers 5 refuses to build.

test_families_oracle.py compares every fixture with transformers tensor for tensor; these add the
checkpoints' own counts (the Hub's safetensors metadata), which transformers cannot vouch for."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from paramscope.errors import UnsupportedError
from paramscope.knowledge.families import expected_tensors

FIXTURES = Path(__file__).resolve().parent / "fixtures/configs"


@pytest.mark.parametrize(("name", "tensors", "params"), [
    # huggingface_hub's own test of the repo's safetensors metadata: 293 tensors, F16 559,214,592
    ("bigscience__bloom-560m.json", 293, 559_214_592),
    # the Hub API's safetensors.parameters: {"F16": 2779683840}
    ("microsoft__phi-2.json", None, 2_779_683_840),
    # the safetensors headers of the OLMoE-1B-7B checkpoints: 3219 tensors, 6,919,161,856 values
    ("allenai__OLMoE-1B-7B-0125-Instruct.json", 3219, 6_919_161_856),
    # the Hub API's safetensors.total
    ("allenai__OLMo-2-1124-7B-Instruct.json", None, 7_298_617_344),
    ("ibm-granite__granite-3.3-8b-instruct.json", None, 8_170_864_640),
])
def test_counts_equal_the_published_checkpoints(name: str, tensors: int | None, params: int) -> None:
    ts = expected_tensors(json.loads((FIXTURES / name).read_text()), fallback=False)
    assert sum(t.params for t in ts) == params
    if tensors is not None:
        assert len(ts) == tensors


DBRX = "mlx-community__dbrx-instruct-4bit.json"


def test_dbrx_counts_without_transformers_whose_config_class_rejects_the_published_config() -> None:
    # DBRX's published config writes "moe_normalize_expert_weights": 1 (an int); transformers 5's
    # strict DbrxFFNConfig wants a float and refuses the whole config, so from_pretrained cannot load
    # databricks/dbrx-instruct. Our row reads it (132B parameters: 16 experts x 40 layers)
    pytest.importorskip("torch", reason="the oracle needs torch")
    pytest.importorskip("transformers", reason="the oracle needs transformers")
    from paramscope.knowledge.families import oracle
    from paramscope.knowledge.families.compare import compare_config

    cfg = json.loads((FIXTURES / DBRX).read_text())
    assert sum(t.params for t in expected_tensors(cfg, fallback=False)) == 131_596_523_520
    with pytest.raises(UnsupportedError, match="moe_normalize_expert_weights"):
        oracle.hf_config(cfg)
    # the same numbers with the flag as a float: transformers builds it, tensor for tensor ours
    as_float = copy.deepcopy(cfg)
    as_float["ffn_config"]["moe_normalize_expert_weights"] = 1.0
    c = compare_config(as_float, DBRX)
    assert c.equal, c.summary()
