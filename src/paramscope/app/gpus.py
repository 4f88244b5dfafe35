"""``paramscope gpus``: the hardware catalogue and what this machine has."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from paramscope.errors import UsageError
from paramscope.records import record

if TYPE_CHECKING:
    from paramscope.knowledge.hardware import Device
    from paramscope.system import SystemInfo

KINDS = ("gpu", "unified", "cpu")


@record
class GpusRequest:
    kind: str | None = None  # gpu, unified or cpu
    vendor: str | None = None


@record
class GpusResult:
    request: GpusRequest
    devices: tuple[Device, ...]
    system: SystemInfo
    exit_code: int = 0

    def to_json(self) -> dict[str, Any]:
        from paramscope.app.shapes import device_json, system_json

        return {"devices": [device_json(d) for d in self.devices], "this_machine": system_json(self.system)}


def gpus(request: GpusRequest | None = None, **options: Any) -> GpusResult:
    from paramscope.knowledge.hardware import DEVICES
    from paramscope.system import detect

    req = request or GpusRequest(**options)
    if req.kind is not None and req.kind not in KINDS:
        raise UsageError(f"unknown device kind {req.kind!r} (choose one of {', '.join(KINDS)})")
    vendors = sorted({d.vendor.lower() for d in DEVICES})
    if req.vendor is not None and req.vendor.lower() not in vendors:
        raise UsageError(f"no devices of vendor {req.vendor!r} (known: {', '.join(vendors)})")
    devices = tuple(d for d in DEVICES if (req.kind is None or d.kind == req.kind)
                    and (req.vendor is None or d.vendor.lower() == req.vendor.lower()))
    return GpusResult(req, devices, detect(gpus=True))
