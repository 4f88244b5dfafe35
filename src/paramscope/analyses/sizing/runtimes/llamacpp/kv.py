"""Which layers llama.cpp caches and how many cells each holds: sliding-window and MLA rules per
architecture, layers with no KV, cache types and the encoder's output (llama-kv-cache*.cpp).
"""

from __future__ import annotations

from paramscope.analyses.sizing.kv_cache import (
    KVCache,
    KVPart,
    LayerCache,
    cache_widths,
    encoder_cells,
    encoder_width,
    indexer_key_bytes,
    indexer_layer_ids,
    kv_cache,
    kv_part_explain,
    layer_caches,
    layer_kinds,
    with_changed_parts,
)
from paramscope.analyses.sizing.runtimes.llamacpp.params import MLA_V_CACHE_BUILDS, LlamaCppParams
from paramscope.errors import UnsupportedError
from paramscope.model import MLA_V_CACHE, ArchConfig
from paramscope.model.dtypes import DType
from paramscope.records import replace

F32, F16, I32, I64 = 4, 2, 4, 8  # bytes of the graph's element types

# llama-model.cpp, LLM_ARCH_PHI3: "Phi SWA is currently disabled" (llama.cpp PR 13676): the sliding window
# the GGUF states is dropped and every layer caches the whole context (Phi-3-mini-4k at 4096 tokens: 4096
# cells per layer, not the 2304 of a 2047-token window)
SWA_DISABLED = frozenset({"phi3"})
# llama.cpp architectures whose load_hparams (llama-model.cpp) sets hparams.swa_type, so that their
# sliding-window layers get the window's cells (llama_kv_cache_iswa): Gemma 2 (n_swa 4096 by default,
# every other layer), Gemma 3 / 3n / 4 / EmbeddingGemma, Cohere2 (and its MoE), gpt-oss (OPENAI_MOE),
# Llama 4 (chunked), EXAONE 4 and EXAONE MoE, OLMo 2 when the GGUF has a sliding_window (OLMo 3), AFMoE,
# SmallThinker, PLaMo 3, MiMo-V2, Step-3.5, Laguna. Every other architecture attends over the whole cache
# whatever the config says: Mistral 7B v0.1 (sliding_window 4096) converts to "llama" and prints n_swa = 0,
# so it caches n_ctx cells per layer (tests/fixtures/engine_logs/llamacpp/ipexllm-mistral-7b-v01-*); so
# do Mixtral, Starcoder2, Qwen2 and Phi-3 (SWA_DISABLED).
SWA_ARCHS = frozenset({"gemma2", "gemma3", "gemma3n", "gemma4", "gemma-embedding", "cohere2", "cohere2moe",
                       "gpt-oss", "llama4", "exaone4", "exaone-moe", "olmo2", "afmoe", "smallthinker",
                       "plamo3", "mimo2", "step35", "laguna"})
# Hugging Face families convert_hf_to_gguf writes as one of those architectures (the GGUF reader's family
# names are knowledge/gguf_arch.py FAMILIES', the same for these); a family not listed runs without SWA
SWA_FAMILY_ARCHS = {
    "gemma2": "gemma2", "gemma3_text": "gemma3", "gemma3": "gemma3", "gemma3n_text": "gemma3n",
    "gemma3n": "gemma3n", "gemma4_text": "gemma4", "gemma4": "gemma4", "cohere2": "cohere2",
    # Gemma 4 12B: convert_hf_to_gguf registers Gemma4UnifiedForConditionalGeneration as a Gemma4Model
    "gemma4_unified_text": "gemma4", "gemma4_unified": "gemma4",
    "cohere2_moe": "cohere2moe", "gpt_oss": "gpt-oss", "llama4_text": "llama4", "llama4": "llama4",
    "exaone4": "exaone4", "exaone_moe": "exaone-moe", "olmo3": "olmo2", "olmo2": "olmo2", "afmoe": "afmoe",
    "smallthinker": "smallthinker", "plamo3": "plamo3",
    # convert_hf_to_gguf registers MiMoV2FlashForCausalLM as LLM_ARCH_MIMO2, LagunaForCausalLM as
    # LLM_ARCH_LAGUNA (whose load_arch_hparams sets swa_type STANDARD)
    "mimo_v2_flash": "mimo2", "laguna": "laguna"}
