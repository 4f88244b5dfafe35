"""vLLM's engine families and the parameters a start-up resolves: EngineArgs' batch defaults by release,
entrypoint and GPU size, the KV block size, the default context and ``--gpu-memory-utilization``.
"""

from __future__ import annotations

import re

from paramscope.analyses.sizing.runtimes.common import CUDA_ALIKE
from paramscope.errors import UnsupportedError, UsageError
from paramscope.model import ArchConfig
from paramscope.model.dtypes import DType
from paramscope.records import record

MiB, GiB = 1 << 20, 1 << 30
F32, I64 = 4, 8

# vllm/engine/arg_utils.py, EngineArgs.get_batch_defaults, `vllm serve` (UsageContext.OPENAI_API_SERVER):
# GPUs with ≥ 70 GiB (H100, H200; MI300X and B200 before 0.28) get the larger pair, except A100s, which
# vLLM excludes by name ("this setting doesn't apply to A100"). Checked: gpt-oss-20b on an A100 80GB at
# utilization 0.65 (tests/fixtures/engine_logs/vllm/myoceane-gpt-oss-20b-a100-v0190) leaves 36.56 GiB
# only with 256 rows.
BIG_GPU_BYTES = 70 * GiB
SERVE_DEFAULTS = {True: (8192, 1024), False: (2048, 256)}  # (max_num_batched_tokens, max_num_seqs)
# The offline ``LLM`` class (UsageContext.LLM_CLASS) batches more tokens per step by the same rule: 16384
# and 1024 on the large GPUs, 8192 and 256 elsewhere. Checked: an ``LLM(model=...)`` script on an H100
# logs "Chunked prefill is enabled with max_num_batched_tokens=16384" (vLLM 0.10.2, llava-v1.6-mistral-7b,
# code index file id 34680831065).
LLM_CLASS_DEFAULTS = {True: (16384, 1024), False: (8192, 256)}
# An engine built in a script (AsyncLLMEngine.from_engine_args, UsageContext.ENGINE_CONTEXT), which
# get_batch_defaults has no row for: SchedulerConfig's own defaults, 2048 tokens and 128 sequences
# (config/scheduler.py DEFAULT_MAX_NUM_BATCHED_TOKENS, DEFAULT_MAX_NUM_SEQS, 0.21 to 0.34) on any GPU.
# Checked: two AsyncLLMEngine logs of 0.22 print "PIECEWISE=35 (largest=256), FULL=19 (largest=128)"
# (vllm/abortdemo-*, fastapi-*)
ENGINE_CONTEXT_DEFAULTS = (2048, 128)
DEFAULTS_BY_ENTRYPOINT = {"serve": SERVE_DEFAULTS, "llm": LLM_CLASS_DEFAULTS,
                          "engine": dict.fromkeys((True, False), ENGINE_CONTEXT_DEFAULTS)}
