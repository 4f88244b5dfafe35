"""Counting a model_type our table has no row for: transformers on the meta device (``oracle.py``).

Only with the ``oracle`` extra installed, and only for model types transformers defines natively: a
config whose code lives in its repository (``auto_map``) is refused, since repository code is never
run. The ArchConfig comes from transformers' own config object (its attribute maps resolve every
family's spelling of hidden size, heads, layers…); a layer kind transformers names but we do not know
the cache of (a state-space mixer) is kept as "linear" without a state size, so the KV-cache analysis
says what it cannot price instead of guessing.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import takewhile
from typing import Any

from paramscope.errors import UnsupportedError
from paramscope.knowledge.families import oracle
from paramscope.model import UNPRICED_LAYER_TYPES, ArchConfig, Tensor

# transformers' layer_types spellings → ours (kv_cache.LAYER_KINDS)
LAYER_KINDS = {"full_attention": "full", "attention": "full", "sliding_attention": "sliding",
               "chunked_attention": "sliding",
               # DeepSeek-V3.2's sparse attention in later configs (Mistral Large 4, GLM-5 Next): an MLA
               # layer that attends over the whole cache, its indexer keys beside (index_head_dim)
               "indexed_attention": "full"}
# transformers' spellings of a recurrent layer, whose state the config's own fields would size: kept as
# "linear" without a size (the cache analysis says it cannot price them)
RECURRENT_KINDS = frozenset({"linear_attention", "mamba", "mamba2", "conv", "recurrent", "ssm"})


def _require(cfg: Mapping[str, Any], source: str, why: Exception) -> None:
    if not oracle.available():
        raise UnsupportedError(f"{why}; transformers would count it: {oracle.INSTALL_HINT}")
    reason = oracle.not_native(cfg)
    if reason is not None:
        raise UnsupportedError(f"{why}, and {reason}")
    foreign = oracle.foreign_architecture(cfg)
    if foreign is not None:
        raise UnsupportedError(f"{why}, and {foreign}")


def saved_tensors(cfg: Mapping[str, Any], source: str, why: Exception) -> tuple[Tensor, ...]:
    _require(cfg, source, why)
    return oracle.saved_tensors(cfg, source)


def arch_config(cfg: Mapping[str, Any], source: str, why: Exception) -> ArchConfig:
    _require(cfg, source, why)
    config = oracle.hf_config(cfg, source)
    text = config.get_text_config() if hasattr(config, "get_text_config") else config

    def num(key: str, default: int = 0) -> int:
        try:
            v = getattr(text, key, None)
        except Exception as e:  # a heterogeneous config (dots3_note's heads) refuses one global value
            raise UnsupportedError(f"{source}: model_type {cfg.get('model_type')!r}: transformers gives "
                                   f"{key} layer by layer ({type(e).__name__}), and paramscope sizes "
                                   "a model from one value of it") from e
        return v if isinstance(v, int) and not isinstance(v, bool) else default

    hidden, heads, layers = num("hidden_size"), num("num_attention_heads"), num("num_hidden_layers")
    head_dim = num("head_dim") or (hidden // heads if heads else 0)
    window = num("sliding_window")
    types = getattr(text, "layer_types", None)
    kinds: tuple[str, ...] = ()
    unknown: list[str] = []
    if isinstance(types, list | tuple) and len(types) == layers:
        kinds = tuple(LAYER_KINDS.get(str(t), "linear") for t in types)
        unknown = sorted({str(t) for t in types} - LAYER_KINDS.keys() - RECURRENT_KINDS)
    # multi-head latent attention (DeepSeek-V2/V3's kv_lora_rank, as Mistral 4, LongCat-Flash, Kimi Linear
    # and GLM-5 Next spell it): the cache holds the latent and the decoupled RoPE key, not heads
    latent, rope = num("kv_lora_rank"), num("qk_rope_head_dim")
    nope, v_dim = num("qk_nope_head_dim"), num("v_head_dim")
    extra: dict[str, Any] = {
        "counted_by": f"transformers {oracle.version()} on the meta device (no table row)",
        "max_position_embeddings": num("max_position_embeddings")}
    if unknown:  # kv_cache.py names them where it cannot price their state
        extra[UNPRICED_LAYER_TYPES] = tuple(unknown)
    if latent and num("index_head_dim"):
        extra["index_head_dim"] = num("index_head_dim")
        indexers = getattr(text, "indexer_types", None)  # the layers with an indexer of their own
        if isinstance(indexers, list | tuple) and len(indexers) == layers:
            extra["indexer_types"] = tuple(str(t) for t in indexers)
    moe = num("num_local_experts") or num("num_experts") or num("n_routed_experts")
    mlp_types = getattr(text, "mlp_layer_types", None)
    # the leading dense layers (DeepSeek's first_k_dense_replace), as n_dense_layers means them
    dense = (len(list(takewhile(lambda t: str(t) == "dense", mlp_types)))
             if isinstance(mlp_types, list | tuple) else num("first_k_dense_replace"))
    archs = cfg.get("architectures")
    # an encoder-decoder (PretrainedConfig.is_encoder_decoder: Marian, Pegasus, M2M100, …): the decoder's
    # layers cache (BART's spelling decoder_layers, T5's num_decoder_layers); the encoder's length is the
    # prompt's (kv_cache.py)
    decoder = 0
    if getattr(config, "is_encoder_decoder", False) is True:
        decoder = num("decoder_layers") or num("num_decoder_layers") or layers
    return ArchConfig(
        family=str(cfg.get("model_type")),
        architecture=archs[0] if isinstance(archs, list) and archs and isinstance(archs[0], str)
        else str(cfg.get("model_type")),
        n_layers=layers, hidden_size=hidden, n_heads=heads,
        n_kv_heads=heads if latent else num("num_key_value_heads", heads),
        head_dim_k=nope + rope if latent and nope + rope else head_dim,
        head_dim_v=v_dim if latent and v_dim else head_dim,
        ffn_size=num("intermediate_size"), vocab_size=num("vocab_size"),
        context_length=num("max_position_embeddings"),
        tied_embeddings=bool(getattr(text, "tie_word_embeddings", False)),
        n_experts=moe, n_experts_per_token=num("num_experts_per_tok"),
        n_shared_experts=(num("n_shared_experts") or num("num_shared_experts")) if moe else 0,
        n_dense_layers=dense if moe else 0, expert_ffn_size=num("moe_intermediate_size") if moe else 0,
        kv_lora_rank=latent, q_lora_rank=num("q_lora_rank") if latent else 0,
        rope_head_dim=rope if latent else 0,
        sliding_window=window if "sliding" in kinds else 0, layer_types=kinds,
        extra=extra, decoder_layers=decoder)
