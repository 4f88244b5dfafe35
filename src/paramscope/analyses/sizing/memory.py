"""Memory to run a model: weights + KV cache + runtime buffers + overhead = total, per device.

One entry point (``estimate``) for every runtime; each runtime's own buffers come from its module in
``analyses/sizing/runtimes/`` and the KV cache from the one formula in ``analyses/sizing/kv_cache.py``.
Weights are the file's own bytes, or the model re-priced at another type (``analyses/sizing/weights.py``).

Several devices: llama.cpp splits the layers between GPUs (``--split-mode layer``) and vLLM shards every
matrix (tensor parallelism); either way each device holds about 1/N of the weights and of the KV cache
and a full set of runtime buffers of its own. That is what ``per_device`` shows (ideal even split),
unless the runtime places the model itself (vLLM pipeline stages, llama.cpp ``--split-mode``,
transformers ``device_map``: ``RuntimeParts.device_shares``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from paramscope.analyses.sizing.kv_cache import encoder_cells
from paramscope.analyses.sizing.request import (
    DEFAULT_CONTEXT,
    MemoryRequest,
    RuntimeParts,
    even_share,
    resolve_context,
)
from paramscope.analyses.sizing.runtimes import find
from paramscope.errors import UnsupportedError
from paramscope.model import ArchConfig, Model
from paramscope.model.memo import ModelMemo
from paramscope.records import field, record, replace

if TYPE_CHECKING:  # annotations only: `size` without --gpu never loads the GPU table
    from paramscope.analyses.sizing.loaded import EngineBuild
    from paramscope.knowledge.hardware import Device

__all__ = [
    "DEFAULT_CONTEXT",
    "DeviceUse",
    "MemoryRequest",
    "RuntimeParts",
    "SizeEstimate",
    "estimate",
    "weights_for",
]


@record
class DeviceUse:
    """One device's share: weights, KV cache, runtime buffers and overhead."""

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


@record
class SizeEstimate:
    """Memory to run a model: weights + KV cache + runtime buffers + overhead, per device."""

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
    host_bytes: int = 0  # weights and KV cache kept in host memory, outside per_device (llama.cpp -ngl)
    host_read_bytes: int = 0  # of host_bytes, what one decode step reads there (RuntimeParts)
    host_ram: Device | None = None  # the RAM that holds host_bytes, as the request names it (None: unknown)
    duplicate_bytes: int = 0  # weights held twice (llama.cpp: a tied embedding on the host and the GPU)
    kv_parts: tuple[tuple[str, int], ...] = ()  # KV cache bytes by kind (RuntimeParts.kv_parts)
    disk_bytes: int = 0  # weights offloaded to disk (transformers device_map), in weights_bytes too
    devices_at_once: int = 0  # RuntimeParts.devices_at_once: devices reading weights together (0 = all)
    split: str = "even split"  # how per_device divides the model: "even split" or the runtime's own
    kv_requests_bytes: int | None = None  # RuntimeParts.kv_requests_bytes: the KV a decode step reads
    runtime_settings: tuple[tuple[str, str | bool | int], ...] = ()  # RuntimeParts.settings
    # of weights_bytes, what no text token reads: the towers and per-layer lookup tables the runtime holds
    # (speed.py unread_by_text, in the held weights' proportion to the stored ones)
    unread_bytes: int = 0

    @property
    def kv_read_bytes(self) -> int:
        """The KV cache the requests hold (a decode step reads it), where the KV line is a whole pool."""
        return self.kv_cache_bytes if self.kv_requests_bytes is None else self.kv_requests_bytes

    @property
    def total_bytes(self) -> int:
        return (self.weights_bytes + self.duplicate_bytes + self.kv_cache_bytes + self.compute_bytes
                + self.overhead_bytes)

    @property
    def fits(self) -> bool | None:
        verdicts = [d.fits for d in self.per_device]
        return None if None in verdicts else all(verdicts)


