"""llama.cpp: the memory a context takes, buffer by buffer, as llama.cpp prints it.

Checked against llama-cpp-python 0.3.36 (its vendored llama.cpp), CPU backend, on the Gemma 3 270M GGUF
(bench/bench_llamacpp.py; docs/kv-cache.md records the log lines) and on generated GGUFs of four
architectures (bench/bench_llamacpp_archs.py, recorded in tests/fixtures/llamacpp_archs.json). Source
files named below are under llama.cpp's src/ unless a path says otherwise.

Buffers (all reserved when the context is created, before any token is decoded):

- model: the weights. With mmap, llama.cpp wraps the file region spanning its tensors ("CPU_Mapped");
  weights the CPU backend re-lays out for faster kernels are copied into "CPU_REPACK" (x86 AVX2:
  Q4_0/Q4_K/IQ4_NL/MXFP4 matrices with rows % 8 == 0, ggml-cpu/repack.cpp). Without mmap the CPU buffer
  holds only the tensors that were not repacked.
- KV: analyses/sizing/kv_cache.py with llama.cpp's cells (padding below).
- output: logits (and embeddings) copied out for the caller, n_outputs × n_vocab × 4 B.
- compute: the scheduler's graph buffer for the worst-case ubatch (llama_context::sched_reserve):
  ggml-alloc replayed on llama.cpp's graph (llamacpp_graph, ggml_graph) where paramscope rebuilds it,
  else a per-phase estimate (``compute_buffer``).

Defaults are those of llama.cpp's command line (common/common.h: n_batch 2048, n_ubatch 512,
swa_full off, flash attention auto). The C library's own defaults differ (llama_context_default_params:
swa_full = true) and so do llama-cpp-python's (Llama(): n_batch 512, flash_attn off, swa_full left at
the library's true).
"""

from __future__ import annotations

from collections.abc import Iterable

from paramscope.analyses.sizing.kv_cache import (
    ATTENTION_KINDS,
    KVCache,
    KVPart,
    LayerCache,
    cache_widths,
    encoder_cells,
    encoder_width,
    kv_cache,
    kv_part_explain,
    layer_caches,
    layer_kinds,
    with_changed_parts,
)
from paramscope.analyses.sizing.request import MemoryRequest, RuntimeParts, kv_dtype
from paramscope.analyses.sizing.runtimes import option
from paramscope.analyses.sizing.runtimes.common import routed_ffn_width
from paramscope.analyses.sizing.runtimes.llamacpp_graph import compute_buffer_bytes, graph_arch, has_graph
from paramscope.errors import UnsupportedError
from paramscope.model import ArchConfig, Model, Tensor
from paramscope.model.dtypes import DType
from paramscope.model.memo import ModelMemo
from paramscope.records import record, replace

KV_PAD = 256  # llama-context.cpp: cparams.n_ctx = GGML_PAD(n_ctx, 256); llama-kv-cache-iswa.cpp: SWA too
# Builds of mid-2025 and earlier ("legacy"): llama_kv_cache_unified::get_padding = flash attention ? 256 :
# 32; flash attention off unless asked for; the cache written with ggml_cpy into views (LLAMA_SET_ROWS=0,
# the default until August 2025), so no k_idxs / v_idxs inputs in the graph. Checked on two logs of such
# builds: 70000 → 70016 cells (tests/fixtures/engine_logs/llamacpp/15009-*), 72000 cells kept (11598-*).
LEGACY_KV_PAD_NO_FA = 32
# Builds before llama.cpp PR 13194 ("kv-cache : add SWA support", May 2025), which gave sliding-window
# layers their own cache of the window plus a batch (llama_kv_cache_unified_iswa); until then "the
# llama_kv_cache_unified ... always caching all layers" at the full context (the PR's description), so
# a Gemma 3 or gpt-oss sliding-window layer took n_ctx cells like the others ("legacy-no-swa": the legacy
# rules plus that). Checked on Gemma 3 1B, build 5050, n_ctx 4096: 26 layers x 4096 cells = 104 MiB
# printed (tests/fixtures/engine_logs/llamacpp/tqm-*), where the SWA cache would give 38 MiB.
# llama.cpp PR 18148 ("offload output layer to GPU first", December 2025): -ngl N puts the output layer on
# the GPU first, then the last N − 1 repeating layers (load_tensors: i_gpu_start = max(n_layer + 1 − N, 0));
# builds before it put the last N repeating layers there and the output layer only with N > n_layer
# ("late-2025" and the legacy families). Their logs tell them apart: "offloading output layer to GPU"
# before "offloading N repeating layers" (b8169, b8193, b8586; Ollama's llama-server of 2026), after it or
# not at all (b7057, b7217, b7342, b7445). Qwen3.5-27B, b8586, -ngl 26 of 65: 30 recurrent layers'
# state on the host (93.52 MiB = 30 × 3.117), where the older rule leaves 29.
BUILDS = ("current", "late-2025", "legacy", "legacy-no-swa")
# llama.cpp PR 23861 ("llama: limit max outputs of llama_context", June 2026): the context reserves its
# prompt graph with min(n_ubatch, n_outputs_max) rows of logits, and llama-server sets n_outputs_max to its
# -np (its log: "n_outputs_max = 1"); a library caller that leaves it unset keeps n_ubatch rows. Llama 3.1
# 8B Q4_0 at 32768 cells, -ub 512, one sequence: the server's fit dry run printed 140 MiB of CUDA compute
# buffer, the graph replayed with one output row 140.01 (with 512: 258.5)
LEGACY_BUILDS = frozenset({"legacy", "legacy-no-swa"})
OUTPUT_LAST_BUILDS = frozenset({"late-2025", *LEGACY_BUILDS})
# llama-model.cpp, LLM_ARCH_PHI3: "Phi SWA is currently disabled" (llama.cpp PR 13676): the sliding window
# the GGUF states is dropped and every layer caches the whole context (Phi-3-mini-4k at 4096 tokens: 4096
# cells per layer, not the 2304 of a 2047-token window)
SWA_DISABLED = frozenset({"phi3"})
# llama.cpp architectures whose load_hparams (llama-model.cpp) sets hparams.swa_type, so that their
# sliding-window layers get the window's cells (llama_kv_cache_iswa): Gemma 2 (n_swa 4096 by default,
# every other layer), Gemma 3 / 3n / 4 / EmbeddingGemma, Cohere2 (and its MoE), gpt-oss (OPENAI_MOE),
# Llama 4 (chunked), EXAONE 4 and EXAONE MoE, OLMo 2 when the GGUF has a sliding_window (OLMo 3), AFMoE,
# SmallThinker, PLaMo 3, MiMo-V2, Step-3.5. Every other architecture attends over the whole cache whatever
# the config says: Mistral 7B v0.1 (sliding_window 4096) converts to "llama" and prints n_swa = 0, so it
# caches n_ctx cells per layer (tests/fixtures/engine_logs/llamacpp/ipexllm-mistral-7b-v01-*); so do
# Mixtral, Starcoder2, Qwen2 and Phi-3 (SWA_DISABLED).
SWA_ARCHS = frozenset({"gemma2", "gemma3", "gemma3n", "gemma4", "gemma-embedding", "cohere2", "cohere2moe",
                       "gpt-oss", "llama4", "exaone4", "exaone-moe", "olmo2", "afmoe", "smallthinker",
                       "plamo3", "mimo2", "step35"})