# From 0.28.0 a third tier: GPUs with ≥ 160 GiB as torch reports them (B200, B300, MI300X, MI325X, MI355X)
# get 16384 tokens and 1024 sequences for `vllm serve` too ("for GPUs like B200/B300 with >= 160GB memory,
# use the largest defaults"; not in 0.27.0's arg_utils.py). Checked: Gemma 4 on an MI300X under 0.31.1
# prints "max_num_batched_tokens=16384" with none given (vllm/r21v-*-mi300x-*). From 0.33.0 a GB10 (DGX
# Spark, compute capability 12.1) stays on the small tier whatever its memory ("has the memory but not the
# compute of a large discrete GPU").
HUGE_GPU_BYTES = 160 * GiB
HUGE_GPU_DEFAULTS = (16384, 1024)
HUGE_GPU_RELEASE = (0, 28, 0)
GB10_SMALL_TIER_RELEASE = (0, 33, 0)
GB10_NAME = re.compile(r"\bGB10\b", re.I)
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
# "v0": the V0 engine of 0.6.5 to 0.10: its worker measures the non-torch memory as the increase over a
# baseline snapshot taken before the profile (vllm/utils.py memory_profiling, PR #10511, released in 0.6.5
# as the 0.6.5 and 0.6.6 wheels' worker.py shows; PR #11809's fix counting torch's reserved bytes came in
# 0.7), as V1 does: the 0.01–0.20 GiB that 0.6.6–0.10 V0 logs print at TP 1 (hfcookbook-*: 0.05; two
# 0.6.6 logs, r19v-* and r40v-*: 0.10, 0.11). "v0-0.6": the V0 engine of 0.6.4, whose worker took the
# whole device's memory outside torch after the profile, the CUDA context's growth included: 0.35 GiB on
# an RTX 3090 (10517-*), and so did PR #10511's development builds (10511-*: 1.79 GiB on an H100).
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
# vocabulary: it filters the logits in place (SAMPLER_BYTES_PER_LOGIT, profile.py).
# "v1-0.12" and "v1-0.11": "v1-early" of 0.12.0 and of 0.11.0 to 0.11.2, whose multimodal profile keeps each
# dummy item's embeddings padded (PR #25810, in 0.11.0; 0.12.0 narrowed the padding from the whole encoder
# budget to the item's placeholder count; PR #30475, in 0.13.0, removed it): encoder.py PADDED_TO. Before
# 0.13 the encoder budget also counts placeholder tokens rather than embeddings (Qwen3-VL's video: 12.5 ×).
# vLLM releases as (major, minor, patch). Within a family a few rules changed from one release to the next
# (each constant *_RELEASE names the first release it holds for); VllmParams.release is the release a
# prediction follows: --vllm-release, else the newest release of its family that paramscope models
# (LATEST_RELEASE for "v1": 0.33; 0.34.0's sizing after warmup, EXTENSIBLE_RELEASE, follows its source with
# --vllm-release 0.34 and becomes the default once a log of it checks it).
Release = tuple[int, int, int]
LATEST_RELEASE: Release = (0, 33, 0)
# each family's first release, newest first (V1 became the default in 0.8; V0 of 0.8 to 0.10 is "v0")
FAMILY_FIRST: tuple[tuple[str, Release], ...] = (
    ("v1", (0, 21, 0)), ("v1-0.16", (0, 16, 0)), ("v1-early", (0, 13, 0)), ("v1-0.12", (0, 12, 0)),
    ("v1-0.11", (0, 11, 0)), ("v1-0.9", (0, 9, 2)), ("v1-0.8", (0, 8, 0)), ("v0", (0, 6, 5)),
    ("v0-0.6", (0, 6, 4)), ("v0-early", (0, 2, 6)), ("v0-2023", (0, 0, 0)))
# the newest release of each family (the default release of a family chosen by name)
FAMILY_LAST: dict[str, Release] = {
    "v1": LATEST_RELEASE, "v1-0.16": (0, 20, 2), "v1-early": (0, 15, 1), "v1-0.12": (0, 12, 0),
    "v1-0.11": (0, 11, 2), "v1-0.9": (0, 10, 2), "v1-0.8": (0, 9, 1), "v0": (0, 10, 2), "v0-0.6": (0, 6, 4),
    "v0-early": (0, 6, 3), "v0-2023": (0, 2, 5), "v0-2023-main": (0, 2, 5)}
RELEASE_TEXT = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+))?(?:(?:\.\d+)?(?:\.?(?:rc|post|dev)\d*|\+\S*)*)")


# vLLM 0.7.1 (February 2025) brought MLA's latent cache; before it an MLA model's K and V were cached per
# head (weights.py pre_mla_attention). 0.7.1 and 0.7.2 turned it off for a quantized checkpoint other than
# FP8 (config.py use_mla: "MLA is not supported with %s quantization. Disabling MLA.", fp8 and an FP8
# compressed-tensors checkpoint excepted; read in their wheels), 0.7.3 for none
MLA_RELEASE: Release = (0, 7, 1)
MLA_ANY_QUANT_RELEASE: Release = (0, 7, 3)
MLA_EARLY_QUANTS = frozenset({"fp8", "compressed-tensors"})


def mla_cached(release: Release, quant_method: str | None) -> bool:
    """Whether ``release`` caches an MLA model's latent for a checkpoint of this quantization method."""
    if release < MLA_RELEASE:
        return False
    return release >= MLA_ANY_QUANT_RELEASE or quant_method in (None, *MLA_EARLY_QUANTS)


