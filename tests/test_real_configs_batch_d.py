"""The batch D real configs (tests/fixtures/configs/README.md, "Batch D sources"): the shapes that set
these families apart, read from the real files, and the counts published for the checkpoints.

test_families_oracle.py compares every fixture with transformers tensor for tensor on the meta device;
this checks, without torch, what the comparison would not name if both sides were wrong the same way."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from paramscope.knowledge.families import expected_tensors

FIXTURES = Path(__file__).resolve().parent / "fixtures/configs"


def _load(name: str) -> dict[str, Any]:
    cfg: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return cfg


def _names(cfg: dict[str, Any]) -> set[str]:
    return {t.name for t in expected_tensors(cfg, fallback=False)}


def test_llama_3_2_vision_cross_attention_layers_replace_self_attention() -> None:
    cfg = _load("meta-llama__Llama-3.2-11B-Vision-Instruct.json")
    text = cfg["text_config"]
    names = _names(cfg)
    prefix = "language_model.model.layers"
    for i in range(text["num_hidden_layers"]):
        cross = i in text["cross_attention_layers"]
        assert (f"{prefix}.{i}.cross_attn.q_norm.weight" in names) is cross
        assert (f"{prefix}.{i}.self_attn.q_proj.weight" in names) is not cross
    # 32 local vision layers and 8 gated global ones; 8 image-token rows on top of the text vocabulary
    vision = cfg["vision_config"]
    assert f"vision_model.transformer.layers.{vision['num_hidden_layers'] - 1}.mlp.fc1.weight" in names
    assert f"vision_model.global_transformer.layers.{vision['num_global_layers'] - 1}.gate_ffn" in names
    shapes = {t.name: t.shape for t in expected_tensors(cfg, fallback=False)}
    assert shapes["language_model.model.embed_tokens.weight"] == (text["vocab_size"] + 8, text["hidden_size"])
    # 560-pixel tiles of 14-pixel patches: 1,600 patches and the class token, per tile and aspect ratio
    patches = (vision["image_size"] // vision["patch_size"]) ** 2 + 1
    assert shapes["vision_model.gated_positional_embedding.tile_embedding.weight"] == (
        len(vision["supported_aspect_ratios"]) + 1, vision["max_num_tiles"] * patches * vision["hidden_size"])


def test_counts_equal_the_published_checkpoints() -> None:
    # meta-llama/Llama-3.2-11B-Vision-Instruct: 10,670,220,835 BF16 parameters in its safetensors
    # (HfApi.get_safetensors_metadata, as a public benchmark keeps it)
    cfg = _load("meta-llama__Llama-3.2-11B-Vision-Instruct.json")
    assert sum(t.params for t in expected_tensors(cfg, fallback=False)) == 10_670_220_835


def test_nemotron_4b_layernorm1p_with_bias_and_an_ungated_relu2_mlp() -> None:
    cfg = _load("trtllm__Nemotron_4_4B_CONFIG.json")
    names = _names(cfg)
    assert {"model.layers.0.input_layernorm.bias", "model.norm.bias", "model.layers.31.mlp.up_proj.weight",
            "lm_head.weight"} <= names  # tie_word_embeddings: false
    assert not any(".gate_proj." in n for n in names)


def test_phi_3_5_moe_biases_and_sixteen_experts() -> None:
    # attention_bias and lm_head_bias change its shapes: the copies trimmed to a tool's fields lack them
    cfg = _load("microsoft__Phi-3.5-MoE-instruct.json")
    names = _names(cfg)
    assert {"lm_head.bias", "model.layers.0.self_attn.q_proj.bias", "model.layers.0.self_attn.o_proj.bias",
            "model.layers.31.block_sparse_moe.gate.weight"} <= names
    layer0 = "model.layers.0.block_sparse_moe.experts."
    experts = {n.removeprefix(layer0).split(".")[0] for n in names if n.startswith(layer0)}
    assert len(experts) == cfg["num_local_experts"]
    # the model card's "6.6B active parameters when using 2 experts" (42B in all): every tensor but the
    # 14 experts a token does not reach in each layer
    ts = expected_tensors(cfg, fallback=False)
    total = sum(t.params for t in ts)
    per_expert = sum(t.params for t in ts if ".layers.0.block_sparse_moe.experts.0." in t.name)
    idle = (cfg["num_local_experts"] - cfg["num_experts_per_tok"]) * per_expert * cfg["num_hidden_layers"]
    assert (round(total / 1e9), round((total - idle) / 1e9, 1)) == (42, 6.6)


def test_command_a_parallel_blocks_without_post_attention_norm() -> None:
    # Cohere2: one input LayerNorm per layer (attention and MLP in parallel), no biases, tied head
    cfg = _load("CohereLabs__c4ai-command-a-03-2025.json")
    names = _names(cfg)
    assert "model.layers.63.input_layernorm.weight" in names
    assert not any("post_attention_layernorm" in n or n.endswith(".bias") for n in names)
    assert "lm_head.weight" not in names  # use_embedding_sharing
    # the published "111B" of Command A
    assert round(sum(t.params for t in expected_tensors(cfg, fallback=False)) / 1e9) == 111
