"""The settings ``size`` and ``fit`` share, and how they become an analysis ``MemoryRequest``.

Runtime options (llama.cpp ``ubatch``, vLLM ``gpu_memory_utilization``…) are declared by each runtime in
``analyses.sizing.runtimes.RUNTIMES``; here they arrive as keyword arguments beside the shared ones and
are checked against the chosen runtime, so an option of another runtime is a one-line error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from paramscope.app.common import Source
from paramscope.records import field, fields, record

if TYPE_CHECKING:
    from paramscope.analyses.sizing.request import MemoryRequest
    from paramscope.knowledge.hardware import Device


@record
class MemorySettings:
    """The memory options `size`, `fit` and the fit matrix share."""

    source: Source
    context: int | None = None  # tokens per sequence; None: 8192, or the model's maximum when smaller
    batch: int = 1  # parallel sequences
    weights: str | None = None  # re-price the weights: fp16, int4, q4_k_m, …
    kv_type: str | None = None  # KV cache type; None: the runtime's default
    runtime: str = "llama.cpp"
    encoder_length: int | None = None  # encoder-decoders: encoder input tokens; None: the context
    host_ram: str | None = None  # the RAM beside the GPU, a CPU row of the device table; None: assumed
    runtime_options: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, source: Source, options: Mapping[str, Any]) -> Any:
        """The request from keyword options: the class's own fields, and runtime options beside them."""
        from paramscope.analyses.sizing.runtimes import all_options
        from paramscope.errors import UsageError

        own = {f.name for f in fields(cls)}
        runtime_names = {o.name for _, o in all_options()}
        mine = {k: v for k, v in options.items() if k in own}
        extra = {k: v for k, v in options.items() if k not in own}
        unknown = [k for k in extra if k not in runtime_names]
        if unknown:
            raise UsageError(f"unknown option {unknown[0]!r} (options: "
                             f"{', '.join(sorted((own - {'source'}) | runtime_names))})")
        if extra:
            mine["runtime_options"] = {**mine.get("runtime_options", {}), **extra}
        return cls(source, **mine)

    def memory_request(self, device: Device | None = None, n_devices: int = 1,
                       context: int | None = None) -> MemoryRequest:
        from paramscope.analyses.sizing.request import MemoryRequest
        from paramscope.analyses.sizing.runtimes import find

        runtime = find(self.runtime)
        return MemoryRequest(context=self.context if context is None else context, batch=self.batch,
                             weights=self.weights, kv_type=self.kv_type, runtime=runtime.name, device=device,
                             n_devices=n_devices, options=runtime.check(self.runtime_options),
                             encoder_length=self.encoder_length, host_ram=host_ram_device(self.host_ram))


def host_ram_device(name: str | None) -> Device | None:
    """``--host-ram``: a CPU row of the device table (its bandwidth is the RAM's), or None."""
    if not name:
        return None
    from paramscope.errors import UnsupportedError, UsageError
    from paramscope.knowledge.hardware import find_device

    try:
        device = find_device(name)
    except UnsupportedError as e:
        raise UsageError(f"--host-ram: {e}") from None
    if device.kind != "cpu" or not device.bandwidth:
        raise UsageError(f"--host-ram takes the RAM of a CPU row (`paramscope gpus --kind cpu`: "
                         f"ddr4-3200-2ch, ddr5-6400-2ch, …), not {device.key!r} ({device.kind})")
    return device