# MLA (DeepSeek V2/V3, kv_lora_rank > 0): llama.cpp caches the compressed latent only where
# hparams.is_mla() holds, i.e. the GGUF has attention.key_length_mla and value_length_mla (written by
# convert_hf_to_gguf since PR 12801, April 2025; llm_build_deepseek2: ``is_mla = (n_embd_head_k_mla != 0 &&
# n_embd_head_v_mla != 0)``). A GGUF converted before then (the log prints ``n_embd_head_k_mla = 0``) runs
# as multi-head attention and caches every head's K (qk_nope + qk_rope) and V (v_head_dim): 16 x 192 and
# 16 x 128 per layer for DeepSeek-V2-Lite, 9x the latent. The GGUF reader says which (ArchConfig.extra
# "mla_latent_cache", knowledge/gguf_arch.py); a config is converted as today: the latent, but for the
# families convert_hf_to_gguf writes without those keys: MiniCPM3 (llm_build_minicpm3 expands
# kv_lora_rank into per-head K and V and caches them through build_attn, as any MHA model)
MLA_AS_MHA_FAMILIES = frozenset({"minicpm3"})


def has_swa(cfg: ArchConfig) -> bool:
    """Whether llama.cpp runs this model's sliding-window layers with a window (SWA_ARCHS): a GGUF's
    architecture, else the one convert_hf_to_gguf writes for the config's family; never for the
    SWA_DISABLED families."""
    if cfg.family in SWA_DISABLED:
        return False
    return cfg.architecture in SWA_ARCHS or SWA_FAMILY_ARCHS.get(cfg.family) in SWA_ARCHS


def caches_mla_latent(cfg: ArchConfig) -> bool:
    """Whether llama.cpp caches this MLA model's compressed latent rather than every head's K and V (see
    MLA_AS_MHA_FAMILIES): as the GGUF says, else as today's conversion of the config's family."""
    if not cfg.is_mla:
        return False
    stated = cfg.extra.get("mla_latent_cache")
    if stated is not None:
        return bool(stated)
    return cfg.family not in MLA_AS_MHA_FAMILIES and cfg.architecture not in MLA_AS_MHA_FAMILIES


def with_mla_v_cache(cfg: ArchConfig) -> ArchConfig:
    """The model as a llama.cpp build of PR #12801 (April 2025) to PR #19067 ("kv-cache : support V-less
    cache", merged 2026-01-24) caches it: beside the latent K row, a V row of kv_lora_rank values (the
    V-less cache since). DeepSeek-V3-0324 at 16,384 cells on b5331 printed "K (f16): 1098.00 MiB, V
    (f16): 976.00 MiB", 61 layers × 576 and × 512 values."""
    return replace(cfg, extra={**cfg.extra, MLA_V_CACHE: True}) if cfg.is_mla else cfg


def as_pre_mla_gguf(cfg: ArchConfig) -> ArchConfig:
    """The model as a GGUF converted without the MLA keys describes it (llama.cpp then runs it as MHA)."""
    return replace(cfg, extra={**cfg.extra, "mla_latent_cache": False}) if cfg.is_mla else cfg


# llama.cpp's converter appends these families' multi-token-prediction layers to the trunk as blocks of their
# own (conversion/glm.py Glm4MoeModel and GlmMoeDsaModel, conversion/deepseek.py DeepseekV32Model:
# block_count = num_hidden_layers + num_nextn_predict_layers; DeepSeek-V3's converter skips them), and
# llama.cpp places layers over all the blocks (llama-model.cpp n_layer_all: -ngl, the tensor split, the
# output layer after them: GLM-4.5-Air "offloaded 48/48 layers", 46 + 1 + output) while its main context
# caches the trunk alone (n_layer() = n_layer_all − n_layer_nextn). A GGUF says so itself
# (``{arch}.nextn_predict_layers``: knowledge/gguf_arch.py keeps the trunk as n_layers and the rest as
# extra["nextn_layers"]).
NEXTN_BLOCK_FAMILIES = frozenset({"glm4_moe", "glm_moe_dsa", "deepseek_v32"})


