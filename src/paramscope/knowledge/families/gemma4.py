"""Gemma 4 (models/gemma4/modeling_gemma4.py): its text model, its vision encoder and its audio encoder,
as transformers 5.24 builds them.

The text model is Gemma 3's sandwich-norm decoder (q/k norms per head, four norms per layer) with:

- two attention shapes: ``full_attention`` layers use ``global_head_dim`` (Gemma4TextConfig: 512) and,
  where ``attention_k_eq_v`` is set, ``num_global_key_value_heads`` KV heads and no v_proj (the keys are
  the values); ``sliding_attention`` layers use ``head_dim`` and ``num_key_value_heads``
  (``Gemma4TextConfig.per_layer_config``);
- KV sharing: the last ``num_kv_shared_layers`` layers build no k_proj, v_proj or k_norm (v_norm has no
  scale in any layer), and with ``use_double_wide_mlp`` their MLP is twice ``intermediate_size``;
- per-layer embeddings where ``hidden_size_per_layer_input`` is not 0 (Gemma 3n's: one
  ``embed_tokens_per_layer`` table, ``per_layer_model_projection``, a gate and projection per layer);
- with ``enable_moe_block``, a routed block beside the dense MLP: a router (unscaled norm, ``proj``,
  ``scale``, ``per_expert_scale``), fused experts ``gate_up_proj`` (E, 2·moe_ffn, hidden) and
  ``down_proj`` (E, hidden, moe_ffn), and three more norms;
- a persistent ``layer_scalar`` buffer (one value) in every layer.

Gemma4Config builds a vision or audio tower only where its config section is given (the default config
is the text model alone); each tower comes with an embedder into the text width (``model.embed_vision``
/ ``model.embed_audio``: one bias-free projection after an unscaled norm).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from paramscope.errors import FormatError
from paramscope.knowledge.families.dims import Dims
from paramscope.knowledge.families.hfconfig import MAX_LAYERS, HfConfig
from paramscope.knowledge.families.tensors import TensorList

# Gemma4TextConfig.__post_init__: global_head_dim defaults to 512 (a kwarg, not a field)
GLOBAL_HEAD_DIM = 512
# Gemma4TextConfig's rope_parameters where config.json gives none (transformers 5.24): each layer type's
# RoPE, which vLLM builds a cache for (analyses/sizing/runtimes/vllm/weights.py per_type_rope_shapes)
DEFAULT_ROPE_PARAMETERS = {
    "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0},
    "full_attention": {"rope_type": "proportional", "partial_rotary_factor": 0.25, "rope_theta": 1000000.0}}


def _kv_shared(hf: HfConfig, n: int) -> int:
    return hf.int("num_kv_shared_layers", 0, maximum=n)


def _layer_kinds(d: Dims) -> tuple[str, ...]:
    """Each layer's attention kind before KV sharing: Gemma4TextConfig forces the last layer to
    full_attention; with no layer_types, every sixth layer is full ((i + 1) % 6 == 0)."""
    given = d.hf.str_list("layer_types")
    n = d.n_layers
    kinds = [k == "sliding_attention" for k in given] if given is not None and len(given) == n else \
        [bool((i + 1) % 6) for i in range(n)]
    if kinds:
        kinds[-1] = False
    return tuple("sliding" if s else "full" for s in kinds)


def _attention_shapes(d: Dims) -> list[tuple[int, int]]:
    """(KV heads, head width) of each layer: Gemma4TextConfig.per_layer_config gives the full layers
    global_head_dim and, with attention_k_eq_v, num_global_key_value_heads (else num_key_value_heads)."""
    hf = d.hf
    global_dim = hf.int("global_head_dim", GLOBAL_HEAD_DIM, minimum=1)
    global_kv = (hf.opt_int("num_global_key_value_heads", minimum=1)
                 if hf.flag("attention_k_eq_v") else None) or d.n_kv_heads
    return [(global_kv, global_dim) if kind == "full" else (d.n_kv_heads, d.head_dim)
            for kind in _layer_kinds(d)]


def kv_per_layer(d: Dims) -> dict[str, tuple[int, ...]]:
    """ArchConfig.extra's per-layer KV heads and head widths, for the KV cache (analyses/sizing/
    kv_cache.py): a full layer caches K and V rows of its own width (with attention_k_eq_v the values are
    the keys, still cached as V: Gemma4TextAttention passes both to the cache)."""
    shapes = _attention_shapes(d)
    return {"n_kv_heads_per_layer": tuple(h for h, _ in shapes),
            "head_dim_per_layer": tuple(w for _, w in shapes)}


def default_extra(d: Dims) -> dict[str, Any]:
    """ArchConfig.extra's entries Gemma4TextConfig fills in where config.json gives none."""
    return {"rope_parameters": {kind: dict(params) for kind, params in DEFAULT_ROPE_PARAMETERS.items()}}


