"""Gemma 3n (models/gemma3n/modeling_gemma3n.py): its text model, its USM audio encoder, and timm's
MobileNetV5 vision encoder, as transformers 5.24 builds them.

The text model is Gemma 3's decoder with four additions, each its own tensors per layer: AltUp
(``altup.*``: ``altup_num_inputs`` parallel streams, their prediction/correction coefficients and a
router), LAuReL (``laurel.*``: a rank-``laurel_rank`` residual), per-layer embeddings (one
``embed_tokens_per_layer`` table of ``num_hidden_layers · hidden_size_per_layer_input`` columns and a
``per_layer_model_projection``, then a gate and projection in every layer) and KV sharing: the last
``num_kv_shared_layers`` layers reuse the cache of the last earlier layer of their kind, so
Gemma3nTextAttention gives them no k_proj, v_proj or k_norm. (The published checkpoints still store
those, and transformers skips them on load: ``_keys_to_ignore_on_load_unexpected``; we list what
transformers saves.) Activation sparsity has no tensors. ``intermediate_size`` may be a list, one width
per layer (MatFormer).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from paramscope.errors import FormatError, UnsupportedError
from paramscope.knowledge.families.dims import Dims
from paramscope.knowledge.families.hfconfig import MAX_LAYERS, HfConfig
from paramscope.knowledge.families.tensors import TensorList


def ffn_widths(hf: HfConfig, n_layers: int) -> tuple[int, ...]:
    """Gemma3nTextConfig.intermediate_size: one width for every layer, or a list of one per layer."""
    if isinstance(hf.value("intermediate_size"), list | tuple):
        widths = hf.int_list("intermediate_size")
        if len(widths) != n_layers:
            raise FormatError(hf.source, "intermediate_size has one width per layer", found=len(widths),
                              expected=n_layers)
        return widths
    return (hf.int("intermediate_size", minimum=1),) * n_layers


def kv_shared_layers(hf: HfConfig, n_layers: int) -> int:
    """How many trailing layers reuse an earlier layer's keys and values (num_kv_shared_layers)."""
    return hf.int("num_kv_shared_layers", 0, maximum=n_layers)


def gemma3n_text_tensors(d: Dims, t: TensorList, base: str | None = None, head: str = "") -> None:
    """Gemma3nForCausalLM / Gemma3nTextModel (``base`` is ``model.language_model.`` inside
    Gemma3nForConditionalGeneration). The head is tied to embed_tokens unless tie_word_embeddings is
    false. Gemma 3n E4B's text model (default config): 35 layers, 6,835,235,568 parameters."""
    hf, h, n = d.hf, d.hidden, d.n_layers
    if base is None:
        base = "" if d.bare else "model."
    per_layer = hf.int("hidden_size_per_layer_input")
    streams = hf.int("altup_num_inputs", minimum=1, maximum=64)
    rank = hf.int("laurel_rank")
    widths = ffn_widths(hf, n)
    first_shared = n - kv_shared_layers(hf, n)
    q, kv = d.n_heads * d.head_dim, d.n_kv_heads * d.head_dim
    t.embedding(base + "embed_tokens", d.vocab, h)
    for i in range(n):
        p = f"{base}layers.{i}."
        a = p + "self_attn."
        t.linear(a + "q_proj", q, h, d.qkv_bias)
        t.norm(a + "q_norm", d.head_dim)
        if i < first_shared:  # v_norm has no scale: nothing stored
            t.linear(a + "k_proj", kv, h, d.qkv_bias)
            t.linear(a + "v_proj", kv, h, d.qkv_bias)
            t.norm(a + "k_norm", d.head_dim)
        t.linear(a + "o_proj", h, q, d.o_bias)
        for proj, rows, cols in (("gate_proj", widths[i], h), ("up_proj", widths[i], h),
                                 ("down_proj", h, widths[i])):
            t.linear(f"{p}mlp.{proj}", rows, cols)
        for norm in d.norms:
            t.norm(p + norm, h)
        t.add(p + "altup.correct_output_scale", h)
        t.linear(p + "altup.correction_coefs", streams, streams)
        t.linear(p + "altup.prediction_coefs", streams * streams, streams)
        t.linear(p + "altup.modality_router", streams, h)
        t.norm(p + "altup.router_norm", h)
        t.linear(p + "laurel.linear_left", rank, h)
        t.linear(p + "laurel.linear_right", h, rank)
        t.norm(p + "laurel.post_laurel_norm", h)
        t.linear(p + "per_layer_input_gate", per_layer, h)
        t.linear(p + "per_layer_projection", h, per_layer)
        t.norm(p + "post_per_layer_input_norm", h)
    t.norm(base + "norm", h)
    t.embedding(base + "embed_tokens_per_layer", hf.int("vocab_size_per_layer_input", minimum=1),
                n * per_layer)
    t.linear(base + "per_layer_model_projection", n * per_layer, h)
    t.norm(base + "per_layer_projection_norm", per_layer)
    for stack in ("altup_projections", "altup_unembed_projections"):
        for j in range(streams - 1):
            t.linear(f"{base}{stack}.{j}", h, h)
    if not (d.bare or d.tied):
        t.linear(head + "lm_head", d.vocab, h)


