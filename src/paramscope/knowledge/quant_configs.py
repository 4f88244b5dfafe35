"""Quantization declarations → the neutral ``model.Quantization``: one function per way of declaring.

- ``from_hf_config``: config.json's ``quantization_config`` (transformers' quantizers: GPTQ, AWQ,
  bitsandbytes, FP8, MXFP4, compressed-tensors, and any other by its ``quant_method``), or a legacy
  quantizer's own file (AutoGPTQ quantize_config.json, AutoAWQ quant_config.json), or MLX's top-level
  ``quantization`` {group_size, bits} (mlx_lm writes it beside or instead of quantization_config).
- ``from_tensor_names``: a file read without its config, by names only one method writes.
- ``from_gguf``: a GGUF file's ``general.file_type`` (llama.h LLAMA_FTYPE_MOSTLY_*).

Field names and defaults follow each quantizer's config class in transformers
(``utils/quantization_config.py``); the row for a method says where its fields live.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeGuard

from paramscope.knowledge.quant_selectors import quark_bits, quark_weight
from paramscope.model.quantization import Quantization
from paramscope.records import record

# bitsandbytes Params4bit quantizes in blocks of 64 (bnb.functional.quantize_4bit blocksize=64); the
# nested (double) quantization stores the absmax scales in 8 bits per block of 256.
BNB4_BLOCK = 64


@record
class Fields:
    """Where one method's config keeps each field (first key present wins)."""

    bits: tuple[str, ...] = ("bits",)
    group: tuple[str, ...] = ("group_size",)
    excluded: tuple[str, ...] = ("modules_to_not_convert",)
    symmetric: tuple[str, ...] = ("sym",)
    default_bits: int | None = None
    quant_type: str | None = None
    scales: str = ""
    type_key: str = "fmt"  # the field naming the number format, where the method has one


METHODS: dict[str, Fields] = {
    "gptq": Fields(default_bits=4, quant_type="int", scales="fp16 scales and packed zeros per group"),
    "awq": Fields(bits=("bits", "w_bit"), group=("group_size", "q_group_size"), symmetric=(),
                  default_bits=4, quant_type="int", scales="fp16 scales and packed zeros per group"),
    "fp8": Fields(bits=(), group=(), excluded=("modules_to_not_convert", "ignored_layers"), default_bits=8,
                  quant_type="e4m3", scales="fp32 scale_inv per block"),  # ignored_layers: AutoFP8
    "fbgemm_fp8": Fields(bits=(), group=(), default_bits=8, quant_type="e4m3",
                         scales="fp32 scale per output channel"),
    "mxfp4": Fields(bits=(), group=(), default_bits=4, quant_type="mxfp4",
                    scales="e8m0 scale per block of 32 (OCP MX)"),
    "bitsandbytes_8bit": Fields(bits=(), group=(), excluded=("llm_int8_skip_modules",), default_bits=8,
                                quant_type="int8", scales="fp32 scale per row (SCB)"),
    "hqq": Fields(bits=("nbits",), group=("group_size",), excluded=("skip_modules",)),
    "quanto": Fields(bits=(), group=(), excluded=("modules_to_not_convert",)),
    "eetq": Fields(bits=(), group=(), default_bits=8, quant_type="int8"),
    # NVIDIA Model Optimizer (hf_quant_config.json, or config.json's quantization_config with quant_method
    # "modelopt"): quant_algo NVFP4 (E2M1 in groups of 16, an FP8 E4M3 scale each, two float32 scalars) or
    # FP8 (per-tensor float32 scales); exclude_modules names what stays unquantized (lm_head…)
    # Intel AutoRound ("intel/auto-round" up to auto-round 0.4.x): integers packed as GPTQ's or AWQ's
    # buffers (packing_format), per-layer overrides in extra_config (knowledge/quant_layouts.py _autoround);
    # defaults of auto_round/schemes.py QuantizationScheme
    "auto-round": Fields(default_bits=4, quant_type="int", scales="fp16 scales and packed zeros per group",
                         type_key="data_type"),
    "intel/auto-round": Fields(default_bits=4, quant_type="int",
                               scales="fp16 scales and packed zeros per group", type_key="data_type"),
    # MIXED_PRECISION gives each Linear its own algorithm in quantized_layers (knowledge/quant_layouts.py)
    "modelopt": Fields(bits=(), group=("group_size",), excluded=("exclude_modules", "ignore"),
                       quant_type=None, scales="FP8 scale per 16 (NVFP4) or a float32 scalar (FP8)",
                       type_key="quant_algo"),
}


