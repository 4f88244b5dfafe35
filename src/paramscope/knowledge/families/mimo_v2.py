"""MiMo-V2-Flash (models/mimo_v2_flash/modeling_mimo_v2_flash.py, MiMoV2FlashForCausalLM), as
transformers 5.24 builds it: a decoder whose attention differs by layer kind.

- ``layer_types`` (MiMoV2FlashConfig default: layer 0 and every sixth layer, ``(i + 1) % 6 == 0``, full,
  the rest ``sliding_attention``); MiMoV2FlashAttention gives a sliding layer twice
  ``num_key_value_heads`` KV heads and a learned sink logit per query head (``self_attn.sinks``, stored
  as ``self_attn.attention_sink_bias``: transformers' conversion mapping renames it on load); a full
  layer has neither;
- keys (and queries) are ``head_dim`` wide (192), values ``v_head_dim`` (128): v_proj is
  KV heads · v_head_dim, o_proj reads heads · v_head_dim; q/k/v take ``attention_bias``, o_proj never;
- ``mlp_layer_types`` (default: layer 0 "dense", the rest "sparse"): a SwiGLU MLP of intermediate_size,
  or MiMoV2FlashMoE (DeepSeek-V3's without shared experts): a float32 router ``mlp.gate.weight`` and its
  float32 ``e_score_correction_bias`` (``_keep_in_fp32_modules_strict``), the experts stored one by one
  (the qwen2_moe conversion fuses them on load) of moe_intermediate_size;
- the rotary inv_freq buffers are not persistent; the published checkpoint's ``model.mtp.*`` layers are
  ignored on load (``_keys_to_ignore_on_load_unexpected``) and not listed.

The repository's own config spellings (``hybrid_layer_pattern``, ``moe_layer_freq``,
``swa_num_key_value_heads``, ``add_*_attention_sink_bias``) are not read by transformers, so not here.
"""

from __future__ import annotations

from typing import Any

from paramscope.knowledge.families.decoder import gated_ffn
from paramscope.knowledge.families.dims import Dims
from paramscope.knowledge.families.tensors import TensorList
from paramscope.model.dtypes import DType

# MiMoV2FlashConfig's rope_parameters where config.json gives none (transformers 5.24)
DEFAULT_ROPE_PARAMETERS = {
    "full_attention": {"rope_type": "default", "rope_theta": 5_000_000.0, "partial_rotary_factor": 0.334},
    "sliding_attention": {"rope_type": "default", "rope_theta": 10_000.0, "partial_rotary_factor": 0.334}}


def _kv_heads(d: Dims) -> list[int]:
    """KV heads of each layer: twice num_key_value_heads in a sliding layer (MiMoV2FlashAttention)."""
    return [2 * d.n_kv_heads if kind == "sliding" else d.n_kv_heads for kind in d.layer_types]


def v_head_dim(d: Dims) -> int:
    return d.hf.int("v_head_dim", minimum=1)


def sliding_window(d: Dims) -> int:
    """The window transformers attends over: sliding_window, or the repository's sliding_window_size
    plus the query (MiMoV2FlashConfig.__post_init__); 0 with no sliding layer."""
    if "sliding" not in d.layer_types:
        return 0
    size = d.hf.opt_int("sliding_window_size")
    return size + 1 if size is not None else d.sliding_window


def arch_fields(d: Dims) -> dict[str, int]:
    """ArchConfig fields that differ from a plain decoder's: values narrower than keys, the window."""
    return {"head_dim_v": v_head_dim(d), "sliding_window": sliding_window(d)}


def kv_per_layer(d: Dims) -> dict[str, tuple[int, ...]]:
    """ArchConfig.extra's per-layer KV heads, for the KV cache (analyses/sizing/kv_cache.py): every layer
    caches K rows of heads · head_dim and V rows of heads · v_head_dim."""
    return {"n_kv_heads_per_layer": tuple(_kv_heads(d))}


def default_extra(d: Dims) -> dict[str, Any]:
    """ArchConfig.extra's entries MiMoV2FlashConfig fills in where config.json gives none."""
    return {"rope_parameters": {kind: dict(params) for kind, params in DEFAULT_ROPE_PARAMETERS.items()}}


def mimo_v2_flash_tensors(d: Dims, t: TensorList) -> None:
    """MiMoV2FlashForCausalLM (``model.`` …, ``lm_head`` unless tied) or the bare MiMoV2FlashModel. The
    default config: 48 layers, 36,523 tensors, 308,778,768,832 parameters."""
    h, hd, vd = d.hidden, d.head_dim, v_head_dim(d)
    base = "" if d.bare else "model."
    t.embedding(base + "embed_tokens", d.vocab, h)
    for i, (kind, kv) in enumerate(zip(d.layer_types, _kv_heads(d), strict=True)):
        p = f"{base}layers.{i}."
        a = p + "self_attn."
        t.linear(a + "q_proj", d.n_heads * hd, h, d.qkv_bias)
        t.linear(a + "k_proj", kv * hd, h, d.qkv_bias)
        t.linear(a + "v_proj", kv * vd, h, d.qkv_bias)
        t.linear(a + "o_proj", h, d.n_heads * vd)
        if kind == "sliding":
            t.add(a + "attention_sink_bias", d.n_heads)
        if d.is_moe_layer(i):
            m = p + "mlp."
            t.add(m + "gate.weight", d.n_experts, h, dtype=DType.F32)
            t.add(m + "gate.e_score_correction_bias", d.n_experts, dtype=DType.F32)
            for e in range(d.n_experts):
                gated_ffn(t, f"{m}experts.{e}.", h, d.expert_ffn)
        else:
            gated_ffn(t, p + "mlp.", h, d.ffn)
        for norm in d.norms:
            t.norm(p + norm, h)
    t.norm(base + "norm", h)
    if not (d.bare or d.tied):
        t.linear("lm_head", d.vocab, h)
