"""Stored tensors → logical parameters: one table of the conventions checkpoints use.

A checkpoint stores more than parameters, and quantized ones store parameters in containers:
- buffers that ``torch.nn.Module.register_buffer`` saves (``position_ids``, GPT-2's causal mask) are in
  the file but not in ``model.parameters()``, so they count 0;
- quantization side data (GPTQ ``qzeros``/``scales``/``g_idx``, bitsandbytes ``absmax``, FP8 block
  scales) counts 0;
- packed weights count the weights they hold: a GPTQ 4-bit ``qweight`` int32 holds 32 // 4 = 8 weights,
  so a 64 × 128 Linear stored as an I32 (8, 128) tensor counts 8 × 128 × 8 = 8192 parameters.

Each row of ``CONVENTIONS`` is one convention; a new quantization format is a few rows. The method a
row belongs to comes from config.json's ``quantization_config.quant_method`` or, for a file without
its config, from a tensor name only that method writes (``SIGNATURES``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from paramscope.errors import UnsupportedError
from paramscope.model import Tensor
from paramscope.model.dtypes import DType
from paramscope.records import record, replace

FROM_CONFIG = 0  # ``bits`` value: the weight width quantization_config states (GPTQ/AWQ ``bits``)
ANY = frozenset[str]()  # ``methods`` value: every checkpoint, quantized or not
# AutoRound packs its integers as GPTQ's or AWQ's buffers (knowledge/quant_layouts.py AUTOROUND_METHODS)
GPTQ_AWQ = frozenset({"gptq", "awq", "auto-round", "intel/auto-round"})
BNB4 = frozenset({"bitsandbytes_4bit"})
BNB8 = frozenset({"bitsandbytes_8bit"})
SCALED = frozenset({"fp8", "fbgemm_fp8", "compressed-tensors", "modelopt", "quark", "bitnet"})
INTEGER_CONTAINERS = frozenset({DType.I32, DType.U32, DType.I64, DType.U64, DType.I16, DType.U16,
                                DType.I8, DType.U8})


@record
class Convention:
    """A stored-tensor naming convention: which names are packed, buffers or side data."""

    methods: frozenset[str]  # quantization methods the row belongs to; empty: every checkpoint
    # Name endings, matched against "." + name: ".position_ids" matches "embeddings.position_ids" and
    # "position_ids" but not "my_position_ids"; "_blocks" matches "gate_up_proj_blocks".
    suffixes: tuple[str, ...]
    parameter: bool  # False: stored, but not a parameter (buffer or quantization side data)
    bits: int | None = None  # packed: weights of this many bits fill each element; FROM_CONFIG
    dtypes: frozenset[DType] = frozenset()  # only when stored in one of these types; empty: any
    ndim: int | None = None  # only with this many dimensions
    source: str = ""  # where the convention is defined


CONVENTIONS: tuple[Convention, ...] = (
    # --- buffers every checkpoint may carry (torch register_buffer, persistent=True) ---
    Convention(ANY, (".position_ids",), False,
               source="BERT/MiniLM/CLIP embeddings: int64 arange(max_position_embeddings), (1, 512)"),
    Convention(ANY, (".token_type_ids",), False, source="BERT-family embeddings buffer"),
    Convention(ANY, (".attn.bias",), False, ndim=4,
               source="GPT-2/GPT-J causal mask h.N.attn.bias (1, 1, 1024, 1024); attn.c_attn.bias is "
                      "a real bias and does not match"),
    Convention(ANY, (".attn.masked_bias",), False, source="GPT-2/GPT-J masked_bias scalar -1e4"),
    Convention(ANY, (".attn.attention.bias", ".attn.attention.masked_bias"), False,
               source="GPT-Neo causal mask buffers"),
    Convention(ANY, (".inv_freq",), False, source="rotary_emb.inv_freq (Llama, GPT-NeoX, …)"),
    Convention(ANY, (".cos_cached", ".sin_cached"), False,
               source="older rotary caches (Falcon, GPT-NeoX)"),
    Convention(ANY, (".num_batches_tracked", ".running_mean", ".running_var"), False,
               source="torch.nn.BatchNorm buffers"),
    # --- GPTQ (AutoGPTQ / GPTQModel) and AWQ (AutoAWQ): int32 containers of `bits`-bit weights ---
    # GPTQ qweight (in × bits / 32, out); AWQ qweight (in, out × bits / 32): either way 32 // bits each.
    Convention(GPTQ_AWQ, (".qweight",), True, bits=FROM_CONFIG, dtypes=INTEGER_CONTAINERS,
               source="auto_gptq nn_modules/qlinear pack(); awq/modules/linear/gemm.py"),
    Convention(GPTQ_AWQ, (".qzeros", ".scales", ".g_idx"), False,
               source="per-group zeros and scales, activation order"),
    # --- bitsandbytes (transformers integrations/bitsandbytes.py, bnb Params4bit) ---
    Convention(BNB4, (".weight",), True, bits=4, dtypes=frozenset({DType.U8}),
               source="Params4bit: nf4/fp4 weights two per byte, stored (out × in / 2, 1)"),
    Convention(BNB4, (".absmax", ".quant_map", ".nested_absmax", ".nested_quant_map"), False,
               source="bnb QuantState.as_dict(packed=True)"),
    Convention(BNB4, (".quant_state.bitsandbytes__nf4", ".quant_state.bitsandbytes__fp4"), False,
               source="bnb QuantState packed as a byte tensor"),
    Convention(BNB8, (".SCB", ".weight_format"), False, source="Int8Params row scales, layout tag"),
    # --- MXFP4 (gpt-oss, transformers integrations/mxfp4.py): E2M1 weights two per byte ---
    Convention(frozenset({"mxfp4"}), ("_blocks",), True, bits=4, dtypes=frozenset({DType.U8}),
               source="gpt-oss experts.*_proj_blocks (experts, out, in / 32, 16)"),
    Convention(frozenset({"mxfp4"}), ("_scales",), False, source="E8M0 block scales stored as U8"),
    # --- FP8 and other scaled formats: the scales are side data ---
    Convention(SCALED, (".weight_scale_inv",), False, source="DeepSeek-V3 fp8 128 × 128 block scales"),
    Convention(SCALED, (".weight_scale", ".weight_scale_2", ".input_scale", ".input_scale_ub",
                        ".weight_zero_point", ".weight_global_scale", ".input_global_scale",
                        ".weight_shape"), False,
               source="compressed-tensors, fbgemm_fp8, modelopt per-tensor/per-channel scales"),
    Convention(frozenset({"compressed-tensors"}), (".weight_packed",), True, bits=FROM_CONFIG,
               dtypes=INTEGER_CONTAINERS,
               source="compressed-tensors pack-quantized (int32) and nvfp4-pack-quantized (uint8)"),
    Convention(frozenset({"compressed-tensors"}), (".weight_g_idx",), False,
               source="compressed-tensors pack-quantized activation order (actorder: group)"),
    Convention(frozenset({"modelopt"}), (".weight",), True, bits=4, dtypes=frozenset({DType.U8}),
               source="ModelOpt NVFP4 weights two per byte (FP8 weights are stored as F8_E4M3)"),
    Convention(frozenset({"quark"}), (".weight",), True, bits=FROM_CONFIG,
               dtypes=frozenset({DType.U8, DType.I32}),
               source="AMD Quark: MXFP4 / NVFP4 two a byte, MXFP6 four in three bytes (U8), INT4 eight an "
                      "int32; the global weight spec's bits (layer_quant_config may re-set a layer's)"),
    Convention(frozenset({"quark"}), (".output_scale", ".input_zero_point", ".input_scale_2"), False,
               source="Quark KV-cache output scales, static INT input zero points, NVFP4's input scale"),
    Convention(frozenset({"bitnet"}), (".weight",), True, bits=2, dtypes=frozenset({DType.U8}),
               source="BitNet b1.58 BitLinear: four ternary weights a byte, (out / 4, in)"),
    # --- MLX (mlx_lm quantize_model): uint32 containers of `bits`-bit weights, per-group scales and biases
    Convention(frozenset({"mlx"}), (".weight",), True, bits=FROM_CONFIG, dtypes=frozenset({DType.U32}),
               source="mlx core quantize: (out, in × bits / 32) uint32; a module may override bits"),
    Convention(frozenset({"mlx"}), (".scales", ".biases"), False,
               source="mlx affine scales and biases per group, model dtype (mxfp4 mode: uint8 scales)"),
)

# A file read without its config.json: names only one method writes tell the method.
SIGNATURES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("bitsandbytes_4bit", (".quant_state.bitsandbytes__nf4", ".quant_state.bitsandbytes__fp4")),
    ("bitsandbytes_8bit", (".SCB",)),
    ("mxfp4", ("_blocks",)),
    ("gptq", (".qzeros",)),
    ("compressed-tensors", (".weight_packed",)),
    ("fp8", (".weight_scale_inv",)),
)


def quant_method(quantization_config: Mapping[str, Any] | None) -> str | None:
    """The method name rows are keyed by; bitsandbytes splits into its 4-bit and 8-bit layouts."""
    if not isinstance(quantization_config, Mapping):
        return None
    method = str(quantization_config.get("quant_method") or "").lower()
    if method == "bitsandbytes" or (not method and ("load_in_4bit" in quantization_config
                                                    or "load_in_8bit" in quantization_config)):
        return "bitsandbytes_4bit" if quantization_config.get("load_in_4bit") else "bitsandbytes_8bit"
    qc = quantization_config
    if not method and "group_size" in qc and isinstance(qc.get("bits"), int):
        return "mlx"  # mlx_lm writes a bare {"group_size", "bits"[, "mode"], per-module overrides}
    return method or None


def weight_bits(quantization_config: Mapping[str, Any] | None) -> int | None:
    """Bits per packed weight: GPTQ/AWQ ``bits`` (AutoAWQ ``w_bit``), compressed-tensors ``num_bits``
    (a Quark module's come from its own spec: ``_module_bits``)."""
    if not isinstance(quantization_config, Mapping):
        return None
    for key in ("bits", "w_bit"):
        if isinstance(quantization_config.get(key), int):
            return quantization_config[key]
    groups = quantization_config.get("config_groups")
    if isinstance(groups, Mapping):
        found = {g.get("weights", {}).get("num_bits") for g in groups.values() if isinstance(g, Mapping)
                 and isinstance(g.get("weights"), Mapping)}
        if len(found) == 1 and isinstance(bits := found.pop(), int):
            return bits
    return None


def detect_method(names: Sequence[str]) -> str | None:
    """The quantization method a file's tensor names reveal, for files read without config.json."""
    joined = "." + "\n.".join(names) + "\n"  # one substring scan per suffix, not one per name
    for method, suffixes in SIGNATURES:
        if any(suffix + "\n" in joined for suffix in suffixes):
            return method
    return None


def apply_packing(tensors: Sequence[Tensor], quantization_config: Mapping[str, Any] | None,
                  source: str = "") -> tuple[Tensor, ...]:
    """Tensors with ``is_parameter`` and ``weight_bits`` set by the first matching row.

    ``quantization_config`` is config.json's; without it the method is detected from the names.
    Tensors no row matches come back unchanged (the same objects).
    """
    method = quant_method(quantization_config) or detect_method([t.name for t in tensors])
    rows = _rows_for(method)
    endings = tuple(s for c in rows for s in c.suffixes)
    bits = weight_bits(quantization_config)
    out = []
    for t in tensors:
        if ("." + t.name).endswith(endings):
            t = _apply_first(rows, t, _module_bits(quantization_config, t.name, bits), method, source)
        out.append(t)
    return tuple(out)


def _module_bits(quantization_config: Mapping[str, Any] | None, name: str, bits: int | None) -> int | None:
    """MLX lets a module override the width: {"model.layers.0.mlp.down_proj": {"bits": 8, …}}; a Quark
    module takes its own spec's type (layer_quant_config may re-set it)."""
    if quantization_config and quant_method(quantization_config) == "quark" and name.endswith(".weight"):
        # imported here: reading any other file need not load the name matchers
        from paramscope.knowledge.quant_selectors import quark_bits, quark_spec

        return quark_bits(quark_spec(quantization_config, name.removesuffix(".weight")))
    override = quantization_config.get(name.removesuffix(".weight")) if quantization_config else None
    if isinstance(override, Mapping) and isinstance(override.get("bits"), int):
        return override["bits"]
    return bits


@lru_cache(maxsize=32)
def _rows_for(method: str | None) -> tuple[Convention, ...]:
    return tuple(c for c in CONVENTIONS if not c.methods or method in c.methods)


def _apply_first(rows: tuple[Convention, ...], t: Tensor, bits: int | None, method: str | None,
                 source: str) -> Tensor:
    dotted = "." + t.name
    for c in rows:
        if (dotted.endswith(c.suffixes) and (not c.dtypes or t.dtype in c.dtypes)
                and (c.ndim is None or len(t.shape) == c.ndim)):
            if not c.parameter:
                return replace(t, is_parameter=False)
            return replace(t, weight_bits=_weight_bits(t, c.bits or bits, method, source))
    return t


def _weight_bits(t: Tensor, bits: int | None, method: str | None, source: str) -> int:
    """The width of the weights a container holds, checked to make whole weights: an I32 of 4-bit weights
    holds 8; MLX and GPTQ pack 3-, 5- and 6-bit weights straight across their 32-bit words (mlx ops.cpp
    quantize, GPTQ's pack of 3 bits into 3 words per 32 weights), so (…, n) words hold n × 32 / bits
    weights when that is whole."""
    where = f"{source}: " if source else ""
    if bits is None:
        raise UnsupportedError(f"{where}{t.name} packs {method} weights whose bit width only "
                               "quantization_config states (found no `bits`; read the model directory "
                               "with its config.json)")
    container = t.dtype.type_size * 8 // t.dtype.block_size
    if not 0 < bits <= container or (t.n_elements * container) % bits:
        raise UnsupportedError(f"{where}{t.name}: {t.n_elements:,} {container}-bit {t.dtype.value} elements "
                               f"do not hold a whole number of {bits}-bit weights (found bits={bits}, "
                               f"expected 1 to {container} dividing {t.n_elements * container:,} bits)")
    return bits