# Hugging Face families convert_hf_to_gguf writes as one of those architectures (the GGUF reader's family
# names are knowledge/gguf_arch.py FAMILIES', the same for these); a family not listed runs without SWA
SWA_FAMILY_ARCHS = {
    "gemma2": "gemma2", "gemma3_text": "gemma3", "gemma3": "gemma3", "gemma3n_text": "gemma3n",
    "gemma3n": "gemma3n", "gemma4_text": "gemma4", "gemma4": "gemma4", "cohere2": "cohere2",
    "cohere2_moe": "cohere2moe", "gpt_oss": "gpt-oss", "llama4_text": "llama4", "llama4": "llama4",
    "exaone4": "exaone4", "exaone_moe": "exaone-moe", "olmo3": "olmo2", "olmo2": "olmo2", "afmoe": "afmoe",
    "smallthinker": "smallthinker", "plamo3": "plamo3"}
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
TENSOR_ALIGNMENT = 32  # ggml/src/ggml-impl.h: every tensor in a CPU buffer starts on 32 B
F32, F16, I32, I64 = 4, 2, 4, 8  # bytes of the graph's element types
MIB = 1024 * 1024

# What a Python process running llama-cpp-python holds besides llama.cpp's buffers, measured by
# bench/bench_llamacpp.py (RSS after `import llama_cpp`: interpreter, numpy, libllama/libggml).
LLAMA_CPP_PYTHON_BASE_BYTES = 40 * MIB
# Heap llama.cpp keeps per vocabulary entry once a model is loaded: the GGUF tokenizer arrays plus
# llama_vocab's token_data and token_to_id map (llama-vocab.cpp). Measured: +42.0 MiB anonymous memory
# loading Gemma 3 270M (262,144 tokens) = 168 B per token.
VOCAB_BYTES_PER_TOKEN = 168

# ggml-cpu/repack.cpp, ggml_repack_get_optimal_repack_type: the types each instruction set repacks, and
# the row count (ggml ne[1]) they must divide. AMX (ggml-cpu/amx) has its own layout and is not modelled.
CPU_REPACK_RULES: dict[str, dict[DType, int]] = {
    "none": {},
    "x86-avx2": {DType.Q4_0: 8, DType.Q4_K: 8, DType.IQ4_NL: 8, DType.MXFP4: 8},
    "x86-avx512": {DType.Q4_0: 8, DType.Q4_K: 8, DType.IQ4_NL: 8, DType.MXFP4: 8, DType.Q2_K: 8},
    "arm-i8mm": {DType.Q4_0: 4, DType.Q4_K: 8, DType.Q5_K: 8, DType.Q6_K: 8, DType.IQ4_NL: 4,
                 DType.MXFP4: 4, DType.Q8_0: 4, DType.Q1_0: 4},
}


@record
class LlamaCppParams:
    """Context parameters after llama_context's constructor has resolved and padded them."""

    n_ctx: int  # padded to 256, and to a multiple of n_seq when each sequence has its own stream
    n_ctx_seq: int  # cells per stream in full-attention layers
    n_seq: int
    n_streams: int  # 1 with a unified cache, else n_seq
    n_batch: int
    n_ubatch: int
    swa_cells: int  # cells per stream in sliding-window layers
    swa_full: bool
    kv_unified: bool
    flash_attn: bool
    n_tokens: int = 0  # tokens of the reserved graph: n_ubatch rounded up to a multiple of n_seq
    legacy: bool = False  # a build of mid-2025 or earlier (BUILDS)
    # the graph allocates an embeddings input beside the token ids whatever the batch holds (see
    # compute_buffer); builds before PR 13194 (May 2025) made one of the two
    embd_input: bool = True
    # rows of logits in the reserved prompt graph: n_ubatch, or fewer where the context's n_outputs_max says
    # so (``resolve_params``); 0: n_ubatch
    n_outputs: int = 0


@record
class ComputeBuffer:
    """The worst-case graph's buffer (see ``compute_buffer``): ggml-alloc replayed on llama.cpp's graph
    (``graph_bytes``) where paramscope builds that graph, else the larger of the two per-phase peaks."""

    logits_phase: int
    attention_phase: int
    explain: tuple[str, ...]
    graph_bytes: int | None = None
    ffn_phase: int = 0  # the FFN's gate and up, held together (``compute_buffer``)

    @property
    def total_bytes(self) -> int:
        if self.graph_bytes is not None:
            return self.graph_bytes
        return max(self.logits_phase, self.attention_phase, self.ffn_phase)


@record
class LlamaCppMemory:
    """llama.cpp's buffers as it prints them: model, KV cache, output and compute."""

    params: LlamaCppParams
    tensor_bytes: int  # all weights
    repacked_bytes: int  # weights copied into CPU_REPACK
    use_mmap: bool
    kv: KVCache
    compute: ComputeBuffer
    output_bytes: int
    overhead_bytes: int  # process and vocabulary, outside llama.cpp's buffers
    explain: tuple[str, ...]

    @property
    def model_buffer_bytes(self) -> int:
        """What llama.cpp prints as the CPU / CPU_Mapped model buffer (mapped: the whole span)."""
        return self.tensor_bytes if self.use_mmap else self.tensor_bytes - self.repacked_bytes

    @property
    def weights_bytes(self) -> int:
        """Resident weights: the model buffer plus the repacked copies."""
        return self.model_buffer_bytes + self.repacked_bytes

    @property
    def kv_cache_bytes(self) -> int:
        return self.kv.total_bytes

    @property
    def compute_bytes(self) -> int:
        return self.compute.total_bytes

    @property
    def total_bytes(self) -> int:
        return (self.weights_bytes + self.kv_cache_bytes + self.compute_bytes + self.output_bytes
                + self.overhead_bytes)


def pad(x: int, n: int) -> int:
    """GGML_PAD: round ``x`` up to a multiple of ``n``."""
    return (x + n - 1) // n * n


