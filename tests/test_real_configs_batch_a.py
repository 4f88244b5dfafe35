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


FALCON_40B = "tiiuae__falcon-40b.json"


def test_falcon_40b_refinedweb_config_matches_its_checkpoint_index() -> None:
    # tiiuae/falcon-40b's pytorch_model.bin.index.json: "total_size": 83671941120 (bfloat16). The
    # checkpoint also stores lm_head.weight, a copy of the tied word embeddings (65024 x 8192)
    ts = expected_tensors(json.loads((FIXTURES / FALCON_40B).read_text()), fallback=False)
    names = {t.name for t in ts}
    assert "lm_head.weight" not in names and "transformer.word_embeddings.weight" in names
    assert sum(t.nbytes for t in ts) + 65024 * 8192 * 2 == 83_671_941_120


def test_falcon_40b_refinedweb_config_equals_falcon_in_transformers() -> None:
    # the RW code's names under transformers' (RefinedWeb = the new decoder architecture), built as
    # FalconForCausalLM: what transformers' own conversion of these checkpoints does
    pytest.importorskip("torch", reason="the oracle needs torch")
    pytest.importorskip("transformers", reason="the oracle needs transformers")
    from paramscope.knowledge.families import oracle
    from paramscope.knowledge.families.compare import compare

    cfg = json.loads((FIXTURES / FALCON_40B).read_text())
    names = {"n_layer": "num_hidden_layers", "n_head": "num_attention_heads", "n_head_kv": "num_kv_heads"}
    falcon = {names.get(k, k): v for k, v in cfg.items() if k not in ("architectures", "auto_map")}
    falcon.update(model_type="falcon", new_decoder_architecture=True)
    c = compare(expected_tensors(cfg, fallback=False),
                oracle.reference(falcon, preferred=("FalconForCausalLM",)))
    assert c.equal, c.summary()
