"""Granite Speech (models/granite_speech/modeling_granite_speech.py and its copy granite_speech_plus, as
transformers 5.24 builds them): a Conformer CTC encoder over audio features, a windowed Q-Former
projector into the text width, and a Granite text model.

The encoder (``encoder.``, GraniteSpeechCTCEncoder): input_linear, then ``num_layers`` Conformer blocks,
each two half-step feed-forwards (ff1, ff2: pre_norm, up_proj to hidden · feedforward_mult, down_proj),
attention (pre_norm, to_q and to_kv without bias, to_out, a rel_pos_emb of 2 · max_pos_emb + 1 rows of
dim_head), a convolution module (norm, up_conv to 2 · inner, a depthwise conv of conv_kernel_size without
bias, BatchNorm1d whose running statistics are saved buffers, down_conv) and a post_norm; then the CTC
head ``out`` (output_dim) and ``out_mid`` back to hidden_dim. GraniteSpeechPlus (granite-speech-4.1-plus)
concatenates encoder layers' outputs (cat_hidden_layers) on the way to the projector, which its
projector_config's encoder_hidden_size already says: no tensors of its own.

The projector (``projector.``, GraniteSpeechEncoderProjector): ``query`` (1, window_size //
downsample_rate, hidden), a Blip2QFormerModel (layernorm; per layer self-attention, cross-attention every
cross_attention_frequency-th layer from keys/values of encoder_hidden_size, and the query feed-forward
intermediate_query / output_query; the text-input branch only with use_qformer_text_input) and ``linear``
into the text width.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from paramscope.errors import FormatError
from paramscope.knowledge.families.hfconfig import MAX_LAYERS, HfConfig
from paramscope.knowledge.families.tensors import TensorList
from paramscope.model.dtypes import DType

# GraniteSpeechEncoderConfig defaults (dim_head None means hidden_dim // num_heads)
ENCODER_DEFAULTS: Mapping[str, Any] = {
    "input_dim": 160, "num_layers": 10, "hidden_dim": 1024, "feedforward_mult": 4, "num_heads": 8,
    "dim_head": None, "output_dim": 42, "max_pos_emb": 512, "conv_kernel_size": 15,
    "conv_expansion_factor": 2}
# Blip2QFormerConfig defaults, the projector_config GraniteSpeechConfig builds when it names none
QFORMER_DEFAULTS: Mapping[str, Any] = {
    "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072,
    "cross_attention_frequency": 2, "encoder_hidden_size": 1408, "use_qformer_text_input": False}


def granite_speech_encoder(hf: HfConfig, t: TensorList, p: str) -> None:
    """GraniteSpeechCTCEncoder under ``p`` (``encoder.``)."""
    h = hf.int("hidden_dim", minimum=1)
    heads = hf.int("num_heads", minimum=1)
    dim_head = hf.opt_int("dim_head", minimum=1) or h // heads
    inner = dim_head * heads
    ffn = h * hf.int("feedforward_mult", minimum=1)
    conv = h * hf.int("conv_expansion_factor", minimum=1)
    out = hf.int("output_dim", minimum=1)
    t.linear(p + "input_linear", h, hf.int("input_dim", minimum=1), bias=True)
    for i in range(hf.int("num_layers", maximum=MAX_LAYERS)):
        b = f"{p}layers.{i}."
        for ff in ("ff1.", "ff2."):
            t.norm(b + ff + "pre_norm", h, bias=True)
            t.linear(b + ff + "up_proj", ffn, h, bias=True)
            t.linear(b + ff + "down_proj", h, ffn, bias=True)
        a = b + "attn."
        t.norm(a + "pre_norm", h, bias=True)
        t.linear(a + "to_q", inner, h)
        t.linear(a + "to_kv", 2 * inner, h)
        t.linear(a + "to_out", h, inner, bias=True)
        t.embedding(a + "rel_pos_emb", 2 * hf.int("max_pos_emb", minimum=0) + 1, dim_head)
        c = b + "conv."
        t.norm(c + "norm", h, bias=True)
        t.add(c + "up_conv.weight", 2 * conv, h, 1)
        t.add(c + "up_conv.bias", 2 * conv)
        t.add(c + "depth_conv.conv.weight", conv, 1, hf.int("conv_kernel_size", minimum=1))
        t.norm(c + "batch_norm", conv, bias=True)
        t.add(c + "batch_norm.running_mean", conv, parameter=False)
        t.add(c + "batch_norm.running_var", conv, parameter=False)
        t.add(c + "batch_norm.num_batches_tracked", dtype=DType.I64, parameter=False)
        t.add(c + "down_conv.weight", h, conv, 1)
        t.add(c + "down_conv.bias", h)
        t.norm(b + "post_norm", h, bias=True)
    t.linear(p + "out", out, h, bias=True)
    t.linear(p + "out_mid", h, out, bias=True)


def granite_speech_projector(audio: HfConfig, text_width: int, t: TensorList, p: str,
                             outer: Mapping[str, Any]) -> None:
    """GraniteSpeechEncoderProjector under ``p`` (``projector.``): query, qformer, linear."""
    section = outer.get("projector_config") or {}
    if not isinstance(section, Mapping):
        raise FormatError(audio.source, "projector_config must be a JSON object",
                          found=type(section).__name__)
    q = HfConfig(section, QFORMER_DEFAULTS, {}, audio.source)
    window = HfConfig(outer, {"window_size": 15, "downsample_rate": 5}, {}, audio.source)
    h, ffn = q.int("hidden_size", minimum=1), q.int("intermediate_size", minimum=1)
    encoder = q.int("encoder_hidden_size", minimum=1)
    every = q.int("cross_attention_frequency", minimum=1)
    t.add(p + "query", 1, window.int("window_size", minimum=1) // window.int("downsample_rate", minimum=1), h)
    t.norm(p + "qformer.layernorm", h, bias=True)
    for i in range(q.int("num_hidden_layers", maximum=MAX_LAYERS)):
        b = f"{p}qformer.encoder.layer.{i}."
        blocks = [("attention.", h)] + ([("crossattention.", encoder)] if i % every == 0 else [])
        for block, kv_width in blocks:
            t.linear(b + block + "attention.query", h, h, bias=True)
            t.linear(b + block + "attention.key", h, kv_width, bias=True)
            t.linear(b + block + "attention.value", h, kv_width, bias=True)
            t.linear(b + block + "output.dense", h, h, bias=True)
            t.norm(b + block + "output.LayerNorm", h, bias=True)
        for branch in ("", "_query") if q.flag("use_qformer_text_input") else ("_query",):
            t.linear(f"{b}intermediate{branch}.dense", ffn, h, bias=True)
            t.linear(f"{b}output{branch}.dense", h, ffn, bias=True)
            t.norm(f"{b}output{branch}.LayerNorm", h, bias=True)
    t.linear(p + "linear", text_width, h, bias=True)
