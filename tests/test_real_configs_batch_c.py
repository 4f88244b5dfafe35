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