def effective_release(engine: str, release: Release | None) -> Release:
    """The release a request follows: --vllm-release, else its family's newest that paramscope models."""
    return release or FAMILY_LAST.get(engine, LATEST_RELEASE)


def parse_release(text: str) -> Release:
    """A vLLM release as people write it ("0.27", "0.27.1", "v0.19.1rc2", "0.10.1.1"): its first three
    numbers."""
    found = RELEASE_TEXT.fullmatch(str(text).strip())
    if found is None:
        raise UnsupportedError(f"a vLLM release is written as 0.27 or 0.27.1 (found {text!r})")
    major, minor, patch = found.groups()
    return int(major), int(minor), int(patch or 0)


def family_for_release(release: Release) -> str:
    """The engine family a release runs by default (its V1 engine from 0.8 on)."""
    return next(family for family, first in FAMILY_FIRST if release >= first)


# From 0.34.0 the "extensible KV cache" is on by default on CUDA and ROCm unless --kv-cache-memory-bytes is
# given (config/cache.py enable_extensible_kv_cache; config/vllm.py _resolve_extensible_kv_cache turns it off
# for other platforms, --kv-cache-memory-bytes, a block-count override, elastic EP and some KV connectors;
# paramscope: ``extensible_on``): the cache is sized after warmup and CUDA graph
# capture from the device's free memory (v1/worker/extensible_kv_cache.py measure_kv_cache_bytes):
#   available = min(requested − non_kv_used, headroom − margin) − max(T, torch's reservation growth)
# where requested = ceil(total × gpu_memory_utilization), 1.0 unless given (resolved_gpu_memory_utilization),
# non_kv_used everything resident but the cache (the graphs as captured, no estimate), headroom the free
# memory after warmup plus the committed cache, T the transient peak of the profile and warmup steps, and
# margin = max(KV_CACHE_MARGIN_FLOOR_BYTES: 1 GiB, 3 GiB on ROCm; 0.75 × T). 0.34 has one GPU model runner
# (v1/worker/gpu/, V2), which supports it for every model. Read in the 0.34.0 sdist; no log of it is in the
# reference set.
EXTENSIBLE_RELEASE = (0, 34, 0)
EXTENSIBLE_UTILIZATION = 1.0
EXTENSIBLE_MARGIN_FLOOR = {False: 1 * GiB, True: 3 * GiB}  # keyed by ROCm
EXTENSIBLE_MARGIN_FRACTION = 0.75
# The same release made 64 tokens the default block size (CacheConfig.DEFAULT_BLOCK_SIZE; 16 up to 0.33,
# 64 for MLA), with the extensible KV cache or without it.
BLOCK_64_RELEASE = (0, 34, 0)
# A GPU known only by the name its log prints: ROCm where the name is AMD's
ROCM_NAME = re.compile(r"\b(AMD|Instinct|Radeon|MI\d{2,3}X?)\b", re.I)


def platform_from_name(gpu_name: str | None) -> str:
    """"rocm" for an AMD GPU's name, else "cuda" (runtimes/common.py gpu_platform where the device is
    known)."""
    return "rocm" if gpu_name is not None and ROCM_NAME.search(gpu_name) is not None else "cuda"


