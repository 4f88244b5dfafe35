"""vLLM (V1 engine): what `vllm serve` takes on each GPU, in the order the engine sizes it.

At start-up every worker (one per GPU with tensor parallelism) does, in vllm/v1/worker/gpu_worker.py:

1. ``init_device``: creates the CUDA context and NCCL, *then* snapshots free memory and sets
   ``requested_memory = total_memory × gpu_memory_utilization``. The context is outside that budget.
2. ``load_model``: the weights (this GPU's shard) plus the RoPE cos/sin cache (rotary_embedding).
3. ``determine_available_memory``: ``profile_run`` pushes one batch of ``max_num_batched_tokens`` tokens
   through the model and the sampler; ``memory_profiling`` (vllm/utils/mem_utils.py) records torch's peak
   increase and the non-torch increase; since v0.21 the CUDA graph memory is estimated there too
   (``VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS``, on by default). The KV cache gets the rest:
   ``available = requested_memory − weights − activation peak − non-torch − CUDA graphs``.
4. vllm/v1/core/kv_cache_utils.py turns that into blocks: ``num_blocks = available // page // group_size``
   and logs "GPU KV cache size: N tokens" and "Maximum concurrency for X tokens per request: Y x".

Exact here: the weights shard and RoPE cache, the KV page and block arithmetic (kv_cache_interface.py,
kv_cache_utils.py; hybrid attention / linear-attention models' shared page size, as 0.10.2 sets it), the
budget subtraction. Estimated: the activation peak (a formula over the profile
run's tensors), the non-torch increase, the CUDA graph pool and the CUDA context (documented constants).
docs/runtimes.md gives every formula with its source and the worked numbers.
"""

from __future__ import annotations

import re

from paramscope.analyses.sizing.kv_cache import (
    ATTENTION_KINDS,
    KV_HEADS_PER_LAYER,
    KVCache,
    KVPart,
    indexer_key_bytes,
    indexer_layers,
    kv_cache,
    layer_kinds,
    no_pool_error,
)
from paramscope.analyses.sizing.loaded import unbuilt_vision
from paramscope.analyses.sizing.request import MemoryRequest, RuntimeParts, kv_dtype, model_dtype
from paramscope.analyses.sizing.runtimes import option
from paramscope.analyses.sizing.runtimes.allocator import loaded_as_stored, weight_tails
from paramscope.analyses.sizing.runtimes.common import (
    CUDA_CONTEXT_BYTES,
    NCCL_BYTES,
    NCCL_PCIE_BYTES,
    per_layer_heads,
    tensor_parallel_problem,
)
from paramscope.analyses.sizing.runtimes.weight_offload import (
    ENCODER_NAMES,
    LAYER_INDEX,
    CpuOffload,
    cpu_offload,
)
from paramscope.errors import UnsupportedError, UsageError
from paramscope.model import ArchConfig, Model
from paramscope.model.dtypes import DType
from paramscope.records import record, replace
from paramscope.units import counted

MiB, GiB = 1 << 20, 1 << 30
F32, I64 = 4, 8

# vllm/engine/arg_utils.py, EngineArgs.get_batch_defaults, `vllm serve` (UsageContext.OPENAI_API_SERVER):
# GPUs with ≥ 70 GiB (H100, H200, MI300X) get the larger pair, except A100s, which vLLM excludes by name
# ("this setting doesn't apply to A100"). Checked: gpt-oss-20b on an A100 80GB at utilization 0.65
# (tests/fixtures/engine_logs/vllm/myoceane-gpt-oss-20b-a100-v0190) leaves 36.56 GiB only with 256 rows.
BIG_GPU_BYTES = 70 * GiB
SERVE_DEFAULTS = {True: (8192, 1024), False: (2048, 256)}  # (max_num_batched_tokens, max_num_seqs)
# The offline ``LLM`` class (UsageContext.LLM_CLASS) batches more tokens per step by the same rule: 16384
# and 1024 on the large GPUs, 8192 and 256 elsewhere. Checked: an ``LLM(model=...)`` script on an H100
# logs "Chunked prefill is enabled with max_num_batched_tokens=16384" (vLLM 0.10.2, llava-v1.6-mistral-7b,
# code index file id 34680831065).
LLM_CLASS_DEFAULTS = {True: (16384, 1024), False: (8192, 256)}
DEFAULTS_BY_ENTRYPOINT = {"serve": SERVE_DEFAULTS, "llm": LLM_CLASS_DEFAULTS}
# V0 engine (vllm/engine/arg_utils.py before V1): max_num_seqs 256; without chunked prefill one batch
# holds a whole prompt, max_num_batched_tokens = max(max_model_len, 2048) (config.py SchedulerConfig);
# chunked prefill switches itself on above 32K tokens of max_model_len, with 2048-token chunks for
# `vllm serve` (arg_utils.py: use_long_context = max_model_len > 32K).
V0_MAX_NUM_SEQS = 256
V0_MIN_BATCHED_TOKENS = 2048
V0_LONG_CONTEXT = 32 * 1024
V0_CHUNK = 2048
# CacheConfig.block_size 16 on CUDA; vllm/platforms/cuda.py forces 64 for FlashMLA, the Hopper MLA backend
BLOCK_SIZE = {False: 16, True: 64}  # keyed by cfg.is_mla
# vLLM before MLA support (v0.7.1, February 2025) ran DeepSeek-V2/V3 attention as plain multi-head attention
# (model_executor/models/deepseek_v2.py DeepseekV2Attention: "# TODO, support head_size 192", then
# Attention(num_local_heads, 256, ..., num_kv_heads=num_local_heads) with q, k (128 + 64 values) and v (128)
# padded to 256 per head; SGLang's deepseek_v2.py keeps the same code for its non-MLA path). PR #10927's
# "Before" run, DeepSeek-V2-Lite on an H100: 442,368 B a token = 27 layers x 2 x 16 heads x 256 x 2 B
PRE_MLA_HEAD_DIM = 256


# V0's CacheEngine pads an MLA cache entry to a multiple of 256 bytes on CUDA (vllm/worker/cache_engine.py
# _align_cache, VLLM_CUDA_MEM_ALIGN_KV_CACHE on by default; PR #12676, in 0.7.2): "640 elements per cache
# entry instead of 576 (1280 bytes instead of 1152)". PR #13109's DeepSeek-Coder-V2-Lite log: 59.75 GiB /
# (116,023 blocks × 16) = 34,560 B a token = 27 layers × 1280 B. V1's MLA backends keep 576
V0_MLA_ENTRY_ALIGN = 256


def v0_mla_aligned(cfg: ArchConfig, kv_type: DType) -> ArchConfig:
    """An MLA model's cache as V0 lays it out: the latent and rope part padded to 256 bytes a token."""
    width = cfg.kv_lora_rank + cfg.rope_head_dim
    size = kv_type.type_size  # one byte or two: the cache types are not block-quantized
    padded = cdiv(width * size, V0_MLA_ENTRY_ALIGN) * V0_MLA_ENTRY_ALIGN // size
    return replace(cfg, kv_lora_rank=cfg.kv_lora_rank + padded - width)


def pre_mla_attention(cfg: ArchConfig) -> ArchConfig:
    """An MLA model's attention as a vLLM without MLA cached it: every head's K and V, padded to 256."""
    return replace(cfg, kv_lora_rank=0, n_kv_heads=cfg.n_heads, head_dim_k=PRE_MLA_HEAD_DIM,
                   head_dim_v=PRE_MLA_HEAD_DIM)
# The RoPE cos/sin cache's dtype where a model asks for one (get_rope(..., dtype=...)), else the model
# dtype: gpt_oss.py OAIAttention builds its YaRN rotary embedding with dtype=torch.float32
# (131072 positions × 64 × 4 B = 32 MiB).
ROPE_CACHE_DTYPE = {"GptOssForCausalLM": DType.F32}
# --kv-cache-dtype: "auto" (the model dtype), "fp8" / "fp8_e4m3", "fp8_e5m2"
CACHE_TYPES = (DType.F32, DType.F16, DType.BF16, DType.F8_E4M3, DType.F8_E5M2)

# Engine families: how the start-up profile differs (docs/runtimes.md). "v1": the V1 engine since 0.21,
# which estimates the CUDA graphs during profiling and takes them out of the budget
# (VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS, "default since v0.21.0" as its log line says). "v1-early": the
# V1 engine before 0.21 (default since 0.8): graphs captured after the cache is sized, outside the budget.
# "v1-0.9": the V1 engine of 0.9.2 to 0.10 (July to September 2025), like "v1-early" except that its worker
# took the memory snapshot *before* initialising NCCL (vllm/v1/worker/gpu_worker.py init_device; PR #25359,
# in 0.11, moved it after: "NCCL buffers ... allocated after the memory snapshot ... shows up as non-torch
# memory increase"), so with tensor parallelism the NCCL and custom all-reduce buffers are non-torch memory
# inside the budget. "v1-0.8": the V1 engine of 0.8.0 to 0.9.1, before PR #19312 ("V1's memory profiling
# incorrectly counts memory used by other processes as non_torch_allocations"; merged June 2025, in 0.9.2):
# determine_available_memory took ``non_torch_allocations = (total − free) − torch allocated`` after the
# profile run, the whole device's memory outside torch: the CUDA context and NCCL too are inside the
# budget (and any other process's memory on the GPU, which no profile can know).
# "v0": the V0 engine of 0.7 to 0.10: its worker measures the non-torch memory as the increase over a
# baseline snapshot taken before the profile (vllm/utils.py memory_profiling, PR #10511 with PR #11809's fix
# counting torch's reserved bytes, January 2025), as V1 does: the 0.01–0.20 GiB that 0.7–0.10 V0 logs print
# at TP 1 (hfcookbook-*: 0.05). "v0-0.6": the V0 engine of 0.6.4 to 0.6.x, whose worker took the whole
# device's memory outside torch after the profile, the CUDA context's growth included: 0.35 GiB on an
# RTX 3090 (10517-*).
# "v0-early": the V0 engine before 0.6.4 (PR #9352 moved it to torch's peak): worker.py
# determine_num_available_blocks took ``peak_memory = init_gpu_memory − free_gpu_memory`` after the profile
# run (0.6.3; PR #2031, December 2023: ``total − free``), the device's whole used memory, where
# init_gpu_memory is read in init_device *before* init_worker_distributed_environment: with tensor
# parallelism the NCCL and custom all-reduce buffers are part of the peak, inside the budget.
# "v0-2023": "v0-early" before PR #2151 (merged 2023-12-17, in 0.2.6; issue #2150): torch.distributed's
# all_reduce recorded its input on the NCCL stream, so the caching allocator could not reuse it until the
# step synchronised ("the activation memory for all reduce is not reused"): every layer's two all-reduce
# inputs (attention and MLP outputs, tokens × hidden each) stay reserved through the profile run, and
# ``total − free`` counts them.
# "v0-2023-main": the main branch before PR #2031 (merged 2023-12-13), whose worker.py took
# ``peak_memory = torch.cuda.max_memory_allocated()`` after the profile run (the PR's diff replaces it by
# ``total − free``): torch's own peak only, so neither non-torch memory (CUDA context, NCCL) nor the
# all-reduce inputs held on the NCCL stream count (the PR: "the peak memory usage ... is about 77.5GB,
# although gpu_memory_utilization is set as 0.9 (72 GiB)").
# "v1-0.16": "v1-early" from 0.16 (the first release after PR #33538, "Triton-based Top-k and Top-p sampler
# kernels", merged 2026-02-02; 0.16.0 was out by 2026-03-04): the profile's sampler no longer sorts the whole
# vocabulary, and takes what the "v1" family's does (SAMPLER_BYTES_PER_LOGIT).
ENGINES = ("v1", "v1-0.16", "v1-early", "v1-0.9", "v1-0.8", "v0", "v0-0.6", "v0-early", "v0-2023",
           "v0-2023-main")
V0_FAMILIES = ("v0", "v0-0.6", "v0-early", "v0-2023", "v0-2023-main")
TRI_STATE = {"auto": None, "on": True, "off": False}  # the values of the runtime table's on/off/auto options

# Estimated constants (docs/runtimes.md lists the log lines they come from):
# memory_profiling's non-torch increase during the profile run (attention workspaces, cuBLAS):
# vLLM V1 logs 0.07–0.20 GiB ("non_torch_memory takes 0.16GiB", vLLM PR #12126)
NON_TORCH_BYTES = 160 * MiB
# V0 worker.py (0.6.4): "non_torch_memory=0.35GiB" for Llama 3.1 8B on an RTX 3090, both logs of
# tests/fixtures/engine_logs/vllm/10517-* (the whole device's memory outside torch after the profile run):
# the "v0-0.6", "v0-early" and "v0-2023" families; "v0" (0.7 to 0.10) measures the increase, NON_TORCH_BYTES
V0_NON_TORCH_BYTES = 350 * MiB
# NCCL and custom all-reduce buffers per GPU with tensor parallelism (runtimes/common.py NCCL_BYTES),
# created in init_device before the memory snapshot: outside V1's budget, like the CUDA context.
# the CUDA graph pool, captured for decode batch sizes up to 512: "Estimated CUDA graph memory:
# 0.17 … 0.65 GiB" per GPU in vLLM ≥ 0.21 logs for small and mid-size models, ~1.4 GiB for Llama 4 Maverick
CUDA_GRAPH_BYTES = 512 * MiB
# The sampler on the profile run's logits (top-k and top-p on, as the dummy sampling parameters ask), per
# logit beyond the model-dtype logits compute_logits returns, by engine family:
# - v1 (0.21 on): the fp32 copy, the sorted values and their int64 indices, the softmax of the sorted
#   values (topk_topp_sampler.py): 20 B; checked against "3.04 GiB" of torch peak for Qwen3-8B with 1024
#   rows on an H100 (vLLM PR #48037, model runner V2): 3.25 GiB predicted.
# - v1-0.16 (0.16 to 0.20, the Triton top-k/top-p kernels): the same 20 B; checked on two 0.19 logs of 256
#   rows on A100s (tests/fixtures/engine_logs/vllm/): gpt-oss-20b (myoceane-*: 36.56 GiB left, 36.59
#   predicted) and Qwen3-8B (tokenkaki-*-v0191: 19.36 GiB left, 19.32 predicted), where 36 B left 0.77 and
#   0.62 GiB too little.
# - v1-early, v1-0.9, v1-0.8 and v0: the sort-based path (the fp32 copy, sorted values, int64 indices and
#   their inverse, the scattered-back logits, probabilities, masks, the sampler's noise), measured per engine
#   on the logs whose peak is the sampler's (tests/fixtures/engine_logs/vllm/): V0 41.2 B per logit with the
#   bf16 logits (10511-*: 1.26 GiB for 256 rows × 128256, the same at TP 1 and TP 2) and 39.0 B (13061-*:
#   rank 0's pool is 1.23 GiB smaller than the other rank's): 40 B for the 0.6 and earlier V0 families;
#   the V0 of 0.7 to 0.10 ("v0") 37 B, from four logs whose peak is the sampler's (cs336-* 36.6, pr13109-*
#   36.5, hfcookbook-* 37.2, davidshare-phi4-* 37.3; 13061-*'s 39.0 is the exception, +1.2 % on its
#   tokens); V1 36.2 B (23278-*: −2.14 GiB left of an H100's 0.9 × 79.22 GiB with 1024 rows × 201088): 36 B.
SAMPLER_BYTES_PER_LOGIT = {"v1": F32 + F32 + I64 + F32, "v1-0.16": F32 + F32 + I64 + F32, "v1-early": 36,
                           "v1-0.9": 36, "v1-0.8": 36,
                           **dict.fromkeys(V0_FAMILIES, 40), "v0": 37}
# The V1 sampler with FlashInfer's top-k/top-p kernel instead (v1/sample/ops/topk_topp_sampler.py, 0.8.x:
# "Using FlashInfer for top-p & top-k sampling." where FlashInfer is installed, as in vLLM's Docker image;
# V0 never used it by default): the fp32 copy of the logits (sampler.py ``logits.to(torch.float32)``;
# temperature divides it in place) and the softmax probabilities ``forward_cuda`` hands the kernel, which
# samples without sorting: 8 B per logit. Checked on vLLM 0.8.5 on four A10s (17469-*, whose log says so).
FLASHINFER_SAMPLER_BYTES_PER_LOGIT = F32 + F32


@record
class VllmParams:
    context: int  # max_model_len
    batch: int  # sequences served at once
    tensor_parallel: int
    block_size: int
    max_num_batched_tokens: int
    max_num_seqs: int
    kv_type: DType
    dtype: DType  # model dtype: weights and activations
    gpu_memory_bytes: int | None
    gpu_memory_utilization: float
    cuda_graphs: bool
    engine: str = "v1"  # ENGINES
    chunked_prefill: bool = True
    nvlink: bool = True  # the GPUs talk over NVLink (else PCIe only): NCCL's footprint
    flashinfer_sampler: bool = False  # V1's sampler runs FlashInfer's top-k/top-p kernel
    gpu_name: str | None = None  # as the driver names the GPU
    awq_split_k: bool = False  # an AWQ checkpoint on a release before 0.3.0 (AWQ_SPLIT_K)
    awq_dequantize: bool = False  # the AWQ kernel (not Marlin) from 0.3.0 on: awq_dequantize_peak
    pipeline_parallel: int = 1  # --pipeline-parallel-size: stages, each on tensor_parallel GPUs
    weight_tails: int = 0  # one rank's caching-allocator segment tails that memory_allocated counts
    entrypoint: str = "serve"  # "serve" (vllm serve) or "llm" (the offline LLM class): V1's batch defaults
    expert_parallel: bool = False  # --enable-expert-parallel: whole experts per GPU, not split matrices
    kv_cache_memory_bytes: int | None = None  # --kv-cache-memory-bytes: the cache's size given outright
    prefix_caching: bool = False  # --enable-prefix-caching (a hybrid model's state in "align" mode)
    mla_stored_bytes: int | None = None  # MLA's down-projections as stored (``mla_stored``)
    # the v1 family's profile takes the CUDA graph estimate out of the budget; model runner V2 before 0.28
    # did not (its profile_cudagraph_memory returned 0), capturing the graphs outside it
    graph_estimate: bool = True


@record
class KVLayout:
    """How vLLM groups layers and how many blocks one request needs (kv_cache_utils.py).

    Layers of one kind share a block table; kinds are cut into groups of ``group_size`` layers (padding
    the last group of a kind), and one block id holds one page in each of ``group_size`` tensors.
    """

    group_size: int
    groups: dict[str, int]  # groups per layer kind
    blocks: dict[str, int]  # blocks one request holds in one group of that kind
    page_bytes: int  # one block of one layer: block_size × (K + V) row bytes (the widest layer's)
    # layers of one kind whose widths differ (UniformTypeKVCacheSpecs): each layer's page, in one group
    layer_pages: tuple[int, ...] = ()

    @property
    def n_groups(self) -> int:
        return sum(self.groups.values())

    @property
    def block_bytes(self) -> int:
        """One block id over the group's layers: vLLM's page size of the group (a UniformTypeKVCacheSpecs
        sums its layers' pages)."""
        return sum(self.layer_pages) if self.layer_pages else self.page_bytes * self.group_size

    @property
    def blocks_per_request(self) -> int:
        return sum(self.groups[kind] * self.blocks[kind] for kind in self.groups)


@record
class KVPool:
    """What the pool comes to on a given GPU: the blocks vLLM allocates and how many requests fit."""

    reserved_bytes: int  # gpu_memory_utilization × GPU memory
    available_bytes: int  # left for the KV cache ("Available KV cache memory")
    num_blocks: int
    layout: KVLayout
    block_size: int
    # max_model_len where the engine reports its tokens as concurrency × max_model_len (TOKENS_REPORTED);
    # 0: as blocks
    reported_len: int = 0

    @property
    def pool_bytes(self) -> int:
        return self.num_blocks * self.layout.block_bytes

    @property
    def tokens(self) -> int:
        """'GPU KV cache size: N tokens' (kv_cache_utils._report_kv_cache_config; TOKENS_REPORTED)."""
        if self.reported_len:
            return int(self.reported_len * self.max_concurrency)
        return self.num_blocks // self.layout.n_groups * self.block_size

    @property
    def max_concurrency(self) -> float:
        """'Maximum concurrency for X tokens per request' (get_max_concurrency_for_kv_cache_config)."""
        return self.num_blocks / self.layout.blocks_per_request


@record
class VllmMemory:
    """One GPU's share (each of ``tensor_parallel`` GPUs takes the same)."""

    params: VllmParams
    model_bytes: int  # weights shard + RoPE cache
    kv: KVCache  # the cache ``batch`` requests of ``context`` tokens need, in whole blocks
    kv_padding_bytes: int  # padding layers of hybrid groups
    activation_bytes: int
    cuda_graph_bytes: int
    non_torch_bytes: int
    cuda_context_bytes: int
    layout: KVLayout
    pool: KVPool | None  # None without a GPU size
    explain: tuple[str, ...]
    # pipeline parallelism: which stage this is, its layers [start, end), and every stage (this one is
    # the worst: the fewest KV blocks of its own on a given GPU, else the most memory needed)
    stage: int = 0
    layers: tuple[int, int] = (0, 0)
    stages: tuple[VllmMemory, ...] = ()
    own_blocks: int | None = None  # the blocks this stage's memory holds, before the engine's minimum
    offload: CpuOffload | None = None  # --cpu-offload-gb: the parameters moved to host memory

    @property
    def weights_bytes(self) -> int:
        return self.model_bytes

    @property
    def kv_needed_bytes(self) -> int:
        return self.kv.total_bytes + self.kv_padding_bytes

    @property
    def kv_cache_bytes(self) -> int:
        """The pool vLLM allocates on the given GPU, else what the requests need."""
        return self.pool.pool_bytes if self.pool else self.kv_needed_bytes

    @property
    def compute_bytes(self) -> int:
        return self.activation_bytes + self.cuda_graph_bytes

    @property
    def overhead_bytes(self) -> int:
        return self.non_torch_bytes + self.cuda_context_bytes

    @property
    def shortfall_bytes(self) -> int:
        """How much more memory the reservation needs to hold ``batch`` requests of ``context`` tokens
        (0 when it holds them): the blocks missing, or the negative memory left for the cache, plus the
        blocks the requests need."""
        if self.pool is None:
            return 0
        need = self.params.batch * self.layout.blocks_per_request * self.layout.block_bytes
        have = max(self.pool.available_bytes, 0) // self.layout.block_bytes * self.layout.block_bytes
        return max(need - have, 0) + max(-self.pool.available_bytes, 0) + self.over_gpu_bytes

    @property
    def over_gpu_bytes(self) -> int:
        """With --kv-cache-memory-bytes: how far the worker's memory passes the GPU's (0 otherwise)."""
        gpu = self.params.gpu_memory_bytes
        if self.pool is None or self.params.kv_cache_memory_bytes is None or gpu is None:
            return 0
        return max(self.total_bytes - gpu, 0)

    @property
    def needed_bytes(self) -> int:
        """The least a GPU must offer to serve ``batch`` × ``context`` (weights, cache, buffers)."""
        return self.weights_bytes + self.kv_needed_bytes + self.compute_bytes + self.overhead_bytes

    @property
    def total_bytes(self) -> int:
        """What to budget: on a given GPU vLLM takes its whole reservation, plus the CUDA context."""
        if self.pool:
            return self.pool.reserved_bytes + self.cuda_context_bytes
        return self.needed_bytes

    @property
    def fits(self) -> bool:
        """Whether vLLM starts and serves ``batch`` requests of ``context`` tokens at once."""
        if self.pool is None:
            return True
        if self.over_gpu_bytes:
            return False  # the cache asked for does not fit beside the rest: its allocation fails
        return self.pool.num_blocks >= self.params.batch * self.layout.blocks_per_request


