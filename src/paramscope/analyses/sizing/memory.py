"""Memory to run a model: weights + KV cache + runtime buffers + overhead = total, per device.

One entry point (``estimate``) for every runtime; each runtime's own buffers come from its module in
``analyses/sizing/runtimes/`` and the KV cache from the one formula in ``analyses/sizing/kv_cache.py``.
Weights are the file's own bytes, or the model re-priced at another type (``analyses/sizing/weights.py``).

Several devices: llama.cpp splits the layers between GPUs (``--split-mode layer``) and vLLM shards every
matrix (tensor parallelism); either way each device holds about 1/N of the weights and of the KV cache
and a full set of runtime buffers of its own. That is what ``per_device`` shows (ideal even split).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from paramscope.errors import UnsupportedError
from paramscope.knowledge.hardware import Device
from paramscope.model import ArchConfig, Model
from paramscope.model.dtypes import DType, parse_dtype

DEFAULT_CONTEXT = 8192  # a working context, not the model's maximum (Llama 3.1's 131072 would be 16 GiB)


@dataclass(frozen=True, slots=True)
class SizeRequest:
    context: int | None = None  # None: DEFAULT_CONTEXT, or the model's maximum when smaller
    batch: int = 1  # parallel sequences
    weights: str | None = None  # re-price the weights: a dtype, a quantization or a llama.cpp file type
    kv_type: str | None = None  # cache type; None: the runtime's default
    runtime: str = "llama.cpp"
    ubatch: int = 512  # llama.cpp -ub
    swa_full: bool = False  # llama.cpp --swa-full
    device: Device | None = None
    n_devices: int = 1
    gpu_memory_utilization: float = 0.9  # vLLM


@dataclass(frozen=True, slots=True)
class DeviceUse:
    index: int
    device: Device | None
    weights_bytes: int
    kv_cache_bytes: int
    compute_bytes: int
    overhead_bytes: int
    runtime_verdict: bool | None = None  # the runtime's own test, where it has one (vLLM's KV blocks)

    @property
    def total_bytes(self) -> int:
        return self.weights_bytes + self.kv_cache_bytes + self.compute_bytes + self.overhead_bytes

    @property
    def fits(self) -> bool | None:
        if self.device is None:
            return None
        if self.runtime_verdict is not None:
            return self.runtime_verdict
        return self.total_bytes <= self.device.usable_bytes


@dataclass(frozen=True, slots=True)
class SizeEstimate:
    source: str
    runtime: str
    context: int
    context_note: str
    batch: int
    weights_scheme: str  # "as stored" or the re-pricing asked for
    kv_type: str
    weights_bytes: int
    kv_cache_bytes: int
    compute_bytes: int  # runtime buffers: compute graph, output/logits, activations, CUDA graphs
    overhead_bytes: int  # process, CUDA context, allocator, vocabulary
    per_device: tuple[DeviceUse, ...]
    explain: tuple[str, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def total_bytes(self) -> int:
        return self.weights_bytes + self.kv_cache_bytes + self.compute_bytes + self.overhead_bytes

    @property
    def fits(self) -> bool | None:
        verdicts = [d.fits for d in self.per_device]
        return None if None in verdicts else all(verdicts)


@dataclass(frozen=True, slots=True)
class RuntimeParts:
    """What a runtime adds around the weights, in the shape ``estimate`` composes."""

    kv_cache_bytes: int
    compute_bytes: int
    overhead_bytes: int
    kv_type: str
    explain: tuple[str, ...]
    notes: tuple[str, ...] = ()
    verdict: bool | None = None  # see DeviceUse.runtime_verdict


def resolve_context(cfg: ArchConfig, requested: int | None) -> tuple[int, str]:
    if requested is not None:
        if requested < 1:
            raise UnsupportedError(f"context must be at least 1 token (found {requested})")
        note = f"context {requested:,} tokens"
        if cfg.context_length and requested > cfg.context_length:
            note += f" (beyond the model's trained maximum of {cfg.context_length:,})"
        return requested, note
    ctx = min(DEFAULT_CONTEXT, cfg.context_length or DEFAULT_CONTEXT)
    return ctx, f"context {ctx:,} tokens (default; the model's maximum is {cfg.context_length:,})"


def kv_dtype(name: str | None, default: DType) -> DType:
    if name is None:
        return default
    try:
        return parse_dtype(name)
    except KeyError:
        raise UnsupportedError(f"unknown KV cache type {name!r} (try f16, bf16, q8_0, q4_0, fp8)") from None


def _llamacpp(model: Model, cfg: ArchConfig, weights_bytes: int, req: SizeRequest, ctx: int) -> RuntimeParts:
    from paramscope.analyses.sizing.runtimes.llamacpp import (
        LLAMA_CPP_PYTHON_BASE_BYTES,
        cpu_repack_bytes,
        llamacpp_memory,
    )

    t = kv_dtype(req.kv_type, DType.F16)
    # llama.cpp's n_ctx is shared by all sequences: n_seq sequences of ctx tokens need n_ctx = n_seq × ctx
    m = llamacpp_memory(cfg, weights_bytes, n_ctx=ctx * req.batch,
                        n_seq=req.batch, n_ubatch=req.ubatch, swa_full=req.swa_full, type_k=t, type_v=t,
                        runtime_base_bytes=LLAMA_CPP_PYTHON_BASE_BYTES)
    notes: tuple[str, ...] = ()
    on_cpu = req.device is None or req.device.kind == "cpu"
    repack = cpu_repack_bytes(model.tensors) if on_cpu and req.weights is None and model.has_weights else 0
    if repack:
        notes = (f"on an x86 CPU with AVX2, llama.cpp copies {repack:,} B of Q4_0/Q4_K/IQ4_NL/MXFP4 "
                 "matrices into a CPU_REPACK buffer for faster kernels: with mmap (the default) that is on "
                 "top of the mapped weights above; with --no-mmap the model buffer shrinks by as much",)
    return RuntimeParts(m.kv_cache_bytes, m.compute_bytes + m.output_bytes, m.overhead_bytes,
                        t.value.lower(), m.explain, notes)


def _runtime(name: str) -> Callable[[Model, ArchConfig, int, SizeRequest, int], RuntimeParts]:
    key = name.lower().replace("_", "").replace("-", "").replace(".", "")
    table = {"llamacpp": _llamacpp, "vllm": _vllm, "transformers": _transformers, "hf": _transformers}
    if key not in table:
        raise UnsupportedError(f"unknown runtime {name!r} (known: llama.cpp, vllm, transformers)")
    return table[key]


def _vllm(model: Model, cfg: ArchConfig, weights_bytes: int, req: SizeRequest, ctx: int) -> RuntimeParts:
    """vLLM's figures are per GPU (each of the tensor-parallel ranks holds the same); totals are × N.

    The KV line is what the requests need; on a given GPU vLLM also pre-allocates the rest of its
    reservation as KV blocks, which the notes report, and whether the blocks hold the requests decides
    whether it fits.
    """
    from paramscope.analyses.sizing.runtimes.vllm import vllm_memory

    dtype = _model_dtype(model)
    t = kv_dtype(req.kv_type, dtype)
    gpu = req.device.usable_bytes if req.device and req.device.kind != "cpu" else None
    m = vllm_memory(cfg, weights_bytes, context=ctx, batch=req.batch, kv_type=t, dtype=dtype,
                    gpu_memory_bytes=gpu, gpu_memory_utilization=req.gpu_memory_utilization,
                    tensor_parallel=req.n_devices)
    n = req.n_devices
    notes: tuple[str, ...] = ()
    if m.pool is not None:
        pool = m.pool
        notes = (f"vLLM reserves {pool.reserved_bytes:,} B per GPU (gpu_memory_utilization "
                 f"{req.gpu_memory_utilization}) and fills what is left with {pool.num_blocks:,} KV "
                 f"blocks = {pool.tokens:,} tokens: up to {pool.max_concurrency:.2f} requests of "
                 f"{ctx:,} tokens",)
    return RuntimeParts(m.kv_needed_bytes * n, m.compute_bytes * n, m.overhead_bytes * n,
                        t.value.lower(), m.explain, notes, m.fits if m.pool is not None else None)


def _transformers(model: Model, cfg: ArchConfig, weights_bytes: int, req: SizeRequest,
                  ctx: int) -> RuntimeParts:
    from paramscope.analyses.sizing.runtimes.transformers import transformers_memory

    dtype = _model_dtype(model)
    t = kv_dtype(req.kv_type, dtype)
    m = transformers_memory(cfg, weights_bytes, context=ctx, batch=req.batch, dtype=dtype, kv_type=t)
    return RuntimeParts(m.kv_cache_bytes, m.compute_bytes, m.overhead_bytes, t.value.lower(), m.explain)


def _model_dtype(model: Model) -> DType:
    """The type most of the weights are stored in (what vLLM's and transformers' 'auto' pick)."""
    by_type: dict[DType, int] = {}
    for t in model.tensors:
        by_type[t.dtype] = by_type.get(t.dtype, 0) + t.nbytes
    best = max(by_type, key=by_type.__getitem__, default=DType.BF16)
    return best if best in (DType.F32, DType.F16, DType.BF16) else DType.F16


def weights_for(model: Model, scheme: str | None) -> tuple[int, str, tuple[str, ...]]:
    """Weight bytes as stored, or re-priced at ``scheme``; with the explain lines."""
    if scheme is None:
        return model.tensor_bytes, "as stored", ()
    from paramscope.analyses.sizing.weights import reprice

    r = reprice(model, scheme)
    parts = " + ".join(f"{k} {v.bytes:,} B ({v.tensors} tensors)" for k, v in r.by_type.items())
    lines = (f"weights re-priced as {r.scheme} ({r.kind}): {parts} = {r.total_bytes:,} B, "
             f"{r.bits_per_weight:.2f} bits per weight (stored: {r.source_bytes:,} B)",
             *(f"weights: {n}" for n in r.notes))
    return r.total_bytes, f"{r.scheme} ({r.description})" if r.description else r.scheme, lines


def estimate(model: Model, req: SizeRequest) -> SizeEstimate:
    cfg = model.config
    if cfg is None:
        raise UnsupportedError(f"{model.source}: no architecture found (no config.json or GGUF keys), "
                               "so the KV cache cannot be sized")
    if req.batch < 1 or req.n_devices < 1:
        raise UnsupportedError(f"batch and device count must be at least 1 (found {req.batch}, "
                               f"{req.n_devices})")
    ctx, ctx_note = resolve_context(cfg, req.context)
    weights_bytes, scheme, weights_explain = weights_for(model, req.weights)
    parts = _runtime(req.runtime)(model, cfg, weights_bytes, req, ctx)
    n = req.n_devices
    per_device = tuple(
        DeviceUse(i, req.device, _share(weights_bytes, n, i), _share(parts.kv_cache_bytes, n, i),
                  parts.compute_bytes // n, parts.overhead_bytes // n, parts.verdict)
        for i in range(n))
    return SizeEstimate(
        source=model.source, runtime=req.runtime, context=ctx, context_note=ctx_note, batch=req.batch,
        weights_scheme=scheme, kv_type=parts.kv_type, weights_bytes=weights_bytes,
        kv_cache_bytes=parts.kv_cache_bytes, compute_bytes=parts.compute_bytes,
        overhead_bytes=parts.overhead_bytes, per_device=per_device,
        explain=(*weights_explain, *parts.explain), notes=parts.notes)


def _share(total: int, n: int, i: int) -> int:
    """Device i's part of an even split; the first devices take the remainder's bytes."""
    return total // n + (1 if i < total % n else 0)
