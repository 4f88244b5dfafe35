"""``vllm_memory``: one GPU sized as the engine does it (load, profile run, KV pool), with tensor and
pipeline parallelism, CPU offload and the engine family's rules.
"""

from __future__ import annotations

from collections.abc import Mapping

from paramscope.analyses.sizing.kv_cache import layer_kinds
from paramscope.analyses.sizing.runtimes.vllm.encoder import (
    VisionTower,
    deepstack_buffer_bytes,
    encoder_profile,
)
from paramscope.analyses.sizing.runtimes.vllm.engine import (
    MODEL_RUNNERS,
    V0_FAMILIES,
    V2_GRAPH_ESTIMATE_RELEASE,
    Release,
    concurrent_batches,
    default_model_runner,
    effective_release,
    resolve_params,
)
from paramscope.analyses.sizing.runtimes.vllm.explain import explanation
from paramscope.analyses.sizing.runtimes.vllm.kv import (
    hybrid_block_size,
    kv_layout,
    kv_pool,
    prefix_caching_on,
    with_draft_layers,
    without_hybrid_manager,
)
from paramscope.analyses.sizing.runtimes.vllm.pipeline import pipeline_memory
from paramscope.analyses.sizing.runtimes.vllm.profile import (
    captured_graph_bytes,
    cuda_graph_bytes,
    forward_peak,
    non_torch_bytes,
    outside_bytes,
    sampler_peak,
)
from paramscope.analyses.sizing.runtimes.vllm.result import VllmMemory
from paramscope.analyses.sizing.runtimes.vllm.weights import (
    V0_MLA_ALIGN_RELEASES,
    offloaded_bytes,
    pre_mla_attention,
    v0_mla_aligned,
    vllm_layout_config,
    weights_per_gpu,
)
from paramscope.analyses.sizing.runtimes.weight_offload import CpuOffload
from paramscope.errors import UnsupportedError, UsageError
from paramscope.model import ArchConfig
from paramscope.model.dtypes import DType
from paramscope.records import replace