# Which model runner vLLM picks (config/vllm.py ``use_v2_model_runner``, read in the 0.25.0 to 0.34.0
# sources; 0.21 has V2 behind VLLM_USE_V2_MODEL_RUNNER=1 only, 0.22 to 0.24 are not read, V1 is taken
# there). From 0.25 to 0.28 V2 (v1/worker/gpu/model_runner.py) is the default for a generative model that
# is neither an MoE (but V2_MOE_ARCHITECTURES) nor attention-free nor a hybrid (a Mamba or linear-attention
# layer; from 0.27 a hybrid in V2_MOE_ARCHITECTURES too); from 0.29 for every model, on ROCm but for
# DeepSeek-V3.2/V4 and GLM-5 (ROCM_DEFAULT_MRV1_ARCHITECTURES). A speculative method V2 does not run
# (ngram, suffix, a draft model: not eagle, eagle3, mtp, dflash or dspark) takes V1 (its
# ``_get_v2_model_runner_unsupported_features``). What it changes here: V2's profile took no CUDA graph
# estimate into the budget before 0.29 (its ``profile_cudagraph_memory`` returned 0), so its graphs are
# captured after the cache is sized, outside the reservation. Logs: kubesimplify's Qwen3-32B runs of 0.27.1
# and orca3notes' Qwen2.5-0.5B of 0.26.0 run V2; Qwen3.5-family, LFM2.5 and Qwen3-235B-A22B logs of
# 0.23-0.28 print the estimate (V1).
V2_DEFAULT_RELEASE: Release = (0, 25, 0)
V2_EVERY_MODEL_RELEASE: Release = (0, 29, 0)
V2_HYBRID_LISTED_RELEASE: Release = (0, 27, 0)
V2_GRAPH_ESTIMATE_RELEASE: Release = (0, 29, 0)  # V2's profile_cudagraph_memory measures from 0.29
# MoE architectures V2 takes by default (DEFAULT_V2_MODEL_RUNNER_ARCHITECTURES): the first release that
# lists each, and whether ROCm keeps it (0.27's ROCM_EXCLUDED_V2_MODEL_RUNNER_ARCHITECTURES, 0.28's
# default_v2_model_runner_architectures)
V2_MOE_ARCHITECTURES: dict[str, tuple[Release, bool]] = {
    "DeepseekV2ForCausalLM": ((0, 25, 0), True),
    "GraniteMoeForCausalLM": ((0, 25, 0), True),
    "Qwen2MoeForCausalLM": ((0, 25, 0), True),
    "InklingForCausalLM": ((0, 26, 0), True),
    "InklingForConditionalGeneration": ((0, 26, 0), True),
    "LongcatFlashNgramForCausalLM": ((0, 26, 0), True),
    "KimiK3ForConditionalGeneration": ((0, 27, 0), False),
    "DeepseekV4ForCausalLM": ((0, 28, 0), False),
}
ROCM_V1_ARCHITECTURES = frozenset({"DeepseekV32ForCausalLM", "DeepseekV4ForCausalLM", "GlmMoeDsaForCausalLM"})
V2_SPECULATIVE_METHODS = frozenset({"eagle", "eagle3", "mtp", "dflash", "dspark"})
MODEL_RUNNERS = ("v1", "v2")
# --performance-mode (config/vllm.py PerformanceMode, 0.17 on; not in 0.16): interactivity captures every
# CUDA graph size from 1 to 32 (profile.py captured_graphs); throughput doubles the batch defaults
# (engine/arg_utils.py: "If throughput mode is set, double max_num_batched_tokens and max_num_seqs")
PERFORMANCE_MODES = ("balanced", "interactivity", "throughput")
PERFORMANCE_MODE_RELEASE: Release = (0, 17, 0)


def default_model_runner(cfg: ArchConfig, release: Release, platform: str,
                         speculative_method: str | None = None) -> str:
    """The model runner vLLM ``release`` picks for ``cfg`` on ``platform`` when none is asked for (see
    V2_DEFAULT_RELEASE): "v1" or "v2"."""
    if release < V2_DEFAULT_RELEASE or (speculative_method and
                                        speculative_method not in V2_SPECULATIVE_METHODS):
        return "v1"
    if release >= V2_EVERY_MODEL_RELEASE:
        return "v1" if platform == "rocm" and cfg.architecture in ROCM_V1_ARCHITECTURES else "v2"
    first, on_rocm = V2_MOE_ARCHITECTURES.get(cfg.architecture, (None, False))
    listed = first is not None and release >= first and (on_rocm or platform != "rocm")
    kinds = set(cfg.layer_types) or {"full"}
    hybrid = "linear" in kinds  # a Mamba, linear-attention or short-conv layer beside attention
    attention_free = not kinds & {"full", "sliding"}
    if attention_free or (hybrid and not (listed and release >= V2_HYBRID_LISTED_RELEASE)):
        return "v1"
    return "v2" if listed or not cfg.is_moe else "v1"


def extensible_margin(p: VllmParams, transient: int) -> int:
    """The headroom the extensible KV cache keeps beyond the transient peak (see EXTENSIBLE_RELEASE)."""
    return max(EXTENSIBLE_MARGIN_FLOOR[p.platform == "rocm"], int(transient * EXTENSIBLE_MARGIN_FRACTION))


