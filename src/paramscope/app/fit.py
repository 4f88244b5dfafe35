"""``paramscope fit``: what fits where (devices needed, GPU/CPU split, longest context, best quantization,
speed, flags), on a named device or on this machine."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from paramscope.app.common import Source, open_source, remote_json
from paramscope.app.memory_options import MemorySettings
from paramscope.errors import UsageError
from paramscope.records import record

if TYPE_CHECKING:
    from paramscope.analyses.sizing.fit import FitReport, Plan
    from paramscope.analyses.sizing.speed import SpeedEstimate
    from paramscope.knowledge.hardware import Device
    from paramscope.model import Model

# Where the device came from: named by the user, this machine's first NVIDIA GPU, or its RAM (no GPU).
GIVEN, DETECTED_GPU, HOST_RAM = "given", "this machine's GPU", "this machine's RAM (no GPU found)"


@record
class FitRequest(MemorySettings):
    """`fit`'s arguments: the memory settings, the device and the RAM for offloading."""

    gpu: str | None = None  # one device type; None: this machine's first NVIDIA GPU, else its RAM
    ram: str | int | None = None  # RAM for offloaded layers: "64GiB", "64GB", or an int of bytes


@record
class FitResult:
    """`fit`'s answer: the fit report, the speed estimate and the RAM it assumed."""

    request: FitRequest
    model: Model
    report: FitReport
    speed: SpeedEstimate  # on the devices needed (one device when none suffices)
    ram_bytes: int | None
    device_origin: str
    exit_code: int = 0

    def to_json(self) -> dict[str, Any]:
        from paramscope.app.shapes import device_json, size_json, speed_json

        r = self.report
        off = r.offload
        return {
            "device": device_json(r.device), "device_origin": self.device_origin, "ram_bytes": self.ram_bytes,
            "fits_one_device": r.one_device.fits, "one_device": size_json(r.one_device),
            "host_bytes": r.one_device.host_bytes, "host_fits_ram": r.host_fits_ram,
            "devices_needed": r.devices_needed, "allowed_device_counts": list(r.allowed_device_counts),
            "offload": None if off is None else {
                "gpu_layers": off.gpu_layers, "n_layers": off.n_layers, "cpu_moe_layers": off.cpu_moe_layers,
                "gpu_bytes": off.gpu_bytes, "ram_bytes": off.ram_bytes, "fits_ram": off.fits_ram},
            "max_context": r.max_context, "max_context_devices": r.max_context_devices,
            "best_quant": r.best_quant, "best_quant_label": r.best_label, "commands": list(r.commands),
            "speed": speed_json(self.speed), "speed_devices": r.devices_needed or 1,
            "verdict": r.verdict, "weights_label": r.weights_label, "cpu_only": r.cpu_only,
            "plans": [plan_json(p) for p in r.plans],
            "command_lines": [{"for": c.purpose, "command": c.text} for c in r.command_lines],
            "explain": list(r.explain),
        } | remote_json(self.model)


def plan_json(p: Plan) -> dict[str, Any]:
    off = p.offload
    return {"devices": p.devices, "weights": p.weights, "weights_label": p.weights_label,
            "total_bytes_per_device": max(d.total_bytes for d in p.estimate.per_device),
            "context": p.estimate.context,
            "gpu_layers": None if off is None else off.gpu_layers,
            "cpu_moe_layers": None if off is None else off.cpu_moe_layers,
            "ram_bytes": None if off is None else off.ram_bytes,
            "decode_tokens_per_s": p.decode_tokens_per_s, "ram_bandwidth_assumed": p.ram_bandwidth_assumed,
            "decode_tokens_per_s_typical": p.decode_typical, "decode_label": p.decode_label}


def fit(source: Source | FitRequest, **options: Any) -> FitResult:
    """What fits where: ``paramscope.fit("mixtral-8x7b", gpu="rtx-4090", ram="64GiB").report``."""
    from paramscope.analyses.sizing.fit import fit as fit_report
    from paramscope.analyses.sizing.speed import speed_for
    from paramscope.system import ram as host_ram
    from paramscope.units import parse_bytes

    req = source if isinstance(source, FitRequest) else FitRequest.build(source, options)
    if req.runtime_options.get("n_cpu_moe"):
        raise UsageError("fit finds how many layers' experts to keep in host memory itself (its plans' "
                         "--n-cpu-moe); leave --n-cpu-moe out, or size the layout you have with `size`")
    if req.runtime_options.get("fit") == "on":
        raise UsageError("fit plans the GPU / RAM split itself; `size --fit on` prices the one llama.cpp's "
                         "--fit chooses")
    device, origin = _device(req.gpu)
    ram = parse_bytes(req.ram, "RAM size") if req.ram is not None else host_ram()[1]
    model = open_source(req.source)
    report = fit_report(model, req.memory_request(device), ram_bytes=ram)
    speed = speed_for(model, report.on_devices, device, report.devices_needed or 1)
    return FitResult(req, model, report, speed, ram, origin)


def _device(spec: str | None) -> tuple[Device, str]:
    from paramscope.knowledge.hardware import parse_gpu_spec

    if spec:
        device, n = parse_gpu_spec(spec)
        if n != 1:
            raise UsageError(f"fit takes one device type and finds how many are needed (got {spec!r}; "
                             "use `size --gpu NAMExN` to check a given count)")
        return device, GIVEN
    from paramscope.system import detect

    found = detect(gpus=True)
    for g in found.gpus:
        if g.device:
            return g.device, DETECTED_GPU
    return host_ram_device(found.total_ram_bytes), HOST_RAM


def host_ram_device(total_bytes: int | None) -> Device:
    """This machine's RAM as a device of kind "cpu" (bandwidth unknown): a CPU-only answer."""
    from paramscope.knowledge.hardware import Device

    if not total_bytes:
        raise UsageError("no GPU found and this machine's RAM is unknown: give --gpu NAME "
                         "(see `paramscope gpus`)")
    return Device("this-machine", "this machine's RAM", "", "cpu", total_bytes, None, None, None, None,
                  "detected: total RAM of this machine")
