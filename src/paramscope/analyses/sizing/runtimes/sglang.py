"""SGLang (`python -m sglang.launch_server`): what each GPU holds, in the order the server sizes it.

Every tensor-parallel rank's ModelRunner (python/sglang/srt/model_executor/model_runner.py) does:

1. ``init_torch_distributed``: the CUDA context and NCCL, then ``min_per_gpu_memory =
   get_available_gpu_memory(...)``, the free memory (after ``torch.cuda.empty_cache()``), the smallest over
   the ranks. SGLang calls it ``total_gpu_memory``.
2. ``load_model``: this rank's weights (and the RoPE cos/sin cache, vLLM's rotary_embedding code).
3. ``init_memory_pool`` → ``profile_max_num_token(total_gpu_memory)``::

       rest_memory = available_gpu_memory - total_gpu_memory * (1 - mem_fraction_static)
       max_num_token = int(rest_memory * (1 << 30) // cell_size)

   with ``available_gpu_memory`` the free memory after loading, and ``cell_size`` one token's K and V
   over all layers of this rank (``get_num_kv_heads(tp) × head_dim × layers × 2 × dtype size``; MLA:
   ``(kv_lora_rank + qk_rope_head_dim) × layers × dtype size``). The token pool is allocated at that size
   and logged as "KV Cache is allocated. #tokens: N, K size: … GB, V size: … GB" (GiB).

So the pool is ``free × mem_fraction_static − weights``: the ``1 − mem_fraction_static`` share of the free
memory is left for activations and CUDA graphs, which SGLang does not profile. Exact: the cell and the
rule; estimated: the CUDA context and NCCL (runtimes/common.py), as for vLLM.

Models whose layers differ take one of three pools (``pool_kind``):

- "mha": one token pool for every layer, a sliding-window layer holding the whole context like a full one
  (MHATokenToKVPool, ``layer_num = num_hidden_layers``): Gemma 2 and 3, Mistral's windows, and the
  hybrid-SWA architectures below under ``--disable-hybrid-swa-memory``. SGLang applies the window in the
  attention kernels only.
- "hybrid-swa" (``ModelConfig.is_hybrid_swa``: configs/model_config.py ``is_hybrid_swa_model``, gpt-oss,
  Llama 4, Gemma 4, MiMo-V2-Flash, Step-3.5; not ``--disable-hybrid-swa-memory``): two pools
  (mem_cache/swa_memory_pool.py SWAKVPool: ``swa_kv_pool`` of ``size_swa`` tokens over the sliding layers,
  then ``full_kv_pool`` of ``size`` tokens over the full ones, each logging its own "KV Cache is
  allocated" line, the sliding one first). ``profile_max_num_token`` sizes ``max_total_num_tokens`` with the
  cell of every layer as above; model_runner_kv_cache_mixin.py ``set_num_tokens_hybrid_swa`` (SGLang 0.5.x;
  model_runner.py ``set_num_token_hybrid`` in 0.4.10–0.5.0) then spreads those layer-tokens over the two::

      total_tokens = max_total_num_tokens × num_hidden_layers
      full_max_total_num_tokens = int(total_tokens / (swa_full_tokens_ratio × swa_layers + full_layers))
      swa_max_total_num_tokens = int(full_max_total_num_tokens × swa_full_tokens_ratio)

  (each rounded down to the page size, 1 by default), ``--swa-full-tokens-ratio`` 0.8 by default; the
  full pool's size is the ``max_total_num_tokens`` the scheduler then reports. PR #18039 (January 2026)
  weighs each kind by its own bytes a token, ``int(tokens × (full_cell + swa_cell) / (full_cell +
  ratio × swa_cell))``, the same where every layer has the same widths (gpt-oss); later builds
  (model_executor/pool_configurator.py HybridSWAPoolConfigurator) size the full pool directly as
  ``rest // (full_cell + ratio × swa_cell)``, the same up to the rounding of one token.
- "mamba" (``ModelRunner.mambaish_config``: Qwen3-Next, Nemotron-H, Falcon-H1, LFM2, Kimi-Linear): the
  token pool holds the full-attention layers only (``profile_max_num_token``: ``num_layers =
  len(mambaish.full_attention_layer_ids)``), and ``handle_max_mamba_cache`` first takes the recurrent
  states' share of ``rest_memory``: with ``--max-mamba-cache-size`` unset (and the radix cache on)
  ``max_mamba_cache_size = int(rest × r / (1 + r) // mamba_cache_per_req)``, ``r =
  --mamba-full-memory-ratio`` (0.9), and the token pool gets ``rest − max_mamba_cache_size ×
  mamba_cache_per_req``. ``mamba_cache_per_req`` (configs/mamba_utils.py Mamba2CacheParams) is, over the
  recurrent layers, the conv state (``conv_dim / tp × (kernel − 1)``, bf16: CONV_DTYPE) plus the SSM
  state (``heads / tp × head_dim × state_size``, ``--mamba-ssm-dtype``, float32 by default). The
  scheduler then runs at most ``max_mamba_cache_size // 3`` requests at once
  (MAMBA_CACHE_SIZE_MAX_RUNNING_REQUESTS_RATIO).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from paramscope.analyses.sizing.kv_cache import (
    KVCache,
    LayerCache,
    indexer_key_bytes,
    indexer_layers,
    kv_cache,
    layer_caches,
    layer_kinds,
    no_pool_error,
    with_changed_parts,
)
from paramscope.analyses.sizing.request import MemoryRequest, RuntimeParts, kv_dtype, model_dtype
from paramscope.analyses.sizing.runtimes import option
from paramscope.analyses.sizing.runtimes.allocator import (
    loaded_as_stored,
    rank_weights,
    reserved_holes,
    weight_tails,
)
from paramscope.analyses.sizing.runtimes.common import (
    CUDA_CONTEXT_BYTES,
    NCCL_BYTES,
    NCCL_PCIE_BYTES,
    gpu_platform,
)
from paramscope.analyses.sizing.runtimes.vllm.weights import (
    mla_stored,
    rank_config,
    replicated_weight_bytes,
    rope_cache_bytes,
    rope_shapes,
)
from paramscope.errors import UnsupportedError
from paramscope.model import UNSHARED_LAYER_TYPES, ArchConfig, Model
from paramscope.model.dtypes import DType
from paramscope.model.memo import ModelMemo
from paramscope.records import record, replace
from paramscope.units import counted

if TYPE_CHECKING:
    from paramscope.knowledge.hardware import Device

GiB = 1 << 30

# The default --mem-fraction-static, by SGLang build (python/sglang/srt/server_args.py). Each rule's
# gpu_mem is get_device_memory_capacity(): the driver's total in MiB (NVML, as nvidia-smi prints it).
# "early-2025" (0.4 to 0.4.6, ServerArgs.__post_init__): "depends on the tensor parallelism size":
# (smallest TP size, fraction), the first that applies.
MEM_FRACTION_BY_TP = ((16, 0.79), (8, 0.81), (4, 0.85), (2, 0.87), (1, 0.88))
# "mid-2025" (0.4.9 to 0.5, ServerArgs.__post_init__): reserved_mem in MiB by gpu_mem, parallel = TP × PP:
# (below this many MiB, reserved = a + b × parallel), the first that applies; 32 GiB above 160 GiB
RESERVED_MID_2025 = ((20 * 1024, 2.8 * 1024, 1024 / 10), (35 * 1024, 2.8 * 1024, 1024 / 10),
                     (90 * 1024, 9.5 * 1024, 1024 / 2), (100 * 1024, 12 * 1024, 1024 / 2),
                     (160 * 1024, 12 * 1024, 1024 / 2))
# "late-2025" (0.5.3 to 0.5.9) and "current" (0.5.10 on; _handle_gpu_memory_settings): chunked_prefill_size
# and cuda_graph_max_bs by
# gpu_mem (below this many MiB: chunk, max batch for TP < 4, for TP ≥ 4), then reserved_mem = 512 +
# max(chunk, 2048) × 1.5 + cuda_graph_max_bs × 2 + TP × PP / 8 × 1024, at least 10 GiB above 60 GiB
GPU_TIERS_CURRENT = ((20 * 1024, 2048, 8, 8), (35 * 1024, 2048, 24, 80), (60 * 1024, 4096, 32, 160),
                     (90 * 1024, 8192, 256, 512), (160 * 1024, 8192, 256, 512))
GPU_TIER_LARGEST = (16384, 512, 512)  # B200, MI300
# "current" (0.5.10 on) adds, before the 10 GiB floor, the piecewise CUDA graphs its default now captures
# (server_args.py: disable_piecewise_cuda_graph False, 0.5.4-0.5.9 opt-in): 8 MiB per captured token count
# (``piecewise_token_counts``, up to chunked_prefill_size; MLA: 2048), a flat 1.5 GiB for MLA. Off
# (_handle_piecewise_cuda_graph) for multimodal models, off CUDA, with pipeline parallelism and for the
# architectures in PIECEWISE_OFF_ARCHS (and speculative decoding, DP attention, LoRA, GGUF, offload, which
# paramscope does not model); --disable-piecewise-cuda-graph. Read in the 0.5.10.post1 sdist; the H100 log
# of a 2026-08 main prints 0.83 (0.835 without the term), an H100 NVL run of 0.5.10.post1 with the flag 0.86
# (its rule without it). "late-2025" (0.5.3 to 0.5.9): the same tiers without the term.
PIECEWISE_MIB_PER_SIZE = 8
PIECEWISE_MLA_MIB = 1536
PIECEWISE_OFF_ARCHS = frozenset({"DeepseekV32ForCausalLM", "Qwen3NextForCausalLM", "GlmMoeDsaForCausalLM",
                                 "BailingMoeV2_5ForCausalLM", "LLaDAModelLM"})
PIECEWISE_BUILDS = frozenset({"current"})
SGLANG_BUILDS = ("current", "late-2025", "mid-2025", "early-2025")
# the builds that split a sliding-window model's pool in two (HYBRID_SWA_OFF_BEFORE_CURRENT): those of the
# current rule and the late-2025 ones, which share _handle_gpu_memory_settings (an audit of the sdists dates
# the split of gpt-oss and Llama 4 to 0.5.8, docs/runtimes.md 5: not applied)
HYBRID_SWA_BUILDS = frozenset({"current", "late-2025"})


def piecewise_token_counts(max_tokens: int) -> int:
    """How many token counts SGLang captures piecewise up to ``max_tokens`` (server_args.py
    _generate_piecewise_cuda_graph_tokens: 4..32 by 4, 48..256 by 16, 288..512 by 32, 576..1024 by 64,
    1280..4096 by 256, then by 512): 42 at 2048, 58 at 8192, 74 at 16384."""
    steps = ((4, 32, 4), (48, 256, 16), (288, 512, 32), (576, 1024, 64), (1280, 4096, 256),
             (4608, max(max_tokens, 4608), 512))
    return sum(1 for lo, hi, step in steps for n in range(lo, hi + 1, step) if n <= max_tokens)
# A multimodal model (a config with a vision_config) gets less of the GPU, for its vision encoder:
# - "early-2025" (model_runner.py ModelRunner.__init__): × 0.95 after the server arguments are printed,
#   given or not ("Automatically reduce --mem-fraction-static to ... because this is a multimodal model").
#   PR #4826's Gemma 3 4B log (0.88 given, 0.836 taken): 834,616 tokens from the printed free memory, 834,615
#   printed. Builds of late spring 2025 took × 0.90 there (no log: not modelled);
# - later builds (server_args.py adjust_mem_fraction_for_vlm), the default fraction only: × 0.95 × clamp(1 −
#   0.1 × (L × H² / (24 × 1024²) − 1), 0.8, 1.05) for a vision tower of L layers of width H (24 and 1024,
#   ViT-L/14's, where the config states none). Kimi-K2.5's MoonViT (27 × 1152): 0.908 × 0.95 × 0.9576171875
#   = 0.8260405859375, as an SGLang 0.5.8 log on MI35x GPUs printed
VLM_FRACTION_FACTOR = 0.95
LOWERED = "the build lowers it for a vision encoder or aiter"
# ROCm's aiter attention backend (server_args.py / model_runner.py: ``if attention_backend == "aiter": if
# context_len > 8192: mem_fraction_static *= 0.85``), given or not: Qwen3-0.6B on an MI355X (0.5.17), 0.6
# given, 0.51 taken, 1,360,270 tokens from the printed free memory against 1,360,288 printed
AITER_FRACTION_FACTOR, AITER_LONG_CONTEXT = 0.85, 8192
# the GPUs SGLang runs aiter on by default (CDNA 3 and 4 Instinct; Radeon cards run Triton)
AITER_GPUS = frozenset({"mi300x", "mi325x", "mi300a", "mi350x", "mi355x"})


# SGLang on ROCm runs MLA on aiter where a GPU holds 16 or 128 of the config's KV heads
# (server_args.py, 0.5.3 to 0.5.23: get_num_kv_heads(tp) = max(1, num_key_value_heads // tp); DeepSeek-V3's
# 128 heads at TP 8), else on Triton
AITER_MLA_HEADS = frozenset({16, 128})


def default_attention_backend(device: Device | None, cfg: ArchConfig, tensor_parallel: int = 1) -> str | None:
    """The attention backend SGLang takes where none is named: its ROCm images run attention on aiter
    (SGLANG_USE_AITER=1; the log: "Attention backend not specified. Use aiter backend by default.") on the
    Instinct GPUs of AITER_GPUS, MLA only at AITER_MLA_HEADS heads a GPU; None elsewhere (the platform's
    default, priced alike)."""
    if device is None or device.key not in AITER_GPUS:
        return None
    if cfg.is_mla and max(1, cfg.n_kv_heads // tensor_parallel) not in AITER_MLA_HEADS:
        return None
    return "aiter"


VIT_BASELINE = (24, 1024)  # layers, width


# SGLang's Gemma 3 (models/gemma3_causal.py Gemma3Attention, from its arrival to today) rotates both kinds
# of layers with rope_scaling "default" over max_position_embeddings: two unscaled caches (the global base
# and rope_local_base_freq), where vLLM scales the global one × 8. PR #4826's Gemma 3 4B log: 8,600,158,944 B
# of tensors + 2 × 131072 × 256 × 2 B = 8.1345 GiB, 8.13 printed (vLLM's rule: 8.574)
SGLANG_UNSCALED_ROPE_FAMILIES = frozenset({"gemma3", "gemma3_text"})


# SGLang's own rotary_embedding.py (RotaryEmbedding.__init__: "cache needs to be in FP32 for numerical
# stability"; ``if not _is_cuda: cache = cache.to(dtype)``, below for 0.5.16 on) keeps the cos/sin cache in
# float32 on CUDA and casts it to the model's dtype on ROCm and other backends; the early-2025 builds still
# built vLLM's RotaryEmbedding, which casts it everywhere (PR #4826's Gemma 3 log above). Checked on the CUDA
# logs whose "mem usage" prints a model of 4B or more (tests/fixtures/engine_logs/sglang/): Llama 3.1 8B 15.02
# GB printed, 14.989 GiB with a bf16 cache and 15.020 with a float32 one (131072 × 128 × 2 B more: maxuhl-*);
# QwQ-32B at TP 4 -0.20 % -> -0.00 %, Qwen3-8B -0.08 % -> -0.01 %, Qwen3-4B FP8 -0.22 % -> +0.02 %
ROPE_CAST_BUILDS = frozenset({"early-2025"})
# the platforms (runtimes/common.py gpu_platform) where SGLang's RotaryEmbedding keeps the cache in float32:
# ``if not (_is_cuda or _is_xpu or SGLANG_ROPE_CACHE_FP32): cast`` from 0.5.16 (rotary_embedding/base.py in
# the 0.5.16, 0.5.17 and 0.5.19 wheels), NVIDIA's and Intel's GPUs; ROCm and the rest cast. Up to 0.5.15 the
# test was ``if not _is_cuda`` (0.5.3 to 0.5.15 read), so Intel's XPU cast too: the current family follows
# the newer releases
ROPE_FLOAT32_PLATFORMS = frozenset({"cuda", "xpu"})


def sglang_rope_cache_bytes(cfg: ArchConfig, dtype: DType, *, platform: str = "cuda",
                            build: str = "current") -> int:
    """The RoPE caches SGLang builds beside the weights (vLLM's rule, vllm/weights.py rope_cache_bytes,
    except for the families whose model code drops the config's scaling), in float32 on CUDA from the
    builds of mid-2025 on (ROPE_CAST_BUILDS, ROPE_FLOAT32_PLATFORMS)."""
    return rope_cache_bytes(_as_sglang_ropes(cfg), DType.F32 if rope_in_float32(platform, build) else dtype)


def rope_in_float32(platform: str, build: str) -> bool:
    """Whether SGLang keeps the cos/sin cache in float32 on ``platform`` (runtimes/common.py gpu_platform;
    ROPE_FLOAT32_PLATFORMS, ROPE_CAST_BUILDS)."""
    return platform in ROPE_FLOAT32_PLATFORMS and build not in ROPE_CAST_BUILDS


def _as_sglang_ropes(cfg: ArchConfig) -> ArchConfig:
    """The config as SGLang's model code builds its RoPE caches (SGLANG_UNSCALED_ROPE_FAMILIES)."""
    if cfg.family in SGLANG_UNSCALED_ROPE_FAMILIES:
        return replace(cfg, extra={**cfg.extra, "rope_scaling": None, "rope_parameters": None})
    return cfg


def vlm_fraction_factor(vision: tuple[int, int], build: str) -> float:
    """What SGLang multiplies mem_fraction_static by for a model with this vision tower (layers, width)."""
    if build == "early-2025":
        return VLM_FRACTION_FACTOR
    layers, width = vision
    ratio = layers * width**2 / (VIT_BASELINE[0] * VIT_BASELINE[1] ** 2)
    return VLM_FRACTION_FACTOR * max(0.8, min(1.05, 1.0 - 0.1 * (ratio - 1.0)))


def vision_tower(model: Model) -> tuple[int, int] | None:
    """The vision tower's (layers, width) as SGLang reads them from config.json's vision_config (its
    defaults where one is missing); None for a model without a vision_config."""
    raw = model.config_json
    vision = raw.get("vision_config") if raw is not None else None
    if not isinstance(vision, dict):
        return None
    layers = vision.get("num_hidden_layers", VIT_BASELINE[0])
    width = vision.get("hidden_size", VIT_BASELINE[1])
    return (layers, width) if isinstance(layers, int) and isinstance(width, int) else VIT_BASELINE

# --kv-cache-dtype: auto (the model dtype), fp8_e5m2, fp8_e4m3
CACHE_TYPES = (DType.F32, DType.F16, DType.BF16, DType.F8_E4M3, DType.F8_E5M2)

# configs/model_config.py is_hybrid_swa_model (sgl-project/sglang main, 2025-08 on: gpt-oss from 0.5.0rc0,
# Llama 4 from 0.4.10, Gemma 4, MiMo-V2-Flash and Step-3.5 added later): the architectures whose sliding
# layers get a pool of their own. Gemma 2 and 3 are not among them.
SGLANG_HYBRID_SWA_ARCHS = frozenset({
    "GptOssForCausalLM", "Llama4ForConditionalGeneration", "Gemma4ForCausalLM",
    "Gemma4ForConditionalGeneration", "MiMoV2FlashForCausalLM", "Step3p5ForCausalLM"})
# server_args.py _handle_model_specific_adjustments of the builds from gpt-oss's arrival (0.5.0rc0, August
# 2025) into late 2025 set ``self.disable_hybrid_swa_memory = True`` for GptOssForCausalLM whatever the
# flags (and for Gemma 2/3, which are not hybrid anyway); later builds keep the hybrid pool for gpt-oss
# except with the trtllm_mha attention backend (the default on SM100, B200/GB200: "Disable hybrid SWA
# memory for GPT-OSS model with trtllm_mha attention backend") or speculative decoding (PR #17517).
# Llama 4's split in the mid-2025 builds was its own (set_num_token_hybrid's Llama 4 branch, by
# --hybrid-kvcache-ratio and attention_chunk_size), not modelled: before the current build paramscope gives
# it one pool over every layer, as the early builds did
HYBRID_SWA_OFF_BEFORE_CURRENT = frozenset({"GptOssForCausalLM", "Llama4ForConditionalGeneration"})
SWA_FULL_TOKENS_RATIO = 0.8  # server_args.py ServerArgs.swa_full_tokens_ratio
MAMBA_FULL_MEMORY_RATIO = 0.9  # server_args.py ServerArgs.mamba_full_memory_ratio
# configs/mamba_utils.py: the conv state is bf16 (CONV_DTYPE); the SSM state --mamba-ssm-dtype
MAMBA_CONV_BYTES = 2
MAMBA_SSM_BYTES = {"float32": 4, "bfloat16": 2}
# model_runner_kv_cache_mixin.py MAMBA_CACHE_SIZE_MAX_RUNNING_REQUESTS_RATIO: max_running_requests is
# capped at max_mamba_cache_size // 3 (with the radix cache on, no speculative decoding)
MAMBA_SLOTS_PER_REQUEST = 3
POOL_KINDS = ("mha", "hybrid-swa", "mamba")


def default_mem_fraction(tensor_parallel: int, gpu_mib: float | None = None, build: str = "early-2025",
                         *, piecewise: bool = False, mla: bool = False) -> float:
    """SGLang's --mem-fraction-static when none is given, as ``build``'s server_args.py derives it (see
    above) for a GPU of ``gpu_mib`` MiB as the driver reports it (None: no GPU known, 0.88 in the later
    builds); ``piecewise``: the piecewise CUDA graphs' reserve of the builds that capture them
    (PIECEWISE_BUILDS), ``mla`` for an MLA model's."""
    if build == "early-2025":
        return next(f for tp, f in MEM_FRACTION_BY_TP if tensor_parallel >= tp)
    if build not in SGLANG_BUILDS:
        raise UnsupportedError(f"SGLang build {build!r} unknown (known: {', '.join(SGLANG_BUILDS)})")
    if gpu_mib is None:
        return 0.88
    if build == "mid-2025":
        reserved = next((a + b * tensor_parallel for below, a, b in RESERVED_MID_2025 if gpu_mib < below),
                        32 * 1024)
    else:
        chunk, small_tp, large_tp = next(((c, s, g) for below, c, s, g in GPU_TIERS_CURRENT
                                          if gpu_mib < below), GPU_TIER_LARGEST)
        graphs = small_tp if tensor_parallel < 4 else large_tp
        reserved = 512 + max(chunk, 2048) * 1.5 + graphs * 2 + tensor_parallel / 8 * 1024
        if piecewise and build in PIECEWISE_BUILDS:
            reserved += (PIECEWISE_MLA_MIB if mla else
                         PIECEWISE_MIB_PER_SIZE * piecewise_token_counts(chunk))
        if gpu_mib > 60 * 1024:
            reserved = max(reserved, 10 * 1024)
    return round((gpu_mib - reserved) / gpu_mib, 3)


@record
class SglangMemory:
    """One GPU's share (each of ``tensor_parallel`` ranks holds the same)."""

    context: int
    batch: int
    tensor_parallel: int
    mem_fraction_static: float
    kv_type: DType
    model_bytes: int  # weights shard + RoPE cache + the allocator's segment tails
    cell_bytes: int  # profile_max_num_token's cell: one token's K and V over this rank's pooled layers
    kv: KVCache  # what ``batch`` requests of ``context`` tokens need
    cuda_context_bytes: int
    nccl_bytes: int
    free_bytes: int | None  # free memory after the context and NCCL ("total_gpu_memory"); None: no GPU
    explain: tuple[str, ...] = ()
    weight_tail_bytes: int = 0  # the caching allocator's segment tails of this rank's weights
    fraction_given: bool = True  # mem_fraction_static was given (False: the build's default rule)
    pool: str = "mha"  # POOL_KINDS (module docstring)
    # hybrid-swa: the layers of each kind and one token's K and V over them (this rank)
    full_layers: int = 0
    swa_layers: int = 0
    full_cell_bytes: int = 0
    swa_cell_bytes: int = 0
    indexer_bytes: int = 0  # in cell_bytes: a token's sparse-attention indexer keys (indexer_key_bytes)
    swa_full_tokens_ratio: float = SWA_FULL_TOKENS_RATIO
    # mamba: one request's recurrent state over this rank's recurrent layers (mamba_cache_per_req)
    mamba_state_bytes: int = 0
    mamba_full_memory_ratio: float = MAMBA_FULL_MEMORY_RATIO
    max_mamba_cache_size: int | None = None  # --max-mamba-cache-size (None: by the ratio)
    vlm_factor: float = 1.0  # what a multimodal model's fraction was multiplied by (vlm_fraction_factor)
    max_total_tokens: int | None = None  # --max-total-tokens: caps pooled_tokens (None: memory decides)
    # --page-size (1 by default; 64 where the trtllm_mha backend raises it on SM100): every K and V buffer
    # holds size + page_size rows (MHATokenToKVPool: the padded slot 0 and its page), which the "K size"
    # line counts: Qwen3-8B's 1,707,904 tokens at page 64 print 117.28 GB, (1,707,904 + 64) × 73,728 B
    page_size: int = 1

    @property
    def pool_bytes_available(self) -> int | None:
        """rest_memory: free × mem_fraction_static − weights (negative: SGLang stops)."""
        if self.free_bytes is None:
            return None
        return int(self.free_bytes * self.mem_fraction_static) - self.model_bytes

    @property
    def mamba_slots(self) -> int | None:
        """max_mamba_cache_size: the recurrent states SGLang allocates (mamba pool only; else None)."""
        rest = self.pool_bytes_available
        if self.pool != "mamba" or rest is None:
            return None
        if self.max_mamba_cache_size is not None:
            return self.max_mamba_cache_size
        # handle_max_mamba_cache: mamba_state_memory_raw = rest × r / (1 + r);
        # max_mamba_cache_size = int(raw // mamba_cache_per_req)
        r = self.mamba_full_memory_ratio
        return max(int(rest * r / (1 + r) // self.mamba_state_bytes), 0) if self.mamba_state_bytes else 0

    @property
    def kv_rest_bytes(self) -> int | None:
        """What the token pool(s) get: rest_memory less the recurrent states (mamba pool)."""
        rest = self.pool_bytes_available
        if rest is None:
            return None
        return rest - (self.mamba_slots or 0) * self.mamba_state_bytes

    @property
    def pooled_tokens(self) -> int | None:
        """profile_max_num_token's max_total_num_tokens: rest // cell, before any hybrid split."""
        rest = self.kv_rest_bytes
        if rest is None:
            return None
        tokens = max(rest // self.cell_bytes, 0)
        tokens = tokens if self.max_total_tokens is None else min(tokens, self.max_total_tokens)
        return self._paged(tokens)

    def _paged(self, tokens: int) -> int:
        """Rounded down to whole pages (model_runner.py: ``max_total_num_tokens // page_size * page_size``,
        each pool of a hybrid split alike)."""
        return tokens // self.page_size * self.page_size

    @property
    def tokens(self) -> int | None:
        """max_total_num_tokens ("#tokens" in the log; a hybrid-SWA model's full pool)."""
        tokens = self.pooled_tokens
        if tokens is None or self.pool != "hybrid-swa":
            return tokens
        r = self.swa_full_tokens_ratio
        if self.full_cell_bytes * self.swa_layers == self.swa_cell_bytes * self.full_layers:
            # every layer the same widths: set_num_tokens_hybrid_swa (SGLang 0.5.x), in its own float steps
            layers = self.full_layers + self.swa_layers
            return self._paged(int(tokens * layers / (r * self.swa_layers + self.full_layers)))
        # widths differ by kind (Gemma 4, MiMo-V2-Flash): PR #18039, each kind weighed by its bytes
        return self._paged(int(tokens * (self.full_cell_bytes + self.swa_cell_bytes)
                               / (self.full_cell_bytes + r * self.swa_cell_bytes)))

    @property
    def swa_tokens(self) -> int | None:
        """swa_max_total_num_tokens: the sliding layers' pool (hybrid-swa only; else None)."""
        tokens = self.tokens
        if tokens is None or self.pool != "hybrid-swa":
            return None
        return self._paged(int(tokens * self.swa_full_tokens_ratio))

    def _rows(self, kind: str, which: str) -> int:
        rows = 0
        for p in self.kv.parts:
            if p.kind == "linear" or (self.pool == "hybrid-swa" and p.kind != kind):
                continue
            rows += p.layers * (p.k_row_bytes if which == "k" else p.v_row_bytes)
        return rows

    @property
    def k_bytes(self) -> int | None:
        """The K buffers of the (full) pool ("K size", GiB printed as GB); V is the same size (MHA)."""
        tokens = self.tokens
        return None if tokens is None else self.k_bytes_for(tokens)

    @property
    def v_bytes(self) -> int | None:
        tokens = self.tokens
        return None if tokens is None else self.v_bytes_for(tokens)

    def k_bytes_for(self, tokens: int, kind: str = "full") -> int:
        """One pool's K buffers for a pool of ``tokens`` tokens: the cell arithmetic alone (``kind``
        "sliding": a hybrid-SWA model's sliding pool)."""
        return (tokens + self.page_size) * self._rows(kind, "k")

    def v_bytes_for(self, tokens: int, kind: str = "full") -> int:
        return (tokens + self.page_size) * self._rows(kind, "v")

    @property
    def swa_k_bytes(self) -> int | None:
        """The sliding pool's K buffers (its own "KV Cache is allocated" line); hybrid-swa only."""
        tokens = self.swa_tokens
        return None if tokens is None else self.k_bytes_for(tokens, "sliding")

    @property
    def swa_v_bytes(self) -> int | None:
        tokens = self.swa_tokens
        return None if tokens is None else self.v_bytes_for(tokens, "sliding")

    @property
    def mamba_bytes(self) -> int:
        """The recurrent states SGLang allocates (MambaPool: max_mamba_cache_size states)."""
        return (self.mamba_slots or 0) * self.mamba_state_bytes

    @property
    def allocated_bytes(self) -> int | None:
        """All the pools hold: the token pool(s), each with its padded page, and the recurrent states."""
        tokens = self.tokens
        if tokens is None:
            return None
        if self.pool == "hybrid-swa":
            return ((tokens + self.page_size) * self.full_cell_bytes
                    + ((self.swa_tokens or 0) + self.page_size) * self.swa_cell_bytes)
        return (tokens + self.page_size) * self.cell_bytes + self.mamba_bytes

    @property
    def max_requests(self) -> int | None:
        """Requests of ``context`` tokens served at once: the full pool's, and a mamba model's state cap."""
        tokens = self.tokens
        if tokens is None:
            return None
        n = tokens // self.context
        slots = self.mamba_slots
        return n if slots is None else min(n, slots // MAMBA_SLOTS_PER_REQUEST)

    @property
    def reserve_bytes(self) -> int:
        """The (1 − mem_fraction_static) share of the free memory left for activations and CUDA graphs."""
        if self.free_bytes is None:
            return 0
        return self.free_bytes - int(self.free_bytes * self.mem_fraction_static)

    @property
    def fits(self) -> bool:
        n = self.max_requests
        return n is None or n >= self.batch


# Families whose every hidden layer has a slot in SGLang's token pool, attending or not:
# configs/model_config.py sets ``num_attention_layers = num_hidden_layers`` and model_runner.py sizes the
# cell as ``get_num_kv_heads(tp) × head_dim × num_hidden_layers × 2 × element size`` and the pool
# (MHATokenToKVPool, ``layer_num``) alike, while models/nemotron_nas.py builds attention only in the
# blocks that are not no_op: Nemotron-NAS's no-op layers hold pool rows they never write.
SGLANG_POOL_ALL_LAYERS = frozenset({"nemotron-nas"})
# Architectures whose KV-sharing layers (num_kv_shared_layers) still get pool rows of their own kind:
# SGLang sizes the pool over every hidden layer. Gemma 4 E4B on a GB10 (SGLang 0.0.0.dev1+g5f55db35e,
# record r18s-gemma4-e4b-it-gb10-dgx-spark-32k-dev): "SWAKVPool mem usage: 79.94 GB, swa size: 798276,
# full size: 997846" is 997,846 × 7 full layers × 28,672 / 7 + 798,276 × 35 sliding layers' 71,680 B, to
# the byte, where the 24 layers that cache would give twice the tokens
SGLANG_POOL_SHARED_KV_ARCHS = frozenset({"Gemma4ForCausalLM", "Gemma4ForConditionalGeneration"})


# DSA models (kv_cache.py indexer_key_bytes): SGLang's NSA pool budgets each token's indexer key beside
# the latent. GLM-5-FP8 on 8 MI35x, 0.5.8.post1, fp8 KV: (576 + 132) B × 78 layers a token gives 3,262,987
# tokens for the 3,262,823 printed (plain MLA: 4,013,792).


def pool_kind(cfg: ArchConfig, disable_hybrid_swa_memory: bool = False) -> str:
    """Which of SGLang's pools the model gets (POOL_KINDS, module docstring): recurrent layers → "mamba";
    sliding and full layers in an architecture of SGLANG_HYBRID_SWA_ARCHS → "hybrid-swa" unless
    ``--disable-hybrid-swa-memory``; else "mha", sliding layers holding the whole context."""
    kinds = layer_kinds(cfg)
    if "linear" in kinds:
        if "sliding" in kinds:
            raise UnsupportedError(f"SGLang: {cfg.architecture} mixes sliding-window and recurrent layers; "
                                   f"no SGLang pool holds both")
        if not (cfg.recurrent_layers and cfg.conv_state_size + cfg.ssm_state_size):
            raise UnsupportedError(f"SGLang: {cfg.architecture} has {kinds['linear']} linear/recurrent "
                                   f"layers but no conv/SSM state sizes to size SGLang's Mamba pool with")
        return "mamba"
    if cfg.recurrent_layers and cfg.conv_state_size + cfg.ssm_state_size:
        # a parallel hybrid (Falcon-H1: attention and Mamba in every layer) is mambaish too: its
        # attention layers take the KV pool, its recurrent states the Mamba pool
        return "mamba"
    if ("sliding" in kinds and "full" in kinds and cfg.architecture in SGLANG_HYBRID_SWA_ARCHS
            and not disable_hybrid_swa_memory):
        return "hybrid-swa"
    return "mha"


def pool_layers(cfg: ArchConfig, pool: str = "mha") -> tuple[LayerCache | None, ...]:
    """Each layer's widths in SGLang's pool, which holds one KV head count for every layer
    (MHATokenToKVPool's ``head_num``: ``get_num_kv_heads``): a model whose attending layers differ is
    refused as SGLang refuses it (model_config.py get_total_num_kv_heads: "Variable GQA (VGQA) is not
    yet supported for nemotron-nas in sglang"; no other model of varying KV heads has a path there).
    In the "mha" pool a sliding layer is held as a full one; in the "hybrid-swa" pool each kind has its
    own widths (SWAKVPool: ``head_num``/``head_dim`` and ``swa_head_num``/``swa_head_dim``)."""
    linear = (cfg.extra.get("heterogeneous") or {}).get("linear_attention_layers", 0)
    if cfg.family in SGLANG_POOL_ALL_LAYERS and linear:
        # models/nemotron_nas.py and get_total_num_kv_heads divide by n_heads_in_group for every block
        # that is not no_op; a block replaced by a linear layer has none
        raise UnsupportedError(f"SGLang: {cfg.architecture} has {linear} attention blocks replaced by a "
                               f"linear layer, which SGLang's nemotron_nas.py cannot build")
    unshared = cfg.extra.get(UNSHARED_LAYER_TYPES)
    if cfg.architecture in SGLANG_POOL_SHARED_KV_ARCHS and unshared:
        cfg = replace(cfg, layer_types=tuple(unshared))
    layers = layer_caches(cfg)
    if pool != "hybrid-swa":
        layers = tuple(None if layer is None else LayerCache("full", layer.k_width, layer.v_width)
                       for layer in layers)
    for kind in ("full", "sliding"):
        widths = {(layer.k_width, layer.v_width) for layer in layers
                  if layer is not None and layer.kind == kind}
        if len(widths) > 1:
            raise UnsupportedError(f"SGLang: {cfg.architecture} has layers of different KV head counts; "
                                   f"SGLang's KV pool holds one head count for every layer (Variable GQA "
                                   f"is not supported)")
    if cfg.family in SGLANG_POOL_ALL_LAYERS:
        widths = {(layer.k_width, layer.v_width) for layer in layers if layer is not None}
        if widths:
            k, v = widths.pop()
            return tuple(layer or LayerCache("full", k, v) for layer in layers)
    return layers


def mamba_state_bytes(rank: ArchConfig, ssm_dtype: str = "float32") -> int:
    """mamba_cache_per_req of one rank (configs/mamba_utils.py Mamba2CacheParams): over the recurrent
    layers, the conv state (conv channels / tp × (kernel − 1) values, bf16) and the SSM state (heads / tp ×
    head_dim × state_size values, ``--mamba-ssm-dtype``). ``rank``: the rank's config (state sizes split
    by TP, vllm.rank_config), whose ``conv_state_size`` / ``ssm_state_size`` are those value counts."""
    if ssm_dtype not in MAMBA_SSM_BYTES:
        raise UnsupportedError(f"SGLang's --mamba-ssm-dtype takes {', '.join(MAMBA_SSM_BYTES)} "
                               f"(found {ssm_dtype!r})")
    return rank.recurrent_layers * (rank.conv_state_size * MAMBA_CONV_BYTES
                                    + rank.ssm_state_size * MAMBA_SSM_BYTES[ssm_dtype])


def sglang_memory(
    cfg: ArchConfig,
    weights_bytes: int,
    *,
    context: int,
    batch: int = 1,
    kv_type: DType | None = None,
    dtype: DType = DType.BF16,
    gpu_memory_bytes: int | None = None,
    mem_fraction_static: float | None = None,
    tensor_parallel: int = 1,
    nvlink: bool = True,
    allocator_tail_bytes: int = 0,
    gpu_reported_bytes: int | None = None,
    build: str = "current",
    swa_full_tokens_ratio: float | None = None,
    disable_hybrid_swa_memory: bool | None = None,
    mamba_full_memory_ratio: float | None = None,
    max_mamba_cache_size: int | None = None,
    mamba_ssm_dtype: str = "float32",
    vision: tuple[int, int] | None = None,
    attention_backend: str | None = None,
    mla_stored_bytes: int | None = None,
    max_total_tokens: int | None = None,
    platform: str = "cuda",
    piecewise_cuda_graph: bool | None = None,
) -> SglangMemory:
    """One GPU's memory under SGLang for ``batch`` requests of ``context`` tokens.

    ``weights_bytes``: all weights (each rank holds 1/``tensor_parallel``). ``kv_type`` None is SGLang's
    "auto", the model ``dtype``. ``gpu_memory_bytes``: the total the CUDA runtime reports; None sizes
    what the requests need only. ``mem_fraction_static`` None takes SGLang's default for the TP size.
    ``nvlink`` False: the GPUs talk over PCIe only, NCCL's smaller footprint (runtimes/common.py); SGLang
    runs vLLM's custom all-reduce and prints the same reason when it is off ("not supported on more than
    two PCIe-only GPUs"). ``allocator_tail_bytes``: one rank's caching-allocator segment tails, which
    SGLang's free-memory measure of the load counts (runtimes/allocator.py ``weight_tails``,
    ``device_level`` True). ``gpu_reported_bytes``: the total the driver reports (NVML), which the default
    ``mem_fraction_static`` of the ``build`` (SGLANG_BUILDS) is derived from (None: ``gpu_memory_bytes``).
    The hybrid pools' settings are SGLang's flags of the same names (module docstring; None: SGLang's
    defaults, 0.8 and 0.9; ``disable_hybrid_swa_memory`` None: the build's rule,
    HYBRID_SWA_OFF_BEFORE_CURRENT). ``vision``: a multimodal model's vision tower, (layers, width)
    (``vision_tower``), for which the build lowers the fraction (``vlm_fraction_factor``).
    ``attention_backend`` "aiter" (ROCm's default for attention without MLA): × 0.85 beyond 8192 tokens
    (AITER_FRACTION_FACTOR). ``max_total_tokens``: SGLang's --max-total-tokens, a cap on the pool's
    tokens (init_memory_pool: min(profiled, cap), before any hybrid split). ``platform``: runtimes/common.py
    gpu_platform; off "cuda" no piecewise reserve, and the RoPE cache takes the model's dtype but on Intel's
    XPU (sglang_rope_cache_bytes, ROPE_FLOAT32_PLATFORMS).
    ``piecewise_cuda_graph``: False is --disable-piecewise-cuda-graph; None: the build's default, off where
    SGLang turns it off (PIECEWISE_BUILDS: a multimodal model, off CUDA, PIECEWISE_OFF_ARCHS).
    """
    tp = tensor_parallel
    if tp < 1 or context < 1 or batch < 1:
        raise UnsupportedError(f"SGLang needs positive sizes (context {context}, batch {batch}, TP {tp})")
    reported = gpu_reported_bytes or gpu_memory_bytes
    # the piecewise graphs: CUDA only (_handle_piecewise_cuda_graph: off on HIP, XPU, MPS, NPU, CPU)
    piecewise = (vision is None and platform == "cuda" and cfg.architecture not in PIECEWISE_OFF_ARCHS
                 and piecewise_cuda_graph is not False)
    fraction = (default_mem_fraction(tp, None if reported is None else reported / (1 << 20), build,
                                     piecewise=piecewise, mla=cfg.is_mla)
                if mem_fraction_static is None else mem_fraction_static)
    if not 0 < fraction < 1:
        raise UnsupportedError(f"SGLang's mem_fraction_static must lie in (0, 1) (found {fraction})")
    vlm_factor = 1.0
    if vision is not None and (build == "early-2025" or mem_fraction_static is None):
        vlm_factor = vlm_fraction_factor(vision, build)
    if attention_backend == "aiter" and context > AITER_LONG_CONTEXT:
        vlm_factor *= AITER_FRACTION_FACTOR
    fraction *= vlm_factor
    ratio = SWA_FULL_TOKENS_RATIO if swa_full_tokens_ratio is None else swa_full_tokens_ratio
    if not 0 < ratio <= 1:  # server_args.py: "--swa-full-tokens-ratio should be in range (0, 1.0]"
        raise UnsupportedError(f"SGLang's swa_full_tokens_ratio must lie in (0, 1] (found {ratio})")
    mamba_ratio = MAMBA_FULL_MEMORY_RATIO if mamba_full_memory_ratio is None else mamba_full_memory_ratio
    if mamba_ratio <= 0:
        raise UnsupportedError(f"SGLang's mamba_full_memory_ratio must be positive (found {mamba_ratio})")
    t = kv_type or dtype
    if t not in CACHE_TYPES:
        raise UnsupportedError(f"SGLang cannot hold its KV cache as {t.value.lower()} (it knows "
                               f"{', '.join(c.value.lower() for c in CACHE_TYPES)})")
    if disable_hybrid_swa_memory is None:  # the build's own rule (HYBRID_SWA_OFF_BEFORE_CURRENT)
        disable_hybrid_swa_memory = (build not in HYBRID_SWA_BUILDS
                                     and cfg.architecture in HYBRID_SWA_OFF_BEFORE_CURRENT)
    pool = pool_kind(cfg, disable_hybrid_swa_memory)
    rank = rank_config(cfg, tp, "SGLang")
    # what the requests need: the context in every pooled layer; the sliding pool of a hybrid-SWA model
    # keeps at most the window of each request (the radix cache frees what slid out)
    window = min(context, cfg.sliding_window) if cfg.sliding_window else context
    cells = {"full": context, "sliding": window if pool == "hybrid-swa" else context}
    kv = kv_cache(rank, cells, streams=batch, type_k=t, type_v=t, mla="compressed",
                  layers=pool_layers(rank, pool), type_state=DType.F32)
    if pool == "mamba" and rank.recurrent_layers:
        # the requests' recurrent state as the Mamba pool holds it: conv bf16, SSM --mamba-ssm-dtype
        state = mamba_state_bytes(rank, mamba_ssm_dtype) // rank.recurrent_layers
        kv = with_changed_parts(kv, "linear", state_bytes=state)
    attending = [part for part in kv.parts if part.kind in ("full", "sliding")]
    cell = sum(part.layers * (part.k_row_bytes + part.v_row_bytes) for part in attending)
    full_cell = sum(p.layers * (p.k_row_bytes + p.v_row_bytes) for p in attending if p.kind == "full")
    swa_cell = cell - full_cell
    if not cell:
        raise no_pool_error(cfg, "SGLang")
    indexer = indexer_key_bytes(rank) * indexer_layers(rank)
    cell += indexer
    full_cell += indexer
    # the MoE routers and MLA's down-projections are whole on every rank, as in vLLM's model code
    shared = replicated_weight_bytes(cfg, tp, dtype, mla_stored_bytes)
    model = (-(-(weights_bytes - shared) // tp) + shared
             + sglang_rope_cache_bytes(cfg, dtype, platform=platform, build=build) + allocator_tail_bytes)
    if max_total_tokens is not None and max_total_tokens < 1:
        raise UnsupportedError(f"SGLang's max_total_tokens must be positive (found {max_total_tokens})")
    nccl = (NCCL_BYTES if nvlink else NCCL_PCIE_BYTES) if tp > 1 else 0
    free = None if gpu_memory_bytes is None else gpu_memory_bytes - CUDA_CONTEXT_BYTES - nccl
    m = SglangMemory(context, batch, tp, fraction, t, model, cell, kv, CUDA_CONTEXT_BYTES, nccl, free,
                     weight_tail_bytes=allocator_tail_bytes, fraction_given=mem_fraction_static is not None,
                     vlm_factor=vlm_factor,
                     pool=pool, full_layers=sum(p.layers for p in attending if p.kind == "full"),
                     swa_layers=sum(p.layers for p in attending if p.kind == "sliding"),
                     full_cell_bytes=full_cell, swa_cell_bytes=swa_cell, swa_full_tokens_ratio=ratio,
                     indexer_bytes=indexer,
                     mamba_state_bytes=mamba_state_bytes(rank, mamba_ssm_dtype) if pool == "mamba" else 0,
                     mamba_full_memory_ratio=mamba_ratio, max_mamba_cache_size=max_mamba_cache_size,
                     max_total_tokens=max_total_tokens)
    return _explained(m, weights_bytes, gpu_memory_bytes)


def given_free_memory(m: SglangMemory, free_before_load: int, free_after_load: int) -> SglangMemory:
    """``m`` with the free memory SGLang itself measured: before loading (``total_gpu_memory``, the "Load
    weight end" line's avail mem + mem usage) and after (its avail mem), so that the pool follows from
    ``rest = after − before × (1 − mem_fraction_static)`` alone (no context, NCCL or weight estimate)."""
    return replace(m, free_bytes=free_before_load, model_bytes=free_before_load - free_after_load,
                   explain=())


def loaded_tails(model: Model, tensor_parallel: int, *, platform: str = "cuda", build: str = "current"
                 ) -> int:
    """What one rank's caching allocator reserves beyond the tensors and RoPE cache once SGLang has built
    and loaded them, as its "mem usage" of loading (free memory after empty_cache) counts it: the segment
    tails and the holes of the 20 MiB segments small tensors share, replayed in construction order with
    the RoPE cache computed on the GPU (runtimes/allocator.py ``reserved_holes``); for a model laid out
    otherwise, the large tensors' tails alone (``weight_tails``)."""
    weights = rank_weights(model, tensor_parallel) if loaded_as_stored(model) else []
    cfg = model.config
    if not weights or cfg is None:
        return weight_tails(model, tensor_parallel, device_level=True)
    cast = 0 if rope_in_float32(platform, build) else model_dtype(model.tensors).type_size
    return reserved_holes(weights, rope_shapes(_as_sglang_ropes(cfg)), cast_to=cast)


def _explained(m: SglangMemory, weights_bytes: int, gpu: int | None) -> SglangMemory:
    lines = [
        f"sglang.launch_server: context {m.context}, {m.batch} seqs, tp {m.tensor_parallel}, "
        f"mem_fraction_static {m.mem_fraction_static:.6g}{'' if m.fraction_given else ' (the build default)'}"
        f"{f' (× {m.vlm_factor:.6g}: {LOWERED})' if m.vlm_factor != 1 else ''}, "
        f"KV {m.kv_type.value.lower()}; figures per GPU",
        f"weights: {weights_bytes:,} B / {m.tensor_parallel} + RoPE cache"
        f"{f' + allocator segment tails and holes {tails:,} B' if (tails := m.weight_tail_bytes) else ''}"
        f" = {m.model_bytes:,} B",
        f"cell: {m.cell_bytes:,} B per token (K and V of "
        f"{'the full-attention layers' if m.pool == 'mamba' else 'every layer'} of this rank"
        f"{f', with {m.indexer_bytes:,} B of sparse-attention indexer keys' if m.indexer_bytes else ''})",
    ]
    if m.pool == "hybrid-swa":
        lines.append(f"hybrid SWA pool: {m.full_layers} full layers ({m.full_cell_bytes:,} B a token), "
                     f"{m.swa_layers} sliding layers ({m.swa_cell_bytes:,} B a token), "
                     f"swa_full_tokens_ratio {m.swa_full_tokens_ratio}")
    elif m.pool == "mamba":
        lines.append(f"Mamba pool: {m.mamba_state_bytes:,} B of recurrent state a request (conv bf16 + SSM), "
                     f"mamba_full_memory_ratio {m.mamba_full_memory_ratio}")
    lines += [f"KV needed {line}" for line in m.kv.explain]
    if gpu is None or m.free_bytes is None:
        lines.append("no GPU given: the pool SGLang would allocate is not sized")
        return _with(m, lines)
    rest = m.pool_bytes_available
    assert rest is not None
    lines += [
        f"free after the CUDA context (estimate {m.cuda_context_bytes:,} B)"
        f"{f' and NCCL (estimate {m.nccl_bytes:,} B)' if m.nccl_bytes else ''}: {m.free_bytes:,} B",
        f"rest = free × {m.mem_fraction_static} − weights = {rest:,} B ({rest / GiB:.2f} GiB)",
    ]
    cap = f", at most --max-total-tokens {m.max_total_tokens:,}" if m.max_total_tokens is not None else ""
    if m.pool == "mamba":
        r = m.mamba_full_memory_ratio
        how = "given" if m.max_mamba_cache_size is not None else f"rest × {r} / (1 + {r}) // state"
        lines.append(f"max_mamba_cache_size = {how} = {m.mamba_slots:,} states "
                     f"({m.mamba_bytes / GiB:.2f} GiB); the token pool gets {m.kv_rest_bytes:,} B")
    if m.pool == "hybrid-swa":
        r = m.swa_full_tokens_ratio
        same = m.full_cell_bytes * m.swa_layers == m.swa_cell_bytes * m.full_layers
        split = (f"int({m.pooled_tokens:,} × {m.full_layers + m.swa_layers} / ({r} × {m.swa_layers} + "
                 f"{m.full_layers}))" if same else
                 f"int({m.pooled_tokens:,} × ({m.full_cell_bytes:,} + {m.swa_cell_bytes:,}) / "
                 f"({m.full_cell_bytes:,} + {r} × {m.swa_cell_bytes:,})) (widths differ: PR #18039)")
        lines += [f"max_total_num_tokens = rest // cell{cap} = {m.pooled_tokens:,}",
                  f"full pool = {split} = {m.tokens:,} tokens, K size "
                  f"{(m.k_bytes or 0) / GiB:.2f} GiB, V size {(m.v_bytes or 0) / GiB:.2f} GiB",
                  f"sliding pool = int(full × {r}) = {m.swa_tokens:,} tokens, K size "
                  f"{(m.swa_k_bytes or 0) / GiB:.2f} GiB, V size {(m.swa_v_bytes or 0) / GiB:.2f} GiB"]
    else:
        rest_name = "(rest − states)" if m.pool == "mamba" else "rest"
        lines.append(f"#tokens = {rest_name} // cell{cap} = {m.tokens:,}; "
                     f"K size {(m.k_bytes or 0) / GiB:.2f} GiB, V size {(m.v_bytes or 0) / GiB:.2f} GiB")
    lines.append(f"left for activations and CUDA graphs: free × (1 − {m.mem_fraction_static}) = "
                 f"{m.reserve_bytes:,} B")
    if rest <= 0:
        lines.append("warning: SGLang would stop: not enough memory for the KV cache pool")
    elif not m.fits:
        states = f", {m.mamba_slots:,} recurrent states" if m.pool == "mamba" else ""
        lines.append(f"warning: the pool serves {counted(m.max_requests or 0, 'request')} of {m.context:,} "
                     f"tokens at once ({m.tokens:,} tokens{states}), fewer than {m.batch}")
    return _with(m, lines)


def _with(m: SglangMemory, lines: list[str]) -> SglangMemory:
    return replace(m, explain=tuple(lines))


# GPUs of compute capability 10.x (SM100), where SGLang's default attention backend is trtllm_mha, under
# which current builds turn the hybrid pool off for gpt-oss (HYBRID_SWA_OFF_BEFORE_CURRENT's comment)
SM100_NAMES = re.compile(r"\b(G?B200|G?B300)\b", re.I)


def disable_hybrid_swa(cfg: ArchConfig, req: MemoryRequest) -> bool | None:
    """--disable-hybrid-swa-memory as given, else True for gpt-oss on an SM100 GPU in the current build
    (trtllm_mha), else None: the build's rule (``sglang_memory``)."""
    given = option(req, "disable_hybrid_swa_memory")
    if given is not None:
        return bool(given)
    names = f"{req.device.key} {req.device.name}" if req.device is not None else ""
    on_sm100 = SM100_NAMES.search(names) is not None
    if (on_sm100 and cfg.architecture == "GptOssForCausalLM"
            and option(req, "sglang_build") in HYBRID_SWA_BUILDS):
        return True
    return None


# --- the adapter memory.estimate calls (runtimes.RUNTIMES) ----------------------------------------
def built_model(model: Model, req: MemoryRequest) -> tuple[Model, tuple[str, ...]]:
    """The model as SGLang builds it (the runtime table's ``Runtime.built``): in the type --dtype auto
    resolves to (serving_dtype.py: a float32 checkpoint in 16 bits), without the checkpoint's
    multi-token-prediction layers (sizing/mtp.py; its EAGLE-style MTP drafter, a worker of its own, is not
    modelled), and K copied into the fused QKV's V slot where the values are the keys (loaded.py
    ``with_fused_v_slots``)."""
    return _BUILT.get(model, (), lambda: _built(model))


def _built(model: Model) -> tuple[Model, tuple[str, ...]]:
    from paramscope.analyses.sizing.loaded import with_fused_v_slots
    from paramscope.analyses.sizing.mtp import without_mtp
    from paramscope.analyses.sizing.serving_dtype import model_type, served_in, sglang_auto_dtype

    stored = model_dtype(model.tensors)
    model, notes = served_in(model, "SGLang", stored, sglang_auto_dtype(stored, model_type(model)))
    model, more = without_mtp(model, "SGLang")
    notes += more
    model, more = with_fused_v_slots(model)
    return model, notes + more


_BUILT: ModelMemo[tuple[Model, tuple[str, ...]]] = ModelMemo(8)


def parts(model: Model, cfg: ArchConfig, weights_bytes: int, req: MemoryRequest, ctx: int) -> RuntimeParts:
    """SGLang's figures are per GPU; totals are × N. On a given GPU the KV line is the pool SGLang
    allocates (it takes ``free × mem_fraction_static`` whatever the requests need) and the buffers line
    the share it leaves for activations and CUDA graphs; without a GPU, what the requests need."""
    dtype = model_dtype(model.tensors)
    t = kv_dtype(req.kv_type, dtype)
    on_gpu = req.device is not None and req.device.kind != "cpu"
    gpu = req.device.usable_bytes if req.device and on_gpu else None
    platform = gpu_platform(req.device) or "cuda"
    on_host = platform in ("cpu", "metal")
    m = sglang_memory(cfg, weights_bytes, context=ctx, batch=req.batch, kv_type=t, dtype=dtype,
                      gpu_memory_bytes=gpu, mem_fraction_static=option(req, "mem_fraction_static"),
                      tensor_parallel=req.n_devices,
                      nvlink=req.device.nvlink is not False if req.device and on_gpu else True,
                      # PyTorch's caching allocator: a GPU's (CUDA or HIP), not the host's
                      allocator_tail_bytes=0 if req.weights or on_host else loaded_tails(
                          model, req.n_devices, platform=platform, build=option(req, "sglang_build")),
                      gpu_reported_bytes=(req.device.reported_bytes or req.device.memory_bytes
                                          if req.device and on_gpu else None),
                      build=option(req, "sglang_build"),
                      swa_full_tokens_ratio=option(req, "swa_full_tokens_ratio"),
                      disable_hybrid_swa_memory=disable_hybrid_swa(cfg, req),
                      mamba_full_memory_ratio=option(req, "mamba_full_memory_ratio"),
                      max_mamba_cache_size=option(req, "max_mamba_cache_size"),
                      mamba_ssm_dtype=option(req, "mamba_ssm_dtype"), vision=vision_tower(model),
                      attention_backend=default_attention_backend(req.device, cfg, req.n_devices),
                      mla_stored_bytes=None if req.weights else mla_stored(model),
                      max_total_tokens=option(req, "max_total_tokens"),
                      platform=platform, piecewise_cuda_graph=False
                      if option(req, "disable_piecewise_cuda_graph") else None)
    n = req.n_devices
    tokens = m.tokens
    notes: tuple[str, ...] = ()
    if tokens is not None:
        pool = m.allocated_bytes or 0
        if m.pool == "hybrid-swa":
            held = (f"KV pools of {tokens:,} tokens in the full-attention layers and {m.swa_tokens:,} in the "
                    f"sliding-window layers")
        elif m.pool == "mamba":
            held = f"a KV pool of {tokens:,} tokens and {m.mamba_slots:,} recurrent states"
        else:
            held = f"a KV pool of {tokens:,} tokens"
        notes = (f"SGLang takes {m.mem_fraction_static} of each GPU's free memory for the weights and "
                 f"{held} ({pool / GiB:.2f} GiB per GPU): {counted(m.max_requests or 0, 'request')} of "
                 f"{ctx:,} tokens at once",)
        if not m.fits:
            notes += (f"does not fit: the pool serves {counted(m.max_requests or 0, 'request')} of {ctx:,} "
                      f"tokens at once, {req.batch} asked",)
        return RuntimeParts(pool * n, m.reserve_bytes * n, (m.cuda_context_bytes + m.nccl_bytes) * n,
                            t.value.lower(), m.explain, notes, m.fits, kv_requests_bytes=m.kv.total_bytes * n)
    fits = None
    if m.max_total_tokens is not None and m.max_total_tokens < ctx * req.batch:
        # no GPU to size the pool from, but the cap alone refuses what the requests need
        fits = False
        notes += (f"does not fit: --max-total-tokens {m.max_total_tokens:,} holds fewer tokens than "
                  f"{counted(req.batch, 'request')} of {ctx:,} need",)
    return RuntimeParts(m.kv.total_bytes * n, 0, (m.cuda_context_bytes + m.nccl_bytes) * n,
                        t.value.lower(), m.explain, notes, fits)