def gemma4_text_tensors(d: Dims, t: TensorList, base: str | None = None, head: str = "") -> None:
    """Gemma4ForCausalLM / Gemma4TextModel (``base`` is ``model.language_model.`` inside
    Gemma4ForConditionalGeneration); the head is tied to embed_tokens unless tie_word_embeddings is
    false. The default config: 30 layers, 5,077,177,856 parameters."""
    hf, h, n = d.hf, d.hidden, d.n_layers
    if base is None:
        base = "" if d.bare else "model."
    per_layer = hf.int("hidden_size_per_layer_input", 0)
    first_shared = n - _kv_shared(hf, n)
    k_eq_v = hf.flag("attention_k_eq_v")
    double = hf.flag("use_double_wide_mlp")
    moe = hf.flag("enable_moe_block")
    t.embedding(base + "embed_tokens", d.vocab, h)
    for i, (kind, (kv_heads, head_dim)) in enumerate(zip(_layer_kinds(d), _attention_shapes(d), strict=True)):
        p = f"{base}layers.{i}."
        a = p + "self_attn."
        full = kind == "full"
        kv = kv_heads * head_dim
        t.linear(a + "q_proj", d.n_heads * head_dim, h, d.qkv_bias)
        t.norm(a + "q_norm", head_dim)
        if i < first_shared:
            t.norm(a + "k_norm", head_dim)
            t.linear(a + "k_proj", kv, h, d.qkv_bias)
            if not (k_eq_v and full):
                t.linear(a + "v_proj", kv, h, d.qkv_bias)
        t.linear(a + "o_proj", h, d.n_heads * head_dim, d.o_bias)
        width = d.ffn * (2 if double and i >= first_shared else 1)
        t.linear(p + "mlp.gate_proj", width, h)
        t.linear(p + "mlp.up_proj", width, h)
        t.linear(p + "mlp.down_proj", h, width)
        for norm in d.norms:
            t.norm(p + norm, h)
        t.add(p + "layer_scalar", 1, parameter=False)
        if per_layer:
            t.linear(p + "per_layer_input_gate", per_layer, h)
            t.linear(p + "per_layer_projection", h, per_layer)
            t.norm(p + "post_per_layer_input_norm", h)
        if moe:
            e, f = d.n_experts, d.expert_ffn
            t.add(p + "router.scale", h)
            t.add(p + "router.per_expert_scale", e)
            t.linear(p + "router.proj", e, h)
            t.add(p + "experts.gate_up_proj", e, 2 * f, h)
            t.add(p + "experts.down_proj", e, h, f)
            for norm in ("post_feedforward_layernorm_1", "post_feedforward_layernorm_2",
                         "pre_feedforward_layernorm_2"):
                t.norm(p + norm, h)
    t.norm(base + "norm", h)
    if per_layer:
        t.embedding(base + "embed_tokens_per_layer", hf.int("vocab_size_per_layer_input", minimum=1),
                    n * per_layer)
        t.linear(base + "per_layer_model_projection", n * per_layer, h)
        t.norm(base + "per_layer_projection_norm", per_layer)
    if not (d.bare or d.tied):
        t.linear(head + "lm_head", d.vocab, h)


def _clippable(c: HfConfig, t: TensorList, name: str, out_features: int, in_features: int) -> None:
    """Gemma4ClippableLinear: a bias-free ``linear`` and, with use_clipped_linears, four scalar buffers
    (input_min/max, output_min/max) that transformers saves."""
    t.linear(name + ".linear", out_features, in_features)
    if c.flag("use_clipped_linears"):
        for bound in ("input_min", "input_max", "output_min", "output_max"):
            t.add(f"{name}.{bound}", parameter=False)


# Gemma4VisionConfig defaults, for the fields read
VISION_DEFAULTS: Mapping[str, Any] = {
    "hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 16, "num_attention_heads": 12,
    "num_key_value_heads": 12, "head_dim": 64, "patch_size": 16, "position_embedding_size": 10 * 1024,
    "use_clipped_linears": False, "standardize": False}


