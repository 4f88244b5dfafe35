"""The batch E real configs (tests/fixtures/configs/README.md, "Batch E sources"): GLM-4-0414 (`glm4`),
SmolVLM2 (`smolvlm`) and granite-docling (`idefics3`), the last three families issue 12 lists that had no
real config. The shapes that set each family apart, read from the real files, and their counts.

test_families_oracle.py compares every fixture with transformers tensor for tensor on the meta device;
this checks, without torch, what the comparison would not name if both sides were wrong the same way, and
granite-docling's count against the size of its published model.safetensors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import paramscope
from builders.real_configs import FIXTURES, load_config, table_shapes
from paramscope.knowledge.families import arch_config_from_hf, expected_tensors

GLM4_32B = "zai-org__GLM-4-32B-0414.json"
GLM_Z1_RUMINATION = "zai-org__GLM-Z1-Rumination-32B-0414.json"
GLM4_9B_FINETUNE = "ccui46__hazardworld_per_chunk_act_glm_tokfix_diffPrompt_2000.json"
SMOLVLM2 = "HuggingFaceTB__SmolVLM2-2.2B-Instruct.json"
GRANITE_DOCLING = "ibm-granite__granite-docling-258M.json"




# The counts transformers 5.24.0 gives each config (the model built on the meta device, the parameters
# summed, the tied head once): the oracle test checks them tensor for tensor where torch is installed;
# here the table alone must give them. The Hub shows 32.6B for GLM-4-32B-0414, 9,400,279,040 for
# GLM-4-9B-0414 (whose shape the fine-tune keeps), 2.25B for SmolVLM2-2.2B-Instruct.
@pytest.mark.parametrize(("name", "tensors", "params"), [
    (GLM4_32B, 613, 32_566_081_536),
    (GLM_Z1_RUMINATION, 613, 33_141_749_760),
    (GLM4_9B_FINETUNE, 523, 9_400_279_040),
    (SMOLVLM2, 657, 2_246_784_880),
    (GRANITE_DOCLING, 470, 257_517_120),
])
def test_counts_equal_transformers(name: str, tensors: int, params: int) -> None:
    ts = expected_tensors(load_config(name), fallback=False)
    assert (len(ts), sum(t.params for t in ts)) == (tensors, params)


def test_glm4_32b_sandwich_norms_fused_gate_up_and_grouped_kv() -> None:
    cfg = load_config(GLM4_32B)
    shapes = table_shapes(cfg)
    h, ffn, d = cfg["hidden_size"], cfg["intermediate_size"], cfg["head_dim"]
    last = f"model.layers.{cfg['num_hidden_layers'] - 1}."
    # four RMSNorms a layer: before attention and MLP (as Llama) and after each of them (GLM-4's own)
    for norm in ("input_layernorm", "post_self_attn_layernorm", "post_attention_layernorm",
                 "post_mlp_layernorm"):
        assert shapes[f"{last}{norm}.weight"] == (h,)
    # one fused gate and up projection, as GLM's
    assert shapes[last + "mlp.gate_up_proj.weight"] == (2 * ffn, h)
    assert shapes[last + "mlp.down_proj.weight"] == (h, ffn)
    assert not any(".gate_proj." in n or ".up_proj." in n for n in shapes)
    # 48 query heads and 2 KV heads of 128; attention_bias false: no biases anywhere; untied head
    assert shapes[last + "self_attn.q_proj.weight"] == (48 * d, h)
    assert shapes[last + "self_attn.k_proj.weight"] == (2 * d, h)
    assert not any(n.endswith(".bias") for n in shapes)
    assert shapes["lm_head.weight"] == (cfg["vocab_size"], h)


def test_glm4_partial_rotary_names_no_tensor_and_the_kv_cache_keeps_whole_heads() -> None:
    cfg = load_config(GLM4_32B)
    arch = arch_config_from_hf(cfg, fallback=False)
    # RoPE turns half of each 128-wide head (partial_rotary_factor 0.5); the other half is cached too
    assert (arch.head_dim_k, arch.head_dim_v, arch.extra["partial_rotary_factor"]) == (128, 128, 0.5)
    assert not any("rotary" in n or "inv_freq" in n for n in table_shapes(cfg))
    context = 4096
    est = paramscope.size(str(FIXTURES / GLM4_32B), context=context, runtime="llama.cpp").estimate
    layers, kv_heads, f16 = cfg["num_hidden_layers"], cfg["num_key_value_heads"], 2
    assert est.kv_cache_bytes == layers * context * 2 * kv_heads * cfg["head_dim"] * f16


def test_glm_z1_rumination_differs_from_glm4_32b_only_in_kv_heads() -> None:
    base, z1 = load_config(GLM4_32B), load_config(GLM_Z1_RUMINATION)
    assert {k for k in base.keys() | z1.keys() if base.get(k) != z1.get(k)} == {
        "num_key_value_heads", "max_position_embeddings"}
    a, b = table_shapes(base), table_shapes(z1)
    grown = {n for n in a if a[n] != b[n]}
    assert grown == {f"model.layers.{i}.self_attn.{p}_proj.weight" for i in range(61) for p in "kv"}
    assert b["model.layers.0.self_attn.k_proj.weight"] == (8 * 128, 6144)


def test_glm4_9b_biased_qkv_but_not_o() -> None:
    # GLM-4-9B-0414 keeps attention_bias true: q/k/v carry biases, o_proj does not (Glm4Attention)
    shapes = table_shapes(load_config(GLM4_9B_FINETUNE))
    assert shapes["model.layers.39.self_attn.q_proj.bias"] == (32 * 128,)
    assert shapes["model.layers.39.self_attn.k_proj.bias"] == (2 * 128,)
    assert shapes["model.layers.39.self_attn.v_proj.bias"] == (2 * 128,)
    assert "model.layers.39.self_attn.o_proj.bias" not in shapes
    assert shapes["model.layers.39.mlp.gate_up_proj.weight"] == (2 * 13696, 4096)


def test_smolvlm2_heads_default_as_llama_and_the_connector_shuffles_by_three() -> None:
    cfg = load_config(SMOLVLM2)
    text = cfg["text_config"]
    # the Hub file's text_config gives no head counts: transformers takes LlamaConfig's 32 and 32
    assert "num_attention_heads" not in text and "num_key_value_heads" not in text
    arch = arch_config_from_hf(cfg, fallback=False)
    assert (arch.n_heads, arch.n_kv_heads, arch.head_dim_k) == (32, 32, 64)
    shapes = table_shapes(cfg)
    assert shapes["model.text_model.layers.23.self_attn.k_proj.weight"] == (32 * 64, 2048)
    # pixel shuffle by scale_factor 3: nine 1152-wide patch features into one 2048-wide token
    shuffled = 1152 * cfg["scale_factor"] ** 2
    assert shapes["model.connector.modality_projection.proj.weight"] == (2048, shuffled)
    # the tower: SmolVLMVisionConfig's 1152 width (the file gives none), 27 layers, 384-pixel images in
    # 14-pixel patches (27 x 27 positions)
    assert shapes["model.vision_model.embeddings.patch_embedding.weight"] == (1152, 3, 14, 14)
    assert shapes["model.vision_model.embeddings.position_embedding.weight"] == (27 * 27, 1152)
    assert "model.vision_model.encoder.layers.26.mlp.fc1.weight" in shapes
    assert "model.vision_model.encoder.layers.27.mlp.fc1.weight" not in shapes
    assert shapes["lm_head.weight"] == (49280, 2048)  # tie_word_embeddings false
    # stored as float32 (its torch_dtype): four bytes a parameter
    ts = expected_tensors(cfg, fallback=False)
    assert sum(t.nbytes for t in ts) == 4 * 2_246_784_880
    vision = sum(t.params for t in ts if t.name.startswith("model.vision_model."))
    assert round(vision / 1e6) == 413  # SigLIP-So400m's tower less its pooling head


def test_granite_docling_connector_tower_and_tied_head() -> None:
    cfg = load_config(GRANITE_DOCLING)
    shapes = table_shapes(cfg)
    # pixel shuffle by scale_factor 4: sixteen 768-wide patch features into one 576-wide token
    assert shapes["model.connector.modality_projection.proj.weight"] == (576, 768 * 16)
    # 512-pixel images in 16-pixel patches: 32 x 32 positions; 12 layers of 768
    assert shapes["model.vision_model.embeddings.patch_embedding.weight"] == (768, 3, 16, 16)
    assert shapes["model.vision_model.embeddings.position_embedding.weight"] == (32 * 32, 768)
    assert "model.vision_model.encoder.layers.11.mlp.fc2.weight" in shapes
    assert "model.vision_model.encoder.layers.12.mlp.fc2.weight" not in shapes
    # 9 query heads and 3 KV heads of 64; the head is the embedding (tie_word_embeddings true)
    assert shapes["model.text_model.layers.29.self_attn.k_proj.weight"] == (3 * 64, 576)
    assert "lm_head.weight" not in shapes


# ibm-granite/granite-docling-258M's model.safetensors, as the LFS pointer of a git copy of the Hub
# repository gives it (tests/fixtures/configs/README.md): "size 515093104"
GRANITE_DOCLING_FILE_BYTES = 515_093_104


def test_granite_docling_weights_fill_its_published_safetensors_file(tmp_path: Path) -> None:
    safetensors = pytest.importorskip("safetensors", reason="the safetensors library reads the file back")
    cfg = load_config(GRANITE_DOCLING)
    est = paramscope.size(str(FIXTURES / GRANITE_DOCLING)).estimate
    assert est.weights_bytes == 2 * 257_517_120  # bfloat16, the tied head once
    # The file is our tensor list in the safetensors layout (the format's specification: an 8-byte
    # header length, a JSON header padded with spaces to 8 bytes, the tensors' data in the header's
    # order; the safetensors library writes them sorted by name, with {"format": "pt"} metadata)
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for t in sorted(expected_tensors(cfg, fallback=False), key=lambda t: t.name):
        header[t.name] = {"dtype": "BF16", "shape": list(t.shape),
                          "data_offsets": [offset, offset + t.nbytes]}
        offset += t.nbytes
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    path = tmp_path / "model.safetensors"
    with path.open("wb") as f:
        f.write(len(raw).to_bytes(8, "little") + raw)
        f.truncate(8 + len(raw) + offset)  # sparse: the data is never written
    assert offset == est.weights_bytes
    # the published file's size to the byte: the same tensor names, shapes and dtype in its header
    assert path.stat().st_size == GRANITE_DOCLING_FILE_BYTES
    with safetensors.safe_open(str(path), "np") as f:  # the reference reader accepts the layout
        assert set(f.keys()) == set(header) - {"__metadata__"}
    model = paramscope.open_model(str(path))
    assert sum(t.params for t in model.tensors) == 257_517_120