MiB, GiB = 1 << 20, 1 << 30

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
    platform: str | None = None,
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
    mla_absorption: str | None = None,
    max_cudagraph_capture_size: int | None = None,
    graph_estimate: bool | None = None,
    model_runner: str | None = None,
    speculative_method: str | None = None,
    performance_mode: str = "balanced",
    disable_hybrid_kv_cache_manager: bool = False,
    async_scheduling: bool | None = None,
    release: Release | None = None,
    device_hole_bytes: int = 0,
    vision: VisionTower | None = None,
    mm_limits: Mapping[str, int] | None = None,
    speculative_tokens: int = 0,
    draft_layers: int = 0,
    drafter_replicated_bytes: int = 0,
) -> VllmMemory:
    """One GPU's memory under `vllm serve` for ``batch`` requests of ``context`` tokens.

    ``weights_bytes``: all weights (every rank holds 1/``tensor_parallel``). ``kv_type`` None is vLLM's
    "auto", the model ``dtype``. ``block_size``, ``max_num_batched_tokens`` and ``max_num_seqs`` None take
    vLLM's defaults (16, or 64 for MLA; V1: 8192 and 1024 on GPUs of ≥ 70 GiB other than A100s or with no
    GPU given, else 2048 and 256; V0: see ``resolve_params``). ``cuda_graphs`` False is
    ``--enforce-eager``. ``engine`` one of ENGINES; ``chunked_prefill`` None is the engine's
    default; ``gpu_name`` as the driver names the GPU (only "A100" changes a default); ``platform`` the
    device's software stack (runtimes/common.py gpu_platform; None: read from ``gpu_name``); ``nvlink`` False
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
    ``mla_absorption``: how a V0 release of 0.7.1 to 0.7.3 stores MLA's absorbed matrices (a key of
    weights.py MLA_ABSORPTION; None: a release without them). ``max_cudagraph_capture_size``:
    --max-cudagraph-capture-size, the largest batch captured as a CUDA graph (V1; profile.py
    ``captured_graphs``).
    ``disable_hybrid_kv_cache_manager``: --disable-hybrid-kv-cache-manager (``without_hybrid_manager``).
    ``async_scheduling``: --async-scheduling / --no-async-scheduling (None: the engine's default, on), which
    decides how many chunks a sliding-window layer holds beyond its window (engine.py
    ``concurrent_batches``). ``release``: the vLLM release whose rules to follow (engine.py ``Release``;
    None: the family's newest). ``device_hole_bytes``: what one rank's caching allocator reserves beyond
    the weights' allocated bytes once they are loaded (segment tails split off, holes: runtimes/allocator.py
    ``reserved_holes``), which releases that measure at the device level count (profile.py
    DEVICE_LEVEL_RELEASE).
    ``vision``: the vision tower the profile run feeds first (encoder.py ``vision_tower``; None: text only;
    a pipeline's stages are sized without it); ``mm_limits`` --limit-mm-per-prompt (``parse_mm_limits``).
    ``speculative_tokens``: --speculative-config's num_speculative_tokens (speculative.py); ``draft_layers``:
    the attention layers an MTP drafter adds to the KV cache (its weights are in ``weights_bytes``);
    ``drafter_replicated_bytes``: the drafter's tensors every rank holds whole (``drafter_replicated``).
    ``graph_estimate``: whether the profile takes the CUDA graph estimate into the budget (None: the
    family's way, the v1 family only; False: model runner V2 before 0.29, the graphs captured outside it;
    True: 0.19-0.20 with VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS=1). ``model_runner``: "v1" or "v2"
    (VLLM_USE_V2_MODEL_RUNNER; None: the release's default for the model, engine.py
    ``default_model_runner``, which ``speculative_method`` enters); V2 before 0.29 takes no estimate.
    ``performance_mode``: --performance-mode (engine.py PERFORMANCE_MODES).
    ``pipeline_parallel`` > 1: the layers in that many stages
    (``pp_stage_layers``; ``pp_partition`` is VLLM_PP_LAYER_PARTITION), each stage on
    ``tensor_parallel`` GPUs; ``stage_weights`` each stage's weights before the tensor-parallel split
    (``stage_weight_split``; None: estimated from the config). The result is the worst stage's, with
    every stage in ``stages`` (``pipeline_memory``).
    """
    kv_cfg = cfg if mla or not cfg.is_mla else pre_mla_attention(cfg, effective_release(engine, release))
    kv_cfg = vllm_layout_config(kv_cfg, engine)
    if disable_hybrid_kv_cache_manager:
        kv_cfg = without_hybrid_manager(kv_cfg)
    kv_cfg = with_draft_layers(kv_cfg, draft_layers)
    p = resolve_params(kv_cfg, context=context, batch=batch, kv_type=kv_type, dtype=dtype,
                       gpu_memory_bytes=gpu_memory_bytes, gpu_memory_utilization=gpu_memory_utilization,
                       block_size=block_size, max_num_batched_tokens=max_num_batched_tokens,
                       max_num_seqs=max_num_seqs, cuda_graphs=cuda_graphs, tensor_parallel=tensor_parallel,
                       engine=engine, chunked_prefill=chunked_prefill, gpu_name=gpu_name,
                       entrypoint=entrypoint, release=release, platform=platform,
                       kv_cache_memory_bytes=kv_cache_memory_bytes, multimodal=vision is not None,
                       performance_mode=performance_mode)
    if model_runner is not None and model_runner not in MODEL_RUNNERS:
        raise UsageError(f"vLLM model runner {model_runner!r}: v1 or v2")
    runner = "v1" if engine in V0_FAMILIES else (
        model_runner or default_model_runner(cfg, p.release, p.platform, speculative_method))
    if graph_estimate is None and runner == "v2" and p.release < V2_GRAPH_ESTIMATE_RELEASE:
        graph_estimate = False  # its profile_cudagraph_memory returned 0: the graphs come after the cache
    first, until = V0_MLA_ALIGN_RELEASES
    # CacheEngine._align_cache: "and current_platform.is_cuda()"
    if engine == "v0" and mla and kv_cfg.is_mla and first <= p.release < until and p.platform == "cuda":
        kv_cfg = v0_mla_aligned(kv_cfg, p.kv_type)
    p = replace(p, nvlink=nvlink, flashinfer_sampler=flashinfer_sampler,
                awq_split_k=awq_split_k, awq_dequantize=awq_dequantize, weight_tails=allocator_tail_bytes,
                expert_parallel=expert_parallel and cfg.is_moe,
                prefix_caching=prefix_caching_on(prefix_caching, p.release),
                mla_stored_bytes=mla_stored_bytes,
                mla_absorption=mla_absorption if engine in V0_FAMILIES and mla else None,
                max_capture_size=max_cudagraph_capture_size,
                graph_estimate=graph_estimate,
                in_flight_batches=concurrent_batches(p.release, async_scheduling, pipeline_parallel),
                device_holes=device_hole_bytes, speculative_tokens=speculative_tokens,
                drafter_replicated=drafter_replicated_bytes, draft_layers=draft_layers, model_runner=runner)
    if "linear" in layer_kinds(cfg):
        p = replace(p, block_size=hybrid_block_size(cfg, p, block_size))
    if pipeline_parallel != 1 and (speculative_tokens or draft_layers):
        raise UnsupportedError("vLLM: speculative decoding with pipeline parallelism is not modelled (the "
                               "drafter then keeps an embedding of its own)")
    if pipeline_parallel != 1:
        return pipeline_memory(cfg, kv_cfg, weights_bytes, replace(p, pipeline_parallel=pipeline_parallel),
                               pp_partition, stage_weights, offload)
    layout, kv, padding = kv_layout(kv_cfg, p)
    moved = offload[0] if offload else None
    # Qwen3-VL's deepstack buffers are built with the model (encoder.py): in "Model loading took"
    model = (weights_per_gpu(cfg, weights_bytes, p) - offloaded_bytes(moved)
             + deepstack_buffer_bytes(vision, cfg, p))
    forward, sampler = forward_peak(cfg, p), sampler_peak(cfg, p)
    activation = max(forward, sampler)
    # a model that takes images: the encoder's own run, or the text's beside what it leaves (encoder.py)
    mm = encoder_profile(vision, cfg, p, mm_limits)
    if mm is not None:
        activation = max(mm.tower_bytes, activation + mm.cached_bytes)
    graphs, non_torch = cuda_graph_bytes(cfg, p), non_torch_bytes(cfg, p)
    pool = kv_pool(p, layout, model + activation + non_torch + graphs, outside_bytes(cfg, p), activation)
    memory = VllmMemory(p, model, kv, padding, activation, graphs, non_torch,
                        outside_bytes(cfg, p), layout, pool, (), offload=moved,
                        captured_graph_bytes=captured_graph_bytes(cfg, p))
    lines = explanation(cfg, memory, weights_bytes, forward, sampler)
    if mm is not None:
        lines = (*lines, mm.explain)
    return replace(memory, explain=lines)