def extensible_on(release: Release, platform: str, kv_cache_memory_bytes: int | None) -> bool:
    """Whether the KV cache is the extensible one (EXTENSIBLE_RELEASE): 0.34 and later, on CUDA or ROCm,
    without --kv-cache-memory-bytes."""
    return release >= EXTENSIBLE_RELEASE and platform in CUDA_ALIKE and kv_cache_memory_bytes is None


def default_block_size(release: Release, mla: bool) -> int:
    return 64 if release >= BLOCK_64_RELEASE else BLOCK_SIZE[mla]


def family_range(engine: str) -> tuple[Release, Release | None]:
    """The releases an engine family covers: its first, and the next family's first (None: open, the
    current family). V0 ran to 0.10, beside V1 from 0.8; "v0-2023-main" is the main branch of "v0-2023"'s
    releases."""
    firsts = dict(FAMILY_FIRST)
    first = firsts.get(engine, firsts["v0-2023"])
    if engine == "v0":
        return first, (0, 11, 0)
    later = [f for _, f in FAMILY_FIRST if f > first]
    return first, min(later) if later else None


def covers(engine: str, release: Release) -> bool:
    """Whether ``release`` runs the ``engine`` family (``family_range``)."""
    first, until = family_range(engine)
    return first <= release and (until is None or release < until)


def release_text(release: Release) -> str:
    return ".".join(map(str, release))


ENGINES = ("v1", "v1-0.16", "v1-early", "v1-0.12", "v1-0.11", "v1-0.9", "v1-0.8", "v0", "v0-0.6", "v0-early",
           "v0-2023", "v0-2023-main")
V0_FAMILIES = ("v0", "v0-0.6", "v0-early", "v0-2023", "v0-2023-main")
TRI_STATE = {"auto": None, "on": True, "off": False}  # the values of the runtime table's on/off/auto options


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
    # V0 of 0.7.1 to 0.7.3: MLA's absorbed matrices beside the checkpoint's (weights.py MLA_ABSORPTION key)
    mla_absorption: str | None = None
    max_capture_size: int | None = None  # --max-cudagraph-capture-size (None: the engine's rule)
    # whether the profile takes the CUDA graph estimate out of the budget. None: the family's own way (the
    # v1 family does, the others capture the graphs afterwards, outside it); False: a v1 profile that took
    # none (model runner V2 before 0.29: its profile_cudagraph_memory returned 0); True: 0.19-0.20 with
    # VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS=1 ("CUDA graph memory profiling is enabled")
    graph_estimate: bool | None = None
    # batches scheduled but not yet settled (``concurrent_batches``): a sliding-window layer keeps that many
    # chunks of max_num_batched_tokens beyond its window
    in_flight_batches: int = 1
    release: Release = LATEST_RELEASE  # the vLLM release whose rules the prediction follows (see Release)
    # what the allocator reserves beyond the weights' allocated bytes (memory.py ``device_hole_bytes``)
    device_holes: int = 0
    # the KV cache sized after warmup from measured memory (EXTENSIBLE_RELEASE), not from the profile's
    # estimate
    extensible: bool = False
    platform: str = "cuda"  # runtimes/common.py gpu_platform: "cuda", "rocm", "xpu", "metal", "cpu"…
    speculative_tokens: int = 0  # --speculative-config's num_speculative_tokens (speculative.py)
    # an MTP drafter's tensors every rank holds whole (DeepSeek-style eh_proj, a plain nn.Linear)
    drafter_replicated: int = 0
    draft_layers: int = 0  # the MTP drafter's attention layers, in the KV cache beside the model's
    model_runner: str = "v1"  # "v1" (gpu_model_runner.py) or "v2" (v1/worker/gpu/model_runner.py)
    performance_mode: str = "balanced"  # --performance-mode: balanced, interactivity or throughput (0.17 on)


