"""Plain (one value per element, or sub-byte packed) types → float32.

Each decoder takes the tensor's bytes (uint8, 1-D, whole elements) and a float32 output of the
element count, and fills it without full-size temporaries where numpy allows:

- F64/F32/F16 and integers: numpy's own conversion (round-to-nearest for F64 and 64-bit ints).
- BF16: the 16 stored bits are the high half of a float32, so the decoder widens to uint32 and shifts
  left by 16 in the output buffer itself (ggml-impl.h ``ggml_compute_bf16_to_fp32``). Exact.
- 8-bit floats: a 256-entry table per format, built once from the format's fields (OCP 8-bit floating
  point spec v1.0 for E4M3/E5M2; the FNUZ variants as in LLVM's ``Float8E4M3FNUZ``/``Float8E5M2FNUZ``;
  E8M0 from the OCP microscaling spec v1.0). Every value is exact in float32.
- F6/F4: unpacked LSB-first (element 0 in the lowest bits of the first byte, as ggml and PyTorch's
  ``float4_e2m1fn_x2`` pack), then looked up in a 64- or 16-entry table.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import numpy as np

from paramscope.model.dtypes import DType

PlainDecoder = Callable[[np.ndarray, np.ndarray], None]


def minifloat_table(exp_bits: int, man_bits: int, bias: int, *, nan: tuple[int, ...] = ()) -> np.ndarray:
    """float32 value of every code of a small float format: sign | exponent | mantissa.

    Exponent 0 is subnormal (mantissa / 2**man_bits × 2**(1 - bias)); the codes in ``nan`` are NaN
    (keeping their sign bit, as ml_dtypes does), every other code is finite. Example: E4M3 code
    0x7E = 0 1111 110 → 1.75 × 2**(15 - 7) = 448, its largest finite value.
    """
    codes = np.arange(1 << (1 + exp_bits + man_bits), dtype=np.int64)
    man = codes & ((1 << man_bits) - 1)
    exp = (codes >> man_bits) & ((1 << exp_bits) - 1)
    sign = np.where(codes >> (exp_bits + man_bits), -1.0, 1.0)
    frac = man / float(1 << man_bits)
    magnitude = np.where(exp == 0, frac * 2.0 ** (1 - bias), (1.0 + frac) * 2.0 ** (exp - bias))
    values = sign * magnitude
    values[list(nan)] = np.copysign(np.nan, sign[list(nan)])
    return values.astype(np.float32)


@cache
def table(dtype: DType) -> np.ndarray:
    """The lookup table for a table-decoded type (built on first use, ~256 floats)."""
    return _TABLE_BUILDERS[dtype]()


def _e8m0_table() -> np.ndarray:
    # OCP MX v1.0 §5.4.1: an unsigned power of two, 2**(code - 127); 0xFF is NaN. 2**-127 is a float32
    # subnormal, still exact.
    values = np.ldexp(np.float64(1.0), np.arange(256) - 127)
    values[0xFF] = np.nan
    return values.astype(np.float32)


def _e5m2_table() -> np.ndarray:
    # E5M2 is the high byte of an IEEE half (same exponent bias 15, inf and NaN), so the table is exact.
    return (np.arange(256, dtype=np.uint16) << 8).view(np.float16).astype(np.float32)


_TABLE_BUILDERS: dict[DType, Callable[[], np.ndarray]] = {
    # E4M3 "FN": no infinities, only S.1111.111 is NaN; largest finite 448
    DType.F8_E4M3: lambda: minifloat_table(4, 3, 7, nan=(0x7F, 0xFF)),
    DType.F8_E5M2: _e5m2_table,
    # FNUZ: bias one higher, no infinities, no negative zero: the code 0x80 (-0) is the only NaN
    DType.F8_E4M3FNUZ: lambda: minifloat_table(4, 3, 8, nan=(0x80,)),
    DType.F8_E5M2FNUZ: lambda: minifloat_table(5, 2, 16, nan=(0x80,)),
    DType.F8_E8M0: _e8m0_table,
    # OCP MX v1.0 §5.3: FP6 and FP4 have neither infinities nor NaN
    DType.F6_E2M3: lambda: minifloat_table(2, 3, 1),
    DType.F6_E3M2: lambda: minifloat_table(3, 2, 3),
    DType.F4: lambda: minifloat_table(2, 1, 1),
}


def _convert(numpy_dtype: str) -> PlainDecoder:
    def decode(raw: np.ndarray, out: np.ndarray) -> None:
        out[...] = raw.view(numpy_dtype)
    return decode


def _bf16(raw: np.ndarray, out: np.ndarray) -> None:
    wide = out.view(np.uint32)
    wide[...] = raw.view("<u2")
    wide <<= 16


def _bool(raw: np.ndarray, out: np.ndarray) -> None:
    np.not_equal(raw, 0, out=out, casting="unsafe")


def _lookup(dtype: DType) -> PlainDecoder:
    def decode(raw: np.ndarray, out: np.ndarray) -> None:
        np.take(table(dtype), raw, out=out, mode="clip")  # clip: codes are always in range
    return decode


def _f4(raw: np.ndarray, out: np.ndarray) -> None:
    # two E2M1 codes per byte, element 0 in the low nibble
    pairs = out.reshape(-1, 2)
    values = table(DType.F4)
    np.take(values, raw & 0x0F, out=pairs[:, 0], mode="clip")
    np.take(values, raw >> 4, out=pairs[:, 1], mode="clip")


def _f6(dtype: DType) -> PlainDecoder:
    def decode(raw: np.ndarray, out: np.ndarray) -> None:
        # four 6-bit codes in three bytes, LSB-first: the 24-bit little-endian word w holds element k in
        # bits 6k .. 6k+5
        triples = raw.reshape(-1, 3).astype(np.uint32)
        word = triples[:, 0] | (triples[:, 1] << 8) | (triples[:, 2] << 16)
        quads = out.reshape(-1, 4)
        values = table(dtype)
        for k in range(4):
            np.take(values, (word >> (6 * k)) & 0x3F, out=quads[:, k], mode="clip")
    return decode


DECODERS: dict[DType, PlainDecoder] = {
    DType.F64: _convert("<f8"),
    DType.F32: _convert("<f4"),
    DType.F16: _convert("<f2"),
    DType.BF16: _bf16,
    DType.F8_E4M3: _lookup(DType.F8_E4M3),
    DType.F8_E5M2: _lookup(DType.F8_E5M2),
    DType.F8_E4M3FNUZ: _lookup(DType.F8_E4M3FNUZ),
    DType.F8_E5M2FNUZ: _lookup(DType.F8_E5M2FNUZ),
    DType.F8_E8M0: _lookup(DType.F8_E8M0),
    DType.F6_E2M3: _f6(DType.F6_E2M3),
    DType.F6_E3M2: _f6(DType.F6_E3M2),
    DType.F4: _f4,
    DType.I64: _convert("<i8"),
    DType.I32: _convert("<i4"),
    DType.I16: _convert("<i2"),
    DType.I8: _convert("i1"),
    DType.U64: _convert("<u8"),
    DType.U32: _convert("<u4"),
    DType.U16: _convert("<u2"),
    DType.U8: _convert("u1"),
    DType.BOOL: _bool,
}