def resolve_params(
    cfg: ArchConfig, *, n_ctx: int, n_seq: int, n_ubatch: int, n_batch: int, swa_full: bool,
    kv_unified: bool, flash_attn: bool | None, build: str = "current", n_outputs_max: int = 0,
) -> LlamaCppParams:
    """llama_context::llama_context and llama_kv_cache_iswa's constructor, in their order.

    ``flash_attn`` None is "auto": on for the current build (the CPU, CUDA, Metal and Vulkan backends
    support it), off for a legacy one, which had no "auto". ``n_outputs_max`` (0: unset) caps the rows of
    logits the reserved prompt graph holds (PR 23861, noted at BUILDS).
    """
    if build not in BUILDS:
        raise UnsupportedError(f"unknown llama.cpp build family {build!r} (known: {', '.join(BUILDS)})")
    if n_outputs_max and build != BUILDS[0]:
        raise UnsupportedError(
            f"n_outputs_max (llama-server's cap on rows of logits, --llama-server-outputs) came with "
            f"llama.cpp PR 23861 in June 2026, in the {BUILDS[0]!r} build family; the {build!r} family "
            f"predates it")
    legacy = build in LEGACY_BUILDS
    # Legacy builds keep one cache of n_ctx cells for all sequences: per-sequence streams came with
    # llama.cpp PR 14363 (July 2025, "llama : add high-throughput mode") and need ggml_set_rows, which
    # those builds did not use (llama-context.cpp then: "non-unified KV cache requires ggml_set_rows() -
    # forcing unified KV cache"). Ollama's Feb 2025 runner, 4 sequences in n_ctx 8192: kv_size = 8192
    kv_unified = kv_unified or legacy
    fa = (not legacy) if flash_attn is None else flash_attn
    kv_pad = LEGACY_KV_PAD_NO_FA if legacy and not fa else KV_PAD
    if n_seq < 1 or n_ubatch < 1 or n_batch < 1 or n_ctx < 0:
        raise UnsupportedError(
            f"llama.cpp needs n_seq, n_batch, n_ubatch ≥ 1 and n_ctx ≥ 0 "
            f"(found n_seq {n_seq}, n_batch {n_batch}, n_ubatch {n_ubatch}, n_ctx {n_ctx})")
    ctx = n_ctx or cfg.context_length  # n_ctx 0 = the training context
    batch = min(ctx, n_batch)  # causal attention: a batch never exceeds the (unpadded) context
    ubatch = min(batch, n_ubatch)
    ctx = pad(ctx, kv_pad)
    ctx_seq = ctx if kv_unified else pad(ctx // n_seq, kv_pad)
    streams = 1 if kv_unified else n_seq
    # llama-kv-cache-iswa.cpp: the window of every sequence sharing the stream, plus one ubatch
    window = cfg.sliding_window * (n_seq if kv_unified else 1) + ubatch
    swa = ctx_seq if swa_full or build == "legacy-no-swa" else pad(min(ctx_seq, window), kv_pad)
    # llama_context::graph_reserve: the reserve ubatch gives every one of the n_seq_max sequences as many
    # tokens, so the worst-case graph rounds n_ubatch up to a multiple of n_seq (512 tokens over 3
    # sequences: 513), unified cache or not; n_outputs stays n_ubatch
    tokens = pad(ubatch, n_seq)
    if n_outputs_max < 0:
        raise UnsupportedError(f"llama.cpp n_outputs_max must be ≥ 0 (found {n_outputs_max})")
    outputs = min(ubatch, max(n_outputs_max, n_seq)) if n_outputs_max else ubatch
    return LlamaCppParams(ctx_seq * streams, ctx_seq, n_seq, streams, batch, ubatch, swa, swa_full,
                          kv_unified, fa, tokens, legacy, embd_input=build != "legacy-no-swa",
                          n_outputs=outputs)


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


def as_pre_mla_gguf(cfg: ArchConfig) -> ArchConfig:
    """The model as a GGUF converted without the MLA keys describes it (llama.cpp then runs it as MHA)."""
    return replace(cfg, extra={**cfg.extra, "mla_latent_cache": False}) if cfg.is_mla else cfg


def as_llamacpp_loads(cfg: ArchConfig) -> ArchConfig:
    """The architecture as llama.cpp builds it: sliding-window layers attend over the whole cache where
    llama.cpp's architecture has no SWA (``has_swa``), and an MLA model whose GGUF lacks the MLA keys is
    plain multi-head attention (``caches_mla_latent``: n_head K heads of qk_nope + qk_rope and V heads of
    v_head_dim, as the converter wrote head_count_kv = num_key_value_heads = n_head)."""
    if (cfg.sliding_window or "sliding" in cfg.layer_types) and not has_swa(cfg):
        cfg = replace(cfg, sliding_window=0, layer_types=tuple("full" if kind == "sliding" else kind
                                                               for kind in cfg.layer_types))
    if cfg.is_mla and not caches_mla_latent(cfg):
        cfg = replace(cfg, kv_lora_rank=0, n_kv_heads=cfg.n_heads)
    return cfg


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
    allocated = [layer for layer in layers if layer is not None]
    if not pad or p.legacy or p.flash_attn or not allocated:
        return tuple(layers)  # a KV-less layer's tensors hold 0 bytes: left out
    if allocates_zero_kv_layers(cfg):
        layers = [LayerCache("full", 0, 0) if layer is None else layer for layer in layers]
    v_max = max(layer.v_width for layer in allocated)
    return tuple(None if layer is None else replace(layer, v_width=v_max) for layer in layers)


def v_padded(cfg: ArchConfig, p: LlamaCppParams) -> int:
    """The V width every layer takes where llama.cpp pads it (``llamacpp_layers``); 0 where that changes
    no layer."""
    if p.legacy or p.flash_attn:
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
    return kv if p.n_seq == p.n_streams else with_changed_parts(kv, "linear", streams=p.n_seq)


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
    """Head dims as llama.cpp's cache sees them: MLA caches one head of kv_lora_rank + n_rot, no V."""
    if cfg.is_mla:
        return cfg.kv_lora_rank + cfg.rope_head_dim, 0
    return cfg.head_dim_k, cfg.head_dim_v


def rotation_bytes(dtype: DType, head_dim: int, largest: bool) -> int:
    """Hadamard matrix fed to the graph for a quantized cache (llama-kv-cache.cpp, build_input_k_rot).

    K: the largest power of two ≥ 64 dividing the head dim (256 for Gemma 3); V: 64. f32, n × n.
    """
    if not dtype.info.quantized or head_dim == 0 or head_dim % 64:
        return 0
    n = 64
    while largest and head_dim % (n * 2) == 0:
        n *= 2
    return n * n * F32


def compute_buffer(cfg: ArchConfig, p: LlamaCppParams, kv: KVCache, type_k: DType = DType.F16,
                   type_v: DType = DType.F16, backend: str = "cpu", replay: bool = True) -> ComputeBuffer:
    """The graph buffer of the worst-case ubatch (sched_reserve: n_ubatch tokens, every token an output).

    For a current build of the architectures llamacpp_graph rebuilds (llama, qwen2, qwen3, qwen3moe,
    gemma3, phi3, gpt-oss): ggml-alloc replayed on that graph (ggml_graph.reserve), which is the byte
    count llama.cpp prints. Otherwise (other architectures, legacy builds, or ``replay`` False) the
    per-phase estimate below, whose two phases are also reported.

    ``backend`` "gpu": a GPU backend takes part in the graph (all layers offloaded, or CPU weights with
    the GPU running the big batches), and the buffer llama.cpp prints lacks the ``inp_embd`` input, the
    n_embd x n_tokens x 4 B that the graph holds for embeddings given instead of tokens and that nothing
    consumes otherwise: ggml_backend_sched places graph inputs on the CPU backend and a GPU only receives
    copies of those its ops read. Exact on a CUDA log (Qwen3-4B, DGX Spark, 2026), on Gemma 3 1B and 4B on
    Metal (build 8185) and on a CPU buffer with Metal offload (Llama 3.2 1B, iPhone): each printed one
    such tensor less than the CPU replay, which is exact on the CPU alone (llama-cpp-python 0.3.36).

    The estimate: ggml-alloc's high-water mark is the larger of two moments:

    - the output matmul: the logits (n_outputs × n_vocab × 4 B), the last layer's hidden state for every
      token of the graph, the rows inp_out_ids selects from it (n_outputs × n_embd × 4 B each) and
      inp_out_ids itself (n_outputs × 4 B); n_outputs is n_ubatch, the graph's tokens n_ubatch rounded up
      to a multiple of n_seq (``resolve_params``);
    - inside an attention layer, while the masks (inputs live until the last layer uses them) are
      held: KQ without flash attention (n_kv × n_ubatch × n_head × 4 B; the softmax runs in place),
      the masks (f32, or f16 with flash attention: n_kv × n_ubatch per cache), the Hadamard matrices of
      a quantized cache, and activations per token. Those per-token activations are fitted on
      Gemma 3 270M (exact there from n_ubatch 64 to 2048 and n_ctx 768 to 1M) and named after the graph
      tensors they match; other architectures: an estimate;
    - inside the FFN: its gate and up outputs, f32, both held until the GLU multiplies them (llama.cpp's
      build_ffn / build_moe_ffn: ``ggml_mul(silu(gate), up)`` or one swiglu of the two; for a mixture of
      experts each is [n_ff_exp, n_expert_used, n_tokens], the experts a token is routed to): n_tokens ×
      2 × the widest MLP × 4 B, a lower bound of that moment (with flash attention the attention phase
      above already counts them). Mixtral 8x7B at n_ubatch 512: 2 × 14336 × 2 × 512 × 4 B = 112 MiB,
      where the attention and logits phases give 73; build 2688 on Metal printed 115.5.
    """
    out, t = p.n_outputs or p.n_ubatch, p.n_tokens or p.n_ubatch
    on_gpu = backend == "gpu"
    # an encoder-only embedding model (BERT: every layer "none", no cache) has no LM head: its graph ends
    # in the pooled or per-token embeddings, no logits (llm_build_bert: no build_lora_mm(model.output, …))
    encoder = encoder_only(cfg)
    logits = 0 if encoder else out * cfg.vocab_size * F32
    # the CPU graph also holds inp_embd (t x n_embd), the GPU's does not (see above); builds before May
    # 2025 made it only for a batch of embeddings (llm_build_inp_embd: the token ids, or the embeddings):
    # Pythia 1.4B on an arm64 CPU, build 4775, printed 102.25 MiB, the logits and the last hidden state,
    # as its Metal run of the same command (ggml-org/ci)
    embd = t if p.embd_input and not on_gpu else 0
    logits_rest = (embd + out) * cfg.hidden_size * F32 + out * I32
    # one mask, one set of index and rotation inputs per cache (full, sliding), however many head counts
    # its layers have (llama-kv-cache.cpp build_input_*: one input of the cache for all its layers)
    caches = {part.kind: part.cells for part in kv.parts if part.kind in ATTENTION_KINDS}
    mask_elt = F16 if p.flash_attn else F32
    masks = sum(cells * t * mask_elt for cells in caches.values())
    # without flash attention the scores: over the cache's cells, or an encoder's over its own tokens
    kv_len = t if encoder else max(caches.values(), default=0)
    kq = 0 if p.flash_attn else kv_len * t * cfg.n_heads * F32
    head_k, head_v = cache_head_dims(cfg)
    rot = len(caches) * (rotation_bytes(type_k, head_k, True) + rotation_bytes(type_v, head_v, False))
    per_token = _attention_token_bytes(cfg, p, len(caches))
    attention = kq + masks + rot + t * per_token
    ffn_width = routed_ffn_width(cfg)
    ffn = t * 2 * ffn_width * F32
    hidden_rows = f"({t} + {out})" if embd else f"{out}"
    explain = (
        f"logits phase: {out} × {cfg.vocab_size} × 4 B logits + {hidden_rows} × {cfg.hidden_size} × 4 B "
        f"+ {out} × 4 B = {logits + logits_rest:,} B",
        f"attention phase: KQ {kq:,} B + masks {masks:,} B + rotations {rot:,} B "
        f"+ {t} × {per_token:,} B activations = {attention:,} B",
        f"FFN phase: gate and up, {t} × 2 × {ffn_width} × 4 B = {ffn:,} B",
    )
    if backend not in ("cpu", "gpu"):
        raise UnsupportedError(f"unknown llama.cpp backend kind {backend!r} (known: cpu, gpu)")
    if p.legacy or not replay or not has_graph(cfg):
        return ComputeBuffer(logits + logits_rest, attention, explain, ffn_phase=ffn)
    graph_bytes, n_nodes = compute_buffer_bytes(
        cfg, n_ubatch=p.n_ubatch, n_outputs=out, n_tokens=t, n_seqs=p.n_seq, n_streams=p.n_streams,
        kv_unified=p.kv_unified, flash_attn=p.flash_attn,
        cells={"full": p.n_ctx_seq, "sliding": p.swa_cells}, type_k=type_k, type_v=type_v, on_gpu=on_gpu)
    where = ", a GPU backend's buffer: no inp_embd" if on_gpu else ""
    graph_line = (f"ggml-alloc on llama.cpp's {graph_arch(cfg)} graph ({n_nodes} nodes, {t} tokens, "
                  f"{out} outputs{where}): {graph_bytes:,} B; the per-phase estimate, for comparison:")
    return ComputeBuffer(logits + logits_rest, attention, (graph_line, *explain), graph_bytes, ffn)


def _attention_token_bytes(cfg: ArchConfig, p: LlamaCppParams, n_caches: int) -> int:
    """Per-token bytes live beside the masks (fitted, see ``compute_buffer``)."""
    q = cfg.n_heads * cfg.head_dim_k * F32  # one query-sized f32 tensor per token
    kqv = cfg.n_heads * cfg.head_dim_v * F32  # attention output
    hidden = 3 * cfg.hidden_size * F32  # residual stream, normed input, attention output projected
    inputs = 3 * I32  # inp_tokens, inp_pos, inp_out_ids
    _, v_width = cache_widths(cfg)
    # legacy builds copy K and V into the cache with ggml_cpy: no index inputs
    k_idxs, v_idxs = (0, 0) if p.legacy else (I64, (I64 if p.flash_attn else v_width * I64))
    if p.flash_attn:
        # Q twice (rope output and the contiguous copy flash attention reads), k_idxs and v_idxs
        # (one i64 per token each, per cache), and the FFN's gate and up, live at the same time
        # (for a mixture of experts: the gate and up of the k experts a token is routed to, ffn_moe_gate/up
        # [n_ff_exp, n_expert_used, n_tokens])
        ffn = routed_ffn_width(cfg)
        return 2 * q + kqv + hidden + inputs + n_caches * (k_idxs + v_idxs) + 2 * ffn * F32
    # without flash attention V is stored transposed: v_idxs holds one i64 per value written
    return q + kqv + hidden + inputs + n_caches * (k_idxs + v_idxs)


def output_buffer(cfg: ArchConfig, n_seq: int, n_outputs: int, embeddings: bool) -> int:
    """llama_context::output_reserve: n_vocab floats (+ n_embd with embeddings) per output row.

    The context reserves n_seq rows; a decode asking for more outputs grows it (at most n_batch rows).
    """
    row = cfg.vocab_size + (cfg.hidden_size if embeddings else 0)
    return max(n_outputs, n_seq) * row * F32


def cpu_repack_bytes(tensors: Iterable[Tensor], isa: str = "x86-avx2") -> int:
    """Bytes llama.cpp's CPU backend copies into CPU_REPACK: matrices multiplied by activations
    (2-D weights, 3-D expert stacks; not the token embedding, which is only gathered from)."""
    try:
        rules = CPU_REPACK_RULES[isa]
    except KeyError:
        raise UnsupportedError(f"unknown CPU instruction set {isa!r} (known: "
                               f"{', '.join(CPU_REPACK_RULES)})") from None
    from paramscope.knowledge.roles import place  # see _split

    def repacked(t: Tensor) -> bool:
        rows = rules.get(t.dtype)
        if rows is None or len(t.shape) not in (2, 3):
            return False
        return place(t.name).component != "embedding" and t.shape[-2] % rows == 0

    return sum(pad(t.nbytes, TENSOR_ALIGNMENT) for t in tensors if repacked(t))


def llamacpp_memory(
    cfg: ArchConfig,
    tensor_bytes: int,
    *,
    n_ctx: int,
    n_seq: int = 1,
    n_ubatch: int = 512,
    n_batch: int = 2048,
    swa_full: bool = False,
    kv_unified: bool = False,
    type_k: DType = DType.F16,
    type_v: DType = DType.F16,
    flash_attn: bool | None = None,
    repacked_bytes: int = 0,
    use_mmap: bool = True,
    n_outputs: int | None = None,
    embeddings: bool = False,
    runtime_base_bytes: int = LLAMA_CPP_PYTHON_BASE_BYTES,
    build: str = "current",
    backend: str = "cpu",
    encoder_length: int | None = None,
    n_outputs_max: int = 0,
) -> LlamaCppMemory:
    """Every buffer of a llama.cpp context on one device (CPU, or all layers on one GPU).

    ``flash_attn`` None is llama.cpp's "auto", which the CPU, CUDA, Metal and Vulkan backends resolve to
    on (a "legacy" ``build``: off). ``n_outputs`` rows of logits (default: one per sequence, what the
    context reserves up front). ``backend`` "cpu" or "gpu": whether a GPU backend takes part in the
    graph (``compute_buffer``). ``n_outputs_max``: the context's cap on the rows of logits its prompt graph
    reserves (PR 23861, noted at BUILDS; llama-server sets its -np; 0: unset, n_ubatch rows).
    """
    cfg = as_llamacpp_loads(cfg)
    p = resolve_params(cfg, n_ctx=n_ctx, n_seq=n_seq, n_ubatch=n_ubatch, n_batch=n_batch,
                       swa_full=swa_full, kv_unified=kv_unified, flash_attn=flash_attn, build=build,
                       n_outputs_max=n_outputs_max)
    check_cache_types(cfg, type_k, type_v, p.flash_attn)
    kv = llamacpp_kv_cache(cfg, p, type_k, type_v)
    compute = compute_buffer(cfg, p, kv, type_k, type_v, backend)
    rows = max(n_outputs or n_seq, n_seq)
    output = output_buffer(cfg, n_seq, rows, embeddings)
    overhead = runtime_base_bytes + VOCAB_BYTES_PER_TOKEN * cfg.vocab_size
    encoder = encoder_output_bytes(cfg, p, encoder_length)
    explain = _explain(cfg, p, tensor_bytes, repacked_bytes, kv, compute, (rows, output), overhead)
    if encoder:
        overhead += encoder
        n_enc = encoder_cells(cfg, p.n_ctx_seq, encoder_length)
        explain += (f"encoder output (host, in the overhead): {n_seq} seqs × {n_enc} positions × "
                    f"{encoder_width(cfg)} × 4 B = {encoder:,} B",
                    "cross-attention K/V: not cached (recomputed from the encoder output each step)")
    return LlamaCppMemory(p, tensor_bytes, repacked_bytes, use_mmap, kv, compute, output, overhead,
                          explain)


def _explain(cfg: ArchConfig, p: LlamaCppParams, tensor_bytes: int, repacked: int, kv: KVCache,
             compute: ComputeBuffer, output: tuple[int, int], overhead: int) -> tuple[str, ...]:
    kinds = layer_kinds(cfg)
    seqs = f" × {p.n_seq}" if p.kv_unified else ""
    window = (f"{p.n_ctx_seq} (swa_full)" if p.swa_full else
              f"GGML_PAD(min({p.n_ctx_seq}, {cfg.sliding_window}{seqs} + {p.n_ubatch}), 256) = {p.swa_cells}")
    lines = [
        f"n_ctx = GGML_PAD(n_ctx, {LEGACY_KV_PAD_NO_FA if p.legacy and not p.flash_attn else KV_PAD}) = "
        f"{p.n_ctx}; {p.n_streams} stream(s) of {p.n_ctx_seq} cells; "
        f"n_batch {p.n_batch}, n_ubatch {p.n_ubatch}, flash attention {'on' if p.flash_attn else 'off'}",
        f"weights: {tensor_bytes:,} B" + (f" + {repacked:,} B repacked copies" if repacked else ""),
    ]
    if "sliding" in kinds:
        lines.append(f"sliding-window cells per stream: {window}")
    padded = v_padded(cfg, p)
    if padded:
        lines.append(f"KV: layers differ in width and flash attention is off: every layer's V is padded "
                     f"to the widest, {padded} values (llama-kv-cache.cpp, TAG_V_CACHE_VARIABLE)")
    lines += [f"KV {line}" for line in kv.explain]
    lines += [f"compute {line}" for line in compute.explain]
    rows, output_bytes = output
    lines.append(f"output: {rows} rows × {output_bytes // rows // F32} × 4 B = {output_bytes:,} B")
    lines.append(f"overhead: runtime base + {VOCAB_BYTES_PER_TOKEN} B × {cfg.vocab_size} vocab = "
                 f"{overhead:,} B")
    return tuple(lines)


@record
class Offload:
    """Where llama.cpp puts each layer with ``-ngl`` (llama-model.cpp, load_tensors; ``gpu_layer_start``):
    layers il ≥ i_gpu_start on the GPU, the output layer first (current builds) or only when n_gpu_layers >
    n_layer (OUTPUT_LAST_BUILDS), the input layer (token embedding) always in host memory. Tied embeddings
    offloaded: the output matrix is a GPU copy of the embedding the host keeps for the lookup."""

    n_gpu_layers: int  # as given, capped at n_layer + 1 ("offloaded N/n_layer+1 layers to GPU")
    i_gpu_start: int
    output_on_gpu: bool
    host_weights_bytes: int
    duplicate_bytes: int
    host_kv_bytes: int  # the host layers' cache, a hybrid's recurrent state included
    output_matrix_bytes: int = 0  # the output matmul's weight (the token embedding when tied), as priced
    # the recurrent state in host_kv_bytes: llama_memory_recurrent's own buffer ("RS buffer size"), beside
    # the attention layers' "KV buffer size"
    host_state_bytes: int = 0


def gpu_layer_start(n_layer: int, n_gpu_layers: int | None, build: str = "current") -> tuple[int, int, bool]:
    """(-ngl capped at n_layer + 1, i_gpu_start, whether the output layer is on the GPU): BUILDS notes."""
    ngl = n_layer + 1 if n_gpu_layers is None else min(max(n_gpu_layers, 0), n_layer + 1)
    if build in OUTPUT_LAST_BUILDS:
        return ngl, max(n_layer - ngl, 0), ngl > n_layer
    return ngl, max(n_layer + 1 - ngl, 0), ngl >= 1


# ggml_backend_sched hands an op whose weight sits in host memory to a GPU backend that asks for it
# (ggml-backend.cpp ggml_backend_sched_backend_id_from_cur, cause "1.off"; the backend's offload_op): CUDA
# and HIP (ggml_backend_cuda_device_offload_op), Vulkan and SYCL take matrix products of at least 32 rows
# and copy the weight into their compute buffer for it. With the output layer in host memory (-ngl ≤
# n_layer) the GPU's graph so still ends in the logits, the output matrix copied beside them: Pythia 2.8B
# at -ngl 10 on a V100 (ggml-org/ci, build 4775) printed 203.99 MiB = the q6_K output matrix 105,638,400
# + the logits 512 × 50304 × 4 + the last hidden state 512 × 2560 × 4 B, with and without flash attention.
# Metal and OpenCL ask for none (their offload_op is false).
OP_OFFLOAD_MIN_BATCH = 32


def gpu_compute_with_host_output(compute: ComputeBuffer, split: Offload, n_ubatch: int,
                                 offloads_ops: bool = True) -> tuple[int, str]:
    """The GPU's compute buffer with the output layer left in host memory, and a line saying why.

    Ops offloaded (``offloads_ops``, n_ubatch ≥ 32): the whole graph's peak or the output matmul with its
    weight copied in, whichever is larger. Otherwise the GPU's graph stops before the logits: the larger
    of the attention and FFN phases (an estimate of the layers' peak where the graph is replayed)."""
    if offloads_ops and n_ubatch >= OP_OFFLOAD_MIN_BATCH:
        output = compute.logits_phase + split.output_matrix_bytes
        return max(compute.total_bytes, output), (
            f"the output layer stays in host memory, but the GPU backend runs its {n_ubatch}-row product "
            f"(op offload, at least {OP_OFFLOAD_MIN_BATCH} rows) with the matrix copied in: logits phase "
            f"{compute.logits_phase:,} + {split.output_matrix_bytes:,} B = {output:,} B")
    layers = max(compute.attention_phase, compute.ffn_phase)
    return layers, (f"the output layer stays in host memory and the GPU's graph stops before the logits: "
                    f"the larger of the attention and FFN phases, {layers:,} B")


@record
class _LayerSplit:
    """A model's stored bytes by where llama.cpp's loader puts them: the token embedding, each layer, and
    the rest outside the layers (output matrix, final norm)."""

    stored: int
    embedding: int
    by_layer: dict[int, int]
    outside: int
    has_output: bool


# offload() is asked dozens of times for one model while only -ngl, context or batch change; placing
# DeepSeek-V3's 90k tensors takes ~0.1 s a time.
_SPLIT_MEMO: ModelMemo[_LayerSplit] = ModelMemo(8)


def _layer_split(model: Model) -> _LayerSplit:
    return _SPLIT_MEMO.get(model, None, lambda: _split(model))


def _split(model: Model) -> _LayerSplit:
    # imported here: only a model with weights, or one offloaded to a GPU, needs its tensors placed, and
    # the roles table (with its dataclass) would otherwise load on every `size` of a catalogue name
    from paramscope.knowledge.roles import place

    # bytes by placement first: place() shares one record per (component, role, layer), so DeepSeek-V3's
    # 90k tensors sum into ~1.5k placements (keyed by identity: a record hashes its fields in Python),
    # and only those are read
    by_place: dict[int, list] = {}
    for t in model.tensors:
        where = place(t.name)
        acc = by_place.get(id(where))
        if acc is None:
            by_place[id(where)] = [where, t.nbytes]
        else:
            acc[1] += t.nbytes
    embedding = outside = stored = 0
    by_layer: dict[int, int] = {}
    has_output = False
    for where, nbytes in by_place.values():
        stored += nbytes
        has_output |= where.component == "output"
        if where.component == "embedding" and where.layer is None:
            embedding += nbytes
        elif where.layer is not None:
            by_layer[where.layer] = by_layer.get(where.layer, 0) + nbytes
        else:
            outside += nbytes
    return _LayerSplit(stored, embedding, by_layer, outside, has_output)


def output_matrix_bytes(model: Model, scheme: str) -> int:
    """The output matmul's weight at a re-pricing scheme, which gives it a type of its own (llama.cpp's
    quantize keeps output.weight at Q6_K for most file types, Q5_K for the IQ2/IQ1 ones): the output
    component's rows, or the token embedding's where the two are tied."""
    from paramscope.analyses.sizing.weights import reprice  # only for a partial offload at a scheme

    rows = reprice(model, scheme).rows
    output = sum(r.bytes for r in rows if r.component == "output")
    return output or sum(r.bytes for r in rows if r.component == "embedding" and r.layer is None)


def offload(model: Model, cfg: ArchConfig, weights_bytes: int, kv: KVCache, n_gpu_layers: int | None,
            scheme: str | None = None, build: str = "current") -> Offload:
    """The split of the weights (as ``weights_bytes`` prices them) and of the KV cache; ``scheme``, the
    re-pricing ``weights_bytes`` follows, prices the output matrix at its own type."""
    cfg = as_llamacpp_loads(cfg)
    n_layer = cfg.n_layers
    ngl, start, output_on_gpu = gpu_layer_start(n_layer, n_gpu_layers, build)
    split = _layer_split(model)
    stored = split.stored or 1
    embedding = split.embedding
    has_output = split.has_output
    host = embedding + sum(b for il, b in split.by_layer.items() if il < start)
    if not output_on_gpu:
        host += split.outside  # output matrix and final norm
    duplicate = embedding if output_on_gpu and not has_output and cfg.tied_embeddings else 0
    # the output matmul's weight: the output matrix (with the final norm, a rounding error) or, tied, the
    # token embedding
    output_matrix = split.outside if has_output else embedding
    scale = weights_bytes / stored  # re-priced weights: the same split
    # each layer's cache sits with its layer (llama-kv-cache.cpp: buft = dev_layer(il)): the parts name
    # their layers, each at its own width; parts that do not (a recurrent state) go by layer kind
    kinds = cfg.layer_types or ("full",) * n_layer
    host_kv = sum(part.layer_bytes * sum(il < start for il in part.layer_ids) for part in kv.parts)
    per_kind = {part.kind: part.layer_bytes for part in kv.parts if part.layers and not part.layer_ids}
    state = sum(per_kind.get(kinds[il], 0) for il in range(min(start, len(kinds))))
    output_bytes = (output_matrix_bytes(model, scheme) if scheme is not None and not output_on_gpu
                    else round(output_matrix * scale))
    return Offload(ngl, start, output_on_gpu, round(host * scale), round(duplicate * scale), host_kv + state,
                   output_bytes, host_state_bytes=state)


# --- several GPUs (--split-mode, --tensor-split) -------------------------------------------------
# llama-model.cpp load_tensors: the split points are the prefix sums of --tensor-split (by default each
# device's free memory: identical GPUs, equal shares), normalised, in float; layer il (the output layer is
# il = n_layer) of the offloaded ones goes to the device
# ``upper_bound(splits, float(il − i_gpu_start) / act_gpu_layers)``. --split-mode layer (the default)
# uses that; none and row put every offloaded layer on the main GPU (-mg, device 0 here), row splitting
# each matrix's rows over the devices by the same fractions (the split buffer type), with the KV cache
# and the intermediate results on the main GPU. Each layer's cache sits with its layer (llama-kv-cache.cpp:
# buft = dev_layer(il)); each device that runs part of the graph has a compute buffer of its own.
SPLIT_MODES = ("layer", "none", "row")


def parse_tensor_split(text: str) -> tuple[float, ...] | None:
    """--tensor-split as llama.cpp's common/arg.cpp reads it: proportions, comma- or slash-separated."""
    if not text.strip():
        return None
    try:
        values = tuple(float(x) for x in text.replace("/", ",").split(","))
    except ValueError:
        raise UnsupportedError(f"llama.cpp: invalid --tensor-split {text!r} (proportions, e.g. 3,1)"
                               ) from None
    if any(v < 0 for v in values) or not any(values):
        raise UnsupportedError(f"llama.cpp: --tensor-split {text!r} needs non-negative proportions, "
                               f"one > 0")
    return values


def layer_devices(n_layer: int, n_devices: int, n_gpu_layers: int | None = None,
                  tensor_split: tuple[float, ...] | None = None, split_mode: str = "layer",
                  build: str = "current") -> tuple[int, ...]:
    """The device of each layer 0..n_layer − 1 and of the output layer (the last entry); −1: the host."""
    import numpy as np

    if split_mode not in SPLIT_MODES:
        raise UnsupportedError(f"llama.cpp: unknown --split-mode {split_mode!r} "
                               f"(known: {', '.join(SPLIT_MODES)})")
    if tensor_split is not None and len(tensor_split) > n_devices:
        raise UnsupportedError(f"llama.cpp: --tensor-split gives {len(tensor_split)} proportions for "
                               f"{n_devices} GPUs")
    ngl, start, _ = gpu_layer_start(n_layer, n_gpu_layers, build)
    shares = np.zeros(n_devices, np.float32)
    given = tensor_split or (1.0,) * n_devices
    shares[:len(given)] = given
    splits = np.cumsum(shares, dtype=np.float32)
    splits = (splits / splits[-1]).astype(np.float32)
    out = []
    for il in range(n_layer + 1):
        if il < start or il - start >= ngl:
            out.append(-1)
        elif split_mode != "layer":
            out.append(0)
        else:
            x = np.float32(il - start) / np.float32(ngl)
            out.append(min(int(np.searchsorted(splits, x, side="right")), n_devices - 1))
    return tuple(out)


@record
class DeviceSplit:
    """Each device's share under a multi-GPU split: weights, KV cache, and whether it runs a graph part."""

    layers: tuple[int, ...]  # layer_devices
    weights: tuple[int, ...]
    kv: tuple[int, ...]
    computes: tuple[bool, ...]


def device_split(model: Model, cfg: ArchConfig, weights_bytes: int, kv: KVCache, n_devices: int,
                 n_gpu_layers: int | None, tensor_split: tuple[float, ...] | None, split_mode: str,
                 build: str = "current") -> DeviceSplit:
    """The weights (as ``weights_bytes`` prices them) and KV cache on each device (``layer_devices``);
    the host's share (input embedding, layers not offloaded) is ``offload``'s."""
    cfg = as_llamacpp_loads(cfg)
    n_layer = cfg.n_layers
    where = layer_devices(n_layer, n_devices, n_gpu_layers, tensor_split, split_mode, build)
    split = _layer_split(model)
    scale = weights_bytes / (split.stored or 1)
    raw = [0.0] * n_devices
    for il, nbytes in split.by_layer.items():
        if il < n_layer and where[il] >= 0:
            raw[where[il]] += nbytes
    if where[n_layer] >= 0:
        output = split.outside
        if not split.has_output and cfg.tied_embeddings:
            output += split.embedding  # the GPU copy of a tied embedding (``offload``'s duplicate)
        raw[where[n_layer]] += output
    if split_mode == "row":  # the matrices' rows over the devices by the same fractions
        shares = tensor_split or (1.0,) * n_devices
        total = sum(shares)
        on_gpu = sum(raw)
        raw = [on_gpu * (shares[d] if d < len(shares) else 0) / total for d in range(n_devices)]
    kinds = cfg.layer_types or ("full",) * n_layer
    per_kind = {part.kind: part.layer_bytes for part in kv.parts if part.layers and not part.layer_ids}
    kv_dev = [0] * n_devices
    for part in kv.parts:
        for il in part.layer_ids:
            if where[il] >= 0:
                kv_dev[where[il]] += part.layer_bytes
    for il in range(min(n_layer, len(kinds))):
        if where[il] >= 0:
            kv_dev[where[il]] += per_kind.get(kinds[il], 0)
    computes = tuple(d in where for d in range(n_devices))
    return DeviceSplit(where, tuple(round(b * scale) for b in raw), tuple(kv_dev), computes)


# --- the adapter memory.estimate calls (runtimes.RUNTIMES) ----------------------------------------
def parts(model: Model, cfg: ArchConfig, weights_bytes: int, req: MemoryRequest, ctx: int) -> RuntimeParts:
    t = kv_dtype(req.kv_type, DType.F16)
    flash = {"auto": None, "on": True, "off": False}[option(req, "flash_attn")]
    # llama.cpp's n_ctx is shared by all sequences: n_seq sequences of ctx tokens need n_ctx = n_seq × ctx
    on_cpu = req.device is None or req.device.kind == "cpu"
    m = llamacpp_memory(cfg, weights_bytes, n_ctx=ctx * req.batch,
                        n_seq=req.batch, n_ubatch=option(req, "ubatch"),
                        swa_full=option(req, "swa_full"), type_k=t, type_v=t, flash_attn=flash,
                        build=option(req, "llamacpp_build"), encoder_length=req.encoder_length,
                        n_outputs_max=req.batch if option(req, "llama_server_outputs") else 0,
                        runtime_base_bytes=LLAMA_CPP_PYTHON_BASE_BYTES,
                        backend="cpu" if on_cpu else "gpu")
    notes: tuple[str, ...] = ()
    explain = m.explain
    repack = cpu_repack_bytes(model.tensors) if on_cpu and req.weights is None and model.has_weights else 0
    if repack:
        notes = (f"on an x86 CPU with AVX2, llama.cpp copies {repack:,} B of Q4_0/Q4_K/IQ4_NL/MXFP4 "
                 "matrices into a CPU_REPACK buffer for faster kernels: with mmap (the default) that is on "
                 "top of the mapped weights above; with --no-mmap the model buffer shrinks by as much",)
    split = None
    compute_single = m.compute_bytes + m.output_bytes
    if req.device is not None and req.device.kind == "gpu":
        split = offload(model, cfg, weights_bytes, m.kv, option(req, "n_gpu_layers"), req.weights,
                        option(req, "llamacpp_build"))
        if option(req, "no_kv_offload"):  # llama_context_params.offload_kqv = false: every layer's cache
            split = replace(split, host_kv_bytes=m.kv_cache_bytes, host_state_bytes=sum(
                part.total_bytes for part in m.kv.parts if part.kind == "linear"))
        explain = (*explain,
                   f"offload: {split.n_gpu_layers}/{cfg.n_layers + 1} layers on the GPU (layers "
                   f"{split.i_gpu_start}–{cfg.n_layers - 1}{', output' if split.output_on_gpu else ''}); "
                   f"host memory: {split.host_weights_bytes:,} B of weights (input embedding"
                   f"{', layers below ' + str(split.i_gpu_start) if split.i_gpu_start else ''}"
                   f"{'' if split.output_on_gpu else ', output'}) + {split.host_kv_bytes:,} B of KV cache"
                   + (f"; the tied embedding is held twice (+{split.duplicate_bytes:,} B on the GPU)"
                      if split.duplicate_bytes else ""))
        if not split.output_on_gpu:
            gpu_compute, why = gpu_compute_with_host_output(m.compute, split, option(req, "ubatch"))
            compute_single = gpu_compute + m.output_bytes
            explain = (*explain, f"GPU compute: {why}")
        if split.i_gpu_start or not split.output_on_gpu or option(req, "no_kv_offload"):
            notes += (f"-ngl {split.n_gpu_layers}: {split.host_weights_bytes + split.host_kv_bytes:,} B "
                      f"of weights and KV cache stay in host memory; the per-device figures leave them out",)
    shares: tuple[tuple[int, int, int, int], ...] = ()
    mode, fractions = option(req, "split_mode"), parse_tensor_split(option(req, "tensor_split"))
    # asked for by name only: the default view stays the even split of ``estimate`` (fit's device search
    # builds on it; with llama.cpp's own default split the first GPU can hold a layer more than its
    # share, which changes what fits: Mixtral 8x7B in bf16 on four RTX 4090 holds 9 of 33 slots on GPU 0)
    asked = "split_mode" in req.options or "tensor_split" in req.options
    if split is not None and req.n_devices > 1 and asked:
        d = device_split(model, cfg, weights_bytes, m.kv, req.n_devices, option(req, "n_gpu_layers"),
                         fractions, mode, option(req, "llamacpp_build"))
        kv_dev = (0,) * req.n_devices if option(req, "no_kv_offload") else d.kv
        n = req.n_devices
        shares = tuple((d.weights[i], kv_dev[i],
                        (m.compute_bytes if d.computes[i] else 0) + (m.output_bytes if i == 0 else 0),
                        m.overhead_bytes // n + (1 if i < m.overhead_bytes % n else 0)) for i in range(n))
        counts = [sum(1 for w in d.layers[:-1] if w == i) for i in range(n)]
        explain = (*explain,
                   f"--split-mode {mode}"
                   f"{' --tensor-split ' + ','.join(f'{f:g}' for f in fractions) if fractions else ''}: "
                   f"layers per GPU {'+'.join(map(str, counts))}, the output layer on "
                   f"{'the host' if d.layers[-1] < 0 else 'GPU ' + str(d.layers[-1])} (llama-model.cpp "
                   f"load_tensors: upper_bound of the split points); each GPU holding layers has a compute "
                   f"buffer of its own ({m.compute_bytes:,} B, estimated as one GPU's)")
        notes += (f"{n} GPUs, --split-mode {mode}: per GPU its own layers' weights and KV cache "
                  f"({'+'.join(map(str, counts))} layers"
                  f"{'' if fractions else ', equal shares: identical GPUs have the same free memory'}) and "
                  f"a compute buffer each",)
    compute_total = sum(x[2] for x in shares) if shares else compute_single
    return RuntimeParts(m.kv_cache_bytes, compute_total, m.overhead_bytes,
                        t.value.lower(), explain, notes,
                        host_weights_bytes=split.host_weights_bytes if split else 0,
                        host_kv_bytes=split.host_kv_bytes if split else 0,
                        kv_parts=m.kv.by_kind(),
                        duplicate_weights_bytes=split.duplicate_bytes if split else 0,
                        device_shares=shares, split_label=f"--split-mode {mode}" if shares else "",
                        # a row split runs every matrix on all GPUs at once; a layer split (the default)
                        # runs each GPU's layers in turn, one token after the other
                        devices_at_once=0 if mode == "row" else 1)