# A sliding-window layer admits a request with blocks for window − 1 tokens and the tokens in flight
# (kv_cache_interface.py SlidingWindowSpec.max_admission_blocks_per_request). Until 0.25 those were one
# chunk, max_num_batched_tokens; from 0.26.0 (VllmConfig.max_in_flight_tokens) they are
# max_concurrent_batches × max_num_batched_tokens, since out-of-window blocks are freed only once a step
# settles: 2 with async scheduling (on by default from 0.26: "Asynchronous scheduling is enabled", unless a
# pooling model, a non-EAGLE drafter or an executor without it turns it off), the pipeline's stages with
# pipeline parallelism (the V1 model runner; model runner V2 and 0.34 take stages + 1 with async, not
# modelled: with PP > 1 and sliding-window layers they hold one chunk more).
# Gemma 4 31B at 32K with 16,384-token chunks on 0.31.1: 1,023 + 2 × 16,384 ≥ 32,768, so its sliding
# layers hold the whole context (121,290 tokens printed; window + one chunk would be 223,687).
IN_FLIGHT_RELEASE = (0, 26, 0)


def concurrent_batches(release: Release, async_scheduling: bool | None, pipeline_parallel: int) -> int:
    """vLLM's VllmConfig.max_concurrent_batches as the sliding-window admission counts it (1 before
    0.26, whose formula took one chunk). ``async_scheduling`` None: on."""
    if release < IN_FLIGHT_RELEASE:
        return 1
    if async_scheduling is False:
        return pipeline_parallel
    return max(2, pipeline_parallel)


