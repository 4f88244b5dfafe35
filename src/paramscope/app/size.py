"""``paramscope size``: memory to run a model, weights + KV cache + runtime buffers + overhead, per device."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from paramscope.app.common import Source, open_source, remote_json
from paramscope.app.memory_options import MemorySettings
from paramscope.errors import UsageError
from paramscope.records import record

if TYPE_CHECKING:
    from paramscope.analyses.sizing.memory import SizeEstimate
    from paramscope.analyses.sizing.speed import SpeedEstimate
    from paramscope.model import Model


@record
class SizeRequest(MemorySettings):
    """`size`'s arguments: the memory settings, a device to check and a document to size for."""

    gpu: str | None = None  # NAME or NAMExN (h100x2, rtx-4090, 24GiB): check the total against it
    context_from_file: str | None = None  # size the KV cache for this document's tokens


@record
class SizeResult:
    """`size`'s answer: the estimate for the model, and its speed on the device given (if one was)."""

    request: SizeRequest
    model: Model
    estimate: SizeEstimate
    exit_code: int = 0
    speed: SpeedEstimate | None = None  # on the devices of --gpu; None without one

    def to_json(self) -> dict[str, Any]:
        from paramscope.app.shapes import size_json, speed_json

        speed = speed_json(self.speed) if self.speed is not None else None
        return size_json(self.estimate) | {"speed": speed} | remote_json(self.model)


def size(source: Source | SizeRequest, **options: Any) -> SizeResult:
    """Memory to run ``source``: ``paramscope.size("llama-3.1-8b", context=8192, gpu="h100").estimate``.

    Options: context, batch, weights, kv_type, runtime, gpu, context_from_file, and the runtime's own
    (llama.cpp: ubatch, swa_full; vLLM: gpu_memory_utilization; see ``paramscope size --help``).
    """
    from paramscope.analyses.sizing.memory import estimate

    req = source if isinstance(source, SizeRequest) else SizeRequest.build(source, options)
    device, n = gpu_spec(req.gpu)
    model = open_source(req.source)
    context = req.context
    if req.context_from_file:
        from paramscope.tokenize import count_tokens, read_text

        if req.context is not None:
            raise UsageError("give --context or --context-from-file, not both")
        context = count_tokens(model, read_text(req.context_from_file))
    mreq = req.memory_request(device, n, context)
    est = estimate(model, mreq)
    # what the engine would choose itself that the estimate does not price (llama.cpp's --fit: the context
    # of a run without -c, the layers over several GPUs), a note each
    from paramscope.analyses.sizing.runtimes import find
    from paramscope.records import replace

    pick = find(est.runtime).engine_choice_notes()
    if pick is not None:
        est = replace(est, notes=(*est.notes, *pick(model, mreq, est)))
    if req.host_ram and not est.host_read_bytes:
        from paramscope.records import replace

        unused = ("--host-ram changes nothing here: no decode step reads from host memory (the model is on "
                  "the devices, or no GPU is named)")
        est = replace(est, notes=(*est.notes, unused))
    speed = None
    if device is not None and device.bandwidth is not None:
        from paramscope.analyses.sizing.speed import speed_for

        speed = speed_for(model, est, device, n)
    return SizeResult(req, model, est, speed=speed)


def gpu_spec(gpu: str | None):
    """``NAME[xN]`` as (device, count); (None, 1) without one."""
    if not gpu:
        return None, 1
    from paramscope.knowledge.hardware import parse_gpu_spec

    return parse_gpu_spec(gpu)