def block_count(cfg: ArchConfig) -> int:
    """The blocks llama.cpp places over the devices: the trunk's layers and the MTP layers its GGUF holds
    (``NEXTN_BLOCK_FAMILIES``)."""
    nextn = cfg.extra.get("nextn_layers")
    if nextn is None and cfg.family in NEXTN_BLOCK_FAMILIES:
        nextn = cfg.extra.get("num_nextn_predict_layers")
    return cfg.n_layers + (nextn if isinstance(nextn, int) and not isinstance(nextn, bool) and nextn > 0
                           else 0)


def as_llamacpp_loads(cfg: ArchConfig, build: str = "current") -> ArchConfig:
    """The architecture as llama.cpp builds it: sliding-window layers attend over the whole cache where
    llama.cpp's architecture has no SWA (``has_swa``), and an MLA model whose GGUF lacks the MLA keys is
    plain multi-head attention (``caches_mla_latent``: n_head K heads of qk_nope + qk_rope and V heads of
    v_head_dim, as the converter wrote head_count_kv = num_key_value_heads = n_head); in the ``build``
    families of MLA_V_CACHE_BUILDS an MLA latent keeps its V row too (``with_mla_v_cache``)."""
    if (cfg.sliding_window or "sliding" in cfg.layer_types) and not has_swa(cfg):
        cfg = replace(cfg, sliding_window=0, layer_types=tuple("full" if kind == "sliding" else kind
                                                               for kind in cfg.layer_types))
    if cfg.is_mla and not caches_mla_latent(cfg):
        cfg = replace(cfg, kv_lora_rank=0, n_kv_heads=cfg.n_heads)
    return with_mla_v_cache(cfg) if build in MLA_V_CACHE_BUILDS else cfg


def check_cache_types(cfg: ArchConfig, type_k: DType, type_v: DType, flash_attn: bool) -> None:
    """The refusals of llama_init_from_model (llama-context.cpp) for cache types."""
    if cfg.is_mla and type_k != type_v:
        raise UnsupportedError(f"llama.cpp: MLA models need the same K and V cache types "
                               f"(found K {type_k.value.lower()}, V {type_v.value.lower()})")
    if type_v.info.quantized and not flash_attn:
        raise UnsupportedError(f"llama.cpp: a quantized V cache ({type_v.value.lower()}) needs flash "
                               f"attention; leave it on auto or enable it")
    head_k, head_v = cache_head_dims(cfg)
    heads = (("K", type_k, head_k), ("V", type_v, head_v))
    for what, dtype, head_dim in heads:
        if flash_attn and dtype.info.quantized and head_dim % dtype.block_size:
            raise UnsupportedError(
                f"llama.cpp: {what} cache type {dtype.value.lower()} with block size {dtype.block_size} "
                f"does not divide the head dim {head_dim}")


# GGUF architectures whose layers without KV heads llama.cpp still allocates: knowledge/gguf_arch.py
# NO_KV_MEANS_NO_CACHE (the same set, kept here so that a size needs no GGUF reader and its numpy;
# tests/test_kv_layers.py holds them equal)
ZERO_KV_ARCHS = frozenset({"deci"})
# Hugging Face families convert_hf_to_gguf writes as one of those: DeciModel registers DeciLMForCausalLM,
# both Nemotron-NAS (model_type nemotron-nas) and DeciLM-7B (deci), as LLM_ARCH_DECI
HF_ZERO_KV_ARCHS = {"nemotron-nas": "deci", "deci": "deci"}