def cdiv(a: int, b: int) -> int:
    return -(-a // b)


# vllm/config.py _get_and_verify_max_len: the longest max_model_len the engine accepts is
# max_position_embeddings, multiplied by the RoPE scaling factor unless the scaling type is one that already
# describes the extended length ("su", "longrope", "llama3"; Gemma 3's 128K is already scaled, so "gemma3"
# model types are skipped); before 0.30 "yarn" multiplies original_max_position_embeddings, from 0.30.0
# YaRN's max_position_embeddings counts as scaled already ("YaRN variants leave max_position_embeddings
# already scaled, as Transformers' _compute_yarn_parameters assumes"). deepseek-coder-6.7b (16384
# positions, linear × 4) thus gets 65536.
ROPE_TYPES_NOT_SCALED = ("su", "longrope", "llama3")
YARN_TYPES = ("yarn", "deepseek_yarn", "deepseek_llama_scaling")
YARN_UNSCALED_RELEASE = (0, 30, 0)
# With no --max-model-len, a LongRoPE model (Phi-3 and Phi-3.5 128K, Phi-4-mini) is served at its
# original_max_position_embeddings from 0.11.1 ("For LongRoPE, default to original_max_position_embeddings
# to avoid performance degradation for shorter sequences"): Phi-3-mini-128k at 4096, not 131072
LONGROPE_ORIGINAL_RELEASE = (0, 11, 1)


def rope_settings(cfg: ArchConfig) -> dict | None:
    """The config's RoPE scaling: ``rope_scaling``, or transformers 5's ``rope_parameters`` (which holds
    the scaling, rope_theta and partial_rotary_factor in one dict)."""
    for key in ("rope_scaling", "rope_parameters"):
        value = cfg.extra.get(key)
        if isinstance(value, dict):
            return value
    return None


def derived_max_model_len(cfg: ArchConfig, release: Release = LATEST_RELEASE) -> int:
    """The longest max_model_len vLLM accepts without VLLM_ALLOW_LONG_MAX_MODEL_LEN (see
    ROPE_TYPES_NOT_SCALED)."""
    rope = rope_settings(cfg)
    if not isinstance(rope, dict) or "gemma3" in cfg.family:
        return cfg.context_length
    kind = rope.get("rope_type", rope.get("type"))
    factor = rope.get("factor", 1.0)
    unscaled = ROPE_TYPES_NOT_SCALED + (YARN_TYPES if release >= YARN_UNSCALED_RELEASE else ())
    if kind in unscaled or not isinstance(factor, (int, float)):
        return cfg.context_length
    base = cfg.context_length
    if kind == "yarn":
        base = rope.get("original_max_position_embeddings", base)
    return int(base * factor)


def default_max_model_len(cfg: ArchConfig, release: Release = LATEST_RELEASE) -> int:
    """vLLM's max_model_len when none is given: the derived length, or a LongRoPE model's original one
    (LONGROPE_ORIGINAL_RELEASE)."""
    rope = rope_settings(cfg)
    if isinstance(rope, dict) and rope.get("rope_type", rope.get("type")) == "longrope" \
            and release >= LONGROPE_ORIGINAL_RELEASE:
        original = cfg.extra.get("original_max_position_embeddings",
                                 rope.get("original_max_position_embeddings"))
        if isinstance(original, int) and original > 0:
            return original
    return derived_max_model_len(cfg, release)


# The "GPU KV cache size: N tokens" line: num_blocks // kv_cache_groups × block_size until 0.20.0;
# int(max_model_len × max_concurrency) from 0.20.1 (kv_cache_utils._report_kv_cache_config, after vLLM issue
# #40691: the old formula undercounts a model whose groups share one pool, a hybrid or sliding-window one).
# 0.20.1 already prints it (Qwen3.6-27B on an A100, record r30v-*-v0201: 262,872 tokens = int(361 / 45 ×
# 32,768), no multiple of 16; 0.20.2's r19q-gemma4-*-v0202: 286,007 = 256,000 × 1.117), 0.20.0 still prints
# the blocks (r12q-qwen36-*, r17v-qwen36-*, r29v-*: hybrid models where the two differ). Granite
# 4.0-H-Micro, 0.29.0, 32K: 2,143,269 tokens printed, where its attention blocks hold 284,064; a Gemma 3
# log of 0.23 prints 1,217,591, no multiple of its blocks.
TOKENS_REPORTED_RELEASE = (0, 20, 1)


# --gpu-memory-utilization when none is given: 0.9 from 2023 (PR #2162 documents it), 0.92 in the current
# releases ("If unspecified, will use the default value of 0.92", docs.vllm.ai/en/stable/cli/serve; the
# LLM class's gpu_memory_utilization: float = 0.92; a 0.31.0 log started with --model alone prints
# "Desired GPU memory utilization is (0.92, 72.91 GiB)", vllm/a100-llama31-8b-default-v0310). The release
# that changed it is not pinned down: the current family ("v1") takes 0.92, the earlier ones 0.9.
DEFAULT_UTILIZATION = {"v1": 0.92}
OLDER_DEFAULT_UTILIZATION = 0.9


def default_utilization(engine: str, extensible: bool = False) -> float:
    """--gpu-memory-utilization when none is given (``extensible``: ``extensible_on``)."""
    if extensible:
        return EXTENSIBLE_UTILIZATION
    return DEFAULT_UTILIZATION.get(engine, OLDER_DEFAULT_UTILIZATION)


def resolve_params(
    cfg: ArchConfig, *, context: int, batch: int, kv_type: DType | None, dtype: DType,
    gpu_memory_bytes: int | None, gpu_memory_utilization: float | None, block_size: int | None,
    max_num_batched_tokens: int | None, max_num_seqs: int | None, cuda_graphs: bool, tensor_parallel: int,
    engine: str = "v1", chunked_prefill: bool | None = None, gpu_name: str | None = None,
    entrypoint: str = "serve", release: Release | None = None, platform: str | None = None,
    kv_cache_memory_bytes: int | None = None, multimodal: bool = False, performance_mode: str = "balanced",
) -> VllmParams:
    """Fill vLLM's defaults the way `vllm serve` (or the offline ``LLM`` class, ``entrypoint`` "llm") of
    that engine family does, and refuse what it refuses. ``platform``: runtimes/common.py gpu_platform
    (None: from ``gpu_name``, ``platform_from_name``). ``multimodal``: the model has an encoder the
    engine builds (V0 then leaves chunked prefill off, ``v0_chunks_by_default``)."""
    if engine not in ENGINES:
        raise UnsupportedError(f"unknown vLLM engine family {engine!r} (known: {', '.join(ENGINES)})")
    if performance_mode not in PERFORMANCE_MODES:
        raise UsageError(f"vLLM --performance-mode {performance_mode!r}: {', '.join(PERFORMANCE_MODES)}")
    if entrypoint not in DEFAULTS_BY_ENTRYPOINT:
        raise UnsupportedError(f"unknown vLLM entrypoint {entrypoint!r} (known: serve, llm, engine)")
    release = FAMILY_LAST[engine] if release is None else release
    if performance_mode != "balanced" and release < PERFORMANCE_MODE_RELEASE:
        raise UsageError(f"vLLM --performance-mode came with 0.17 (not in 0.16), "
                         f"not {'.'.join(map(str, release))}")
    platform = platform or platform_from_name(gpu_name)
    extensible = extensible_on(release, platform, kv_cache_memory_bytes)
    if engine in V0_FAMILIES:
        chunked = (v0_chunks_by_default(cfg, context, release, platform, multimodal)
                   if chunked_prefill is None else chunked_prefill)
        default_tokens = V0_CHUNK if chunked else max(context, V0_MIN_BATCHED_TOKENS)
        default_seqs = V0_MAX_NUM_SEQS
    else:
        if chunked_prefill is False:
            raise UnsupportedError("vLLM's V1 engine always chunks prefills; --enable-chunked-prefill off "
                                   "is the V0 engine's (--engine v0)")
        chunked = True
        default_tokens, default_seqs = batch_defaults(entrypoint, gpu_memory_bytes, gpu_name, release)
        if performance_mode == "throughput":  # arg_utils.py: both defaults doubled (what is given stays)
            default_tokens, default_seqs = 2 * default_tokens, 2 * default_seqs
    utilization = (default_utilization(engine, extensible) if gpu_memory_utilization is None
                   else gpu_memory_utilization)
    p = VllmParams(context, batch, tensor_parallel, _or(block_size, default_block_size(release, cfg.is_mla)),
                   _or(max_num_batched_tokens, default_tokens), _or(max_num_seqs, default_seqs),
                   kv_type or dtype, dtype, gpu_memory_bytes, utilization, cuda_graphs, engine,
                   chunked, gpu_name=gpu_name, entrypoint=entrypoint,
                   kv_cache_memory_bytes=kv_cache_memory_bytes, release=release, extensible=extensible,
                   platform=platform, performance_mode=performance_mode)
    _check(p)
    return p


def v0_chunks_by_default(cfg: ArchConfig, context: int, release: Release, platform: str,
                         multimodal: bool) -> bool:
    """V0's chunked prefill when none is asked for (arg_utils.py, read in the 0.6.4.post1, 0.6.5, 0.7.3 and
    0.8.3 wheels): on above 32K tokens of context (PR #6666) on CUDA, but not for a multimodal model, a
    model with a sliding window (``get_sliding_window()``), on ROCm from 0.6.5, nor for MLA from 0.8
    ("Chunked prefill not supported for Multimodal or MLA in V0"). Off, the profile runs one batch of the
    whole context."""
    if context <= V0_LONG_CONTEXT or multimodal or cfg.sliding_window:
        return False
    if platform not in ("cuda", "rocm") or (platform == "rocm" and release >= V0_ROCM_UNCHUNKED_RELEASE):
        return False
    return not (cfg.is_mla and release >= V0_MLA_UNCHUNKED_RELEASE)


V0_ROCM_UNCHUNKED_RELEASE: Release = (0, 6, 5)
V0_MLA_UNCHUNKED_RELEASE: Release = (0, 8, 0)


def batch_defaults(entrypoint: str, gpu_memory_bytes: int | None, gpu_name: str | None,
                   release: Release = LATEST_RELEASE) -> tuple[int, int]:
    """A V1 engine's (max_num_batched_tokens, max_num_seqs) when neither is given (EngineArgs.
    get_batch_defaults): by entrypoint, GPU size and ``release`` (HUGE_GPU_RELEASE, GB10_SMALL_TIER_RELEASE);
    no GPU given: a large one's."""
    gb10 = (gpu_name is not None and GB10_NAME.search(gpu_name) is not None
            and release >= GB10_SMALL_TIER_RELEASE)
    if entrypoint == "engine":  # no row of get_batch_defaults: SchedulerConfig's defaults on any GPU
        return ENGINE_CONTEXT_DEFAULTS
    huge = gpu_memory_bytes is not None and gpu_memory_bytes >= HUGE_GPU_BYTES
    if release >= HUGE_GPU_RELEASE and huge and not gb10:
        return HUGE_GPU_DEFAULTS
    a100 = gpu_name is not None and "a100" in gpu_name.lower()
    big = gpu_memory_bytes is None or (gpu_memory_bytes >= BIG_GPU_BYTES and not a100 and not gb10)
    return DEFAULTS_BY_ENTRYPOINT[entrypoint][big]


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