# The last few weights_for answers: re-pricing walks every tensor (5 s a time for DeepSeek-V3's 90k).
_WEIGHTS_MEMO: ModelMemo[tuple[int, str, tuple[str, ...]]] = ModelMemo(32)


def weights_for(model: Model, scheme: str | None, runtime: str = "", device: Device | None = None,
                n_devices: int = 1, build: EngineBuild | None = None) -> tuple[int, str, tuple[str, ...]]:
    """Weight bytes as stored (as ``runtime`` holds them, where it re-lays them; ``build`` the engine
    family and release where the layout differs by release), or re-priced at ``scheme``; with the explain
    lines."""
    # a re-pricing depends on the model and the scheme alone; weights as stored, on how the runtime lays them
    key = (scheme,) if scheme is not None else (None, runtime, device, n_devices, build)
    return _WEIGHTS_MEMO.get(model, key,
                             lambda: _weights_for(model, scheme, runtime, device, n_devices, build))


def _weights_for(model: Model, scheme: str | None, runtime: str, device: Device | None,
                 n_devices: int, build: EngineBuild | None = None) -> tuple[int, str, tuple[str, ...]]:
    if scheme is None:
        from paramscope.analyses.sizing.loaded import loaded_weights

        loaded = loaded_weights(model, runtime, device, tensor_parallel=n_devices, build=build)
        return loaded.bytes, "as stored", tuple(f"weights: {n}" for n in loaded.notes)
    from paramscope.analyses.sizing.weights import reprice_totals

    r = reprice_totals(model, scheme)
    parts = " + ".join(f"{k} {v.bytes:,} B ({v.tensors} tensors)" for k, v in r.by_type.items())
    lines = (f"weights re-priced as {r.scheme} ({r.kind}): {parts} = {r.total_bytes:,} B, "
             f"{r.bits_per_weight:.2f} bits per weight (stored: {r.source_bytes:,} B)",
             *(f"weights: {n}" for n in r.notes))
    return r.total_bytes, f"{r.scheme} ({r.description})" if r.description else r.scheme, lines


def estimate(model: Model, req: MemoryRequest) -> SizeEstimate:
    """The memory ``req`` asks of ``model``. What the model uses that paramscope cannot price (a layer
    kind, a state of unknown size) is an UnsupportedError whose one line names the source."""
    try:
        return _estimate(model, req)
    except UnsupportedError as e:
        if type(e) is not UnsupportedError or model.source in str(e):
            raise
        raise UnsupportedError(f"{model.source}: {e}") from e