def allocates_zero_kv_layers(cfg: ArchConfig) -> bool:
    """Whether llama.cpp gives this model's layers without KV heads a K and V tensor of their own.

    llama-kv-cache.cpp (llama_kv_cache::llama_kv_cache) allocates every layer for which
    ``hparams.has_kv(il)`` holds, and has_kv (llama-hparams.cpp) is true for every layer unless the
    model shares its last layers' caches (n_layer_kv_from_start, Gemma 3n): a deci layer whose
    n_head_kv(il) is 0 (no_op or linear attention) gets ``cache_k_l{il}`` of n_embd_k_gqa(il) = 0 values
    a cell, and its V the width below; "N layers" in the size line counts them."""
    arch = cfg.architecture if cfg.architecture in ZERO_KV_ARCHS else HF_ZERO_KV_ARCHS.get(cfg.family)
    return arch in ZERO_KV_ARCHS


def llamacpp_layers(cfg: ArchConfig, p: LlamaCppParams, pad: bool = True) -> tuple[LayerCache | None, ...]:
    """Each layer's K and V widths as llama.cpp allocates them (llama-kv-cache.cpp, the constructor):

    - K: ``n_embd_k_gqa(il)`` = n_head_kv(il) × n_embd_head_k (llama-hparams.cpp), each layer its own;
    - V with flash attention: ``n_embd_v_gqa(il)``, each layer its own;
    - V without flash attention in current builds ([TAG_V_CACHE_VARIABLE]: ``v_trans ?
      hparams.n_embd_v_gqa_max() : n_embd_v_gqa(il)``, with the warning "the V embeddings have different
      sizes across layers and FA is not enabled - padding V cache"): the widest layer's, in every
      allocated layer, including a deci layer without KV heads. Legacy builds sized V per layer
      (llama_kv_cache_init: ``n_embd_v_gqa(il) + n_embd_v_s()``). The padding is in
      llama_kv_cache_unified of July 2025 (the one with LLAMA_SET_ROWS, whose single ``v_idxs`` input
      indexes every layer's transposed V alike); when exactly it came is not pinned, so a "legacy" build
      of June–August 2025 run without flash attention may pad where this does not.
    """
    layers = list(layer_caches(cfg))
    if p.mtp_blocks_cached:  # after the trunk, each as its last full-attention layer (forks.py), else its
        # last attention layer of any kind
        cached = [layer for layer in layers if layer is not None]
        full = [layer for layer in cached if layer.kind == "full"] or cached
        layers += full[-1:] * p.mtp_blocks_cached
    allocated = [layer for layer in layers if layer is not None]
    if not pad or p.legacy or not p.v_transposed or not allocated:
        return tuple(layers)  # a KV-less layer's tensors hold 0 bytes: left out
    if allocates_zero_kv_layers(cfg):
        layers = [LayerCache("full", 0, 0) if layer is None else layer for layer in layers]
    v_max = max(layer.v_width for layer in allocated)
    return tuple(None if layer is None else replace(layer, v_width=v_max) for layer in layers)


def v_padded(cfg: ArchConfig, p: LlamaCppParams) -> int:
    """The V width every layer takes where llama.cpp pads it (``llamacpp_layers``); 0 where that changes
    no layer."""
    if p.legacy or not p.v_transposed:
        return 0
    plain = sorted(layer.v_width for layer in llamacpp_layers(cfg, p, pad=False) if layer is not None)
    padded = sorted(layer.v_width for layer in llamacpp_layers(cfg, p) if layer is not None)
    return 0 if padded == plain else max(padded)


