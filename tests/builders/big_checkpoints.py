"""A DeepSeek-V3-shaped sharded safetensors checkpoint, headers only: 91,991 tensors in 163 shards.

The layout follows the published checkpoint, written out independently of paramscope's config tables:
- README_WEIGHTS.md of github.com/deepseek-ai/DeepSeek-V3 (commit b4e06d883e655af15b9510ea155a6ae013720c54):
  `model.embed_tokens`, 61 hidden layers `model.layers.0..60`, `model.norm`, `lm_head`, and one MTP
  module as layer 61 (its own `embed_tokens`, `enorm`, `hnorm`, `eh_proj`, `shared_head.norm`,
  `shared_head.head`, and a hidden layer's `self_attn` and `mlp`); FP8 e4m3 weights with a float32
  `weight_scale_inv` per 128×128 block (zero-padded: ceil(rows/128) × ceil(cols/128)).
- config.json of deepseek-ai/DeepSeek-V3 (paramscope ships it as knowledge/catalogue/DeepSeek-V3.json):
  hidden 7168, first_k_dense_replace 3, intermediate 18432, moe_intermediate 2048, 256 routed experts
  and 1 shared, MLA with q_lora_rank 1536, kv_lora_rank 512, 128 heads of qk_nope 128 + qk_rope 64, v 128,
  vocabulary 129,280. modeling_deepseek.py's module names (q_a_proj, kv_a_proj_with_mqa, gate with
  e_score_correction_bias, experts.N, shared_experts).
The Hugging Face repository's model.safetensors.index.json lists 91,991 tensors in 163 shards, which
this reproduces (58 MoE layers + the MTP layer × 1,558, 3 dense layers × 20, 3 outside, 6 MTP extras).
Tensor data is a sparse hole: each shard is its header followed by a truncate to its full size.
"""

from __future__ import annotations

import math
from pathlib import Path

from builders.safetensors_files import write_sharded

HIDDEN, DENSE_FFN, EXPERT_FFN, VOCAB = 7168, 18432, 2048, 129280
HEADS, QK_NOPE, QK_ROPE, V_HEAD, Q_LORA, KV_LORA = 128, 128, 64, 128, 1536, 512
LAYERS, DENSE_LAYERS, EXPERTS, MTP_LAYERS = 61, 3, 256, 1
BLOCK = 128
SHARDS = 163

Spec = tuple[str, list[int]]


def _fp8(out: dict[str, Spec], name: str, rows: int, cols: int) -> None:
    out[name + ".weight"] = ("F8_E4M3", [rows, cols])
    out[name + ".weight_scale_inv"] = ("F32", [math.ceil(rows / BLOCK), math.ceil(cols / BLOCK)])


def _mlp(out: dict[str, Spec], p: str, ffn: int) -> None:
    _fp8(out, p + "gate_proj", ffn, HIDDEN)
    _fp8(out, p + "up_proj", ffn, HIDDEN)
    _fp8(out, p + "down_proj", HIDDEN, ffn)


def _layer(out: dict[str, Spec], i: int) -> None:
    p = f"model.layers.{i}."
    out[p + "input_layernorm.weight"] = ("BF16", [HIDDEN])
    _fp8(out, p + "self_attn.q_a_proj", Q_LORA, HIDDEN)
    out[p + "self_attn.q_a_layernorm.weight"] = ("BF16", [Q_LORA])
    _fp8(out, p + "self_attn.q_b_proj", HEADS * (QK_NOPE + QK_ROPE), Q_LORA)
    _fp8(out, p + "self_attn.kv_a_proj_with_mqa", KV_LORA + QK_ROPE, HIDDEN)
    out[p + "self_attn.kv_a_layernorm.weight"] = ("BF16", [KV_LORA])
    _fp8(out, p + "self_attn.kv_b_proj", HEADS * (QK_NOPE + V_HEAD), KV_LORA)
    _fp8(out, p + "self_attn.o_proj", HIDDEN, HEADS * V_HEAD)
    out[p + "post_attention_layernorm.weight"] = ("BF16", [HIDDEN])
    if i < DENSE_LAYERS:
        _mlp(out, p + "mlp.", DENSE_FFN)
        return
    out[p + "mlp.gate.weight"] = ("BF16", [EXPERTS, HIDDEN])
    out[p + "mlp.gate.e_score_correction_bias"] = ("F32", [EXPERTS])
    for e in range(EXPERTS):
        _mlp(out, p + f"mlp.experts.{e}.", EXPERT_FFN)
    _mlp(out, p + "mlp.shared_experts.", EXPERT_FFN)


def deepseek_v3_tensors(layers: int = LAYERS, mtp: bool = True) -> dict[str, Spec]:
    """{name: (dtype, shape)} in checkpoint order (embedding, layers, MTP layer, norm, head)."""
    out: dict[str, Spec] = {"model.embed_tokens.weight": ("BF16", [VOCAB, HIDDEN])}
    for i in range(layers):
        _layer(out, i)
    for i in range(layers, layers + (MTP_LAYERS if mtp else 0)):
        p = f"model.layers.{i}."
        out[p + "embed_tokens.weight"] = ("BF16", [VOCAB, HIDDEN])
        out[p + "enorm.weight"] = ("BF16", [HIDDEN])
        out[p + "hnorm.weight"] = ("BF16", [HIDDEN])
        out[p + "eh_proj.weight"] = ("BF16", [HIDDEN, 2 * HIDDEN])
        _layer(out, i)
        out[p + "shared_head.norm.weight"] = ("BF16", [HIDDEN])
        out[p + "shared_head.head.weight"] = ("BF16", [VOCAB, HIDDEN])
    out["model.norm.weight"] = ("BF16", [HIDDEN])
    out["lm_head.weight"] = ("BF16", [VOCAB, HIDDEN])
    return out


def write_deepseek_v3(folder: Path, layers: int = LAYERS, shards: int = SHARDS) -> Path:
    """The sharded checkpoint's headers and index in ``folder`` (data sparse); returns the index path."""
    tensors = list(deepseek_v3_tensors(layers).items())
    per = -(-len(tensors) // shards)
    return write_sharded(folder, [dict(tensors[s * per:(s + 1) * per]) for s in range(shards)
                                  if tensors[s * per:(s + 1) * per]])