def _estimate(model: Model, req: MemoryRequest) -> SizeEstimate:
    cfg = model.config
    if cfg is None:
        raise UnsupportedError(f"{model.source}: no architecture found (no config.json or GGUF keys), "
                               "so the KV cache cannot be sized")
    if req.batch < 1 or req.n_devices < 1:
        raise UnsupportedError(f"batch and device count must be at least 1 (found {req.batch}, "
                               f"{req.n_devices})")
    ctx, ctx_note = resolve_context(cfg, req.context)
    runtime = find(req.runtime)
    req = replace(req, runtime=runtime.name, options=runtime.check(req.options))
    build = runtime.layout(req)
    model, unbuilt = runtime.built(model, req)
    weights_bytes, scheme, weights_explain = weights_for(model, req.weights, runtime.name, req.device,
                                                         req.n_devices, build)
    weights_explain = (*weights_explain, *(f"weights: {n}" for n in unbuilt))
    parts_of = runtime.parts()
    extra_notes: tuple[str, ...] = ()
    if req.context is None and (pick := runtime.default_context()) is not None:
        picked = pick(model, cfg, weights_bytes, req, parts_of)
        if picked is not None:
            chosen, words, extra_notes = picked
            if chosen is not None:
                ctx, ctx_note = chosen, words
    parts = parts_of(model, cfg, weights_bytes, req, ctx)
    on_devices = weights_bytes + parts.duplicate_weights_bytes - parts.host_weights_bytes
    kv_on_devices = parts.kv_cache_bytes - parts.host_kv_bytes
    n = req.n_devices
    per_device = tuple(
        DeviceUse(i, req.device, even_share(on_devices, n, i), even_share(kv_on_devices, n, i),
                  parts.compute_bytes // n, parts.overhead_bytes // n, parts.verdict)
        for i in range(n))
    if parts.split_label:  # the runtime's own per-device figures (vLLM stages, llama.cpp's split,
        # transformers device_map: none when everything is offloaded to the CPU)
        per_device = tuple(DeviceUse(i, req.device, *share, parts.verdict)
                           for i, share in enumerate(parts.device_shares))
    return SizeEstimate(
        source=model.source, runtime=req.runtime, context=ctx, context_note=ctx_note, batch=req.batch,
        weights_scheme=scheme, kv_type=parts.kv_type, weights_bytes=weights_bytes,
        kv_cache_bytes=parts.kv_cache_bytes, compute_bytes=parts.compute_bytes,
        overhead_bytes=parts.overhead_bytes, per_device=per_device,
        explain=(*weights_explain, *parts.explain),
        notes=(*_encoder_decoder_note(cfg, req, ctx), *_kv_not_priced(cfg), *_unread_quantization(model, req),
               *parts.notes, *extra_notes),
        host_bytes=parts.host_weights_bytes + parts.host_kv_bytes, host_read_bytes=parts.host_read_bytes,
        host_ram=req.host_ram,
        duplicate_bytes=parts.duplicate_weights_bytes, kv_parts=parts.kv_parts, disk_bytes=parts.disk_bytes,
        devices_at_once=parts.devices_at_once,
        split=parts.split_label or "even split", kv_requests_bytes=parts.kv_requests_bytes,
        runtime_settings=parts.settings, unread_bytes=_unread_bytes(model, weights_bytes))


def _unread_bytes(model: Model, weights_bytes: int) -> int:
    """Of the weights as held, the towers' and per-layer lookup tables' share (speed.py
    ``unread_by_text``), taken from the model as the runtime built it."""
    from paramscope.analyses.sizing.speed import unread_by_text

    unread, _ = unread_by_text(model)
    if not unread:  # a text model: nothing to take off, and no need to add up its tensors
        return 0
    stored = sum(t.nbytes for t in model.tensors)
    return unread * weights_bytes // stored if stored else 0


def _unread_quantization(model: Model, req: MemoryRequest) -> tuple[str, ...]:
    """Weights as stored from a config whose quantization paramscope does not read are priced unquantized,
    which the checkpoint is not, and a config that names no dtype is priced in its family's default type,
    which the checkpoint need not use (knowledge/config_tensors.py): said here too, not only by inspect."""
    from paramscope.knowledge.config_tensors import NO_DTYPE, UNREAD_QUANTIZATION

    if req.weights is not None:  # re-priced at a scheme: the stored bytes do not enter
        return ()
    return tuple(f"weights: {n}" for n in model.metadata.get("warnings", ())
                 if isinstance(n, str) and n.startswith((UNREAD_QUANTIZATION, NO_DTYPE)))


def _kv_not_priced(cfg: ArchConfig) -> tuple[str, ...]:
    """A cache the ArchConfig's layers do not describe (families.UNCACHED: BLT's local stacks), said
    rather than priced as nothing silently."""
    note = cfg.extra.get("kv_cache")
    return (f"KV cache: {note}",) if isinstance(note, str) else ()


def _encoder_decoder_note(cfg: ArchConfig, req: MemoryRequest, ctx: int) -> tuple[str, ...]:
    """An encoder-decoder's KV cache is its decoder's: say which lengths it was sized for."""
    if not cfg.is_encoder_decoder:
        return ()
    n_enc = encoder_cells(cfg, ctx, req.encoder_length)
    why = ("fixed by the model" if cfg.encoder_length else
           "--encoder-length" if req.encoder_length else "= the context; see --encoder-length")
    return (f"encoder-decoder: {ctx:,} decoder tokens, {n_enc:,} encoder positions ({why}); "
            f"the {cfg.decoder_layers} decoder layers hold the KV cache",)
