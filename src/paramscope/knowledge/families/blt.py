"""BLT, the Byte Latent Transformer (models/blt/modeling_blt.py, BltForCausalLM), as transformers 5.24
builds it: four Llama-style stacks, each from its own config section.

- ``local_encoder`` (encoder_config): byte embeddings, its layers, a patch projection to hidden ·
  cross_attn_k, and cross-attention layers (q/k/v/o and full-width q/k RMSNorms: one, or one per layer
  with cross_attn_all_layers);
- ``global_transformer`` (global_config): the latent layers over patches, with a token_embedding_projection
  from encoder hidden · cross_attn_k (the top-level one) when that is not its own width;
- ``local_decoder`` (decoder_config): its layers, a patch projection from hidden_size_global to hidden ·
  cross_attn_k, a final norm and its cross-attention layers;
- ``encoder_hash_tok_embedding``: encoder_hash_byte_group_vocab · nb_functions · len(byte_group_size)
  rows of the encoder width;
- ``patcher`` (patcher_config, with patch_in_forward): the small entropy model that cuts bytes into
  patches, with its own embedding, norm and head;
- ``lm_head`` from the decoder width; tie_word_embeddings ties the encoder's byte embedding to it, and
  transformers then saves the head alone (``_tied_weights_keys``).

Every head is hidden / heads wide; KV heads default to the heads; an encoder without intermediate_size
takes int(8 · hidden / 3) (the sub-configs' ``__post_init__``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from paramscope.errors import FormatError
from paramscope.knowledge.families.dims import Dims
from paramscope.knowledge.families.hfconfig import MAX_LAYERS, HfConfig
from paramscope.knowledge.families.tensors import TensorList

# the sub-configs' defaults (BltLocalEncoderConfig, BltLocalDecoderConfig, BltGlobalTransformerConfig,
# BltPatcherConfig), for the fields read; intermediate_size None means int(8 · hidden / 3)
_LOCAL = {"vocab_size": 260, "cross_attn_k": 2, "hidden_size_global": 2048, "hidden_size": 1024,
          "num_attention_heads": 16, "num_key_value_heads": None}
SECTIONS: Mapping[str, Mapping[str, Any]] = {
    "encoder_config": {**_LOCAL, "cross_attn_all_layers": False, "num_hidden_layers": 1,
                       "intermediate_size": None},
    "decoder_config": {**_LOCAL, "cross_attn_all_layers": True, "num_hidden_layers": 9,
                       "intermediate_size": 2816},
    "global_config": {"hidden_size": 2048, "num_attention_heads": 16, "num_key_value_heads": None,
                      "num_hidden_layers": 25, "intermediate_size": 5632},
    "patcher_config": {"vocab_size": 260, "hidden_size": 768, "num_hidden_layers": 14,
                       "num_attention_heads": 12, "num_key_value_heads": None, "intermediate_size": 2048},
}


def _section(d: Dims, key: str) -> HfConfig:
    raw = d.hf.raw.get(key) or {}
    if not isinstance(raw, Mapping):
        raise FormatError(d.hf.source, f"{key} must be a JSON object", found=type(raw).__name__)
    return HfConfig(raw, SECTIONS[key], {}, d.hf.source)


def _layers(c: HfConfig, t: TensorList, p: str) -> int:
    """A stack's BltTransformerLayers (q/k/v/o without bias, a SwiGLU MLP, two RMSNorms); its width."""
    h = c.int("hidden_size", minimum=1)
    heads = c.int("num_attention_heads", minimum=1)
    kv = (c.opt_int("num_key_value_heads", minimum=1) or heads) * (h // heads)
    ffn = c.opt_int("intermediate_size", minimum=1) or int(8 * h / 3)
    for i in range(c.int("num_hidden_layers", maximum=MAX_LAYERS)):
        lp = f"{p}layers.{i}."
        t.linear(lp + "self_attn.q_proj", heads * (h // heads), h)
        t.linear(lp + "self_attn.k_proj", kv, h)
        t.linear(lp + "self_attn.v_proj", kv, h)
        t.linear(lp + "self_attn.o_proj", h, heads * (h // heads))
        t.linear(lp + "mlp.gate_proj", ffn, h)
        t.linear(lp + "mlp.up_proj", ffn, h)
        t.linear(lp + "mlp.down_proj", h, ffn)
        t.norm(lp + "input_layernorm", h)
        t.norm(lp + "post_attention_layernorm", h)
    return h


def _cross_layers(c: HfConfig, t: TensorList, p: str, h: int) -> None:
    """BltCrossAttention: one, or one per layer with cross_attn_all_layers."""
    heads = c.int("num_attention_heads", minimum=1)
    kv = (c.opt_int("num_key_value_heads", minimum=1) or heads) * (h // heads)
    count = c.int("num_hidden_layers", maximum=MAX_LAYERS) if c.flag("cross_attn_all_layers") else 1
    for j in range(count):
        cp = f"{p}cross_attn_layers.{j}."
        t.linear(cp + "q_proj", heads * (h // heads), h)
        t.linear(cp + "k_proj", kv, h)
        t.linear(cp + "v_proj", kv, h)
        t.linear(cp + "o_proj", h, heads * (h // heads))
        t.norm(cp + "q_norm", h)
        t.norm(cp + "k_norm", h)


def blt_tensors(d: Dims, t: TensorList) -> None:
    """BltForCausalLM (``model.`` …, ``lm_head``) or the bare BltModel. blt-1b-hf: 510 tensors,
    4,633,391,872 parameters."""
    hf = d.hf
    base = "" if d.bare else "model."
    enc, glob, dec = (_section(d, k) for k in ("encoder_config", "global_config", "decoder_config"))
    p = base + "local_encoder."
    he = _layers(enc, t, p)
    t.linear(p + "patch_embedding_projection", he * enc.int("cross_attn_k", minimum=1), he)
    if not (d.tied and not d.bare):  # tied: the head is saved, the byte embedding is not
        t.embedding(p + "embed_tokens", enc.int("vocab_size", minimum=1), he)
    _cross_layers(enc, t, p, he)
    p = base + "global_transformer."
    hg = _layers(glob, t, p)
    cross_out = he * hf.int("cross_attn_k", 2, minimum=1)
    if cross_out != hg:
        t.linear(p + "token_embedding_projection", hg, cross_out)
    p = base + "local_decoder."
    hd = _layers(dec, t, p)
    t.linear(p + "patch_embedding_projection", hd * dec.int("cross_attn_k", minimum=1),
             dec.int("hidden_size_global", minimum=1))
    t.norm(p + "norm", hd)
    _cross_layers(dec, t, p, hd)
    groups = hf.value("encoder_hash_byte_group_size") or [3, 4, 5, 6, 7, 8]
    if not isinstance(groups, list | tuple):
        raise FormatError(hf.source, "encoder_hash_byte_group_size must be a list", found=repr(groups)[:80])
    rows = (hf.int("encoder_hash_byte_group_vocab", 500002, minimum=1)
            * hf.int("encoder_hash_byte_group_nb_functions", 1) * len(groups))
    t.embedding(base + "encoder_hash_tok_embedding", rows, he)
    if hf.flag("patch_in_forward", True):
        pat = _section(d, "patcher_config")
        p = base + "patcher."
        hp = _layers(pat, t, p)
        vocab = pat.int("vocab_size", minimum=1)
        t.embedding(p + "embed_tokens", vocab, hp)
        t.norm(p + "norm", hp)
        t.linear(p + "lm_head", vocab, hp)
    if not d.bare:
        t.linear("lm_head", d.vocab, hd)