def llamacpp_kv_cache(cfg: ArchConfig, p: LlamaCppParams, type_k: DType, type_v: DType) -> KVCache:
    """The attention cache in n_streams streams; a recurrent (SSM, linear-attention) state in one cell per
    sequence whatever the streams: llama_memory_recurrent is built with ``mem_size = max(1, n_seq_max)``
    cells (llama-model.cpp create_memory), unified KV or not (Qwen3.5-2B at 4 sequences: 4 × 19.27 MiB,
    llamacpp/qwen35-2b-*)."""
    cells = {"full": p.n_ctx_seq, "sliding": p.swa_cells}
    if p.legacy and encoder_only(cfg) and cfg.n_layers:
        # builds of mid-2025 and earlier gave every model a unified KV cache, an encoder-only one (BERT)
        # too: n_ctx cells in every layer, never read (ggml-ci's bge-small on build 4410: 12 layers × 512
        # cells × 384 × 2 × 2 B = 9 MiB printed; later builds create none, llama-model.cpp create_memory)
        k, v = cfg.n_kv_heads * cfg.head_dim_k, cfg.n_kv_heads * cfg.head_dim_v
        part = KVPart("full", cfg.n_layers, p.n_streams, p.n_ctx_seq, k, v, type_k, type_v,
                      layer_ids=tuple(range(cfg.n_layers)))
        return KVCache((part,), (kv_part_explain(part),))
    kv = kv_cache(cfg, cells, streams=p.n_streams, type_k=type_k, type_v=type_v,
                  layers=llamacpp_layers(cfg, p))
    kv = with_indexer_cache(kv, cfg, p, type_k)
    return kv if p.n_seq == p.n_streams else with_changed_parts(kv, "linear", streams=p.n_seq)


# DeepSeek sparse attention (DeepSeek-V3.2, GLM-5.x: an MLA config with index_head_dim): llama.cpp keeps the
# lightning indexer's keys in a cache of their own beside the latent (llama-kv-cache-dsa.cpp: "DSA lightning
# indexer uses MQA with single key head", n_embd_head_k = indexer_head_size, no V, at the K cache's type, the
# latent cache's cells), on the layers indexer_types names, else every layer (models/glm-dsa.cpp). GLM-5.1
# at 32,768 cells in f16: 78 × 32768 × 128 × 2 B = 624 MiB beside 2.74 GiB of latent. Read in b11549 and in
# llama-cpp-python 0.3.36 (a helper's audit); no log of it in the reference set
INDEXER = "indexer"


def with_indexer_cache(kv: KVCache, cfg: ArchConfig, p: LlamaCppParams, type_k: DType) -> KVCache:
    width = cfg.extra.get("index_head_dim")
    # the legacy builds (mid-2025 and earlier) predate the DSA cache (PR 21149, 2026) and these models
    if p.legacy or not cfg.is_mla or not indexer_key_bytes(cfg) or not isinstance(width, int):
        return kv
    ids = indexer_layer_ids(cfg)
    part = KVPart(INDEXER, len(ids), p.n_streams, p.n_ctx_seq, width, 0, type_k, type_k, layer_ids=ids)
    return KVCache((*kv.parts, part), (*kv.explain, kv_part_explain(part)))


def encoder_only(cfg: ArchConfig) -> bool:
    """An encoder-only model (BERT and its kind): every layer "none", no cache of its own, no LM head."""
    return set(layer_kinds(cfg)) <= {"none"}


def encoder_output_bytes(cfg: ArchConfig, p: LlamaCppParams, encoder_length: int | None) -> int:
    """An encoder-decoder (llama.cpp: T5) keeps the encoder's output, f32, in host memory for the decoder
    (llama-context.cpp, encode(): ``cross.v_embd.resize(n_embd * n_enc)``, all encoded tokens of the
    batch); the decoder graph (build_attn with llm_graph_input_attn_cross) projects it to K and V in
    every layer at every step, so llama.cpp holds no per-layer cross-attention cache."""
    if not cfg.is_encoder_decoder:
        return 0
    return p.n_seq * encoder_cells(cfg, p.n_ctx_seq, encoder_length) * encoder_width(cfg) * F32


def cache_head_dims(cfg: ArchConfig) -> tuple[int, int]:
    """Head dims as llama.cpp's cache sees them: MLA caches one head, as wide as kv_cache.py's
    "compressed" row (kv_lora_rank + n_rot, no V but in the builds of MLA_V_CACHE)."""
    if cfg.is_mla:
        return cache_widths(cfg, "compressed")
    return cfg.head_dim_k, cfg.head_dim_v