def gemma4_vision_tower(v: HfConfig, t: TensorList, p: str) -> None:
    """Gemma4VisionModel: a bias-free patch projection of 3 · patch² pixels, a (2, position_embedding_size,
    hidden) table of x and y positions, encoder layers like the text model's (clippable q/k/v/o and
    gate/up/down, q/k norms of head_dim, four norms), a pooler without parameters, and the std_bias /
    std_scale buffers with ``standardize``."""
    h, ffn = v.int("hidden_size", minimum=1), v.int("intermediate_size", minimum=1)
    heads, kv_heads = v.int("num_attention_heads", minimum=1), v.int("num_key_value_heads", minimum=1)
    head_dim = v.int("head_dim", minimum=1)
    patch = v.int("patch_size", minimum=1)
    t.linear(p + "patch_embedder.input_proj", h, 3 * patch * patch)
    t.add(p + "patch_embedder.position_embedding_table", 2, v.int("position_embedding_size", minimum=1), h)
    for i in range(v.int("num_hidden_layers", maximum=MAX_LAYERS)):
        lp = f"{p}encoder.layers.{i}."
        a = lp + "self_attn."
        _clippable(v, t, a + "q_proj", heads * head_dim, h)
        _clippable(v, t, a + "k_proj", kv_heads * head_dim, h)
        _clippable(v, t, a + "v_proj", kv_heads * head_dim, h)
        _clippable(v, t, a + "o_proj", h, heads * head_dim)
        t.norm(a + "q_norm", head_dim)
        t.norm(a + "k_norm", head_dim)
        _clippable(v, t, lp + "mlp.gate_proj", ffn, h)
        _clippable(v, t, lp + "mlp.up_proj", ffn, h)
        _clippable(v, t, lp + "mlp.down_proj", h, ffn)
        for norm in ("input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm",
                     "post_feedforward_layernorm"):
            t.norm(lp + norm, h)
    if v.flag("standardize"):
        t.add(p + "std_bias", h, parameter=False)
        t.add(p + "std_scale", h, parameter=False)


# Gemma4AudioConfig defaults, for the fields read
AUDIO_DEFAULTS: Mapping[str, Any] = {
    "hidden_size": 1024, "num_hidden_layers": 12, "num_attention_heads": 8,
    "subsampling_conv_channels": [128, 32], "conv_kernel_size": 5, "use_clipped_linears": True,
    "output_proj_dims": 1536}


