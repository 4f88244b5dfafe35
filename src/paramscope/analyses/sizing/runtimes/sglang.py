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
"""

from __future__ import annotations

from paramscope.analyses.sizing.kv_cache import KVCache, LayerCache, kv_cache, layer_caches, layer_kinds
from paramscope.analyses.sizing.request import MemoryRequest, RuntimeParts, kv_dtype, model_dtype
from paramscope.analyses.sizing.runtimes import option
from paramscope.analyses.sizing.runtimes.allocator import weight_tails
from paramscope.analyses.sizing.runtimes.common import CUDA_CONTEXT_BYTES, NCCL_BYTES, NCCL_PCIE_BYTES
from paramscope.analyses.sizing.runtimes.vllm import rank_config, rope_cache_bytes
from paramscope.errors import UnsupportedError
from paramscope.model import ArchConfig, Model
from paramscope.model.dtypes import DType
from paramscope.records import record, replace

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
# "current" (late 2025 on, _handle_gpu_memory_settings): chunked_prefill_size and cuda_graph_max_bs by
# gpu_mem (below this many MiB: chunk, max batch for TP < 4, for TP ≥ 4), then reserved_mem = 512 +
# max(chunk, 2048) × 1.5 + cuda_graph_max_bs × 2 + TP × PP / 8 × 1024, at least 10 GiB above 60 GiB
GPU_TIERS_CURRENT = ((20 * 1024, 2048, 8, 8), (35 * 1024, 2048, 24, 80), (60 * 1024, 4096, 32, 160),
                     (90 * 1024, 8192, 256, 512), (160 * 1024, 8192, 256, 512))
GPU_TIER_LARGEST = (16384, 512, 512)  # B200, MI300
SGLANG_BUILDS = ("current", "mid-2025", "early-2025")
# --kv-cache-dtype: auto (the model dtype), fp8_e5m2, fp8_e4m3
CACHE_TYPES = (DType.F32, DType.F16, DType.BF16, DType.F8_E4M3, DType.F8_E5M2)


def default_mem_fraction(tensor_parallel: int, gpu_mib: float | None = None, build: str = "early-2025"
                         ) -> float:
    """SGLang's --mem-fraction-static when none is given, as ``build``'s server_args.py derives it (see
    above) for a GPU of ``gpu_mib`` MiB as the driver reports it (None: no GPU known, 0.88 in the later
    builds)."""
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
    cell_bytes: int  # one token's K and V over this rank's layers
    kv: KVCache  # what ``batch`` requests of ``context`` tokens need
    cuda_context_bytes: int
    nccl_bytes: int
    free_bytes: int | None  # free memory after the context and NCCL ("total_gpu_memory"); None: no GPU
    explain: tuple[str, ...] = ()
    weight_tail_bytes: int = 0  # the caching allocator's segment tails of this rank's weights
    fraction_given: bool = True  # mem_fraction_static was given (False: the build's default rule)

    @property
    def pool_bytes_available(self) -> int | None:
        """rest_memory: free × mem_fraction_static − weights (negative: SGLang stops)."""
        if self.free_bytes is None:
            return None
        return int(self.free_bytes * self.mem_fraction_static) - self.model_bytes

    @property
    def tokens(self) -> int | None:
        """max_total_num_tokens ("#tokens" in the log)."""
        rest = self.pool_bytes_available
        return None if rest is None else max(rest // self.cell_bytes, 0)

    @property
    def k_bytes(self) -> int | None:
        """The K buffers of the pool ("K size", GiB printed as GB); V is the same size (MHA)."""
        tokens = self.tokens
        return None if tokens is None else tokens * sum(p.layers * p.k_row_bytes for p in self.kv.parts)

    @property
    def v_bytes(self) -> int | None:
        tokens = self.tokens
        return None if tokens is None else tokens * sum(p.layers * p.v_row_bytes for p in self.kv.parts)

    @property
    def reserve_bytes(self) -> int:
        """The (1 − mem_fraction_static) share of the free memory left for activations and CUDA graphs."""
        if self.free_bytes is None:
            return 0
        return self.free_bytes - int(self.free_bytes * self.mem_fraction_static)

    @property
    def fits(self) -> bool:
        tokens = self.tokens
        return tokens is None or tokens >= self.batch * self.context


# Families whose every hidden layer has a slot in SGLang's token pool, attending or not:
# configs/model_config.py sets ``num_attention_layers = num_hidden_layers`` and model_runner.py sizes the
# cell as ``get_num_kv_heads(tp) × head_dim × num_hidden_layers × 2 × element size`` and the pool
# (MHATokenToKVPool, ``layer_num``) alike, while models/nemotron_nas.py builds attention only in the
# blocks that are not no_op: Nemotron-NAS's no-op layers hold pool rows they never write.
SGLANG_POOL_ALL_LAYERS = frozenset({"nemotron-nas"})


def pool_layers(cfg: ArchConfig) -> tuple[LayerCache | None, ...]:
    """Each layer's widths in SGLang's pool, which holds one KV head count for every layer
    (MHATokenToKVPool's ``head_num``: ``get_num_kv_heads``): a model whose attending layers differ is
    refused as SGLang refuses it (model_config.py get_total_num_kv_heads: "Variable GQA (VGQA) is not
    yet supported for nemotron-nas in sglang"; no other model of varying KV heads has a path there)."""
    linear = (cfg.extra.get("heterogeneous") or {}).get("linear_attention_layers", 0)
    if cfg.family in SGLANG_POOL_ALL_LAYERS and linear:
        # models/nemotron_nas.py and get_total_num_kv_heads divide by n_heads_in_group for every block
        # that is not no_op; a block replaced by a linear layer has none
        raise UnsupportedError(f"SGLang: {cfg.architecture} has {linear} attention blocks replaced by a "
                               f"linear layer, which SGLang's nemotron_nas.py cannot build")
    layers = layer_caches(cfg)
    widths = {(layer.k_width, layer.v_width) for layer in layers if layer is not None}
    if len(widths) > 1:
        raise UnsupportedError(f"SGLang: {cfg.architecture} has layers of different KV head counts; "
                               f"SGLang's KV pool holds one head count for every layer (Variable GQA is "
                               f"not supported)")
    if cfg.family in SGLANG_POOL_ALL_LAYERS and widths:
        k, v = widths.pop()
        return tuple(layer or LayerCache("full", k, v) for layer in layers)
    return layers


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
    """
    kinds = layer_kinds(cfg)
    if set(kinds) - {"full"}:
        raise UnsupportedError(f"{cfg.architecture}: SGLang profile has full attention only, not "
                               f"{'/'.join(sorted(set(kinds) - {'full'}))} layers")
    tp = tensor_parallel
    if tp < 1 or context < 1 or batch < 1:
        raise UnsupportedError(f"SGLang needs positive sizes (context {context}, batch {batch}, TP {tp})")
    reported = gpu_reported_bytes or gpu_memory_bytes
    fraction = (default_mem_fraction(tp, None if reported is None else reported / (1 << 20), build)
                if mem_fraction_static is None else mem_fraction_static)
    if not 0 < fraction < 1:
        raise UnsupportedError(f"SGLang's mem_fraction_static must lie in (0, 1) (found {fraction})")
    t = kv_type or dtype
    if t not in CACHE_TYPES:
        raise UnsupportedError(f"SGLang cannot hold its KV cache as {t.value.lower()} (it knows "
                               f"{', '.join(c.value.lower() for c in CACHE_TYPES)})")
    rank = rank_config(cfg, tp, "SGLang")
    kv = kv_cache(rank, {"full": context}, streams=batch, type_k=t, type_v=t, mla="compressed",
                  layers=pool_layers(rank))
    cell = sum(part.layers * (part.k_row_bytes + part.v_row_bytes) for part in kv.parts)
    model = -(-weights_bytes // tp) + rope_cache_bytes(cfg, dtype) + allocator_tail_bytes
    nccl = (NCCL_BYTES if nvlink else NCCL_PCIE_BYTES) if tp > 1 else 0
    free = None if gpu_memory_bytes is None else gpu_memory_bytes - CUDA_CONTEXT_BYTES - nccl
    m = SglangMemory(context, batch, tp, fraction, t, model, cell, kv, CUDA_CONTEXT_BYTES, nccl, free,
                     weight_tail_bytes=allocator_tail_bytes, fraction_given=mem_fraction_static is not None)
    return _explained(m, weights_bytes, gpu_memory_bytes)


def loaded_tails(model: Model, tensor_parallel: int) -> int:
    """One rank's caching-allocator segment tails as SGLang's "mem usage" of loading counts them: all of
    them, split off or not, as it measures free memory (runtimes/allocator.py)."""
    return weight_tails(model, tensor_parallel, device_level=True)


def _explained(m: SglangMemory, weights_bytes: int, gpu: int | None) -> SglangMemory:
    lines = [
        f"sglang.launch_server: context {m.context}, {m.batch} seqs, tp {m.tensor_parallel}, "
        f"mem_fraction_static {m.mem_fraction_static}{'' if m.fraction_given else ' (the build default)'}, "
        f"KV {m.kv_type.value.lower()}; figures per GPU",
        f"weights: {weights_bytes:,} B / {m.tensor_parallel} + RoPE cache"
        f"{f' + allocator segment tails {tails:,} B' if (tails := m.weight_tail_bytes) else ''}"
        f" = {m.model_bytes:,} B",
        f"cell: {m.cell_bytes:,} B per token (K and V of every layer of this rank)",
    ]
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
        f"#tokens = rest // cell = {m.tokens:,}; K size {(m.k_bytes or 0) / GiB:.2f} GiB, "
        f"V size {(m.v_bytes or 0) / GiB:.2f} GiB",
        f"left for activations and CUDA graphs: free × (1 − {m.mem_fraction_static}) = {m.reserve_bytes:,} B",
    ]
    if rest <= 0:
        lines.append("warning: SGLang would stop: not enough memory for the KV cache pool")
    elif not m.fits:
        lines.append(f"warning: the pool holds {m.tokens:,} tokens, fewer than {m.batch} × {m.context:,}")
    return _with(m, lines)


def _with(m: SglangMemory, lines: list[str]) -> SglangMemory:
    return replace(m, explain=tuple(lines))


# --- the adapter memory.estimate calls (runtimes.RUNTIMES) ----------------------------------------
def parts(model: Model, cfg: ArchConfig, weights_bytes: int, req: MemoryRequest, ctx: int) -> RuntimeParts:
    """SGLang's figures are per GPU; totals are × N. On a given GPU the KV line is the pool SGLang
    allocates (it takes ``free × mem_fraction_static`` whatever the requests need) and the buffers line
    the share it leaves for activations and CUDA graphs; without a GPU, what the requests need."""
    dtype = model_dtype(model.tensors)
    t = kv_dtype(req.kv_type, dtype)
    on_gpu = req.device is not None and req.device.kind != "cpu"
    gpu = req.device.usable_bytes if req.device and on_gpu else None
    m = sglang_memory(cfg, weights_bytes, context=ctx, batch=req.batch, kv_type=t, dtype=dtype,
                      gpu_memory_bytes=gpu, mem_fraction_static=option(req, "mem_fraction_static"),
                      tensor_parallel=req.n_devices,
                      nvlink=req.device.nvlink is not False if req.device and on_gpu else True,
                      allocator_tail_bytes=0 if req.weights else loaded_tails(model, req.n_devices),
                      gpu_reported_bytes=(req.device.reported_bytes or req.device.memory_bytes
                                          if req.device and on_gpu else None),
                      build=option(req, "sglang_build"))
    n = req.n_devices
    tokens = m.tokens
    notes: tuple[str, ...] = ()
    if tokens is not None:
        pool = tokens * m.cell_bytes
        notes = (f"SGLang takes {m.mem_fraction_static} of each GPU's free memory for the weights and a "
                 f"KV pool of {tokens:,} tokens ({pool / GiB:.2f} GiB per GPU): {tokens // ctx:,} "
                 f"requests of {ctx:,} tokens at once",)
        if not m.fits:
            notes += (f"does not fit: the pool holds {tokens:,} tokens, the requests need "
                      f"{req.batch * ctx:,}",)
        return RuntimeParts(pool * n, m.reserve_bytes * n, (m.cuda_context_bytes + m.nccl_bytes) * n,
                            t.value.lower(), m.explain, notes, m.fits, kv_requests_bytes=m.kv.total_bytes * n)
    return RuntimeParts(m.kv.total_bytes * n, 0, (m.cuda_context_bytes + m.nccl_bytes) * n,
                        t.value.lower(), m.explain, notes, None)
