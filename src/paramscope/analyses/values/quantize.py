"""Quantizers for the round trips of ``quantize-error``: each takes float32 rows and returns the values a
runtime would compute back from the quantized form (fake quantization), same shape.

- ggml types: the block bytes llama-quantize writes without an importance matrix
  (``ggml_quantize_chunk(type, …, imatrix=NULL)``), decoded by ``paramscope.analyses.values.decode``: a
  true round trip. Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, TQ1_0, TQ2_0 and MXFP4 go through
  ``gguf.quants.quantize``; Q1_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS and NVFP4, which gguf-py
  cannot quantize, through ggml_quantize.py's ports of ggml-quants.c. Every one is byte-identical to
  ggml's C code (bench/ggml_reference.py on random and real weights; tests/test_ggml_reference.py on
  recorded ggml outputs).
  ``IRREPRODUCIBLE`` lists the ggml types that have no quantizer here, and why.
- Plain schemes (knowledge/quant_schemes.py labels): ``I8/row`` symmetric int8 with a float32 scale per
  output row (absmax / 127); ``I4/g128`` asymmetric 4-bit per 128 inputs with an fp16 scale and a 4-bit
  zero point (AWQ/GPTQ; ``I4/g32`` … other group sizes, ``/sym`` symmetric without a zero point);
  ``F8_E4M3/b128`` and ``F8_E4M3/t`` fp8 e4m3 (OCP "FN": max 448, round to
  nearest even, saturating) with a float32 scale absmax / 448 per 128 × 128 block or per matrix.
- Casts: F32 (nothing), F16 (numpy, round to nearest even), BF16 (round to nearest even on the bits).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np

from paramscope.analyses.values.ggml_quantize import (
    fp16_round,
    quantize_q2_k,
    quantize_q3_k,
    quantize_q4_k,
    quantize_q5_k,
    quantize_q6_k,
)
from paramscope.analyses.values.ggml_quantize_tables import (
    quantize_iq4_nl,
    quantize_iq4_xs,
    quantize_nvfp4,
    quantize_q1_0,
)
from paramscope.knowledge.quant_schemes import INT4_LABEL
from paramscope.model.dtypes import DType

Quantizer = Callable[[np.ndarray], np.ndarray]  # float32 (rows, cols) → float32 (rows, cols)
BlockQuantizer = Callable[[np.ndarray], np.ndarray]  # float32, whole blocks → uint8 (blocks, type size)
GGUF_QUANTIZABLE = (DType.Q4_0, DType.Q4_1, DType.Q5_0, DType.Q5_1, DType.Q8_0, DType.TQ1_0, DType.TQ2_0,
                    DType.MXFP4)
PORTED: dict[DType, BlockQuantizer] = {DType.Q2_K: quantize_q2_k, DType.Q3_K: quantize_q3_k,
                                       DType.Q4_K: quantize_q4_k,
                                       DType.Q5_K: quantize_q5_k, DType.Q6_K: quantize_q6_k,
                                       DType.IQ4_NL: quantize_iq4_nl, DType.IQ4_XS: quantize_iq4_xs,
                                       DType.Q1_0: quantize_q1_0, DType.NVFP4: quantize_nvfp4}
# ggml types quantize-error cannot reproduce, and why. llama-quant.cpp tensor_type_requires_imatrix:
# llama-quantize refuses these without an importance matrix (ggml.c's own ggml_quantize_requires_imatrix
# names only IQ2_XXS, IQ2_XS and IQ1_S), so no file of them is made without one.
IRREPRODUCIBLE: dict[DType, str] = {
    **dict.fromkeys((DType.IQ2_XXS, DType.IQ2_XS, DType.IQ3_XXS, DType.IQ1_S, DType.IQ2_S, DType.IQ1_M),
                    "llama-quantize refuses it without an importance matrix"),
    DType.IQ3_S: "ggml's quantizer, a search over codebook neighbours, is not ported here",
}
INT4_GROUP = 128
FP8_BLOCK = 128
E4M3_MAX = 448.0


def block_quantizer(dtype: DType) -> BlockQuantizer | None:
    """float32 values → the block bytes llama-quantize writes for ``dtype`` (no imatrix), or None."""
    if dtype in GGUF_QUANTIZABLE:
        return lambda x: _gguf_quantize(x, dtype)
    return PORTED.get(dtype)


def shipped_block_types() -> tuple[DType, ...]:
    return (*GGUF_QUANTIZABLE, *PORTED)


def quantizer(type_name: str) -> Quantizer | None:
    """The round trip for a re-priced tensor's type (a DType value or a plain scheme's label)."""
    own = _OWN.get(type_name)
    if own is not None:
        return own
    if four := INT4_LABEL.fullmatch(type_name):
        return partial(int4_groups, group=int(four[1]), symmetric=bool(four[2]))
    try:
        dtype = DType(type_name)
    except ValueError:
        return None
    blocks = block_quantizer(dtype)
    return None if blocks is None else (lambda x: round_trip_blocks(x, dtype, blocks))


def round_trip_blocks(x: np.ndarray, dtype: DType, quantize: BlockQuantizer) -> np.ndarray:
    from paramscope.analyses.values.decode import dequantize

    packed = np.ascontiguousarray(quantize(x), np.uint8).reshape(-1)
    return dequantize(packed, dtype, x.size).reshape(x.shape)


def _gguf_quantize(x: np.ndarray, dtype: DType) -> np.ndarray:
    from gguf import GGMLQuantizationType
    from gguf.quants import quantize

    # rows as they come: gguf-py quantizes row by row in a Python loop, so rows of one block would crawl
    rows = np.ascontiguousarray(x, np.float32).reshape(-1, x.shape[-1])
    with np.errstate(over="ignore"):  # a scale past half's range is inf in ggml's bytes too
        return quantize(rows, GGMLQuantizationType[dtype.value]).reshape(-1, dtype.type_size)


# --- plain schemes ------------------------------------------------------------------------------------
def int8_rows(x: np.ndarray) -> np.ndarray:
    """Symmetric int8, one float32 scale per output row: absmax / 127 (bitsandbytes SCB)."""
    scale = np.abs(x).max(axis=1, keepdims=True) / np.float32(127)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.clip(np.rint(x / scale), -127, 127)
    return np.where(scale > 0, q * scale, np.float32(0)).astype(np.float32)


def int4_groups(x: np.ndarray, group: int = INT4_GROUP, symmetric: bool = False) -> np.ndarray:
    """4-bit per group of ``group`` inputs with an fp16 scale. Asymmetric: scale (max − min) / 15, integer
    zero point round(−min / scale) in 0..15 (AutoAWQ's min-max quantizer). Symmetric: scale absmax / 7.5,
    values in −8..7 (compressed-tensors calculate_qparams: max(|min|, |max|) / ((2⁴ − 1) / 2))."""
    rows, cols = x.shape
    pad = -cols % group
    g = np.pad(x, ((0, 0), (0, pad)), mode="edge").reshape(rows, -1, group)
    if symmetric:
        scale = fp16_round(np.abs(g).max(axis=-1, keepdims=True) / np.float32(7.5))
        with np.errstate(divide="ignore", invalid="ignore"):
            y = np.where(scale > 0, np.clip(np.rint(g / scale), -8, 7) * scale, g)
        return y.reshape(rows, -1)[:, :cols].astype(np.float32)
    lo, hi = g.min(axis=-1, keepdims=True), g.max(axis=-1, keepdims=True)
    scale = fp16_round((hi - lo) / np.float32(15))
    with np.errstate(divide="ignore", invalid="ignore"):
        zero = np.clip(np.rint(-lo / scale), 0, 15)
        q = np.clip(np.rint(g / scale) + zero, 0, 15)
    y = np.where(scale > 0, (q - zero) * scale, g)
    return y.reshape(rows, -1)[:, :cols].astype(np.float32)



def fp8_e4m3(v: np.ndarray) -> np.ndarray:
    """Round float32 to the nearest e4m3 value (ties to even), saturating at ±448: by bit math — the
    quantum is 2^(exponent − 3) for normals and 2⁻⁹ below 2⁻⁶, both powers of two, so the division,
    rint and product are exact."""
    a = np.abs(v).astype(np.float32)
    _, exp = np.frexp(a)  # a = m × 2^exp, m in [0.5, 1)
    quantum = np.ldexp(np.float32(1), np.maximum(exp - 1, -6) - 3).astype(np.float32)
    r = np.minimum(np.rint(a / quantum) * quantum, np.float32(E4M3_MAX))
    return np.copysign(r, v).astype(np.float32)


def fp8_blocks(x: np.ndarray, block: int = FP8_BLOCK) -> np.ndarray:
    """fp8 e4m3 with a float32 scale absmax / 448 per block × block tile (DeepSeek-V3 weight_scale_inv)."""
    rows, cols = x.shape
    pr, pc = -rows % block, -cols % block
    t = np.pad(x, ((0, pr), (0, pc))).reshape((rows + pr) // block, block, (cols + pc) // block, block)
    scale = np.abs(t).max(axis=(1, 3), keepdims=True) / np.float32(E4M3_MAX)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.where(scale > 0, fp8_e4m3(t / scale) * scale, np.float32(0))
    return y.reshape(rows + pr, cols + pc)[:rows, :cols].astype(np.float32)


def fp8_tensor(x: np.ndarray) -> np.ndarray:
    scale = np.float32(np.abs(x).max() / E4M3_MAX)
    return (fp8_e4m3(x / scale) * scale).astype(np.float32) if scale > 0 else np.zeros_like(x)


def bf16_round(x: np.ndarray) -> np.ndarray:
    """float32 → bfloat16 → float32, round to nearest even (finite inputs)."""
    u = np.ascontiguousarray(x, np.float32).view(np.uint32).astype(np.uint64)
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16 << 16
    return rounded.astype(np.uint32).view(np.float32).reshape(x.shape)


_OWN: dict[str, Quantizer] = {
    "I8/row": int8_rows,
    "I4/g128": int4_groups,
    "F8_E4M3/b128": fp8_blocks,
    "F8_E4M3/t": fp8_tensor,
    "F32": lambda x: x,
    "F16": lambda x: x.astype(np.float16).astype(np.float32),
    "BF16": bf16_round,
}