def gemma4_audio_tower(a: HfConfig, t: TensorList, p: str) -> None:
    """Gemma4AudioModel (USM): two 3×3 stride-2 convolutions, each with a bias-free LayerNorm, then
    input_proj_linear over (channels[0] // 4) · channels[1] features; Conformer layers (two macaron
    feed-forwards of 4 · hidden, attention with a per-dim scale and a relative-position key projection, a
    light convolution with a depthwise kernel of conv_kernel_size, three norms); output_proj (biased) to
    output_proj_dims."""
    h = a.int("hidden_size", minimum=1)
    heads = a.int("num_attention_heads", minimum=1)
    channels = a.int_list("subsampling_conv_channels")
    if len(channels) != 2 or min(channels) < 1:
        raise FormatError(a.source, "subsampling_conv_channels has two entries", found=repr(channels))
    s = p + "subsample_conv_projection."
    t.add(s + "layer0.conv.weight", channels[0], 1, 3, 3)
    t.norm(s + "layer0.norm", channels[0])
    t.add(s + "layer1.conv.weight", channels[1], channels[0], 3, 3)
    t.norm(s + "layer1.norm", channels[1])
    t.linear(s + "input_proj_linear", h, channels[0] // 4 * channels[1])
    inner = heads * (h // heads)
    for i in range(a.int("num_hidden_layers", maximum=MAX_LAYERS)):
        lp = f"{p}layers.{i}."
        for ff in ("feed_forward1.", "feed_forward2."):
            _clippable(a, t, lp + ff + "ffw_layer_1", 4 * h, h)
            _clippable(a, t, lp + ff + "ffw_layer_2", h, 4 * h)
            t.norm(lp + ff + "pre_layer_norm", h)
            t.norm(lp + ff + "post_layer_norm", h)
        at = lp + "self_attn."
        t.add(at + "per_dim_scale", h // heads)
        for proj in ("q_proj", "k_proj", "v_proj"):
            _clippable(a, t, at + proj, inner, h)
        _clippable(a, t, at + "post", h, h)
        t.linear(at + "relative_k_proj", inner, h)
        c = lp + "lconv1d."
        _clippable(a, t, c + "linear_start", 2 * h, h)
        _clippable(a, t, c + "linear_end", h, h)
        t.add(c + "depthwise_conv1d.weight", h, 1, a.int("conv_kernel_size", minimum=1))
        t.norm(c + "pre_layer_norm", h)
        t.norm(c + "conv_norm", h)
        for norm in ("norm_pre_attn", "norm_post_attn", "norm_out"):
            t.norm(lp + norm, h)
    t.linear(p + "output_proj", a.int("output_proj_dims", minimum=1), h, bias=True)


def gemma4_vision_embedder(v: HfConfig, text_hidden: int, t: TensorList, p: str,
                           outer: Mapping[str, Any]) -> None:
    """Gemma4MultimodalEmbedder of the vision tower (``p`` is ``model.embed_``): vision width → text."""
    t.linear(p + "vision.embedding_projection", text_hidden, v.int("hidden_size", minimum=1))


def gemma4_audio_embedder(a: HfConfig, text_hidden: int, t: TensorList, p: str,
                          outer: Mapping[str, Any]) -> None:
    """Gemma4MultimodalEmbedder of the audio tower: output_proj_dims → text width."""
    t.linear(p + "audio.embedding_projection", text_hidden, a.int("output_proj_dims", minimum=1))


# --- Gemma 4 "unified" (models/gemma4_unified/modeling_gemma4_unified.py, Gemma 4 12B) ----------------
# The same text model without per-layer embeddings or a routed block (Gemma4UnifiedTextConfig removes
# those fields), and no vision or audio encoder: raw pixel patches and waveform frames go straight
# through embedders into the text width (Gemma4UnifiedModel deletes vision_tower and audio_tower).

# Gemma4UnifiedVisionConfig / Gemma4UnifiedAudioConfig defaults, for the fields read
UNIFIED_VISION_DEFAULTS: Mapping[str, Any] = {
    "patch_size": 16, "pooling_kernel_size": 3, "mm_embed_dim": 3840, "mm_posemb_size": 1120,
    "output_proj_dims": 3840}
UNIFIED_AUDIO_DEFAULTS: Mapping[str, Any] = {"audio_embed_dim": 640}
# the names of that one width: the field first, then the setters (a Hub config gives all four, equal)
UNIFIED_AUDIO_WIDTH_NAMES = ("audio_embed_dim", "output_proj_dims", "audio_samples_per_token", "hidden_size")


def no_encoder(c: HfConfig, t: TensorList, p: str) -> None:
    """The unified model's vision and audio "towers": none (its embedders hold every tensor)."""


def gemma4_unified_vision_embedder(v: HfConfig, text_hidden: int, t: TensorList, p: str,
                                   outer: Mapping[str, Any]) -> None:
    """Gemma4UnifiedVisionEmbedder (``p`` is ``model.embed_``): LayerNorm over a merged patch's
    (patch_size · pooling_kernel_size)² · 3 pixels, a biased Dense to mm_embed_dim, LayerNorm, a factorized
    (mm_posemb_size, 2, mm_embed_dim) position table, LayerNorm, then the multimodal embedder's unscaled
    norm and bias-free projection from output_proj_dims to the text width."""
    merged = v.int("patch_size", minimum=1) * v.int("pooling_kernel_size", minimum=1)
    pixels, width = 3 * merged * merged, v.int("mm_embed_dim", minimum=1)
    e = p + "vision."
    t.norm(e + "patch_ln1", pixels, bias=True)
    t.linear(e + "patch_dense", width, pixels, bias=True)
    t.norm(e + "patch_ln2", width, bias=True)
    t.add(e + "pos_embedding", v.int("mm_posemb_size", minimum=1), 2, width)
    t.norm(e + "pos_norm", width, bias=True)
    t.linear(e + "multimodal_embedder.embedding_projection", text_hidden,
             v.int("output_proj_dims", minimum=1))


def gemma4_unified_audio_embedder(a: HfConfig, text_hidden: int, t: TensorList, p: str,
                                  outer: Mapping[str, Any]) -> None:
    """Gemma4UnifiedMultimodalEmbedder of the audio frames: audio_embed_dim samples a frame → text width
    (Gemma4UnifiedAudioConfig's hidden_size, output_proj_dims and audio_samples_per_token are setters of
    audio_embed_dim: a config that names only one of them sets it)."""
    key = next((k for k in UNIFIED_AUDIO_WIDTH_NAMES if k in a.raw), "audio_embed_dim")
    t.linear(p + "audio.embedding_projection", text_hidden, a.int(key, minimum=1))

