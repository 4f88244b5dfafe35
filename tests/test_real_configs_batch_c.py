"""The batch C real configs (tests/fixtures/configs/README.md, "Batch C sources") that
test_families_oracle.py cannot compare as they stand, and the counts of the others.

test_families_oracle.py compares every natively built fixture with transformers tensor for tensor;
this adds the checkpoint kept in its repository-code format, compared under the native row that
transformers' own port of it uses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from paramscope.knowledge.families import expected_tensors

FIXTURES = Path(__file__).resolve().parent / "fixtures/configs"
HUNYUAN_A13B = "tencent__Hunyuan-A13B-Instruct.json"


def _as_hunyuan_v1_moe(cfg: dict) -> dict:
    # transformers' hunyuan_v1_moe reads the same keys as the repository's "hunyuan" code, except the
    # head width it calls head_dim; the per-layer lists (moe_topk, moe_intermediate_size) stay lists
    return {**cfg, "model_type": "hunyuan_v1_moe", "head_dim": cfg["attention_head_dim"]}


def test_hunyuan_a13b_per_layer_lists_are_read_not_refused() -> None:
    # Hunyuan-A13B writes moe_topk one value per layer; transformers types it int | list[int]
    cfg = _as_hunyuan_v1_moe(json.loads((FIXTURES / HUNYUAN_A13B).read_text()))
    ts = expected_tensors(cfg, fallback=False)
    names = {t.name for t in ts}
    assert {"model.layers.31.mlp.experts.63.down_proj.weight",
            "model.layers.31.mlp.shared_mlp.up_proj.weight", "model.layers.31.mlp.gate.wg.weight"} <= names
    assert "lm_head.weight" not in names  # tie_word_embeddings: true


def test_hunyuan_a13b_equals_hunyuan_v1_moe_in_transformers() -> None:
    pytest.importorskip("torch", reason="the oracle needs torch")
    pytest.importorskip("transformers", reason="the oracle needs transformers")
    from paramscope.knowledge.families import oracle
    from paramscope.knowledge.families.compare import compare

    cfg = _as_hunyuan_v1_moe(json.loads((FIXTURES / HUNYUAN_A13B).read_text()))
    c = compare(expected_tensors(cfg, fallback=False),
                oracle.reference(cfg, preferred=("HunYuanMoEV1ForCausalLM",)))
    assert c.equal, c.summary()


MINIMAX_M1 = "MiniMaxAI__MiniMax-M1.json"


def _as_minimax(cfg: dict) -> dict:
    # what transformers' conversion of MiniMax-Text-01 / M1 writes (MiniMaxAI/MiniMax-Text-01-hf): the
    # repository's attn_type_list (0 lightning, 1 softmax) as layer_types, and no auto_map
    kinds = {0: "linear_attention", 1: "full_attention"}
    out = {k: v for k, v in cfg.items() if k not in ("auto_map", "attn_type_list", "architectures")}
    return {**out, "model_type": "minimax", "layer_types": [kinds[t] for t in cfg["attn_type_list"]]}


def test_minimax_m1_numbers_equal_minimax_in_transformers() -> None:
    pytest.importorskip("torch", reason="the oracle needs torch")
    pytest.importorskip("transformers", reason="the oracle needs transformers")
    from paramscope.knowledge.families import oracle
    from paramscope.knowledge.families.compare import compare

    cfg = _as_minimax(json.loads((FIXTURES / MINIMAX_M1).read_text()))
    ours = expected_tensors(cfg, fallback=False)
    c = compare(ours, oracle.reference(cfg, preferred=("MiniMaxForCausalLM",)))
    assert c.equal, c.summary()
    # one softmax-attention layer in eight: layer 7 has k_proj, layer 0 the lightning qkv_proj
    names = {t.name for t in ours}
    assert "model.layers.7.self_attn.k_proj.weight" in names
    assert "model.layers.0.self_attn.k_proj.weight" not in names


@pytest.mark.parametrize(("name", "params"), [
    # KerasHub's falcon_refinedweb_1b_en preset (model card tiiuae/falcon-rw-1b): "params": 1311625216
    ("tiiuae__falcon-rw-1b.json", 1_311_625_216),
    # ibm-granite/granite-guardian-3.2-3b-a800m, the same shape, pinned at a revision: params=3298793472
    ("ibm-granite__granite-3.1-3b-a800m-instruct.json", 3_298_793_472),
    # allenai/OLMo-1B's checkpoint inspected at a pinned revision: NATIVE_PARAMETERS = 1176764416
    ("allenai__OLMo-1B-hf.json", 1_176_764_416),
])
def test_counts_equal_the_published_checkpoints(name: str, params: int) -> None:
    ts = expected_tensors(json.loads((FIXTURES / name).read_text()), fallback=False)
    assert sum(t.params for t in ts) == params


@pytest.mark.parametrize(("name", "params"), [
    # GLM-4-9B-chat, the same decoder with its output layer: "with 9399951360 (9.4B) parameters"
    ("THUDM__CogView4-6B-text_encoder.json", 9_399_951_360),
    # tiiuae/falcon-7b (the same shape), model_size 7217189760: its checkpoints store lm_head.weight,
    # a copy of the tied word embeddings
    ("tiiuae__falcon-7b-instruct.json", 7_217_189_760),
])
def test_counts_with_the_output_layer_the_checkpoints_store(name: str, params: int) -> None:
    cfg = json.loads((FIXTURES / name).read_text())
    ts = expected_tensors(cfg, fallback=False)
    assert "lm_head.weight" not in {t.name for t in ts}
    assert sum(t.params for t in ts) + cfg["vocab_size"] * cfg["hidden_size"] == params


def test_minimax_m1_count_equals_the_published_total() -> None:
    # MiniMaxAI/MiniMax-M1-40k and -80k: total_params 456089655296 in a public model survey
    cfg = _as_minimax(json.loads((FIXTURES / MINIMAX_M1).read_text()))
    assert sum(t.params for t in expected_tensors(cfg, fallback=False)) == 456_089_655_296