def cdiv(a: int, b: int) -> int:
    return -(-a // b)


# vllm/config.py _get_and_verify_max_len (the same rule from 2023 to today): with no --max-model-len the
# engine takes max_position_embeddings, multiplied by the RoPE scaling factor unless the scaling type is
# one that already describes the extended length ("su", "longrope", "llama3"; Gemma 3's 128K is already
# scaled, so "gemma3" model types are skipped); "yarn" multiplies original_max_position_embeddings.
# deepseek-coder-6.7b (16384 positions, linear × 4) thus gets max_model_len 65536.
ROPE_TYPES_NOT_SCALED = ("su", "longrope", "llama3")


def rope_settings(cfg: ArchConfig) -> dict | None:
    """The config's RoPE scaling: ``rope_scaling``, or transformers 5's ``rope_parameters`` (which holds
    the scaling, rope_theta and partial_rotary_factor in one dict)."""
    for key in ("rope_scaling", "rope_parameters"):
        value = cfg.extra.get(key)
        if isinstance(value, dict):
            return value
    return None


def default_max_model_len(cfg: ArchConfig) -> int:
    """vLLM's max_model_len when none is given (see ROPE_TYPES_NOT_SCALED)."""
    rope = rope_settings(cfg)
    if not isinstance(rope, dict) or "gemma3" in cfg.family:
        return cfg.context_length
    kind = rope.get("rope_type", rope.get("type"))
    factor = rope.get("factor", 1.0)
    if kind in ROPE_TYPES_NOT_SCALED or not isinstance(factor, (int, float)):
        return cfg.context_length
    base = cfg.context_length
    if kind == "yarn":
        base = rope.get("original_max_position_embeddings", base)
    return int(base * factor)


# --gpu-memory-utilization when none is given: 0.9 from 2023 (PR #2162 documents it), 0.92 in the current
# releases ("If unspecified, will use the default value of 0.92", docs.vllm.ai/en/stable/cli/serve; the
# LLM class's gpu_memory_utilization: float = 0.92; a 0.31.0 log started with --model alone prints
# "Desired GPU memory utilization is (0.92, 72.91 GiB)", vllm/a100-llama31-8b-default-v0310). The release
# that changed it is not pinned down: the current family ("v1") takes 0.92, the earlier ones 0.9.
DEFAULT_UTILIZATION = {"v1": 0.92}
OLDER_DEFAULT_UTILIZATION = 0.9


def default_utilization(engine: str) -> float:
    return DEFAULT_UTILIZATION.get(engine, OLDER_DEFAULT_UTILIZATION)


def resolve_params(
    cfg: ArchConfig, *, context: int, batch: int, kv_type: DType | None, dtype: DType,
    gpu_memory_bytes: int | None, gpu_memory_utilization: float | None, block_size: int | None,
    max_num_batched_tokens: int | None, max_num_seqs: int | None, cuda_graphs: bool, tensor_parallel: int,
    engine: str = "v1", chunked_prefill: bool | None = None, gpu_name: str | None = None,
    entrypoint: str = "serve",
) -> VllmParams:
    """Fill vLLM's defaults the way `vllm serve` (or the offline ``LLM`` class, ``entrypoint`` "llm") of
    that engine family does, and refuse what it refuses."""
    if engine not in ENGINES:
        raise UnsupportedError(f"unknown vLLM engine family {engine!r} (known: {', '.join(ENGINES)})")
    if entrypoint not in DEFAULTS_BY_ENTRYPOINT:
        raise UnsupportedError(f"unknown vLLM entrypoint {entrypoint!r} (known: serve, llm)")
    if engine in V0_FAMILIES:
        chunked = context > V0_LONG_CONTEXT if chunked_prefill is None else chunked_prefill
        default_tokens = V0_CHUNK if chunked else max(context, V0_MIN_BATCHED_TOKENS)
        default_seqs = V0_MAX_NUM_SEQS
    else:
        if chunked_prefill is False:
            raise UnsupportedError("vLLM's V1 engine always chunks prefills; --enable-chunked-prefill off "
                                   "is the V0 engine's (--engine v0)")
        chunked = True
        a100 = gpu_name is not None and "a100" in gpu_name.lower()
        big = gpu_memory_bytes is None or (gpu_memory_bytes >= BIG_GPU_BYTES and not a100)
        default_tokens, default_seqs = DEFAULTS_BY_ENTRYPOINT[entrypoint][big]
    utilization = default_utilization(engine) if gpu_memory_utilization is None else gpu_memory_utilization
    p = VllmParams(context, batch, tensor_parallel, _or(block_size, BLOCK_SIZE[cfg.is_mla]),
                   _or(max_num_batched_tokens, default_tokens), _or(max_num_seqs, default_seqs),
                   kv_type or dtype, dtype, gpu_memory_bytes, utilization, cuda_graphs, engine,
                   chunked, entrypoint=entrypoint)
    _check(p)
    return p


def _or(value: int | None, default: int) -> int:
    return default if value is None else value


def _check(p: VllmParams) -> None:
    positive = {"context": p.context, "batch": p.batch, "tensor_parallel": p.tensor_parallel,
                "block_size": p.block_size, "max_num_batched_tokens": p.max_num_batched_tokens,
                "max_num_seqs": p.max_num_seqs, "gpu_memory_bytes": _or(p.gpu_memory_bytes, 1)}
    bad = [f"{name} {value}" for name, value in positive.items() if value < 1]
    if not 0 < p.gpu_memory_utilization <= 1:  # vllm/config/cache.py: gpu_memory_utilization in (0, 1]
        bad.append(f"gpu_memory_utilization {p.gpu_memory_utilization}")
    if bad:
        raise UnsupportedError(
            f"vLLM needs positive sizes and a utilization in (0, 1] (found {', '.join(bad)})")
    if p.kv_type not in CACHE_TYPES:
        raise UnsupportedError(f"vLLM cannot hold its KV cache as {p.kv_type.value.lower()} (it knows "
                               f"{', '.join(t.value.lower() for t in CACHE_TYPES)})")
    if p.max_num_batched_tokens < p.max_num_seqs:  # vllm/config/scheduler.py, SchedulerConfig checks
        raise UnsupportedError(f"vLLM: max_num_batched_tokens ({p.max_num_batched_tokens}) must be ≥ "
                               f"max_num_seqs ({p.max_num_seqs})")
    if not p.chunked_prefill and p.max_num_batched_tokens < p.context:  # SchedulerConfig._verify_args
        raise UnsupportedError(f"vLLM: without chunked prefill max_num_batched_tokens "
                               f"({p.max_num_batched_tokens}) must be ≥ max_model_len ({p.context})")


def kv_heads_per_rank(cfg: ArchConfig, tp: int, engine: str = "vLLM") -> int:
    """KV heads one GPU holds: split across ranks, or replicated when there are fewer than ranks.

    vllm/config/model.py verify_with_parallel_config: heads % tp == 0; models/llama.py LlamaAttention:
    kv_heads % tp == 0 when kv_heads ≥ tp, else tp % kv_heads == 0 and each rank keeps one head; in a
    model whose layers differ, every layer's (``tensor_parallel_problem``).
    """
    problem = tensor_parallel_problem(cfg, tp)
    if problem:
        raise UnsupportedError(f"{engine}: {problem} cannot be split over tensor_parallel {tp}")
    return max(1, cfg.n_kv_heads // tp)


def rank_config(cfg: ArchConfig, tp: int, engine: str = "vLLM") -> ArchConfig:
    """The model as one rank's cache sees it. MLA caches one latent per token on every rank; linear /
    SSM states are split over the ranks (``hybrid_state_bytes``); a per-layer KV head list is split
    layer by layer (each layer's attention keeps ``max(1, heads // tp)``, none where it has none)."""
    heads = kv_heads_per_rank(cfg, tp, engine)
    states = {"conv_state_size": cfg.conv_state_size // tp, "ssm_state_size": cfg.ssm_state_size // tp}
    if cfg.is_mla:
        return replace(cfg, **states)
    per_layer = per_layer_heads(cfg, KV_HEADS_PER_LAYER)
    if per_layer:
        ranked = tuple(max(1, h // tp) if h else 0 for h in per_layer)
        return replace(cfg, n_kv_heads=heads, extra={**cfg.extra, KV_HEADS_PER_LAYER: ranked}, **states)
    return replace(cfg, n_kv_heads=heads, **states)


# How vLLM's model code lays out the KV heads of a model whose layers differ, by family (model_type):
# - "deci" (Deci/DeciLM-7B): vllm/model_executor/models/decilm.py (vllm-project/vllm at fc5726d3)
#   DeciLMForCausalLM.__init__ sets ``config.num_key_value_heads = max(config.num_key_value_heads_per_layer)``
#   ("PagedAttention does not work well with variable GQA, so we normalize the weights upon loading, and
#   use uniform GQA with the max value instead"): every layer caches the widest layer's heads.
# - "nemotron-nas": models/nemotron_nas.py DeciLMDecoderLayer builds attention for each block that is not
#   ``no_op`` with ``num_attention_heads // n_heads_in_group`` KV heads; a block replaced by a linear layer
#   has ``n_heads_in_group`` null, which that code cannot divide by: vLLM does not load such a model.
#   The V1 engine asks each attention layer for its own spec (FullAttentionSpec with its num_kv_heads);
#   the V0 engine's CacheEngine holds ``ModelConfig.get_total_num_kv_heads()`` in every attending layer
#   (config.py: for nemotron-nas, the first block that is not no_op's heads; get_num_layers_by_block_type
#   counts the blocks that are not no_op).
# (model_type, architecture) pairs: a GGUF's "deci" architecture (Nemotron-NAS converted) is not DeciLM-7B
VLLM_WIDEST_EVERYWHERE = frozenset({("deci", "DeciLMForCausalLM")})
VLLM_NO_LINEAR_ATTENTION = frozenset({"nemotron-nas"})
V0_FIRST_ATTENTION_HEADS = frozenset({"nemotron-nas"})


def vllm_layout_config(cfg: ArchConfig, engine: str) -> ArchConfig:
    """The model as vLLM's model code caches it (VLLM_WIDEST_EVERYWHERE and the notes above it)."""
    per_layer = per_layer_heads(cfg, KV_HEADS_PER_LAYER)
    if cfg.family in VLLM_NO_LINEAR_ATTENTION:
        linear = (cfg.extra.get("heterogeneous") or {}).get("linear_attention_layers", 0)
        if linear:
            raise UnsupportedError(f"vLLM: {cfg.architecture} has {linear} attention blocks replaced by a "
                                   f"linear layer, which vLLM's nemotron_nas.py cannot build "
                                   f"(n_heads_in_group is null)")
    if not per_layer:
        return cfg
    extra = {k: v for k, v in cfg.extra.items() if k != KV_HEADS_PER_LAYER}
    if (cfg.family, cfg.architecture) in VLLM_WIDEST_EVERYWHERE:
        return replace(cfg, n_kv_heads=max(per_layer), extra=extra)
    if engine in V0_FAMILIES and cfg.family in V0_FIRST_ATTENTION_HEADS:
        first = next(h for h in per_layer if h)
        return replace(cfg, n_kv_heads=first, extra=extra)
    if engine in V0_FAMILIES and len(set(per_layer) - {0}) > 1:
        raise UnsupportedError(f"vLLM V0: its CacheEngine holds one KV head count in every layer, and "
                               f"which one {cfg.architecture}'s config gives it is not known here")
    return cfg


def rope_cache_bytes(cfg: ArchConfig, dtype: DType) -> int:
    """model_executor/layers/rotary_embedding: a cos_sin_cache of positions × rotary_dim, model dtype,
    for each distinct RoPE config (get_rope keeps one instance per (head size, rotary dim, max position,
    base, scaling): layers share it). Llama 3.1 8B: 131072 × 128 × 2 B = 32 MiB, which is why vLLM reports
    14.9888 GiB of weights for its 14.9576 GiB of tensors. GLM-4-32B-0414 (partial rotary factor 0.5):
    32768 × 64 × 2 B = 4 MiB. Gemma 3 27B: its global layers' cache is linear-scaled × 8 (131072 × 8
    positions) and its sliding layers have their own (rope_local_base_freq): 256 + 32 MiB (``rope_caches``).
    """
    size = ROPE_CACHE_DTYPE.get(cfg.architecture, dtype).type_size
    return sum(positions * rotary_dim * size for positions, rotary_dim in rope_shapes(cfg))


def rope_shapes(cfg: ArchConfig) -> list[tuple[int, int]]:
    """Each RoPE cache's (positions, rotary dim) (``rope_caches``; ``rope_cache_bytes``)."""
    rotary_dim = cfg.rope_head_dim if cfg.is_mla else cfg.head_dim_k
    # get_rope narrows rotary_dim to int(head_size × partial_rotary_factor) (GLM-4 0.5, Phi-2 0.4,
    # StableLM 0.25): the cache holds only the rotated part of each head
    factor = cfg.extra.get("partial_rotary_factor", (rope_settings(cfg) or {}).get("partial_rotary_factor"))
    if not cfg.is_mla and isinstance(factor, int | float) and 0 < factor < 1:
        rotary_dim = int(rotary_dim * factor)
    return [(positions, rotary_dim) for positions, _ in rope_caches(cfg)]


MROPE_CACHE_FACTOR = 4


def rope_positions(cfg: ArchConfig, scaling: object) -> int:
    """The rows of one cache, as each rotary class sizes it (rotary_embedding get_rope): linear and
    dynamic-NTK scaling max_position × factor; YaRN (and DeepSeek's) original_max_position × factor;
    LongRoPE (Phi-3 "su"/"longrope") a short cache of original_max_position and a long one of max_position,
    concatenated; the rest (none, llama3, mrope) max_position."""
    positions = cfg.context_length
    if not isinstance(scaling, dict):
        return positions
    kind = scaling.get("rope_type", scaling.get("type"))
    factor = scaling.get("factor")
    original = scaling.get("original_max_position_embeddings", positions)
    if not isinstance(original, int):
        original = positions
    if kind in ("linear", "dynamic") and isinstance(factor, int | float) and factor > 1:
        return int(positions * factor)
    if kind in ("yarn", "deepseek_yarn") and isinstance(factor, int | float) and factor > 1:
        return int(original * factor)
    if kind in ("su", "longrope"):
        return original + positions
    if "mrope_section" in scaling:
        # MRotaryEmbedding (rotary_embedding/mrope.py): cache_max_position_num = max_position × 4, "In
        # Qwen2.5-VL, the maximum index value is related to the duration of the input video"
        return positions * MROPE_CACHE_FACTOR
    return positions


def rope_caches(cfg: ArchConfig) -> tuple[tuple[int, object], ...]:
    """The distinct caches (positions, base): the model's, and for models whose sliding-window layers
    rotate with their own unscaled base (Gemma 3's rope_local_base_freq) theirs."""
    caches = [(rope_positions(cfg, rope_settings(cfg)), cfg.extra.get("rope_theta"))]
    local = cfg.extra.get("rope_local_base_freq")
    if local is not None and "sliding" in layer_kinds(cfg):
        caches.append((cfg.context_length, local))
    return tuple(dict.fromkeys(caches))


def weights_per_gpu(cfg: ArchConfig, weights_bytes: int, p: VllmParams) -> int:
    """The weights split evenly over the ranks, except the MoE routers, which every rank holds whole
    (``replicated_bytes``), plus the RoPE cache and the caching allocator's unsplit segment tails that
    "Model loading took" counts (``allocator_tails``). Norms and the biases of row-parallel layers are
    replicated too; their few MiB are ignored."""
    shared = replicated_bytes(cfg, p)
    return (cdiv(weights_bytes - shared, p.tensor_parallel) + shared + rope_cache_bytes(cfg, p.dtype)
            + allocator_tails(cfg, p) + uneven_experts_bytes(cfg, weights_bytes - shared, p))


# --enable-expert-parallel (model_executor/layers/fused_moe/layer.py determine_expert_map): each of the
# tensor-parallel × data-parallel ranks holds whole experts, E // ranks of them and one more on the first
# E % ranks ranks; the rest of the model stays split by tensor parallelism. The worst rank's weights are
# what the even split gives plus its extra experts' share.
def uneven_experts_bytes(cfg: ArchConfig, split_bytes: int, p: VllmParams) -> int:
    """With expert parallelism, the bytes the first rank holds beyond an even split when the experts do
    not divide over the ranks: its one extra expert less its share, estimated from the experts' share
    of the parameters (``expert_fraction``)."""
    ranks = p.tensor_parallel
    if not p.expert_parallel or not cfg.is_moe or cfg.n_experts % ranks == 0:
        return 0
    per_expert = split_bytes * expert_fraction(cfg) / cfg.n_experts
    return int(per_expert * (cdiv(cfg.n_experts, ranks) - cfg.n_experts / ranks))


def expert_fraction(cfg: ArchConfig) -> float:
    """The routed experts' share of a model's parameters, from its shapes: 3 × hidden × expert ffn per
    expert per MoE layer, against the attention, dense MLP and embedding matrices."""
    h, moe_layers = cfg.hidden_size, cfg.n_layers - cfg.n_dense_layers
    experts = moe_layers * cfg.n_experts * 3 * h * (cfg.expert_ffn_size or cfg.ffn_size)
    attention = cfg.n_layers * h * (cfg.n_heads + cfg.n_kv_heads) * (cfg.head_dim_k + cfg.head_dim_v)
    dense = cfg.n_dense_layers * 3 * h * cfg.ffn_size
    embeddings = (1 if cfg.tied_embeddings else 2) * cfg.vocab_size * h
    return experts / (experts + attention + dense + embeddings)


def loaded_tails(model: Model, tensor_parallel: int) -> int:
    """One rank's caching-allocator segment tails as "Model loading took" counts them: the unsplit ones
    (torch.cuda.memory_allocated), over the tensors vLLM builds (runtimes/allocator.py)."""
    return weight_tails(model, tensor_parallel, device_level=False,
                        skip=frozenset(t.name for t in unbuilt_vision(model)))


def allocator_tails(cfg: ArchConfig, p: VllmParams) -> int:
    """The segment tails of one rank's weights that torch.cuda.memory_allocated counts (runtimes/
    allocator.py ``weight_tails``, given as ``p.weight_tails``): vLLM measures the load with it. Not
    modelled for pipeline stages."""
    return p.weight_tails if p.pipeline_parallel == 1 else 0


def replicated_bytes(cfg: ArchConfig, p: VllmParams) -> int:
    """What every rank holds whole with tensor parallelism: MLA's down-projections
    (``mla_down_projection_params``) and the MoE routers: vLLM builds them as ``ReplicatedLinear`` (models/
    qwen3_moe.py, qwen2_moe.py, mixtral.py, deepseek_v2.py ``self.gate``) or a plain ``nn.Linear``
    (gpt_oss.py ``MLPBlock.router``), so each rank holds all of them (hidden × experts per MoE layer, in
    the model dtype: quantization configs leave the gate unquantized). Qwen3-235B-A22B: 94 × 4096 × 128
    × 2 B = 94 MiB per rank instead of a quarter of it at TP 4."""
    return replicated_weight_bytes(cfg, p.tensor_parallel, p.dtype, p.mla_stored_bytes)


def replicated_weight_bytes(cfg: ArchConfig, tensor_parallel: int, dtype: DType,
                            mla_stored_bytes: int | None = None) -> int:
    """``replicated_bytes`` for a tensor-parallel size and model dtype (SGLang's model code shares it);
    ``mla_stored_bytes``: the down-projections as the checkpoint stores them (``mla_stored``: an FP8
    DeepSeek keeps them in FP8 with their scales), else priced from the config in the model dtype."""
    if tensor_parallel == 1:
        return 0
    routers = (cfg.n_layers - cfg.n_dense_layers) * cfg.hidden_size * cfg.n_experts if cfg.is_moe else 0
    mla = mla_down_projection_params(cfg) * dtype.type_size if mla_stored_bytes is None else mla_stored_bytes
    return routers * dtype.type_size + mla


_MLA_DOWN = re.compile(r"\.(?:q_a_proj|kv_a_proj_with_mqa|fused_qkv_a_proj)\.")


def mla_stored(model: Model) -> int | None:
    """The bytes of an MLA model's down-projections as its tensors store them (weights, scales, zeros), or
    None when the model lists none (not MLA, or tensors not named so)."""
    found = [t.nbytes for t in model.tensors if _MLA_DOWN.search(t.name)]
    return sum(found) if found else None


def mla_down_projection_params(cfg: ArchConfig) -> int:
    """MLA's down-projections, which every rank holds whole: vLLM's and SGLang's deepseek_v2.py build
    q_a_proj (hidden → q_lora_rank) and kv_a_proj_with_mqa (hidden → kv_lora_rank + qk_rope_head_dim) as
    ``ReplicatedLinear`` (later fused into one ``fused_qkv_a_proj`` with ``disable_tp``), beside the
    column-parallel up-projections; quantization configs keep attention in 16 bits where they skip it.
    Kimi-K2.5 at TP 8: 61 × 7168 × (1536 + 576) × 2 B = 1.72 GiB per rank instead of an eighth."""
    if not cfg.is_mla:
        return 0
    return cfg.n_layers * cfg.hidden_size * (cfg.q_lora_rank + cfg.kv_lora_rank + cfg.rope_head_dim)


def forward_peak(cfg: ArchConfig, p: VllmParams) -> int:
    """Activation peak of the dummy forward of max_num_batched_tokens tokens (one rank).

    Three hidden-sized tensors stay live through a layer (the residual, the normed input and the sum
    the fused add-norm writes); on top of them either the MLP's gate_up output (2 × ffn) and SiluAndMul's
    output (ffn), the fused MoE kernel's caches (``fused_moe_width``), or attention's qkv and output.
    Checked on the V0 profile of a whole Llama 3.1 8B prompt (10517-*: 20000 tokens 2.07 GiB printed,
    2.06 predicted; 29000 tokens 2.99, 2.99).
    """
    t, b, tp = p.max_num_batched_tokens, p.dtype.type_size, p.tensor_parallel
    # MLA prefill expands the latent into per-head K and V (kv_b_proj), split over the ranks like Q
    kv_heads = cfg.n_heads // tp if cfg.is_mla else kv_heads_per_rank(cfg, tp)
    dense = cfg.ffn_size if not cfg.is_moe or cfg.n_dense_layers else 0
    qkv = cfg.n_heads * cfg.head_dim_k // tp + kv_heads * (cfg.head_dim_k + cfg.head_dim_v)
    attention = qkv + cfg.n_heads * cfg.head_dim_v // tp
    widest = max(t * max(3 * dense // tp, attention), fused_moe_tokens(p) * fused_moe_width(cfg, p))
    peak = (t * 3 * cfg.hidden_size + widest) * b
    if p.awq_split_k:
        return max(peak, awq_split_k_peak(cfg, p))
    return max(peak, awq_dequantize_peak(cfg, p)) if p.awq_dequantize else peak


# The fused MoE kernel's caches per token (model_executor/layers/fused_moe/fused_moe.py fused_experts_impl,
# and the modular kernels' workspaces since): with N = w1's rows on a rank (2 × expert ffn / tp) and
# K = hidden, intermediate_cache1 (topk × N, the gate_up output), cache2 (topk × N/2, after SiluAndMul)
# and cache3 (topk × K, the down output before the weighted sum). PR #13625 (February 2025, in 0.8)
# made cache1 and cache3 share one buffer of topk × max(N, K) ("by the time we need cache3, we're done
# with cache1"); before, V0 allocated all three. A batch longer than VLLM_FUSED_MOE_CHUNK_SIZE tokens
# (envs.py: 32768 through 0.10, 16 × 1024 in the 0.11 series and later) is cut into chunks of that many,
# and the caches are sized for one. Qwen3-235B-A22B FP8 at TP 4 and 8192 tokens: 0.73 GiB (0.33 when the
# experts counted as a dense MLP of topk × expert ffn); vLLM 0.27.1's KV memory for it (kubesimplify-*-tp4-*)
# went from +5.4 % to +3.9 %. Its printed "peak activation" (0.76) is another sum, transient headroom
# plus the CUDA graph estimate (tools/engine_log_compare.py CONSUMED_FORMAT), so it checks nothing alone.
FUSED_MOE_CHUNK = {False: 32768, True: 16 * 1024}  # keyed by "a family of 0.11 or later"


def fused_moe_width(cfg: ArchConfig, p: VllmParams) -> int:
    """Values per token the fused MoE kernel holds at its peak on one rank (0 for a dense model); an MoE
    config without an expert width (a Mixtral GGUF) takes the FFN width."""
    if not cfg.is_moe:
        return 0
    ffn = cfg.expert_ffn_size or cfg.ffn_size
    # expert parallelism: a rank's experts are whole (N = 2 × ffn), and its kernel still takes every
    # token's top-k slots (the non-local ones masked by the expert map), so the caches span whole experts
    n = 2 * ffn if p.expert_parallel else 2 * ffn // p.tensor_parallel
    k, topk = cfg.hidden_size, cfg.n_experts_per_token
    if p.engine in V0_FAMILIES:
        return topk * (n + n // 2 + k)
    return topk * (max(n, k) + n // 2)


def fused_moe_tokens(p: VllmParams) -> int:
    """The tokens the fused MoE kernel sizes its caches for: the batch, at most one chunk
    (VLLM_FUSED_MOE_CHUNK_SIZE, FUSED_MOE_CHUNK)."""
    return min(p.max_num_batched_tokens, FUSED_MOE_CHUNK[p.engine in ("v1", "v1-0.16", "v1-early")])


# AWQ before PR #2566 (vLLM 0.3.0, January 2024): every AWQ matmul ran ``ops.awq_gemm`` with split_k_iters =
# pack_factor = 8 (quantization/awq.py AWQLinearMethod.apply_weights), and the kernel
# (csrc/quantization/awq/gemm_kernels.cu) allocates the 8 partial outputs, ``torch::empty({split_k_iters,
# num_in_feats, out_features})``, then returns their ``sum(0)``: at that matmul 8 + 1 outputs are live.
# PR #2566 dequantizes the weight and calls torch.matmul for batches of 256 tokens or more, which the
# profile run always is.
AWQ_SPLIT_K = 8


def awq_split_k_peak(cfg: ArchConfig, p: VllmParams) -> int:
    """The forward peak of an AWQ checkpoint before 0.3.0: the widest AWQ matmul with its split-k partials,
    beside the three hidden-sized tensors of ``forward_peak``. Dense models: the merged gate_up projection
    (2 × ffn per rank). MoE (Mixtral, the only one then): quantized Mixtral ran models/mixtral_quant.py,
    which gives each rank whole experts (np.array_split of the experts over the ranks, ReplicatedLinear
    w1 / w2 / w3) and runs each one over every token; w3 runs while w1's activated output (ffn) is live.
    Attention's qkv projection, split over the ranks, is the other candidate."""
    t, b, tp = p.max_num_batched_tokens, p.dtype.type_size, p.tensor_parallel
    parts = AWQ_SPLIT_K + 1
    # MoE: w1's activated output, then w3's partials and sum; dense: gate_up's partials and sum
    mlp = (1 + parts) * cfg.expert_ffn_size if cfg.is_moe else parts * 2 * cfg.ffn_size // tp
    qkv = cfg.n_heads * cfg.head_dim_k // tp + kv_heads_per_rank(cfg, tp) * (cfg.head_dim_k + cfg.head_dim_v)
    return t * (3 * cfg.hidden_size + max(mlp, parts * qkv)) * b


# From 0.3.0 the AWQ kernel (quantization/awq.py AWQLinearMethod.apply, kept where Marlin cannot run: a
# GPU below capability 8.0, or --quantization awq given, which "forces awq") dequantizes the whole weight
# to fp16 and calls torch.matmul for 256 tokens or more (FP16_MATMUL_HEURISTIC_CONDITION), which the
# profile run always is: at the widest projection its fp16 weight and output are live beside the three
# hidden-sized tensors. Qwen2.5-7B-AWQ on a T4 (0.22.1, 2048 tokens): 0.438 GiB, KV 7.51 -> 7.33 GiB
# predicted, 7.32 printed; Qwen2.5-14B-AWQ on an RTX 3090 forced to awq (0.15.1): 11.55 -> 11.33, 11.33
# printed (tests/fixtures/engine_logs/vllm/r12v-aks-*, dali-*)
def awq_dequantize_peak(cfg: ArchConfig, p: VllmParams) -> int:
    """The forward peak with the AWQ kernel of 0.3.0 and later: the widest AWQ projection of a rank (a
    dense MLP's merged gate_up, 2 × ffn / tp, or attention's qkv) as an fp16 hidden × width weight plus
    its output, beside the three hidden-sized tensors of ``forward_peak``. A mixture of experts' experts
    run their own MoE kernels: only attention counts there."""
    t, b, tp = p.max_num_batched_tokens, p.dtype.type_size, p.tensor_parallel
    dense = cfg.ffn_size if not cfg.is_moe or cfg.n_dense_layers else 0
    qkv = cfg.n_heads * cfg.head_dim_k // tp + kv_heads_per_rank(cfg, tp) * (cfg.head_dim_k + cfg.head_dim_v)
    width = max(2 * dense // tp, qkv)
    return (t * 3 * cfg.hidden_size + (cfg.hidden_size + t) * width) * b


def sampler_peak(cfg: ArchConfig, p: VllmParams) -> int:
    """profile_run's _dummy_sampler_run: one row of logits per request (at most max_num_seqs).

    V1: the forward's last hidden states stay live; the logits are gathered to full vocab on every rank.
    V0: the logits are gathered to rank 0 only, which alone samples: its peak is the larger, and its pool
    the smaller, which is the one vLLM uses (the minimum over the workers). Figures here are rank 0's.
    """
    rows = min(p.max_num_seqs, p.max_num_batched_tokens)
    logits = rows * cfg.vocab_size * (p.dtype.type_size + sampler_bytes_per_logit(p))
    if p.engine in V0_FAMILIES:
        return logits
    return p.max_num_batched_tokens * cfg.hidden_size * p.dtype.type_size + logits


def sampler_bytes_per_logit(p: VllmParams) -> int:
    """What the profile's sampler holds per logit beyond the model-dtype logits (see the tables above)."""
    if p.flashinfer_sampler and p.engine not in V0_FAMILIES:
        return FLASHINFER_SAMPLER_BYTES_PER_LOGIT
    return SAMPLER_BYTES_PER_LOGIT[p.engine]


def kv_layout(cfg: ArchConfig, p: VllmParams) -> tuple[KVLayout, KVCache, int]:
    """The blocks per request, the cache they hold (sizing/kv_cache.py) and the padding layers' share.

    Hybrid models (attention beside linear-attention / SSM layers whose state sizes the config gives,
    ``hybrid_state_bytes``): every kind shares one page size, the attention page of ``p.block_size``
    tokens (``hybrid_block_size`` raised it to hold a state), and a linear layer's request holds one
    block, its state padded to that page (v1/kv_cache_interface.py MambaSpec; 0.10.2 logs "Padding mamba
    page size by 1.49%")."""
    all_kinds = layer_kinds(cfg)
    state = hybrid_state_bytes(cfg, p) if "linear" in all_kinds or cfg.recurrent_layers else 0
    counts = {kind: n for kind, n in all_kinds.items() if kind in ATTENTION_KINDS}
    if not counts:
        raise _no_attention(cfg)
    if "sliding" in counts and cfg.sliding_window < 1:
        raise UnsupportedError(f"{cfg.architecture}: sliding-window layers but no window size")
    attention = dict(counts)
    if state:
        counts["linear"] = all_kinds["linear"]
    size = group_size(counts)
    groups = {kind: cdiv(n, size) for kind, n in counts.items()}
    blocks = {kind: (MAMBA_BLOCKS_PER_REQUEST.get(p.engine, 1) if p.prefix_caching else 1) if kind == "linear"
              else request_blocks(kind, cfg, p) for kind in counts}
    cells = {kind: blocks[kind] * p.block_size for kind in attention}
    kv = kv_cache(rank_config(cfg, p.tensor_parallel), cells, streams=p.batch, type_k=p.kv_type,
                  type_v=p.kv_type, mla="compressed", type_state=p.dtype)
    attention_parts = [part for part in kv.parts if part.kind in ATTENTION_KINDS]
    indexers = indexer_layers(cfg) if indexer_key_bytes(cfg) and p.engine not in V0_FAMILIES else 0
    if len(attention_parts) > len(attention) or indexers:
        layout, kv, padding = _uniform_type_layout(kv, attention_parts, attention, blocks, p, indexers * (
            p.block_size * indexer_key_bytes(cfg),))
        if indexers:  # what the requests hold of them too ("KV needed")
            part = KVPart(INDEXER, indexers, p.batch, cells["full"], indexer_key_bytes(cfg), 0, DType.U8,
                          DType.U8)
            line = (f"{INDEXER}: {indexers} layers × {p.batch} seqs × {part.cells:,} cells × "
                    f"{part.k_width} B = {part.total_bytes:,} B")
            kv = KVCache((*kv.parts, part), (*kv.explain, line))
        return layout, kv, padding
    # kinds of different widths (Gemma 4: sliding layers of 8 × 256, full ones of 2 × 512):
    # kv_cache_utils.unify_kv_cache_spec_page_size raises the narrower kinds' block size until their pages
    # match the widest one's, so they hold fewer, larger blocks. Gemma 4 26B-A4B with an fp8 cache on vLLM
    # 0.19: 64 KiB pages, the full layers' blocks of 32 tokens; 27,150 blocks, 72,400 tokens printed
    rows = {part.kind: part.k_row_bytes + part.v_row_bytes for part in attention_parts}
    row = max(rows.values())
    if any(row % r for r in rows.values()):
        raise UnsupportedError(f"vLLM: {cfg.architecture}'s layer kinds have KV pages whose sizes do not "
                               f"divide each other ({sorted(rows.values())} B a token), which vLLM refuses")
    if len(set(rows.values())) > 1:
        blocks |= {kind: request_blocks(kind, cfg, replace(p, block_size=p.block_size * (row // r)))
                   for kind, r in rows.items()}
        cells = {kind: blocks[kind] * p.block_size * (row // rows[kind]) for kind in attention}
        kv = kv_cache(rank_config(cfg, p.tensor_parallel), cells, streams=p.batch, type_k=p.kv_type,
                      type_v=p.kv_type, mla="compressed", type_state=p.dtype)
    page = p.block_size * row
    padding = sum((groups[kind] * size - n) * p.batch * cells[kind] * rows[kind]
                  for kind, n in attention.items())
    if state:  # the padded state pages, and the padding layers of the last linear group
        linear = counts["linear"]
        padding += p.batch * ((page - state) * linear + (groups["linear"] * size - linear) * page)
    return KVLayout(size, groups, blocks, page), kv, padding


INDEXER = "indexer keys"  # a DSA model's kind beside its MLA layers (kv_cache.py indexer_key_bytes)


def _uniform_type_layout(kv: KVCache, parts: list, attention: dict[str, int], blocks: dict[str, int],
                         p: VllmParams, extra_pages: tuple[int, ...] = ()) -> tuple[KVLayout, KVCache, int]:
    """Layers of one kind whose K/V widths differ (per-layer KV heads): vllm/v1/kv_cache_interface.py
    UniformTypeKVCacheSpecs ("multiple layers with the same type of attention ... different hidden
    sizes"), which kv_cache_utils.get_kv_cache_groups builds when every layer needs the same number of
    token slots: one group of all layers, its page size the sum of the layers' pages
    (``page_size_bytes = sum(spec.page_size_bytes ...)``), so ``num_blocks = available // Σ pages`` and
    each layer holds as many blocks, at its own width (get_kv_cache_config_from_groups). Older V1
    releases, before that class, unified the page sizes by raising the narrower layers' block sizes
    (unify_kv_cache_spec_page_size) into groups of their own: not modelled. Kinds that differ as well
    (sliding beside full layers, linear states) take those paths too: refused. ``extra_pages``: full-attention
    caches beside the layers' own, a DSA model's indexer keys (kv_cache.py indexer_key_bytes: GLM-5.1-FP8
    at TP 8, 78 × (1152 + 132) B a token as two bisect builds print it)."""
    if len(attention) > 1 or len(kv.parts) != len(parts):
        raise UnsupportedError("vLLM: layers of different KV widths beside sliding-window or linear "
                               "layers are grouped by unify_kv_cache_spec_page_size, which paramscope "
                               "does not model")
    kind = next(iter(attention))
    pages = tuple(p.block_size * (part.k_row_bytes + part.v_row_bytes)
                  for part in parts for _ in range(part.layers)) + extra_pages
    layout = KVLayout(attention[kind], {kind: 1}, blocks, max(pages), pages)
    return layout, kv, 0


def hybrid_state_bytes(cfg: ArchConfig, p: VllmParams) -> int:
    """One linear-attention / SSM layer's state on one rank (MambaSpec.page_size_bytes before padding):
    the convolution state and the recurrent (temporal) state, both split over the ranks
    (``get_mamba_state_shape_from_config``: Qwen3-Next's gated DeltaNet ``(conv_dim / tp, kernel − 1)``
    and ``(v_heads / tp, k_dim, v_dim)``; Mamba's ``(d_inner / tp, ...)`` alike), in the model dtype
    (``--mamba-cache-dtype`` / ``--mamba-ssm-cache-dtype`` "auto"). Refused where the config gives no
    state sizes or the layers are a parallel hybrid's (attention and state in one layer)."""
    linear = layer_kinds(cfg).get("linear", 0)
    if not (cfg.conv_state_size + cfg.ssm_state_size) or cfg.recurrent_layers != linear:
        raise UnsupportedError(f"{cfg.architecture}: the vLLM profile models linear-attention/SSM layers "
                               f"only where the config gives their state sizes, one kind per layer")
    if cfg.state_groups % p.tensor_parallel:
        # vLLM replicates Mamba-2 groups over the ranks when they do not divide (mamba_utils
        # extra_groups_for_head_shards): each rank's state is then more than its share
        raise UnsupportedError(f"{cfg.architecture}: {cfg.state_groups} state groups do not split over "
                               f"tensor_parallel {p.tensor_parallel}; the vLLM profile does not model the "
                               f"replicated groups")
    tp = p.tensor_parallel
    ssm = ssm_state_dtype(cfg, p)
    return p.dtype.nbytes(cfg.conv_state_size // tp) + ssm.nbytes(cfg.ssm_state_size // tp)


# The recurrent (SSM / delta-rule) state's type: the config's mamba_ssm_dtype where it names one (Qwen3.5's
# text_config says "float32"), as vLLM's --mamba-ssm-cache-dtype "auto" takes it; else the model dtype.
# Qwen3.5-9B on an L40S (0.18.0, fp8 KV): "Setting attention block size to 1056 tokens" = 16 × cdiv(32 ×
# 128 × 128 × 4 + 8192 × 3 × 2 B, 16 × 2048 B), where a bf16 state gives 544
SSM_DTYPES = {"float32": DType.F32, "bfloat16": DType.BF16, "float16": DType.F16}


def ssm_state_dtype(cfg: ArchConfig, p: VllmParams) -> DType:
    return SSM_DTYPES.get(str(cfg.extra.get("mamba_ssm_dtype")), p.dtype)


def _no_attention(cfg: ArchConfig) -> UnsupportedError:
    return no_pool_error(cfg, "vLLM")


# vllm/model_executor/models/config.py HybridAttentionMambaModelConfig (0.10.2 and on): attention block
# sizes are multiples of 16 ("some attention backends (e.g. FA) only support setting block size to multiple
# of 16")
HYBRID_BLOCK_ALIGN = 16


# With prefix caching asked for (--enable-prefix-caching; a hybrid model has it off by default: 0.19's
# LLM class with every default prints it off) a hybrid model's state runs in mamba_cache_mode "align" in
# the 0.16 and later families (a 0.18 log: "Mamba cache mode is set to 'align' ... when prefix caching is
# enabled"): v1/kv_cache_interface.py MambaSpec.max_memory_usage_bytes = page × (2 + speculative blocks), two
# state blocks of each Mamba group a request, where "none" takes one (0.10.2's Qwen3-Next log, 0.19's
# defaults: 1258 / (497 + 3) = 2.52x). Qwen3.5-9B with it: 63 attention blocks + 3 groups × 2 = 69 a
# request of 65536 tokens; 1258 / 69 = 18.23x, as printed
MAMBA_BLOCKS_PER_REQUEST = {"v1": 2, "v1-0.16": 2}
# Unasked, prefix caching is on for a hybrid model in current releases (`vllm serve` 0.29: "The engine now
# selects a Mamba cache mode that is compatible with prefix caching"; the models that declare it, e.g.
# Qwen3.5: "Mamba cache mode is set to 'align' for Qwen3_5ForConditionalGeneration by default when prefix
# caching is enabled"): Granite 4.0-H-Micro on an RTX 5090, 0.29.0, printed 65.41x / 19.84x at 32K / 128K
# where one state block a request gives 74.82x / 20.88x and two 66.5x / 20.2x. Off in 0.19 and before;
# which release between turned it on is not pinned, so the "v1" family (0.21 on) takes the current default
PREFIX_CACHING_BY_DEFAULT = frozenset({"v1"})


def prefix_caching_asked(req: MemoryRequest) -> bool | None:
    """--enable-prefix-caching True, --no-enable-prefix-caching False, neither None; both: refused."""
    on, off = option(req, "enable_prefix_caching"), option(req, "no_enable_prefix_caching")
    if on and off:
        raise UsageError("vLLM: --enable-prefix-caching and --no-enable-prefix-caching together")
    return True if on else False if off else None


def prefix_caching_on(asked: bool | None, engine: str) -> bool:
    """--enable-prefix-caching (True), --no-enable-prefix-caching (False), else the engine's default."""
    return engine in PREFIX_CACHING_BY_DEFAULT if asked is None else asked


def hybrid_block_size(cfg: ArchConfig, p: VllmParams, given: int | None) -> int:
    """The attention block size of a hybrid model: the smallest multiple of 16 tokens whose attention page
    holds one layer's state, ``16 × cdiv(state, 16 × attention page of one token)``, unless
    ``--block-size`` asks for more (0.10.2, Qwen3-Next-80B at TP 2: "Setting attention block size to 544
    tokens")."""
    row = kv_row_bytes(cfg, p)
    if not row:  # a pure SSM (Mamba): no attention page to hold the state in
        raise _no_attention(cfg)
    needed = HYBRID_BLOCK_ALIGN * cdiv(hybrid_state_bytes(cfg, p), HYBRID_BLOCK_ALIGN * row)
    return needed if given is None or given < needed else given


def kv_row_bytes(cfg: ArchConfig, p: VllmParams) -> int:
    """K + V of one token in one attention layer on one rank."""
    part = kv_cache(rank_config(cfg, p.tensor_parallel), {"full": 1, "sliding": 1}, type_k=p.kv_type,
                    type_v=p.kv_type, mla="compressed", type_state=p.dtype).parts[0]
    return part.k_row_bytes + part.v_row_bytes


def group_size(counts: dict[str, int]) -> int:
    """kv_cache_utils._get_kv_cache_groups_uniform_page_size: the smaller layer count (Gemma 3: the full
    layers), or the larger when the two are within 1.5× (fewer padding layers). One kind: all layers."""
    lo, hi = min(counts.values()), max(counts.values())
    return hi if hi < 1.5 * lo else lo


def request_blocks(kind: str, cfg: ArchConfig, p: VllmParams) -> int:
    """Blocks one request of ``context`` tokens holds per layer (kv_cache_interface.py).

    FullAttentionSpec: cdiv(max_model_len, block_size). SlidingWindowSpec: the window − 1 tokens behind
    a chunk of max_num_batched_tokens new ones, capped at max_model_len, + 1 block because the window
    need not start on a block boundary.
    """
    full = cdiv(p.context, p.block_size)
    if kind == "full":
        return full
    window_tokens = min(cfg.sliding_window - 1 + p.max_num_batched_tokens, p.context)
    return cdiv(window_tokens, p.block_size) + 1


def non_torch_bytes(cfg: ArchConfig, p: VllmParams) -> int:
    """Memory outside torch that the engine counts inside its budget (see the constants above): in
    "v1-0.9", "v1-0.8", "v0-early" and "v0-2023" the NCCL buffers too, created after its memory snapshot;
    in "v1-0.8" also the CUDA context (the whole device's non-torch memory); in "v0-2023" the all-reduce
    inputs the allocator could not reuse (``held_allreduce_bytes``); in the families whose snapshot
    follows NCCL's set-up, the part of NCCL that the profile run itself allocates (``nccl_profile_bytes``)."""
    if p.engine == "v0-2023-main":  # torch.cuda.max_memory_allocated(): nothing outside torch counts
        return 0
    if p.engine in V0_FAMILIES:
        base = NON_TORCH_BYTES if p.engine == "v0" else V0_NON_TORCH_BYTES
        return base + (nccl_bytes(p) if nccl_inside(p) else 0) + held_allreduce_bytes(cfg, p)
    context = CUDA_CONTEXT_BYTES if context_inside(p) else 0
    return NON_TORCH_BYTES + context + (nccl_bytes(p) if nccl_inside(p) else nccl_profile_bytes(p))


def context_inside(p: VllmParams) -> bool:
    """Whether the engine counts its own CUDA context in the budget: "v1-0.8" (whole-device non-torch)."""
    return p.engine == "v1-0.8"


def nccl_inside(p: VllmParams) -> bool:
    """Whether the engine's memory snapshot preceded NCCL's initialisation, so its buffers are in the peak."""
    return p.engine in ("v1-0.9", "v1-0.8", "v0-early", "v0-2023")


def held_allreduce_bytes(cfg: ArchConfig, p: VllmParams) -> int:
    """"v0-2023" with tensor parallelism: two all-reduce inputs per layer of max_num_batched_tokens ×
    hidden, reserved until the profile step synchronises (issue #2150, fixed by PR #2151 with
    TORCH_NCCL_AVOID_RECORD_STREAMS=1)."""
    if p.engine != "v0-2023" or p.tensor_parallel == 1:
        return 0
    return 2 * cfg.n_layers * p.max_num_batched_tokens * cfg.hidden_size * p.dtype.type_size


# Since PR #25359 (0.11) the V1 worker snapshots free memory after NCCL's set-up, yet with tensor
# parallelism the profile run still adds memory outside torch: NCCL connects lazily (NCCL_RUNTIME_CONNECT,
# the default since NCCL 2.22), so the buffers of the collectives first used there (the logits' all-gather,
# torch.distributed's own communicator) are allocated inside the measured window. vLLM 0.11.0 on H100s at
# TP 2 (tests/fixtures/engine_logs/vllm/llmd-*): non-torch 0.55 GiB for Llama-3.3-70B FP8 and 0.54 for
# Qwen3-32B, against 0.14 for both at TP 1: 0.40 GiB more. Taken from those two and used at every TP size,
# capped at NCCL's whole PCIe-only estimate between PCIe-only GPUs (a 0.24 log on four PCIe-only L40S and a
# 0.27.1 one on four PCIe RTX PRO 6000 leave 0.53 and 1.5 GiB more: documented misses in docs/runtimes.md);
# the rest of NCCL stays outside the budget.
NCCL_PROFILE_BYTES = 410 * MiB


def nccl_profile_bytes(p: VllmParams) -> int:
    """The NCCL buffers the profile run allocates inside the budget (NCCL_PROFILE_BYTES), with tensor
    parallelism in the families that take their snapshot after NCCL's set-up; 0 otherwise."""
    if p.tensor_parallel == 1 or nccl_inside(p) or p.engine in V0_FAMILIES:
        return 0
    return min(NCCL_PROFILE_BYTES, nccl_bytes(p))


def nccl_bytes(p: VllmParams) -> int:
    """NCCL and custom all-reduce buffers per GPU (tensor parallelism only): as measured over NVLink, or
    the smaller PCIe-only estimate (runtimes/common.py)."""
    if p.tensor_parallel == 1:
        return 0
    return NCCL_BYTES if p.nvlink else NCCL_PCIE_BYTES


def cuda_graph_bytes(p: VllmParams) -> int:
    """The CUDA graph pool inside the budget: V1 since 0.21 only (before, graphs are captured after the
    cache is sized, outside the budget)."""
    return CUDA_GRAPH_BYTES if p.cuda_graphs and p.engine == "v1" and p.graph_estimate else 0


def outside_bytes(p: VllmParams) -> int:
    """Per GPU, outside the reservation: the CUDA context (unless counted inside), NCCL with tensor
    parallelism, and the graphs of the engines that capture them after sizing the cache."""
    nccl = 0 if nccl_inside(p) else nccl_bytes(p) - nccl_profile_bytes(p)
    graphs = CUDA_GRAPH_BYTES if p.cuda_graphs and not cuda_graph_bytes(p) else 0
    return (0 if context_inside(p) else CUDA_CONTEXT_BYTES) + nccl + graphs


def offloaded_bytes(moved: CpuOffload | None) -> int:
    """What --cpu-offload-gb takes off one rank's weights: the parameters moved and the allocator tails
    they would have held ("Model loading took" counts neither)."""
    return moved.moved_bytes + moved.moved_tails if moved else 0


def kv_pool(p: VllmParams, layout: KVLayout, non_kv: int) -> KVPool | None:
    """The pool on a GPU of ``p.gpu_memory_bytes``: the budget's rest, or with --kv-cache-memory-bytes
    the size given (gpu_worker.determine_available_memory returns it after the profile run, whatever the
    budget; the reservation is then what the worker takes: the non-KV memory and that cache)."""
    if p.gpu_memory_bytes is None and p.kv_cache_memory_bytes is None:
        return None
    if p.kv_cache_memory_bytes is not None:
        reserved, available = non_kv + p.kv_cache_memory_bytes, p.kv_cache_memory_bytes
    else:
        reserved = int((p.gpu_memory_bytes or 0) * p.gpu_memory_utilization)
        available = reserved - non_kv
    # kv_cache_utils.get_num_blocks: available // page_size // num_layers (the group's layers), which is
    # available // (page × layers); a UniformTypeKVCacheSpecs group: available // its summed page size
    blocks = max(available // layout.block_bytes, 0)
    return KVPool(reserved, available, blocks, layout, p.block_size,
                  p.context if p.engine in TOKENS_REPORTED else 0)


# The "GPU KV cache size: N tokens" line: num_blocks // kv_cache_groups × block_size until 0.20; from 0.21
# int(max_model_len × max_concurrency) (kv_cache_utils._report_kv_cache_config, after vLLM issue #40691:
# the old formula undercounts a model whose groups share one pool, a hybrid or sliding-window one). Granite
# 4.0-H-Micro, 0.29.0, 32K: 2,143,269 tokens printed, where its attention blocks hold 284,064; a Gemma 3
# log of 0.23 prints 1,217,591, no multiple of its blocks; Qwen3.5 at 0.19 still printed the blocks.
TOKENS_REPORTED = frozenset({"v1"})


def without_hybrid_manager(cfg: ArchConfig) -> ArchConfig:
    """The layers as vLLM caches them with --disable-hybrid-kv-cache-manager (or a KV connector without
    SupportsHMA, which turns the manager off): kv_cache_utils.unify_hybrid_kv_cache_specs makes every
    sliding-window layer a full-attention one, one group at the whole context. gpt-oss-120b at TP 8 on
    H200s, 0.22.1: 13,724,416 tokens printed (9,216 B a token a rank), 25,798,626 with the manager. A
    recurrent state cannot be unified: vLLM refuses."""
    kinds = layer_kinds(cfg)
    if "linear" in kinds or cfg.recurrent_layers:
        raise UnsupportedError(f"vLLM: {cfg.architecture} has recurrent layers, whose state cannot be held "
                               f"without the hybrid KV cache manager (vLLM refuses to start)")
    if "sliding" not in kinds:
        return cfg
    return replace(cfg, layer_types=tuple("full" if k == "sliding" else k for k in cfg.layer_types))


def vllm_memory(
    cfg: ArchConfig,
    weights_bytes: int,
    *,
    context: int,
    batch: int = 1,
    kv_type: DType | None = None,
    dtype: DType = DType.BF16,
    gpu_memory_bytes: int | None = None,
    gpu_memory_utilization: float | None = None,
    block_size: int | None = None,
    max_num_batched_tokens: int | None = None,
    max_num_seqs: int | None = None,
    cuda_graphs: bool = True,
    tensor_parallel: int = 1,
    engine: str = "v1",
    chunked_prefill: bool | None = None,
    gpu_name: str | None = None,
    nvlink: bool = True,
    flashinfer_sampler: bool = False,
    awq_split_k: bool = False,
    awq_dequantize: bool = False,
    mla: bool = True,
    pipeline_parallel: int = 1,
    pp_partition: tuple[int, ...] | None = None,
    stage_weights: tuple[int, ...] | None = None,
    allocator_tail_bytes: int = 0,
    entrypoint: str = "serve",
    expert_parallel: bool = False,
    offload: tuple[CpuOffload, ...] = (),
    kv_cache_memory_bytes: int | None = None,
    prefix_caching: bool | None = None,
    mla_stored_bytes: int | None = None,
    graph_estimate: bool = True,
    disable_hybrid_kv_cache_manager: bool = False,
) -> VllmMemory:
    """One GPU's memory under `vllm serve` for ``batch`` requests of ``context`` tokens.

    ``weights_bytes``: all weights (every rank holds 1/``tensor_parallel``). ``kv_type`` None is vLLM's
    "auto", the model ``dtype``. ``block_size``, ``max_num_batched_tokens`` and ``max_num_seqs`` None take
    vLLM's defaults (16, or 64 for MLA; V1: 8192 and 1024 on GPUs of ≥ 70 GiB other than A100s or with no
    GPU given, else 2048 and 256; V0: see ``resolve_params``). ``cuda_graphs`` False is
    ``--enforce-eager``. ``engine`` one of ENGINES; ``chunked_prefill`` None is the engine's
    default; ``gpu_name`` as the driver names the GPU (only "A100" changes a default); ``nvlink`` False
    for GPUs that talk over PCIe only (NCCL's smaller footprint; not stated: NVLink, the measured case);
    ``flashinfer_sampler`` for a V1 engine that samples with FlashInfer's kernel (its log says "Using
    FlashInfer for top-p & top-k sampling");
    ``awq_split_k`` for an AWQ checkpoint on a release before 0.3.0 (``awq_split_k_peak``),
    ``awq_dequantize`` for one on the AWQ kernel of a later release (``awq_dequantize_peak``);
    ``mla`` False for a release before MLA support, which cached an MLA model's K and V per head
    (``pre_mla_attention``). ``allocator_tail_bytes``: one rank's caching-allocator segment tails that
    "Model loading took" counts (runtimes/allocator.py ``weight_tails``, ``device_level`` False).
    ``entrypoint`` "llm": the offline ``LLM`` class's batch defaults (V1), not `vllm serve`'s.
    ``expert_parallel``: --enable-expert-parallel (whole experts per GPU; ``uneven_experts_bytes``).
    ``offload``: --cpu-offload-gb, what one rank of each stage moves to host memory (runtimes/
    weight_offload.py ``cpu_offload``; one entry without pipeline parallelism). ``kv_cache_memory_bytes``:
    --kv-cache-memory-bytes, the KV cache's size given outright (gpu_memory_utilization then ignored).
    ``prefix_caching``: --enable-prefix-caching (None: the engine's default, ``prefix_caching_on``), which
    puts a hybrid model's state in "align" mode
    (MAMBA_BLOCKS_PER_REQUEST). ``mla_stored_bytes``: MLA's down-projections as the checkpoint stores them,
    which every rank holds whole (``mla_stored``; None: priced from the config in the model dtype).
    ``disable_hybrid_kv_cache_manager``: --disable-hybrid-kv-cache-manager (``without_hybrid_manager``).
    ``graph_estimate`` False: a v1-family profile that takes no CUDA graph estimate into the budget (model
    runner V2 before 0.28), the graphs captured outside it.
    ``pipeline_parallel`` > 1: the layers in that many stages
    (``pp_stage_layers``; ``pp_partition`` is VLLM_PP_LAYER_PARTITION), each stage on
    ``tensor_parallel`` GPUs; ``stage_weights`` each stage's weights before the tensor-parallel split
    (``stage_weight_split``; None: estimated from the config). The result is the worst stage's, with
    every stage in ``stages`` (``pipeline_memory``).
    """
    kv_cfg = cfg if mla or not cfg.is_mla else pre_mla_attention(cfg)
    kv_cfg = vllm_layout_config(kv_cfg, engine)
    if disable_hybrid_kv_cache_manager:
        kv_cfg = without_hybrid_manager(kv_cfg)
    p = resolve_params(kv_cfg, context=context, batch=batch, kv_type=kv_type, dtype=dtype,
                       gpu_memory_bytes=gpu_memory_bytes, gpu_memory_utilization=gpu_memory_utilization,
                       block_size=block_size, max_num_batched_tokens=max_num_batched_tokens,
                       max_num_seqs=max_num_seqs, cuda_graphs=cuda_graphs, tensor_parallel=tensor_parallel,
                       engine=engine, chunked_prefill=chunked_prefill, gpu_name=gpu_name,
                       entrypoint=entrypoint)
    if engine == "v0" and mla and kv_cfg.is_mla:
        kv_cfg = v0_mla_aligned(kv_cfg, p.kv_type)
    p = replace(p, nvlink=nvlink, flashinfer_sampler=flashinfer_sampler, gpu_name=gpu_name,
                awq_split_k=awq_split_k, awq_dequantize=awq_dequantize, weight_tails=allocator_tail_bytes,
                expert_parallel=expert_parallel and cfg.is_moe, kv_cache_memory_bytes=kv_cache_memory_bytes,
                prefix_caching=prefix_caching_on(prefix_caching, engine), mla_stored_bytes=mla_stored_bytes,
                graph_estimate=graph_estimate)
    if "linear" in layer_kinds(cfg):
        p = replace(p, block_size=hybrid_block_size(cfg, p, block_size))
    if pipeline_parallel != 1:
        return pipeline_memory(cfg, kv_cfg, weights_bytes, replace(p, pipeline_parallel=pipeline_parallel),
                               pp_partition, stage_weights, offload)
    layout, kv, padding = kv_layout(kv_cfg, p)
    moved = offload[0] if offload else None
    model = weights_per_gpu(cfg, weights_bytes, p) - offloaded_bytes(moved)
    forward, sampler = forward_peak(cfg, p), sampler_peak(cfg, p)
    graphs, non_torch = cuda_graph_bytes(p), non_torch_bytes(cfg, p)
    pool = kv_pool(p, layout, model + max(forward, sampler) + non_torch + graphs)
    memory = VllmMemory(p, model, kv, padding, max(forward, sampler), graphs, non_torch,
                        outside_bytes(p), layout, pool, (), offload=moved)
    lines = _explain(cfg, memory, weights_bytes, forward, sampler)
    return replace(memory, explain=lines)


# --- pipeline parallelism (--pipeline-parallel-size) ------------------------------------------------
# vllm/distributed/utils.py get_pp_indices: the decoder layers in pp_size stages of n // pp_size layers;
# the remainder goes one layer each to the stages before the last, from the second-to-last backwards
# (the last holds the final norm and lm_head, the first the embedding), unless VLLM_PP_LAYER_PARTITION
# lists the layers of each stage ("its length must be pp_size and its sum the layer count"). Models build
# their layers with make_layers (model_executor/models/utils.py): a stage holds only its own layers, the
# rest are PPMissingLayer. LlamaModel (and the models written like it): embed_tokens on the first stage,
# and on the last too when the embeddings are tied (lm_head ties to it there); norm and lm_head on the
# last. Each worker profiles its own stage and sizes its own KV cache (its layers only); V1's
# kv_cache_utils.get_kv_cache_configs then gives every worker the smallest worker's num_blocks ("set
# num_blocks of each worker to the smallest among workers"), and the engine logs that pool. The profile:
# only the last stage computes logits and runs the sampler (gpu_model_runner.profile_run,
# ``if get_pp_group().is_last_rank``); the other stages receive the previous stage's hidden states and
# residual in buffers of max_num_tokens rows (gpu_model_runner._dummy_run, make_empty_intermediate_tensors),
# which stay allocated through the profile.
INTERMEDIATE_TENSORS = 2  # hidden_states and residual, each max_num_batched_tokens × hidden


def pp_stage_layers(n_layers: int, pp: int, partition: tuple[int, ...] | None = None) -> tuple[int, ...]:
    """The layers of each stage, as get_pp_indices divides them (see above)."""
    if pp < 1:
        raise UnsupportedError(f"vLLM: pipeline_parallel_size must be at least 1 (found {pp})")
    if partition:
        if len(partition) != pp or sum(partition) != n_layers or min(partition) < 1:
            raise UnsupportedError(f"vLLM: VLLM_PP_LAYER_PARTITION {','.join(map(str, partition))} must list "
                                   f"{pp} stages of at least one layer adding up to {n_layers} layers")
        return tuple(partition)
    if pp > n_layers:
        raise UnsupportedError(f"vLLM: {n_layers} layers cannot fill {pp} pipeline stages")
    parts = [n_layers // pp] * pp
    for i in range(2, n_layers % pp + 2):
        parts[-i] += 1
    return tuple(parts)


def parse_partition(text: str) -> tuple[int, ...] | None:
    """VLLM_PP_LAYER_PARTITION as the engine reads it: layers per stage, comma-separated ("" = none)."""
    if not text.strip():
        return None
    try:
        return tuple(int(x) for x in text.split(","))
    except ValueError:
        raise UnsupportedError(f"vLLM: invalid VLLM_PP_LAYER_PARTITION {text!r} (layers per stage, "
                               f"comma-separated)") from None


PER_LAYER_STRINGS = frozenset({"index_topk_pattern"})


def stage_config(cfg: ArchConfig, start: int, end: int) -> ArchConfig:
    """The model as one stage holds it: layers [start, end), with their kinds, per-layer head counts,
    recurrent layers and leading dense (MoE) layers."""
    n = cfg.n_layers
    types = cfg.layer_types[start:end] if cfg.layer_types else ()
    # per-layer lists (and per-layer strings: index_topk_pattern's "FSSS…") cut to the stage's layers
    extra = {k: (tuple(v)[start:end] if isinstance(v, (list, tuple)) and len(v) == n
                 else v[start:end] if k in PER_LAYER_STRINGS and isinstance(v, str) and len(v) == n else v)
             for k, v in cfg.extra.items()}
    linear_all = layer_kinds(cfg).get("linear", 0)
    recurrent = cfg.recurrent_layers
    if recurrent and recurrent == linear_all:
        recurrent = types.count("linear")
    elif recurrent == n:  # a parallel hybrid: every layer keeps a state
        recurrent = end - start
    dense = max(0, min(end, cfg.n_dense_layers) - start)
    return replace(cfg, n_layers=end - start, layer_types=types, extra=extra, recurrent_layers=recurrent,
                   n_dense_layers=dense)


LAST_STAGE_NAMES = ("lm_head", "output.", "output_norm", "norm.", "ln_f", "final_layernorm", "norm_f")


def stage_weight_split(model: Model, weights_bytes: int, stage_layers: tuple[int, ...]) -> tuple[int, ...]:
    """Each stage's weights (before the tensor-parallel split), from the tensors' names: a layer's
    tensors go to the stage holding that layer (a layer past the last, as an MTP module, to the last);
    the final norm and lm_head to the last; the embedding and the rest (vision towers, projectors) to
    the first, and the embedding to the last as well when the embeddings are tied. The bytes are scaled
    to ``weights_bytes`` (the weights as the engine holds them, re-priced or re-laid out)."""
    bounds = [sum(stage_layers[:i + 1]) for i in range(len(stage_layers))]
    raw = [0] * len(stage_layers)
    tied = model.config is not None and model.config.tied_embeddings
    for t in model.tensors:
        found = None if any(k in t.name for k in ENCODER_NAMES) else LAYER_INDEX.search(t.name)
        if found:
            layer = int(found.group(1))
            stage = next((i for i, b in enumerate(bounds) if layer < b), len(bounds) - 1)
        elif any(t.name.startswith(k) or f".{k}" in t.name for k in LAST_STAGE_NAMES):
            stage = len(bounds) - 1
        else:
            stage = 0
            if tied and ("embed" in t.name or t.name.startswith("token_embd")):
                raw[-1] += t.nbytes
        raw[stage] += t.nbytes
    total = model.tensor_bytes or 1
    return tuple(weights_bytes * r // total for r in raw)


def _estimated_stage_weights(cfg: ArchConfig, weights_bytes: int, p: VllmParams,
                             stage_layers: tuple[int, ...]) -> tuple[int, ...]:
    """Without the tensors: the embedding and lm_head at vocab × hidden in the model dtype, the rest
    evenly over the layers."""
    embed = cfg.vocab_size * cfg.hidden_size * p.dtype.type_size
    head = 0 if cfg.tied_embeddings else embed
    per_layer = max(weights_bytes - embed - head, 0) / cfg.n_layers
    last = len(stage_layers) - 1
    return tuple(int(n * per_layer) + (embed if i == 0 else 0) + (head if i == last else 0)
                 + (embed if i == last and cfg.tied_embeddings else 0)
                 for i, n in enumerate(stage_layers))


def pipeline_memory(cfg: ArchConfig, kv_cfg: ArchConfig, weights_bytes: int, p: VllmParams,
                    partition: tuple[int, ...] | None, stage_weights: tuple[int, ...] | None,
                    offload: tuple[CpuOffload, ...] = ()) -> VllmMemory:
    """Every stage's memory (see the notes above); the engine's pool is the smallest stage's."""
    if cfg.is_encoder_decoder:
        raise UnsupportedError(f"vLLM: pipeline parallelism of an encoder-decoder ({cfg.architecture}) is "
                               f"not modelled")
    layers = pp_stage_layers(cfg.n_layers, p.pipeline_parallel, partition)
    weights = stage_weights or _estimated_stage_weights(cfg, weights_bytes, p, layers)
    stages = []
    for i, n in enumerate(layers):
        start = sum(layers[:i])
        s_cfg, s_kv = stage_config(cfg, start, start + n), stage_config(kv_cfg, start, start + n)
        first, last = i == 0, i == len(layers) - 1
        layout, kv, padding = kv_layout(s_kv, p)
        moved = offload[i] if offload else None
        model = weights_per_gpu(s_cfg, weights[i], p) - offloaded_bytes(moved)
        received = 0 if first else (INTERMEDIATE_TENSORS * p.max_num_batched_tokens * cfg.hidden_size
                                    * p.dtype.type_size)
        forward = forward_peak(cfg, p) + received
        sampler = sampler_peak(cfg, p) if last else 0
        graphs, non_torch = cuda_graph_bytes(p), non_torch_bytes(cfg, p)
        pool = kv_pool(p, layout, model + max(forward, sampler) + non_torch + graphs)
        m = VllmMemory(p, model, kv, padding, max(forward, sampler), graphs, non_torch, outside_bytes(p),
                       layout, pool, (), i, (start, start + n), (), pool.num_blocks if pool else None,
                       moved)
        lines = _explain(s_cfg, m, weights[i], forward, sampler)
        stages.append(replace(m, explain=(f"stage {i} (layers {start}–{start + n - 1}"
                                          f"{', embedding' if first else ''}"
                                          f"{', norm + lm_head, sampler' if last else ''}"
                                          f"{', received hidden + residual' if received else ''}):",
                                          *lines)))
    if all(m.pool is not None for m in stages):
        blocks = min(m.own_blocks or 0 for m in stages)
        stages = [replace(m, pool=replace(m.pool, num_blocks=blocks)) for m in stages]
        worst = min(stages, key=lambda m: (m.own_blocks or 0, m.stage))
    else:
        worst = max(stages, key=lambda m: (m.needed_bytes, -m.stage))
    head = (f"pipeline parallel: {len(layers)} stages of {'+'.join(map(str, layers))} layers "
            f"(vllm/distributed/utils.py get_pp_indices{', VLLM_PP_LAYER_PARTITION' if partition else ''}),"
            f" each on {p.tensor_parallel} GPU(s); the figures are stage {worst.stage}'s, the worst")
    if worst.pool is not None:
        own = ", ".join(f"stage {m.stage} {m.own_blocks:,}" for m in stages)
        head += (f"; KV blocks each stage's memory holds: {own}; every worker takes the smallest, "
                 f"{worst.pool.num_blocks:,} (kv_cache_utils.get_kv_cache_configs)")
    explain = (head, *(line for m in stages for line in m.explain))
    return replace(worst, stages=tuple(stages), explain=explain)


def _gib(n: int | float) -> str:
    return f"{n / GiB:.2f} GiB"


def _explain(cfg: ArchConfig, m: VllmMemory, weights_bytes: int, forward: int, sampler: int
             ) -> tuple[str, ...]:
    p, layout = m.params, m.layout
    rows, b = min(p.max_num_seqs, p.max_num_batched_tokens), p.dtype.type_size
    shared = replicated_bytes(cfg, p)
    uneven = uneven_experts_bytes(cfg, weights_bytes - shared, p)
    lines = [
        f"{'vllm serve' if p.entrypoint == 'serve' else 'LLM() (offline)'} ({p.engine.upper()} engine"
        f"{', chunked prefill' if p.chunked_prefill else ''}): "
        f"max_model_len {p.context}, {p.batch} seqs, block_size {p.block_size}, "
        f"max_num_batched_tokens {p.max_num_batched_tokens}, max_num_seqs {p.max_num_seqs}, "
        f"tensor_parallel {p.tensor_parallel}{', expert parallel' if p.expert_parallel else ''}, "
        f"KV {p.kv_type.value.lower()}; figures per GPU",
        f"weights: {weights_bytes:,} B / {p.tensor_parallel}"
        f"{f' (routers {shared:,} B whole on every rank)' if shared else ''} + RoPE cache "
        f"{cfg.context_length} × {cfg.rope_head_dim if cfg.is_mla else cfg.head_dim_k} × "
        f"{ROPE_CACHE_DTYPE.get(cfg.architecture, p.dtype).type_size} B"
        f"{f' + allocator segment tails {tails:,} B' if (tails := allocator_tails(cfg, p)) else ''}"
        f"{f' + the first rank extra expert {uneven:,} B' if uneven else ''}"
        f"{f' − moved to host memory {offloaded_bytes(m.offload):,} B' if m.offload else ''}"
        f" = {m.model_bytes:,} B",
        *_offload_lines(m.offload),
        f"activation (estimate): max(forward {p.max_num_batched_tokens} tokens"
        f"{' (AWQ split-k partials)' if p.awq_split_k else ''}"
        f"{' (AWQ dequantized weight)' if p.awq_dequantize else ''} {forward:,} B, sampler "
        f"{rows} rows × {cfg.vocab_size} × ({b} + {sampler_bytes_per_logit(p)}) B"
        f"{', FlashInfer' if sampler_bytes_per_logit(p) == FLASHINFER_SAMPLER_BYTES_PER_LOGIT else ''}"
        f"{'' if p.engine in V0_FAMILIES else ' + hidden'} = {sampler:,} B) "
        f"= {m.activation_bytes:,} B",
        f"CUDA graphs in the budget (estimate): {m.cuda_graph_bytes:,} B; non-torch (estimate"
        f"{', CUDA context included' if context_inside(p) else ''}"
        f"{f', NCCL {nccl_bytes(p):,} B included' if nccl_bytes(p) and nccl_inside(p) else ''}"
        f"{', all-reduce inputs held' if held_allreduce_bytes(cfg, p) else ''}"
        f"{f', NCCL of the profile run {lazy:,} B included' if (lazy := nccl_profile_bytes(p)) else ''}"
        "): "
        f"{m.non_torch_bytes:,} B; outside the reservation (estimate:"
        f"{'' if context_inside(p) else ' CUDA context'}"
        f"{', NCCL' if p.tensor_parallel > 1 and not nccl_inside(p) else ''}"
        f"{', CUDA graphs' if p.engine != 'v1' and p.cuda_graphs else ''}"
        f"): {m.cuda_context_bytes:,} B",
        f"KV groups: {layout.groups} of {layout.group_size} layers; page {layout.page_bytes:,} B; "
        f"blocks per request {layout.blocks_per_request} ({layout.blocks})"
        if not layout.layer_pages else
        f"KV groups: one group of {layout.group_size} layers whose widths differ "
        f"(UniformTypeKVCacheSpecs): pages of {_page_sizes(layout.layer_pages)}, block "
        f"{layout.block_bytes:,} B over all layers; blocks per request {layout.blocks_per_request}",
    ]
    lines += [f"KV needed {line}" for line in m.kv.explain]
    if m.kv_padding_bytes:
        lines.append(f"KV needed: + {m.kv_padding_bytes:,} B for the padding layers of hybrid groups")
    lines += _warnings(cfg, m)
    lines += _pool_lines(m) if m.pool else [f"total needed = {m.needed_bytes:,} B ({_gib(m.needed_bytes)})"]
    return tuple(lines)


def _offload_lines(moved: CpuOffload | None) -> list[str]:
    if moved is None:
        return []
    return [f"--cpu-offload-gb {moved.limit_bytes / GiB:g}: {moved.parameters} parameters of the decoder "
            f"layers, first to last ({moved.whole_layers} layers whole), moved to pinned host memory until "
            f"{moved.limit_bytes:,} B are reached = {moved.moved_bytes:,} B"
            f"{f' (+ their allocator tails {moved.moved_tails:,} B)' if moved.moved_tails else ''}; "
            f"the GPU reads them over the host link at every step (runtimes/weight_offload.py)"]


def _page_sizes(pages: tuple[int, ...]) -> str:
    counts: dict[int, int] = {}
    for page in pages:
        counts[page] = counts.get(page, 0) + 1
    return ", ".join(f"{n} × {page:,} B" for page, n in counts.items())


def _pool_lines(m: VllmMemory) -> list[str]:
    pool, p = m.pool, m.params
    assert pool is not None
    lines = [
        f"reservation: {p.gpu_memory_bytes:,} B × {p.gpu_memory_utilization} = {pool.reserved_bytes:,} B; "
        f"vLLM takes all of it whatever the requests need",
        f"available KV = reservation − weights − activation − CUDA graphs − non-torch = "
        f"{pool.available_bytes:,} B ({_gib(pool.available_bytes)})",
    ] if p.kv_cache_memory_bytes is None else [
        f"--kv-cache-memory-bytes {p.kv_cache_memory_bytes:,}: the KV cache is that size whatever the GPU "
        f"(gpu_memory_utilization ignored); the worker takes weights + activation + CUDA graphs + "
        f"non-torch + it = {pool.reserved_bytes:,} B",
    ]
    lines += [
        (f"num_blocks = {pool.available_bytes:,} // {m.layout.page_bytes:,} // {m.layout.group_size} = "
         if not m.layout.layer_pages else
         f"num_blocks = {pool.available_bytes:,} // {m.layout.block_bytes:,} = ")
        + f"{pool.num_blocks:,}; GPU KV cache size: {pool.tokens:,} tokens"
        + (f" (int({pool.reported_len:,} × max concurrency), as 0.21 and later log it)" if pool.reported_len
           else f" (blocks // {pool.layout.n_groups} groups × {pool.block_size})"),
        f"Maximum concurrency for {p.context:,} tokens per request: {pool.max_concurrency:.2f}x",
        f"total = reservation + outside it = {m.total_bytes:,} B ({_gib(m.total_bytes)})",
    ]
    if m.over_gpu_bytes:
        lines.append(f"does not fit: the GPU is {m.shortfall_bytes:,} B ({_gib(m.shortfall_bytes)}) short of "
                     f"the worker's weights, buffers and the KV cache asked for")
    elif m.shortfall_bytes:
        lines.append(f"does not fit: the reservation is {m.shortfall_bytes:,} B "
                     f"({_gib(m.shortfall_bytes)}) short of {p.batch} request(s) of {p.context:,} tokens")
    if m.over_gpu_bytes:
        lines.append(f"warning: vLLM would stop: the worker's {m.total_bytes:,} B pass the GPU's "
                     f"{p.gpu_memory_bytes:,} B (the cache's allocation runs out of memory)")
    elif pool.available_bytes <= 0:
        lines.append("warning: vLLM would stop: no available memory for the cache blocks")
    elif pool.num_blocks < m.layout.blocks_per_request:
        lines.append(f"warning: vLLM would stop: one request of {p.context} tokens needs "
                     f"{m.layout.blocks_per_request} blocks, the pool has {pool.num_blocks}")
    elif not m.fits:
        lines.append(f"warning: {p.batch} requests at once need {p.batch * m.layout.blocks_per_request} "
                     f"blocks, the pool has {pool.num_blocks}: the rest wait or are preempted")
    return lines


# NVIDIA vGPU profiles as the guest's driver names them: the board, then the framebuffer in GB and the
# profile series (Q, C, B, A), "NVIDIA A40-48Q", "GRID A100D-40C"
VGPU_NAME = re.compile(r"-\d+[QCBA]\b")
# GPUs sharing one memory with the host (compute capability 8.7, 11.0, 12.1: Jetson Orin and Thor, GB10):
# vLLM reads their free memory as the host's available RAM (vllm/utils/mem_utils.py MemorySnapshot.measure),
# so whatever the host allocates during the profile counts as non-torch memory
UNIFIED_MEMORY_NAME = re.compile(r"\b(GB10|Thor|Orin|DGX Spark|Jetson)\b", re.I)


def _warnings(cfg: ArchConfig, m: VllmMemory) -> list[str]:
    p = m.params
    limit = default_max_model_len(cfg)
    checks = (
        (p.gpu_name is not None and VGPU_NAME.search(p.gpu_name) is not None,
         f"warning: {p.gpu_name} is a vGPU profile: memory its guest cannot account for (the hypervisor's, "
         f"other processes') shows up as non-torch memory in engines that measure the whole device "
         f"(0.6.4.post1: 4.09 GiB on an A40-48Q, issue 11230); it is not predicted, so the KV figures "
         f"here are an upper bound"),
        (p.gpu_name is not None and UNIFIED_MEMORY_NAME.search(p.gpu_name) is not None,
         f"warning: {p.gpu_name} shares its memory with the host: vLLM reads the host's available RAM as "
         f"free GPU memory, so what the host allocates during the profile (the worker, torch.compile) "
         f"counts as non-torch memory (1.4-2.8 GiB more than predicted on a DGX Spark, vllm/spark-*); it is "
         f"not predicted, so the KV figures here are an upper bound"),
        (p.context > limit,
         f"warning: context {p.context} exceeds the model's {limit} (vLLM refuses such a "
         f"max_model_len unless VLLM_ALLOW_LONG_MAX_MODEL_LEN=1)"),
        (p.batch > p.max_num_seqs,
         f"warning: batch {p.batch} exceeds max_num_seqs {p.max_num_seqs}: the rest wait"),
    )
    return [line for bad, line in checks if bad]


def stage_offload(model: Model, weights_bytes: int, tensor_parallel: int, limit_bytes: int,
                  stage_layers: tuple[int, ...], scheme: str | None = None) -> tuple[CpuOffload, ...]:
    """--cpu-offload-gb for each stage's worker (one stage without pipeline parallelism): each moves its
    own layers' parameters up to the limit (runtimes/weight_offload.py). Re-priced at ``scheme``
    (--weights): each tensor at its re-priced size; else the checkpoint's bytes scaled to the weights as
    held (the engine's re-laid layouts). () without the option."""
    if limit_bytes <= 0:
        return ()
    sizes = None
    if scheme is not None:
        from paramscope.analyses.sizing.weights import reprice

        sizes = {row.name: row.bytes for row in reprice(model, scheme).rows}
    scale = weights_bytes / (model.tensor_bytes or weights_bytes or 1)
    bounds = [sum(stage_layers[:i]) for i in range(len(stage_layers) + 1)]
    # the tails moved are those "Model loading took" would have counted (``loaded_tails``): none for
    # re-priced weights or the packed formats the engine re-lays
    tails = scheme is None and loaded_as_stored(model)
    return tuple(cpu_offload(model, tensor_parallel, limit_bytes, (bounds[i], bounds[i + 1]),
                             1.0 if sizes else scale, sizes, tails)
                 for i in range(len(stage_layers)))


# vllm/engine/arg_utils.py human_readable_int: lower-case suffixes are decimal in every release; the
# releases differ on upper-case ones (K, M, G binary until late 2025, then SI: M = 10**6 and Ki, Mi, Gi
# binary), which are refused here rather than guessed
_DECIMAL = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
_BYTE_COUNT = re.compile(r"(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|[kmgtKMGT]?)")


def parse_byte_count(text: str | None, flag: str) -> int | None:
    """A byte count as vLLM reads it (None: not given)."""
    if text is None or not str(text).strip():
        return None
    found = _BYTE_COUNT.fullmatch(str(text).strip())
    if found is None:
        raise UnsupportedError(f"{flag} takes bytes, as 30000000000, 30g (10**9) or 28Gi (2**30) "
                               f"(found {text!r})")
    number, suffix = found.groups()
    if suffix in _DECIMAL:
        return int(float(number) * _DECIMAL[suffix])
    if suffix in _BINARY and "." not in number:
        return int(number) * _BINARY[suffix]
    if suffix in _BINARY:
        raise UnsupportedError(f"{flag}: decimals are not allowed with {suffix} (found {text!r})")
    raise UnsupportedError(f"{flag} {text}: vLLM releases read the suffix {suffix} differently (2**n in "
                           f"older ones, 10**n since); write {number}{suffix.lower()} (10**n) or "
                           f"{number}{suffix}i (2**n)")


def int4_without_marlin(model: Model, req: MemoryRequest) -> bool:
    """A 4-bit AWQ / GPTQ model (stored so, or re-priced with ``--weights int4``) on an NVIDIA GPU before
    Ampere, where Marlin cannot run (capability 8.0 and later): vLLM's AWQ kernel (and GPTQ's exllama path)
    dequantize the weight for a large batch (``awq_dequantize_peak``). The device table has no capability;
    an NVIDIA GPU without a bf16 rate (V100, T4, Turing and Pascal cards) is pre-Ampere."""
    device = req.device
    if device is None or device.kind != "gpu" or device.vendor != "NVIDIA" or device.bf16_flops is not None:
        return False
    if req.weights is not None:
        from paramscope.knowledge.quant_schemes import PLAIN_SCHEMES, lookup

        return lookup(req.weights) is PLAIN_SCHEMES["int4"]
    q = model.quantization
    return q is not None and q.method in ("awq", "gptq") and q.bits == 4


# --- the adapter memory.estimate calls (runtimes.RUNTIMES) ----------------------------------------
def parts(model: Model, cfg: ArchConfig, weights_bytes: int, req: MemoryRequest, ctx: int) -> RuntimeParts:
    """vLLM's figures are per GPU (each of the tensor-parallel ranks holds the same); totals are × N.

    The KV line is what the requests need; on a given GPU vLLM also pre-allocates the rest of its
    reservation as KV blocks, which the notes report, and whether the blocks hold the requests decides
    whether it fits.
    """

    dtype = model_dtype(model.tensors)
    t = kv_dtype(req.kv_type, dtype)
    on_gpu = req.device is not None and req.device.kind != "cpu"
    gpu = req.device.usable_bytes if req.device and on_gpu else None
    pp = option(req, "pipeline_parallel_size")
    if req.n_devices % pp:
        raise UnsupportedError(f"vLLM: {req.n_devices} GPUs cannot be split into {pp} pipeline stages of "
                               f"equal tensor-parallel size (the GPU count must be a multiple of "
                               f"--pipeline-parallel-size)")
    partition = parse_partition(option(req, "pp_layer_partition"))
    if partition and pp == 1:
        raise UnsupportedError("vLLM: --pp-layer-partition (VLLM_PP_LAYER_PARTITION) needs "
                               "--pipeline-parallel-size above 1")
    stage_layers = pp_stage_layers(cfg.n_layers, pp, partition) if pp > 1 else None
    tp = req.n_devices // pp
    offload = stage_offload(model, weights_bytes, tp, int(option(req, "cpu_offload_gb") * GiB),
                            stage_layers or (cfg.n_layers,), req.weights)
    # vLLM tests ``if kv_cache_memory_bytes := ...``: 0 is "not set", the budget's rule applies
    kv_bytes = parse_byte_count(option(req, "kv_cache_memory_bytes"), "--kv-cache-memory-bytes") or None
    m = vllm_memory(cfg, weights_bytes, context=ctx, batch=req.batch, kv_type=t, dtype=dtype,
                    gpu_memory_bytes=gpu, gpu_memory_utilization=option(req, "gpu_memory_utilization"),
                    pipeline_parallel=pp, pp_partition=partition,
                    stage_weights=stage_weight_split(model, weights_bytes, stage_layers) if stage_layers
                    else None,
                    tensor_parallel=tp, max_num_seqs=option(req, "max_num_seqs"),
                    max_num_batched_tokens=option(req, "max_num_batched_tokens"),
                    cuda_graphs=not option(req, "enforce_eager"), engine=option(req, "engine"),
                    chunked_prefill=TRI_STATE[option(req, "enable_chunked_prefill")],
                    gpu_name=req.device.name if req.device and on_gpu else None,
                    nvlink=req.device.nvlink is not False if req.device and on_gpu else True,
                    flashinfer_sampler=option(req, "flashinfer_sampler"),
                    allocator_tail_bytes=0 if req.weights else loaded_tails(model, tp),
                    entrypoint=option(req, "entrypoint"),
                    expert_parallel=option(req, "enable_expert_parallel"), offload=offload,
                    kv_cache_memory_bytes=kv_bytes, prefix_caching=prefix_caching_asked(req),
                    mla_stored_bytes=None if req.weights else mla_stored(model),
                    disable_hybrid_kv_cache_manager=option(req, "disable_hybrid_kv_cache_manager"),
                    awq_dequantize=int4_without_marlin(model, req))
    host = sum(s.moved_bytes for s in offload) * tp
    n = req.n_devices
    notes: tuple[str, ...] = ()
    if host:
        notes += (f"--cpu-offload-gb: {host:,} B of weights ({_gib(host)}) in pinned host memory, read by "
                  f"the GPUs over the host link at every step (slow); the per-GPU figures leave them out",)
    if m.pool is not None:
        pool = m.pool
        util = m.params.gpu_memory_utilization
        how = (f"gpu_memory_utilization {util}" if kv_bytes is None else
               f"--kv-cache-memory-bytes {kv_bytes:,} beside the rest")
        notes += (f"vLLM reserves {pool.reserved_bytes:,} B per GPU ({how}) and "
                 f"{'fills what is left with' if kv_bytes is None else 'holds'} "
                 f"{max(pool.num_blocks, 0):,} KV blocks ({'logged as ' if pool.reported_len else ''}"
                 f"{pool.tokens:,} tokens): "
                 f"{counted(int(pool.max_concurrency), 'request')} of {ctx:,} tokens at once (vLLM's maximum "
                 f"concurrency {pool.max_concurrency:.2f}x, rounded down to whole requests)",)
        if m.shortfall_bytes:
            needed = req.batch * m.layout.blocks_per_request
            where = ("the cache asked for does not fit beside the weights and buffers (vLLM stops at "
                     "start-up)" if m.over_gpu_bytes else
                     "nothing is left for the KV cache (vLLM stops at start-up)" if pool.available_bytes <= 0
                     else f"{pool.num_blocks:,} blocks hold fewer than the {needed:,} the requests need")
            short = ("each GPU is" if m.over_gpu_bytes else "each GPU's reservation is")
            notes += (f"does not fit: {where}; {short} {m.shortfall_bytes:,} B ({_gib(m.shortfall_bytes)}) "
                      f"short",)
    verdict = m.fits if m.pool is not None else None
    if m.stages:  # pipeline parallel: each stage's figures on each of its tensor-parallel GPUs
        tp = n // pp
        devices = tuple((s.model_bytes, s.kv_needed_bytes, s.compute_bytes, s.overhead_bytes)
                        for s in m.stages for _ in range(tp))
        notes = (f"pipeline parallel: {pp} stages × {tp} GPU(s); per GPU the stage's own weights (the "
                 f"embedding on the first{' and the last' if cfg.tied_embeddings else ''}, lm_head on the "
                 f"last), KV cache of its layers and activations; the stage with the fewest KV blocks "
                 f"(stage {m.stage}) decides", *notes)
        return RuntimeParts(sum(d[1] for d in devices), sum(d[2] for d in devices),
                            sum(d[3] for d in devices), t.value.lower(), m.explain, notes, verdict,
                            host_weights_bytes=host, device_shares=devices, split_label="pipeline stages",
                            devices_at_once=tp)
    if kv_bytes is not None and m.pool is not None:
        # the cache asked for is allocated whole: the KV line is its blocks, a decode step reads the
        # requests' own cache
        return RuntimeParts(m.pool.pool_bytes * n, m.compute_bytes * n, m.overhead_bytes * n,
                            t.value.lower(), m.explain, notes, verdict, host_weights_bytes=host,
                            kv_requests_bytes=m.kv_needed_bytes * n)
    return RuntimeParts(m.kv_needed_bytes * n, m.compute_bytes * n, m.overhead_bytes * n,
                        t.value.lower(), m.explain, notes, verdict, host_weights_bytes=host)
