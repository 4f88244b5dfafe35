"""The batch D real configs (tests/fixtures/configs/README.md, "Batch D sources"): the shapes that set
these families apart, read from the real files, and the counts published for the checkpoints.

test_families_oracle.py compares every fixture with transformers tensor for tensor on the meta device;
this checks, without torch, what the comparison would not name if both sides were wrong the same way,
and (where transformers is installed) that the Mamba-2 configs batch D showed the table counting wrongly
are refused exactly where transformers refuses them."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builders.real_configs import load_config
from paramscope.errors import FormatError
from paramscope.knowledge.families import expected_tensors


def _names(cfg: dict[str, Any]) -> set[str]:
    return {t.name for t in expected_tensors(cfg, fallback=False)}


def test_llama_3_2_vision_cross_attention_layers_replace_self_attention() -> None:
    cfg = load_config("meta-llama__Llama-3.2-11B-Vision-Instruct.json")
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
    cfg = load_config("meta-llama__Llama-3.2-11B-Vision-Instruct.json")
    assert sum(t.params for t in expected_tensors(cfg, fallback=False)) == 10_670_220_835


def test_nemotron_4b_layernorm1p_with_bias_and_an_ungated_relu2_mlp() -> None:
    cfg = load_config("trtllm__Nemotron_4_4B_CONFIG.json")
    names = _names(cfg)
    assert {"model.layers.0.input_layernorm.bias", "model.norm.bias", "model.layers.31.mlp.up_proj.weight",
            "lm_head.weight"} <= names  # tie_word_embeddings: false
    assert not any(".gate_proj." in n for n in names)


def test_phi_3_5_moe_biases_and_sixteen_experts() -> None:
    # attention_bias and lm_head_bias change its shapes: the copies trimmed to a tool's fields lack them
    cfg = load_config("microsoft__Phi-3.5-MoE-instruct.json")
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
    cfg = load_config("CohereLabs__c4ai-command-a-03-2025.json")
    names = _names(cfg)
    assert "model.layers.63.input_layernorm.weight" in names
    assert not any("post_attention_layernorm" in n or n.endswith(".bias") for n in names)
    assert "lm_head.weight" not in names  # use_embedding_sharing
    # the published "111B" of Command A
    assert round(sum(t.params for t in expected_tensors(cfg, fallback=False)) / 1e9) == 111


def test_falcon_h1_0_5b_parallel_attention_mamba_and_mlp() -> None:
    cfg = load_config("tiiuae__Falcon-H1-0.5B-Instruct.json")
    shapes = {t.name: t.shape for t in expected_tensors(cfg, fallback=False)}
    d_ssm, heads, groups, state = (cfg[k] for k in ("mamba_d_ssm", "mamba_n_heads", "mamba_n_groups",
                                                    "mamba_d_state"))
    # in_proj: gate and x (2 x d_ssm), B and C (2 x groups x state), one dt per head
    assert shapes["model.layers.35.mamba.in_proj.weight"] == (2 * d_ssm + 2 * groups * state + heads, 1024)
    assert shapes["model.layers.35.self_attn.q_proj.weight"] == (8 * 64, 1024)
    assert shapes["model.layers.35.feed_forward.gate_proj.weight"] == (2048, 1024)
    assert "lm_head.weight" in shapes  # untied
    # as Megatron-Bridge's test keeps it, without mamba_d_ssm: FalconH1Config's default width (1024) is
    # not 24 heads of 64, which transformers refuses and so does the table
    with pytest.raises(FormatError, match="mamba_n_heads x mamba_d_head"):
        expected_tensors({k: v for k, v in cfg.items() if k != "mamba_d_ssm"}, fallback=False)


def test_pixtral_12b_vision_encoder_and_decoder_as_announced() -> None:
    # LLaVA with Pixtral's vision tower: "a new 400M parameter vision encoder" and "a 12B parameter
    # multimodal decoder based on Mistral Nemo" (Mistral's announcement of Pixtral 12B)
    ts = expected_tensors(load_config("mistral-community__pixtral-12b.json"), fallback=False)
    vision = sum(t.params for t in ts if t.name.startswith("vision_tower."))
    decoder = sum(t.params for t in ts if t.name.startswith("language_model."))
    assert (round(vision / 1e8) / 10, round(decoder / 1e9)) == (0.4, 12)
    names = {t.name for t in ts}
    # Pixtral's tower: bias-free patch conv, RMSNorm pre-norm, no class token or position table
    assert "vision_tower.patch_conv.weight" in names and "vision_tower.ln_pre.weight" in names
    assert "vision_tower.patch_conv.bias" not in names
    assert "multi_modal_projector.linear_1.bias" in names  # pixtral-12b's projector has biases


def test_paligemma_3b_448_equals_kerashub_count_on_its_vocabulary() -> None:
    # KerasHub's pali_gemma_3b_448 preset: "params": 2924220144, built with "vocabulary_size": 257152;
    # the Hugging Face checkpoints pad the text embedding (tied with the head) to 257,216 rows
    cfg = load_config("vidore__colpali-v1.2-merged.json")
    ts = expected_tensors(cfg, fallback=False)
    hidden, vocab = cfg["text_config"]["hidden_size"], cfg["text_config"]["vocab_size"]
    assert sum(t.params for t in ts) - (vocab - 257_152) * hidden == 2_924_220_144
    shapes = {t.name: t.shape for t in ts}
    # 448-pixel images in 14-pixel patches: 1,024 positions; SigLIP without its pooling head
    assert shapes["vision_tower.vision_model.embeddings.position_embedding.weight"] == (1024, 1152)
    assert not any(".head." in n for n in shapes)
    assert shapes["multi_modal_projector.linear.weight"] == (2048, 1152)


def test_granite_4_0_h_tiny_mamba_layers_and_experts() -> None:
    cfg = load_config("ibm-granite__granite-4.0-h-tiny.json")
    ts = expected_tensors(cfg, fallback=False)
    names = {t.name for t in ts}
    for i, kind in enumerate(cfg["layer_types"]):  # 36 Mamba-2 layers, 4 NoPE attention layers
        assert (f"model.layers.{i}.mamba.in_proj.weight" in names) is (kind == "mamba")
        assert (f"model.layers.{i}.self_attn.q_proj.weight" in names) is (kind == "attention")
        assert f"model.layers.{i}.shared_mlp.input_linear.weight" in names
    # IBM's "7B total, 1B active": every tensor but the 58 of 64 experts a token does not reach
    stacked = (".layers.0.block_sparse_moe.input_linear.", ".layers.0.block_sparse_moe.output_linear.")
    per_expert = sum(t.params for t in ts if any(s in t.name for s in stacked)) // cfg["num_local_experts"]
    idle = (cfg["num_local_experts"] - cfg["num_experts_per_tok"]) * per_expert * cfg["num_hidden_layers"]
    total = sum(t.params for t in ts)
    assert (round(total / 1e9), round((total - idle) / 1e9)) == (7, 1)


# -- a Mamba-2 width its heads do not tile: transformers refuses it, so the table refuses it too --------
@st.composite
def prefixed_mamba2_configs(draw: st.DrawFn) -> dict[str, Any]:
    """Small FalconH1 / Bamba / GraniteMoeHybrid configs whose mamba_n_heads x mamba_d_head may or may
    not equal the Mamba width (mamba_d_ssm for FalconH1 when given, else mamba_expand x hidden_size)."""
    kind = draw(st.sampled_from(["falcon_h1", "bamba", "granitemoehybrid"]))
    hidden = draw(st.sampled_from([16, 24, 32]))
    heads = draw(st.sampled_from([2, 3, 4]))
    cfg: dict[str, Any] = {"model_type": kind, "hidden_size": hidden, "num_attention_heads": 2,
                           "num_key_value_heads": 1, "num_hidden_layers": 2, "vocab_size": 32,
                           "intermediate_size": 16, "max_position_embeddings": 64, "mamba_n_heads": heads,
                           "mamba_d_state": 4, "mamba_n_groups": 1,
                           "mamba_expand": draw(st.sampled_from([1, 2]))}
    d_head = draw(st.sampled_from(["absent", "auto", 4, 8, 16]))
    if d_head != "absent":
        cfg["mamba_d_head"] = d_head
    if kind == "falcon_h1":
        d_ssm = draw(st.sampled_from(["absent", None, 24, 32, 48]))
        if d_ssm != "absent":
            cfg["mamba_d_ssm"] = d_ssm
    if kind == "bamba":
        cfg["attn_layer_indices"] = [1]
    if kind == "granitemoehybrid":
        cfg.update(num_local_experts=0, shared_intermediate_size=8, layer_types=["mamba", "attention"])
    return cfg


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prefixed_mamba2_configs())
def test_mamba2_head_tiling_is_refused_exactly_where_transformers_refuses_it(cfg: dict[str, Any]) -> None:
    pytest.importorskip("torch", reason="the oracle needs torch")
    pytest.importorskip("transformers", reason="the oracle needs transformers")
    from paramscope.knowledge.families import oracle
    from paramscope.knowledge.families.compare import compare_config

    try:
        expected_tensors(cfg, fallback=False)
        ours_refuses = False
    except FormatError:
        ours_refuses = True
    try:
        oracle.hf_config(cfg, "small")
        theirs_refuse = False
    except oracle.ConfigRefused:
        theirs_refuse = True
    assert ours_refuses == theirs_refuse, f"table refuses: {ours_refuses}, transformers: {theirs_refuse}"
    if not ours_refuses:
        c = compare_config(cfg, "small")
        assert c.equal, c.summary()