# -- the audio encoder (Gemma3nAudioEncoder: USM, a Conformer) -----------------------------------------
# Gemma3nAudioConfig defaults, for the fields read
AUDIO_DEFAULTS: Mapping[str, Any] = {
    "vocab_size": 128, "hidden_size": 1536, "input_feat_size": 128, "conf_num_attention_heads": 8,
    "conf_num_hidden_layers": 12, "conf_conv_kernel_size": 5, "sscp_conv_channel_size": [128, 32],
    "sscp_conv_kernel_size": [[3, 3], [3, 3]], "sscp_conv_stride_size": [[2, 2], [2, 2]],
}


def gemma3n_audio_tower(a: HfConfig, t: TensorList, p: str) -> None:
    """Gemma3nAudioEncoder: a two-convolution subsampler (conv_0/conv_1 with cumulative group norms,
    frequency padded by 1 on each side, then input_proj_linear over channels × frequencies) and
    conf_num_hidden_layers Conformer blocks (macaron feed-forwards of 4 · hidden, chunked local
    attention with a per-dim scale and relative-position projection, a depthwise light conv).
    Gemma 3n's: 1536 wide, 12 blocks, 681,348,640 parameters."""
    h = a.int("hidden_size", minimum=1)
    heads = a.int("conf_num_attention_heads", minimum=1)
    channels = a.int_list("sscp_conv_channel_size")
    if len(channels) != 2:
        raise FormatError(a.source, "sscp_conv_channel_size has two entries", found=len(channels))
    kernels, strides = a.int_pairs("sscp_conv_kernel_size", 2), a.int_pairs("sscp_conv_stride_size", 2)
    freq = a.int("input_feat_size", minimum=1)
    s = p + "subsample_conv_projection."
    for i, (c_in, c_out) in enumerate(((1, channels[0]), (channels[0], channels[1]))):
        t.add(f"{s}conv_{i}.conv.weight", c_out, c_in, *kernels[i])
        t.norm(f"{s}conv_{i}.norm", c_out)
        freq = (freq + 2 - kernels[i][1]) // strides[i][1] + 1
    t.linear(s + "input_proj_linear", h, channels[1] * max(freq, 0))
    inner = heads * (h // heads)
    for i in range(a.int("conf_num_hidden_layers", maximum=MAX_LAYERS)):
        b = f"{p}conformer.{i}."
        for ffw in ("ffw_layer_start", "ffw_layer_end"):
            t.norm(f"{b}{ffw}.pre_layer_norm", h)
            t.linear(f"{b}{ffw}.ffw_layer_1", 4 * h, h)
            t.linear(f"{b}{ffw}.ffw_layer_2", h, 4 * h)
            t.norm(f"{b}{ffw}.post_layer_norm", h)
        at = b + "attention."
        t.norm(at + "pre_attn_norm", h)
        t.add(at + "attn.per_dim_scale", h // heads)
        t.linear(at + "attn.relative_position_embedding.pos_proj", inner, h)
        for proj in ("q_proj", "k_proj", "v_proj"):
            t.linear(at + "attn." + proj, inner, h)
        t.linear(at + "post", h, h)
        t.norm(at + "post_norm", h)
        lc = b + "lconv1d."
        t.norm(lc + "pre_layer_norm", h)
        t.linear(lc + "linear_start", 2 * h, h)
        t.add(lc + "depthwise_conv1d.weight", h, 1, a.int("conf_conv_kernel_size", minimum=1))
        t.norm(lc + "conv_norm", h)
        t.linear(lc + "linear_end", h, h)
        t.norm(b + "norm", h)


def _embedder(m: HfConfig, text_hidden: int, t: TensorList, p: str) -> None:
    """Gemma3nMultimodalEmbedder: hard-token embedding (vocab_size × the tower's width), two RMSNorms,
    a projection to the text width; its post-projection norm has no scale."""
    mh = m.int("hidden_size", minimum=1)
    t.embedding(p + "embedding", m.int("vocab_size", minimum=1), mh)
    t.norm(p + "hard_embedding_norm", mh)
    t.norm(p + "soft_embedding_norm", mh)
    t.linear(p + "embedding_projection", text_hidden, mh)


def gemma3n_projector(v: HfConfig, text_hidden: int, t: TensorList, p: str, outer: Mapping[str, Any]) -> None:
    """Gemma3nModel.embed_vision and .embed_audio (``p`` is ``model.embed_``): one embedder per
    tower, each reading its own tower's config."""
    _embedder(v, text_hidden, t, p + "vision.")
    audio = outer.get("audio_config") or {}
    if not isinstance(audio, Mapping):
        raise FormatError(v.source, "audio_config must be a JSON object", found=type(audio).__name__)
    _embedder(HfConfig(audio, AUDIO_DEFAULTS, {}, v.source), text_hidden, t, p + "audio.")


# -- the vision encoder: timm's MobileNetV5 (timm/models/mobilenetv5.py) -------------------------------
# Gemma3nVisionConfig defaults: a TimmWrapperModel around timm.create_model(architecture, **model_args)
MOBILENET_DEFAULTS: Mapping[str, Any] = {"architecture": "mobilenetv5_300m_enc", "hidden_size": 2048,
                                         "vocab_size": 128, "model_args": None}


def _uir_stage(head: Sequence[str], body: str, repeat: int) -> tuple[str, ...]:
    return (*head, *(body,) * repeat)


def _attention_stage(first: str, uir: str, mqa: str, pairs: int) -> tuple[str, ...]:
    return (first, *(b for _ in range(pairs) for b in (mqa, uir)))


# timm's _gen_mobilenet_v5 arch_def for 'mobilenetv5_300m_enc', stage by stage. Block strings are timm's:
# er = EdgeResidual, uir = UniversalInvertedResidual (a = start depthwise kernel, k = middle one, 0 =
# none), mqa = MobileAttention (h heads of d, one shared key/value head, v = key/value stride); e =
# expansion, c = output channels, s = stride
MOBILENETV5_300M = (
    ("er_r1_k3_s2_e4_c128", "er_r1_k3_s1_e4_c128", "er_r1_k3_s1_e4_c128"),
    ("uir_r1_a3_k5_s2_e6_c256", "uir_r1_a5_k0_s1_e4_c256", "uir_r1_a3_k0_s1_e4_c256",
     "uir_r1_a5_k0_s1_e4_c256", "uir_r1_a3_k0_s1_e4_c256"),
    _uir_stage(("uir_r1_a5_k5_s2_e6_c640",), "uir_r1_a5_k0_s1_e4_c640", 7)
    + _attention_stage("uir_r1_a0_k0_s1_e1_c640", "uir_r1_a0_k0_s1_e2_c640",
                       "mqa_r1_k3_h12_v2_s1_d64_c640", 14),
    _attention_stage("uir_r1_a5_k5_s2_e6_c1280", "uir_r1_a0_k0_s1_e2_c1280",
                     "mqa_r1_k3_h16_s1_d96_c1280", 19),
)
MOBILENET_ARCHS = {"mobilenetv5_300m_enc": MOBILENETV5_300M}
_STEM = 64  # MobileNetV5Encoder: stem_size 64, a biased 3×3 convolution
_MSFA_OUT = 2048  # MobileNetV5Encoder.num_features: the fusion adapter's output width


def _make_divisible(v: float, divisor: int = 8) -> int:
    """timm.layers.make_divisible: round to the divisor, never more than 10% down."""
    new = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * v else new


def _decode(block: str) -> tuple[str, dict[str, int]]:
    kind, *options = block.split("_")
    return kind, {o[0]: int(o[1:]) for o in options}


def mobilenetv5_tower(v: HfConfig, t: TensorList, p: str) -> None:
    """MobileNetV5Encoder (timm): conv_stem, four stages of blocks, and the multi-scale fusion adapter
    (msfa) over the last two stages' outputs (640 + 1280 channels → 2048). Norms are RmsNorm2d (a
    weight, no bias). mobilenetv5_300m_enc: 548 tensors, 294,126,912 parameters."""
    arch = v.value("architecture")
    if not isinstance(arch, str) or arch not in MOBILENET_ARCHS or v.value("model_args"):
        raise UnsupportedError(f"{v.source}: Gemma 3n vision tower {arch!r}"
                               f"{' with model_args' if v.value('model_args') else ''} is not supported "
                               f"(supported: timm's {', '.join(MOBILENET_ARCHS)} as published)")

    def conv_norm(name: str, out: int, c_in: int, k: int) -> None:
        t.add(f"{name}.conv.weight", out, c_in, k, k)
        t.norm(f"{name}.bn", out)

    t.add(p + "conv_stem.conv.weight", _STEM, 3, 3, 3)
    t.add(p + "conv_stem.conv.bias", _STEM)
    t.norm(p + "conv_stem.bn", _STEM)
    c_in, stage_out = _STEM, []
    for s, stage in enumerate(MOBILENET_ARCHS[arch]):
        for i, block in enumerate(stage):
            kind, o = _decode(block)
            b, out = f"{p}blocks.{s}.{i}.", o["c"]
            if kind == "er":  # EdgeResidual: a full 3×3 expansion conv, then a pointwise one
                mid = _make_divisible(c_in * o["e"])
                t.add(b + "conv_exp.weight", mid, c_in, o["k"], o["k"])
                t.norm(b + "bn1", mid)
                t.add(b + "conv_pwl.weight", out, mid, 1, 1)
                t.norm(b + "bn2", out)
            elif kind == "uir":
                mid = _make_divisible(c_in * o["e"])
                if o["a"]:
                    conv_norm(b + "dw_start", c_in, 1, o["a"])
                conv_norm(b + "pw_exp", mid, c_in, 1)
                if o["k"]:
                    conv_norm(b + "dw_mid", mid, 1, o["k"])
                conv_norm(b + "pw_proj", out, mid, 1)
                t.add(b + "layer_scale.gamma", out)
            else:  # MobileAttention: multi-query, keys and values strided by a depthwise conv
                heads, dim = o["h"], o["d"]
                t.norm(b + "norm", c_in)
                t.add(b + "attn.query.proj.weight", heads * dim, c_in, 1, 1)
                for kv in ("key", "value"):
                    if o.get("v", 1) > 1:
                        t.add(f"{b}attn.{kv}.down_conv.weight", c_in, 1, o["k"], o["k"])
                        t.norm(f"{b}attn.{kv}.norm", c_in)
                    t.add(f"{b}attn.{kv}.proj.weight", dim, c_in, 1, 1)
                t.add(b + "attn.output.proj.weight", out, heads * dim, 1, 1)
                t.add(b + "layer_scale.gamma", out)
            c_in = out
        stage_out.append(c_in)
    fused = sum(stage_out[-2:])
    conv_norm(p + "msfa.ffn.pw_exp", 2 * fused, fused, 1)
    conv_norm(p + "msfa.ffn.pw_proj", _MSFA_OUT, 2 * fused, 1)
    t.norm(p + "msfa.norm", _MSFA_OUT)
