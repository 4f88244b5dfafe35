"""The fit matrix behind the page's memory view: for each context × weight type (× runtime), how many
GPUs of one kind the model needs and the largest batch that still fits on them.

Each cell asks the same functions `fit` asks (``analyses.sizing.fit.devices_needed`` over the device
counts its runtime can use, ``fit.device_counts``, and ``analyses.sizing.memory.estimate``), so a
cell's ``devices`` is `fit --json`'s ``devices_needed`` at that context and weight type, and no memory
formula lives here.
The slower parts of `fit` (offload split, longest context, quantization ladder, speed) are left out:
a matrix asks dozens of cells at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from paramscope.app.common import Source, open_source
from paramscope.app.memory_options import MemorySettings
from paramscope.errors import ParamscopeError, UsageError
from paramscope.records import record, replace

if TYPE_CHECKING:
    from paramscope.analyses.sizing.request import MemoryRequest
    from paramscope.knowledge.hardware import Device
    from paramscope.model import Model

MAX_BATCH = 4096  # the page's batch slider stops here too; a cell that fits more says "4096+"
MIN_CONTEXT = 2048
MAX_CELLS = 400  # contexts × weight types × runtimes: a request larger than this is refused
STORED = ""  # the weight type "as stored"


@record
class FitMatrixRequest(MemorySettings):
    gpu: str = "rtx-4090"  # one device type (`paramscope gpus`)
    contexts: tuple[int, ...] = ()  # () : powers of two from 2048 up to the model's maximum
    weight_types: tuple[str, ...] = ()  # () : as stored, then fit's quantization ladder; "" = as stored
    runtimes: tuple[str, ...] = ()  # () : the request's runtime alone


@record
class Cell:
    runtime: str
    context: int
    weights: str  # "" = as stored
    devices: int | None  # fewest GPUs whose even split fits at the request's batch; None: none does
    max_batch: int  # the most parallel sequences on ``devices`` GPUs (one when none suffices); 0: none
    bytes_per_device: int | None  # at the request's batch on ``devices`` GPUs (one when none suffices)
    error: str | None = None  # the weight type or runtime does not apply to this model


@record
class FitMatrixResult:
    request: FitMatrixRequest
    model: Model
    device: Device
    contexts: tuple[int, ...]
    weight_types: tuple[str, ...]
    runtimes: tuple[str, ...]
    allowed_device_counts: tuple[int, ...]
    cells: tuple[Cell, ...]  # runtime-major, then context, then weight type
    exit_code: int = 0

    def to_json(self) -> dict[str, Any]:
        from paramscope.app.shapes import device_json

        return {"source": self.model.source, "device": device_json(self.device), "batch": self.request.batch,
                "kv_type": self.request.kv_type, "contexts": list(self.contexts),
                "weight_types": list(self.weight_types), "runtimes": list(self.runtimes),
                "allowed_device_counts": list(self.allowed_device_counts), "max_batch_limit": MAX_BATCH,
                "cells": [{"runtime": c.runtime, "context": c.context, "weights": c.weights,
                           "devices": c.devices, "max_batch": c.max_batch,
                           "bytes_per_device": c.bytes_per_device, "error": c.error} for c in self.cells]}

    def cell(self, context: int, weights: str = STORED, runtime: str | None = None) -> Cell:
        want = runtime or self.runtimes[0]
        for c in self.cells:
            if (c.context, c.weights, c.runtime) == (context, weights, want):
                return c
        raise KeyError((context, weights, want))


def default_contexts(model: Model) -> tuple[int, ...]:
    cfg = model.config
    top = cfg.context_length if cfg and cfg.context_length else 131072
    out = [c for c in (MIN_CONTEXT << i for i in range(24)) if c < top]
    return (*out, top)


def fit_matrix(source: Source | FitMatrixRequest, **options: Any) -> FitMatrixResult:
    """``fit_matrix("llama-3.1-8b", gpu="rtx-4090").cell(32768, "q4_k_m").devices``."""
    from paramscope.analyses.sizing.fit import QUANT_LADDER
    from paramscope.knowledge.hardware import parse_gpu_spec

    for key in ("contexts", "weight_types", "runtimes"):
        if key in options and not isinstance(options[key], tuple):
            options[key] = tuple(options[key])
    req = source if isinstance(source, FitMatrixRequest) else FitMatrixRequest.build(source, options)
    device, n = parse_gpu_spec(req.gpu)
    if n != 1:
        raise UsageError(f"the fit matrix takes one device type and finds how many are needed "
                         f"(got {req.gpu!r})")
    model = open_source(req.source)
    if model.config is None:
        raise UsageError(f"{model.source}: no architecture to size a KV cache for (weights only)")
    contexts = req.contexts or default_contexts(model)
    weight_types = req.weight_types or (STORED, *QUANT_LADDER)
    runtimes = req.runtimes or (req.runtime,)
    if len(contexts) * len(weight_types) * len(runtimes) > MAX_CELLS:
        raise UsageError(f"the fit matrix is limited to {MAX_CELLS} cells "
                         f"({len(contexts)} contexts × {len(weight_types)} weight types × "
                         f"{len(runtimes)} runtimes)")
    counts = _counts(model, req.memory_request(device), device)
    cells = tuple(_cell(model, replace(req, runtime=r, context=c, weights=w or None), device)
                  for r in runtimes for c in contexts for w in weight_types)
    return FitMatrixResult(req, model, device, tuple(contexts), tuple(weight_types), tuple(runtimes), counts,
                           cells)


def _counts(model: Model, req: MemoryRequest, device: Device) -> tuple[int, ...]:
    """The GPU counts `fit` tries for this runtime (fit.device_counts: what the heads allow for vLLM and
    SGLang, any count for llama.cpp's and transformers' layer splits); one on a CPU."""
    from paramscope.analyses.sizing.fit import device_counts

    assert model.config is not None
    return (1,) if device.kind == "cpu" else device_counts(model.config, req)[0]


def _cell(model: Model, settings: FitMatrixRequest, device: Device) -> Cell:
    from paramscope.analyses.sizing.fit import devices_needed
    from paramscope.analyses.sizing.memory import estimate

    key = (settings.runtime, settings.context or 0, settings.weights or STORED)
    try:
        req = settings.memory_request(device)  # inside: another runtime's options are this cell's error
        one = estimate(model, replace(req, n_devices=1))
        counts = _counts(model, req, device)
        # the same rule as `fit`: one device when it fits, else the fewest its runtime can use
        n, on_n = (1, one) if one.fits else devices_needed(model, req, counts)
        at = replace(req, n_devices=n or 1)
        worst = max(d.total_bytes for d in (on_n or one).per_device)
        return Cell(*key, n, _max_batch(model, at), worst)
    except ParamscopeError as e:  # e.g. a GGUF-only type under vLLM, or a re-pricing this model refuses
        return Cell(*key, None, 0, None, " ".join(str(e).splitlines()))


def _max_batch(model: Model, req: MemoryRequest) -> int:
    """The largest batch ≤ MAX_BATCH that fits (memory grows with batch): doubling, then bisection."""
    from paramscope.analyses.sizing.memory import estimate

    def fits(b: int) -> bool:
        return bool(estimate(model, replace(req, batch=b)).fits)

    if not fits(1):
        return 0
    lo = 1
    while lo < MAX_BATCH and fits(min(lo * 2, MAX_BATCH)):
        lo = min(lo * 2, MAX_BATCH)
    if lo == MAX_BATCH:
        return lo
    hi = min(lo * 2, MAX_BATCH)  # does not fit
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo
