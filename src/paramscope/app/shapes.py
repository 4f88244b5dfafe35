"""The JSON shapes that several results share (inventory, tensors, devices, memory estimates).

Each command's ``to_json()`` is built from these, so the CLI's ``--json``, the web API and the report
agree by construction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from paramscope.records import fields

if TYPE_CHECKING:  # types only: `size --json` needs no inventory, and start-up stays lean
    from paramscope.analyses.contents.inventory import Inventory, Tally
    from paramscope.model import ArchConfig, Model, Tensor

MAX_INLINE_ARRAY = 16  # metadata arrays longer than this are summarised, not dumped


def inventory_json(inv: Inventory, *, tensors: bool = False, layers: bool = False) -> dict[str, Any]:
    m = inv.model
    out: dict[str, Any] = {
        "source": m.source,
        "format": m.format,
        "architecture": m.config.architecture if m.config else None,
        "family": m.config.family if m.config else None,
        "has_weights": m.has_weights,
        "total_params": inv.total_params,
        "active_params": inv.active_params,
        "active_convention": inv.active_convention,
        "label": inv.label,
        "tensor_count": inv.tensor_count,
        "weights_bytes": inv.weights_bytes,
        "quantization": quantization_json(m),
        "by_dtype": {k: tally_json(v) for k, v in inv.by_dtype.items()},
        "by_component": {k: v.params for k, v in inv.by_component.items()},
        "by_component_detail": {k: tally_json(v) for k, v in inv.by_component.items()},
        "by_role": {k: tally_json(v) for k, v in inv.by_role.items()},
        "hyperparameters": hyperparameters(m.config),
        "files": list(m.files),
        "tokenizer_files": list(m.tokenizer_files),
        "notes": list(inv.notes),
        "metadata": metadata_json(m),
    }
    if layers:
        out["by_layer"] = [{"layer": i, **{k: tally_json(v) for k, v in comps.items()}}
                           for i, comps in inv.by_layer.items()]
    if tensors:
        out["tensors"] = [tensor_json(r.tensor) | {"component": r.placement.component,
                                                  "role": r.placement.role, "layer": r.placement.layer,
                                                  "counted": r.counted}
                          for r in inv.rows]
    return out


def quantization_json(m: Model) -> dict[str, Any] | None:
    """How the weights are quantized, as the file or config declares it (model.Quantization); None for
    plain weights. The excluded module names are summarised past MAX_INLINE_ARRAY."""
    q = m.quantization
    if q is None:
        return None
    return {"method": q.method, "label": q.label, "file_type": q.file_type, "bits": q.bits,
            "group_size": q.group_size, "quant_type": q.quant_type, "declared_in": q.declared_in,
            "excluded": list(q.excluded[:MAX_INLINE_ARRAY]), "excluded_count": len(q.excluded)}


def tensor_json(t: Tensor) -> dict[str, Any]:
    return {"name": t.name, "shape": list(t.shape), "dtype": t.dtype.value, "params": t.params,
            "bytes": t.nbytes, "offset": t.offset, "file": t.file, "is_parameter": t.is_parameter}


def hyperparameters(cfg: ArchConfig | None) -> dict[str, Any]:
    if cfg is None:
        return {}
    out: dict[str, Any] = {}
    for f in fields(cfg):
        value = getattr(cfg, f.name)
        if f.name == "extra":
            out.update({k: plain_json(v) for k, v in value.items()})
        elif isinstance(value, tuple):
            out[f.name] = list(value)
        else:
            out[f.name] = value
    return out


def metadata_json(m: Model) -> dict[str, Any]:
    return {str(k): plain_json(v) for k, v in m.metadata.items()}


def tally_json(t: Tally) -> dict[str, Any]:
    return {"params": t.params, "bytes": t.bytes, "tensors": t.tensors, "share": round(t.share, 6)}


def plain_json(v: Any) -> Any:
    """Scalars as they are; long arrays (a 262,144-token vocabulary) as a summary, not a dump."""
    if isinstance(v, str | int | float | bool) or v is None:
        return v
    if isinstance(v, dict):
        return {str(k): plain_json(x) for k, x in v.items()}
    if hasattr(v, "__len__") and not isinstance(v, bytes | bytearray):
        n = len(v)
        if n > MAX_INLINE_ARRAY:
            dtype = getattr(getattr(v, "dtype", None), "name", None) or "string"
            return {"array": dtype, "length": n}
        items = v.tolist() if hasattr(v, "tolist") else list(v)
        return [plain_json(x) for x in items]
    if hasattr(v, "item"):  # numpy scalar
        return v.item()
    return str(v)


def device_json(d) -> dict[str, Any]:
    """A hardware catalogue row (``knowledge.hardware.Device``) as data."""
    return {"key": d.key, "name": d.name, "vendor": d.vendor, "kind": d.kind,
            "memory_bytes": d.memory_bytes, "usable_bytes": d.usable_bytes,
            "bandwidth_bytes_per_s": d.bandwidth, "bf16_flops": d.bf16_flops, "fp16_flops": d.fp16_flops,
            "fp8_flops": d.fp8_flops, "source": d.source, "note": d.note}


def system_json(s) -> dict[str, Any]:
    """This machine (``system.SystemInfo``) as data."""
    return {"total_ram_bytes": s.total_ram_bytes, "available_ram_bytes": s.available_ram_bytes,
            "ram_source": s.ram_source, "cpu_count": s.cpu_count, "cpu_model": s.cpu_model,
            "gpus": [{"index": g.index, "name": g.name, "total_bytes": g.total_bytes,
                      "device": g.device.key if g.device else None} for g in s.gpus],
            "gpu_note": s.gpu_note}


def size_json(est) -> dict[str, Any]:
    """``analyses.sizing.memory.SizeEstimate`` as data (the keys of `paramscope size --json`)."""
    return {
        "source": est.source, "runtime": est.runtime, "context": est.context,
        "context_note": est.context_note, "batch": est.batch, "weights": est.weights_scheme,
        "kv_type": est.kv_type, "weights_bytes": est.weights_bytes, "kv_cache_bytes": est.kv_cache_bytes,
        "compute_bytes": est.compute_bytes, "overhead_bytes": est.overhead_bytes,
        "total_bytes": est.total_bytes, "fits": est.fits, "host_bytes": est.host_bytes,
        "host_read_bytes": est.host_read_bytes,
        "duplicate_bytes": est.duplicate_bytes, "disk_bytes": est.disk_bytes,
        # by kind: "full"/"sliding" self-attention, "linear" state, "cross" (an encoder-decoder's
        # cross-attention K/V of the encoder output), "encoder_output"
        "kv_cache_parts": {kind.replace(" ", "_"): n for kind, n in est.kv_parts},
        # "even split", "pipeline stages" (vLLM), "--split-mode …", "device_map=auto" (transformers)
        "per_device_split": est.split,
        "per_device": [{"index": d.index, "device": d.device.key if d.device else None,
                        "memory_bytes": d.device.usable_bytes if d.device else None,
                        "weights_bytes": d.weights_bytes, "kv_cache_bytes": d.kv_cache_bytes,
                        "compute_bytes": d.compute_bytes, "overhead_bytes": d.overhead_bytes,
                        "total_bytes": d.total_bytes, "fits": d.fits} for d in est.per_device],
        # what the runtime resolved itself (llama.cpp: "attention_backend", "flash_attn", "flash_attn_why")
        "runtime_settings": dict(est.runtime_settings),
        "explain": list(est.explain), "notes": list(est.notes),
    }


def speed_json(s) -> dict[str, Any]:
    """``analyses.sizing.speed.SpeedEstimate`` as data."""
    return {"active_weight_bytes": s.active_weight_bytes, "kv_bytes": s.kv_bytes,
            "bytes_per_step": s.bytes_per_step, "bandwidth_bytes_per_s": s.bandwidth,
            # the devices whose bandwidth a decode step has: all with tensor parallelism, 1 with a layer split
            "bandwidth_devices": s.devices_at_once or s.n_devices,
            # of bytes_per_step, those read in host memory (layers kept there) and the bandwidth they are
            # read at: the RAM --host-ram names, else assumed (0 and None with everything on the devices)
            "host_read_bytes": s.host_read_bytes, "host_bandwidth_bytes_per_s": s.host_bandwidth,
            "host_bandwidth_assumed": bool(s.host_read_bytes) and s.host_ram_assumed,
            "peak_flops": s.peak_flops, "decode_tokens_per_s": s.decode_tokens_per_s,
            "decode_tokens_per_s_total": s.decode_tokens_per_s_total, "prefill_tokens": s.prefill_tokens,
            "prefill_flops": s.prefill_flops, "prefill_seconds": s.prefill_seconds,
            # calibrated figures (knowledge/speed_calibration.py: the fit × its quantiles) where measured,
            # else None;
            # the labels say which: "calibrated (N runs, RUNTIME BACKEND)" or "bound"
            "decode_label": s.decode_label, "prefill_label": s.prefill_label,
            **_range("decode_tokens_per_s", ("low", "typical", "high"), s.decode_range),
            **_range("prefill_seconds", ("fast", "typical", "slow"), s.prefill_range),
            "calibration": {"decode": _calibration_json(s.decode_calibration if s.decode_range else None),
                            "prefill": _calibration_json(s.prefill_calibration if s.prefill_range else None)},
            "explain": list(s.explain)}


def _range(name: str, ends: tuple[str, str, str],
           values: tuple[float, float, float] | None) -> dict[str, Any]:
    return {f"{name}_{end}": (values[i] if values else None) for i, end in enumerate(ends)}


def _calibration_json(c) -> dict[str, Any] | None:
    """A ``knowledge.speed_calibration.Calibration`` row: the era of its runs (``since``: the first release,
    None for a runtime's first era or one without eras), the decode fit (efficiency, overhead per step;
    1 and 0 where none), the quantiles of measured ÷ fitted (prefill, or without a fit: measured ÷ bound,
    the utilisation), runs, pages."""
    if c is None:
        return None
    return {"runtime": c.runtime, "backend": c.backend, "metric": c.metric, "since": c.since or None,
            "efficiency": c.efficiency, "overhead_ms": c.overhead_ms, "low": c.low, "typical": c.typical,
            "high": c.high, "runs": c.n, "sources": list(c.sources)}