def from_hf_config(qc: Mapping[str, Any] | None, declared_in: str = "config.json quantization_config"
                   ) -> Quantization | None:
    """The neutral description of a transformers ``quantization_config`` (or a legacy file's); None when
    there is none."""
    if not isinstance(qc, Mapping) or not qc:
        return None
    method = _method(qc)
    if method is None:
        return None
    if method == "bitsandbytes_4bit":
        return _bnb4(qc, declared_in)
    if method == "compressed-tensors":
        return _compressed_tensors(qc, declared_in)
    if method == "quark":
        return _quark(qc, declared_in)
    if method == "mlx":
        return from_mlx(qc, declared_in)
    f = METHODS.get(method, Fields())
    block = qc.get("weight_block_size")
    return Quantization(
        method=method, bits=_first(qc, f.bits, int) or f.default_bits, group_size=_group(qc, f.group),
        block_shape=tuple(int(x) for x in block) if _int_list(block) else (),
        quant_type=_quant_type(qc, f), scale_layout=f.scales,
        symmetric=_first(qc, f.symmetric, bool), excluded=_names(qc, f.excluded), declared_in=declared_in,
        config=dict(qc))


def _quant_type(qc: Mapping[str, Any], f: Fields) -> str | None:
    """The number format as the config spells it (FP8's "fmt"); an algorithm name (ModelOpt's quant_algo
    "NVFP4", AutoRound's data_type) in lower case, as the labels write formats."""
    kind = str(qc.get(f.type_key) or f.quant_type or "")
    return (kind if f.type_key == "fmt" else kind.lower()) or None


def from_config(cfg: Mapping[str, Any] | None) -> Quantization | None:
    """A whole config.json: its quantization_config, else MLX's top-level ``quantization``."""
    if not isinstance(cfg, Mapping):
        return None
    found = from_hf_config(cfg.get("quantization_config"))
    mlx = cfg.get("quantization")
    if found is None and isinstance(mlx, Mapping) and "bits" in mlx:
        return from_mlx(mlx)
    return found


def from_weights(quantization_config: Mapping[str, Any] | None, names: Sequence[str]) -> Quantization | None:
    """A weights file: the quantization config its folder declares, else what its tensor names reveal."""
    return from_hf_config(quantization_config) or from_tensor_names(names)


def from_mlx(q: Mapping[str, Any], declared_in: str = "config.json quantization (MLX)") -> Quantization:
    """mlx_lm: {"group_size": 64, "bits": 4} (affine, fp16 scale and bias per group); per-layer overrides
    may sit beside them as {"model.layers.0.mlp": {...}} or false (left unquantized)."""
    excluded = tuple(sorted(k for k, v in q.items() if v is False))
    return Quantization(method="mlx", bits=_first(q, ("bits",), int), group_size=_group(q, ("group_size",)),
                        quant_type="affine", scale_layout="fp16 scale and bias per group",
                        excluded=excluded, declared_in=declared_in, config=dict(q))


def from_tensor_names(names: Sequence[str]) -> Quantization | None:
    """A file without its config: the method its tensor names reveal (packing.SIGNATURES), nothing more."""
    from paramscope.knowledge.packing import detect_method

    method = detect_method(names)
    return None if method is None else Quantization(method=method, declared_in="tensor names")


def from_gguf(metadata: Mapping[str, Any]) -> Quantization:
    """A GGUF file: its llama.cpp file type, when it declares one (every tensor keeps its own type)."""
    from paramscope.knowledge.quant_schemes import FILE_TYPES

    ftype = metadata.get("general.file_type")
    named = {f.ftype: f.name for f in FILE_TYPES.values()} | {0: "F32", 1: "F16", 32: "BF16"}
    name = named.get(ftype) if isinstance(ftype, int) else None
    if name is None and ftype is not None:
        name = f"file type {ftype}"
    return Quantization(method="gguf", file_type=name,
                        scale_layout="ggml blocks (per-tensor types)",
                        declared_in="general.file_type" if ftype is not None else "tensor types",
                        config={"general.file_type": ftype} if ftype is not None else {})


