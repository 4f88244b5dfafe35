"""The weights an engine holds after loading a checkpoint: the tensors as stored, re-laid where the engine
pads them (knowledge/quant_layouts.ENGINE_LAYOUTS; today vLLM's MXFP4 experts).

Kept apart from re-pricing (``weights.py``): sizing a model as stored, the common case, needs neither the
scheme tables nor the tensor roles, and starts without them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from paramscope.errors import UnsupportedError

if TYPE_CHECKING:
    from paramscope.knowledge.hardware import Device
    from paramscope.model import Model


@dataclass(frozen=True, slots=True)
class Loaded:
    """A checkpoint's weights as an engine holds them after loading (bytes on all devices together)."""

    runtime: str
    stored_bytes: int
    bytes: int
    backend: str = ""  # the engine's kernel backend, where it changes the layout
    notes: tuple[str, ...] = ()


def loaded_weights(model: Model, runtime: str, device: Device | None = None, backend: str | None = None,
                   tensor_parallel: int = 1) -> Loaded:
    """The stored tensors (quantized weights with their side data, unquantized modules at their stored
    type), with the re-layouts of knowledge/quant_layouts.ENGINE_LAYOUTS applied: vLLM pads MXFP4 experts
    per backend (``backend`` None: the one vLLM picks for ``device``, Triton when the device is unknown)
    and per tensor-parallel rank."""
    stored = model.tensor_bytes
    method = model.quantization.method if model.quantization else None
    if runtime != "vllm" or method != "mxfp4":
        return Loaded(runtime, stored, stored)
    from paramscope.knowledge import quant_layouts as ql

    chosen = backend or _vllm_mxfp4_backend(device)
    lay = ql.ENGINE_LAYOUTS.get(("vllm", "mxfp4", chosen))
    if lay is None:
        known = sorted(b for e, m, b in ql.ENGINE_LAYOUTS if (e, m) == ("vllm", "mxfp4"))
        raise UnsupportedError(f"unknown vLLM MXFP4 backend {chosen!r} (known: {', '.join(known)})")
    total = stored
    by_name = {t.name: t for t in model.tensors}
    for t in model.tensors:
        if not t.name.endswith("_blocks") or len(t.shape) != 4:
            continue
        base = t.name.removesuffix("_blocks")
        kind = "gate_up" if base.endswith("gate_up_proj") else "down"
        experts, out, blocks, _ = t.shape
        parts = [by_name.get(base + s) for s in ("_blocks", "_scales", "_bias")]
        total -= sum(p.nbytes for p in parts if p is not None)
        total += ql.mxfp4_loaded_bytes(kind, experts, out, blocks * ql.MXFP4_BLOCK, lay,
                                       with_bias=parts[2] is not None, tensor_parallel=tensor_parallel)
    note = (f"vLLM {chosen} MXFP4 backend ({lay.when}): expert weights padded to intermediate × "
            f"{lay.intermediate_align}, hidden × {lay.hidden_align}"
            + (", biases in float32 and a swizzled copy of the scales" if lay.scale_copy_align else "")
            + f" ({lay.source}); {total - stored:+,} B against the {stored:,} B stored")
    return Loaded(runtime, stored, total, chosen, (note,))


def _vllm_mxfp4_backend(device: Device | None) -> str:
    """vLLM's choice (mxfp4.py get_mxfp4_backend): Marlin below CUDA capability 9.0, else Triton. The
    device table has no capability; a GPU without FP8 rates is pre-Ada, hence Marlin. Ada (L40S, RTX 40xx)
    also gets Marlin in vLLM but reads as Triton here."""
    if device is not None and device.kind == "gpu" and device.fp8_flops is None:
        return "marlin"
    return "triton"
