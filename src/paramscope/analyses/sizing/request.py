"""What a memory question asks (``MemoryRequest``) and what a runtime answers around the weights
(``RuntimeParts``): the contract between ``memory.estimate`` and the runtime adapters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from paramscope.errors import UnsupportedError
from paramscope.model.dtypes import DType, parse_dtype
from paramscope.records import field, record

if TYPE_CHECKING:
    from paramscope.knowledge.hardware import Device
    from paramscope.model import ArchConfig

DEFAULT_CONTEXT = 8192  # a working context, not the model's maximum (Llama 3.1's 131072 would be 16 GiB)


@record
class MemoryRequest:
    """How the model is to be run: context, batch, weights, cache type, runtime, devices."""

    context: int | None = None  # None: DEFAULT_CONTEXT, or the model's maximum when smaller
    batch: int = 1  # parallel sequences
    weights: str | None = None  # re-price the weights: a dtype, a quantization or a llama.cpp file type
    kv_type: str | None = None  # cache type; None: the runtime's default
    runtime: str = "llama.cpp"
    device: Device | None = None
    n_devices: int = 1
    # encoder-decoders (T5, BART): encoder input tokens per sequence; None: as many as the context.
    # Models with a fixed encoder length (Whisper: 1500 frames) ignore it.
    encoder_length: int | None = None
    # the runtime's own options (runtimes.Runtime.options: llama.cpp ubatch, vLLM gpu_memory_utilization…),
    # as given: runtimes.option() reads one, or its declared default
    options: Mapping[str, Any] = field(default_factory=dict)
    # the RAM beside the devices (a CPU row: its bandwidth), where the runtime keeps part of the model in
    # host memory; None: not known (speed.py takes HOST_RAM, and says so)
    host_ram: Device | None = None


@record
class RuntimeParts:
    """What a runtime adds around the weights, in the shape ``estimate`` composes."""

    kv_cache_bytes: int
    compute_bytes: int
    overhead_bytes: int
    kv_type: str
    explain: tuple[str, ...]
    notes: tuple[str, ...] = ()
    verdict: bool | None = None  # the runtime's own test, where it has one (vLLM's KV blocks)
    # what stays in host memory beside the devices (llama.cpp: layers not offloaded, the input embedding)
    host_weights_bytes: int = 0
    host_kv_bytes: int = 0
    # of that, the bytes one decode step reads in host memory (llama.cpp: Offload.host_read_bytes), which
    # the speed bound reads at the RAM's bandwidth
    host_read_bytes: int = 0
    # weights held twice (llama.cpp, tied embeddings offloaded: on the host for the lookup, on the GPU as
    # the output matrix): on the devices beside the weights, and in the total
    duplicate_weights_bytes: int = 0
    # the KV cache by kind ("full", "sliding", "linear", "cross" = an encoder-decoder's cross-attention,
    # "encoder output"), where the runtime reports it
    kv_parts: tuple[tuple[str, int], ...] = ()
    # each device's (weights, KV cache, compute, overhead) where the runtime places the model unevenly
    # itself (vLLM pipeline stages, llama.cpp --split-mode, transformers device_map); empty: the even
    # split of ``estimate``
    device_shares: tuple[tuple[int, int, int, int], ...] = ()
    disk_bytes: int = 0  # weights left on disk (transformers offload_folder)
    # how many devices read their weights at the same time for one token: all of them with tensor
    # parallelism or a row split (0 = all); one where each holds whole layers and a token passes through
    # them in turn (llama.cpp --split-mode layer, transformers device_map); vLLM: the tensor-parallel size
    devices_at_once: int = 0
    split_label: str = ""  # how device_shares divide the model ("pipeline stages", "device_map=auto")
    # the KV cache the requests hold, where the KV line is a pool allocated whole (SGLang's): what one
    # decode step reads; None: the KV line itself
    kv_requests_bytes: int | None = None
    # what the runtime resolved that the request left to it, as data (llama.cpp: the backend running the
    # attention, flash attention on or off, and why): `size --json`'s "runtime_settings"
    settings: tuple[tuple[str, str | bool | int], ...] = ()


def resolve_context(cfg: ArchConfig, requested: int | None) -> tuple[int, str]:
    if requested is not None:
        if requested < 1:
            raise UnsupportedError(f"context must be at least 1 token (found {requested})")
        note = f"{requested:,} tokens"
        if cfg.context_length and requested > cfg.context_length:
            note += f" (beyond the model's trained maximum of {cfg.context_length:,})"
        return requested, note
    if not cfg.context_length:  # relative positions (T5's buckets), or a config that omits it
        return DEFAULT_CONTEXT, f"{DEFAULT_CONTEXT:,} tokens (default; the config states no maximum)"
    ctx = min(DEFAULT_CONTEXT, cfg.context_length)
    return ctx, f"{ctx:,} tokens (default; the model's maximum is {cfg.context_length:,})"


def even_share(total: int, n: int, i: int) -> int:
    """Device i's part of an even split of ``total`` over ``n``; the first devices take the remainder."""
    return total // n + (1 if i < total % n else 0)


def kv_dtype(name: str | None, default: DType) -> DType:
    if name is None:
        return default
    try:
        return parse_dtype(name)
    except KeyError:
        raise UnsupportedError(f"unknown KV cache type {name!r} (try f16, bf16, q8_0, q4_0, fp8)") from None


def model_dtype(tensors) -> DType:
    """The type most of the weights are stored in (what vLLM's and transformers' 'auto' pick): f32 only
    when it holds most bytes; else the 16-bit type holding most, so that a quantized checkpoint's
    unquantized tensors say which (gpt-oss: bf16 beside MXFP4 experts); f16 when there is none (GGUF)."""
    by_type: dict[DType, int] = {}
    for t in tensors:
        by_type[t.dtype] = by_type.get(t.dtype, 0) + t.nbytes
    if by_type and max(by_type, key=by_type.__getitem__) == DType.F32:
        return DType.F32
    half = {k: v for k, v in by_type.items() if k in (DType.F16, DType.BF16)}
    return max(half, key=half.__getitem__, default=DType.F16)