def _method(qc: Mapping[str, Any]) -> str | None:
    from paramscope.knowledge.packing import quant_method

    return quant_method(qc)  # mlx_lm's bare {"group_size", "bits"} included


def _bnb4(qc: Mapping[str, Any], declared_in: str) -> Quantization:
    double = bool(qc.get("bnb_4bit_use_double_quant", False))
    kind = str(qc.get("bnb_4bit_quant_type") or "fp4").lower()  # BitsAndBytesConfig's default is fp4
    scales = f"fp32 absmax per block of {BNB4_BLOCK}" + (", itself quantized to 8 bits per 256" if double
                                                        else "")
    return Quantization(method="bitsandbytes_4bit", bits=4, group_size=BNB4_BLOCK, quant_type=kind,
                        scale_layout=scales, double_quant=double,
                        excluded=_names(qc, ("llm_int8_skip_modules",)), declared_in=declared_in,
                        config=dict(qc))


def _quark(qc: Mapping[str, Any], declared_in: str) -> Quantization:
    """AMD Quark: global_quant_config's weight spec describes the checkpoint (layer_quant_config may re-set
    layers: knowledge/quant_layouts.py _quark); ``exclude`` names what stays unquantized."""
    spec = qc.get("global_quant_config")
    weight = quark_weight(spec) or {}
    kind = str(weight.get("dtype") or "") or None
    scheme = str(weight.get("qscheme") or "")
    return Quantization(
        method="quark", bits=quark_bits(spec), group_size=_group(weight, ("group_size",)),
        quant_type=kind, scale_layout=f"{scheme} scales".strip(),
        symmetric=_first(weight, ("symmetric",), bool), excluded=_names(qc, ("exclude",)),
        declared_in=declared_in, config=dict(qc))


def _compressed_tensors(qc: Mapping[str, Any], declared_in: str) -> Quantization:
    """config_groups: {name: {"targets": [...], "weights": {num_bits, type, strategy, group_size,
    symmetric, block_structure}}}; the first group with weights describes the checkpoint."""
    raw = qc.get("config_groups")
    groups: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    weights: Mapping[str, Any] = {}
    for g in groups.values():
        if isinstance(g, Mapping) and isinstance(g.get("weights"), Mapping):
            weights = g["weights"]
            break
    block = weights.get("block_structure")
    kind = str(weights.get("type") or "") or None
    strategy = str(weights.get("strategy") or "")
    return Quantization(
        method="compressed-tensors", bits=_first(weights, ("num_bits",), int),
        group_size=_group(weights, ("group_size",)),
        block_shape=tuple(int(x) for x in block) if _int_list(block) else (),
        quant_type=kind, scale_layout=f"{strategy} scales ({qc.get('format', '')})".strip(),
        symmetric=_first(weights, ("symmetric",), bool), excluded=_names(qc, ("ignore",)),
        declared_in=declared_in, config=dict(qc))


def _first(qc: Mapping[str, Any], keys: tuple[str, ...], kind: type) -> Any:
    for k in keys:
        v = qc.get(k)
        if v is not None and not isinstance(v, Mapping | list):
            try:
                return kind(v)
            except (TypeError, ValueError, OverflowError):
                return None
    return None


def _group(qc: Mapping[str, Any], keys: tuple[str, ...]) -> int | None:
    g = _first(qc, keys, int)
    return g if g and g > 0 else None  # GPTQ group_size -1: one group per row (no grouping)


def _names(qc: Mapping[str, Any], keys: tuple[str, ...]) -> tuple[str, ...]:
    for k in keys:
        v = qc.get(k)
        if isinstance(v, list | tuple):
            return tuple(str(x) for x in v)
    return ()


def _int_list(v: Any) -> TypeGuard[list[int] | tuple[int, ...]]:
    return isinstance(v, list | tuple) and bool(v) and all(isinstance(x, int) for x in v)
