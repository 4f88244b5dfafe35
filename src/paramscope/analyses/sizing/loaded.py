"""The weights an engine holds after loading a checkpoint: the tensors as stored, re-laid where the engine
pads them (knowledge/quant_layouts.ENGINE_LAYOUTS: vLLM's MXFP4 experts) or drops what its kernel does not
need (vLLM's GPTQ-Marlin: zero points and g_idx).

Kept apart from re-pricing (``weights.py``): sizing a model as stored, the common case, needs neither the
scheme tables nor the tensor roles, and starts without them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from paramscope.errors import UnsupportedError
from paramscope.records import record

if TYPE_CHECKING:
    from paramscope.knowledge.hardware import Device
    from paramscope.model import Model


@record
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
    if runtime == "vllm" and method == "gptq":
        if backend == "gptq":  # asked for by name: the plain GPTQ kernel keeps every stored tensor
            return Loaded(runtime, stored, stored, "gptq", (GPTQ_FORCED,))
        return _vllm_gptq_marlin(model, runtime, stored)
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


# vLLM gptq_marlin.py GPTQMarlinConfig.override_quantization_method leaves a checkpoint to the plain GPTQ
# kernel when the user names it (``--quantization gptq``: is_user_specified_gptq), and logs "Detected that the
# model can run with gptq_marlin, however you specified quantization=gptq explicitly, so forcing gptq";
# GPTQLinearMethod keeps qweight, qzeros, scales and g_idx as stored (its exllama shuffle is in place)
GPTQ_FORCED = ("vLLM's plain GPTQ kernel (--quantization gptq named explicitly): every stored tensor kept, "
               "zero points and g_idx included")


def _vllm_gptq_marlin(model: Model, runtime: str, stored: int) -> Loaded:
    """vLLM loads a GPTQ checkpoint with the Marlin kernel wherever it can (gptq_marlin.py
    override_quantization_method; CUDA capability 8.0 and up, 4 or 8 bits), and Marlin's
    process_weights_after_loading (kernels/mixed_precision/marlin.py) repacks ``qweight`` and permutes
    ``scales`` at the same size, replaces the zero points of a symmetric checkpoint (``qzeros``) by an
    empty tensor (marlin_make_empty_zp) and, without act-order (``desc_act`` false), ``g_idx`` too
    (marlin_make_empty_g_idx). Pre-Ampere GPUs use the plain GPTQ kernel, which keeps them: not modelled."""
    q = model.quantization
    assert q is not None
    desc_act = bool(q.config.get("desc_act", False))
    if q.symmetric is False or q.bits not in (4, 8):
        return Loaded(runtime, stored, stored)
    dropped = [t for t in model.tensors
               if t.name.endswith(".qzeros") or (t.name.endswith(".g_idx") and not desc_act)]
    freed = sum(t.nbytes for t in dropped)
    note = (f"vLLM's GPTQ-Marlin layout: {len(dropped)} zero-point"
            f"{'' if desc_act else ' and g_idx'} tensors replaced by empty ones (symmetric"
            f"{'' if desc_act else ', no act-order'}): {-freed:+,} B against the {stored:,} B stored")
    return Loaded(runtime, stored, stored - freed, "marlin", (note,))


def _vllm_mxfp4_backend(device: Device | None) -> str:
    """vLLM's choice (mxfp4.py get_mxfp4_backend): Marlin below CUDA capability 9.0, else Triton. The
    device table has no capability; a GPU without FP8 rates is pre-Ada, hence Marlin. Ada (L40S, RTX 40xx)
    also gets Marlin in vLLM but reads as Triton here."""
    if device is not None and device.kind == "gpu" and device.fp8_flops is None:
        return "marlin"
    return "triton"
