"""Compiled decoders for the i-quants, the ternary TQ types and the fp4 types (numba).

Same contract and float32 operation order as ggml_kernels.py. The i-quant codebooks (``iq2xxs_grid``
… ``iq1s_grid`` of ggml-common.h) and the ``ksigns_iq2xs`` table come from gguf-py, which ships them
packed (gguf/quants.py ``grid_hex``); the 16-entry value tables are ggml-common.h's.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import numpy as np
from numba import njit, prange

from paramscope.analyses.parallel_kernel import parallel_kernel
from paramscope.analyses.values.decode.ggml_kernels import (
    F16_TO_F32,
    KERNEL_OPTIONS,
    U8_0F,
    U8_1,
    U8_3,
    U8_4,
    BlockDecoder,
    half,
    run,
    u32,
)
from paramscope.model.dtypes import DType

# ggml-common.h kvalues_iq4nl and kvalues_mxfp4 (the E2M1 values, doubled)
KVALUES_IQ4NL = np.array([-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113],
                         dtype=np.float32)
KVALUES_MXFP4 = np.array([0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12], dtype=np.float32)
DELTA_IQ1 = np.float32(0.125)  # IQ1S_DELTA / IQ1M_DELTA


def _e8m0_half_table() -> np.ndarray:
    # ggml-impl.h ggml_e8m0_to_fp32_half: 2**(e - 128) as float32 bits; e < 2 gives subnormals
    e = np.arange(256, dtype=np.uint32)
    return np.where(e < 2, np.uint32(0x00200000) << e, (e - 1) << np.uint32(23)).astype(np.uint32).view(
        np.float32)


def _ue4m3_half_table() -> np.ndarray:
    # ggml-impl.h ggml_ue4m3_to_fp32, times 0.5 (the kvalues_mxfp4 convention): unsigned E4M3 with bias
    # 7, bit 7 ignored, 0x00 and 0x7F read as 0
    x = np.arange(256)
    exp, man = (x >> 3) & 0xF, x & 0x7
    raw = np.where(exp == 0, man * 2.0 ** -9, (1 + man / 8) * 2.0 ** (exp - 7)) * 0.5
    return np.where((x == 0) | (x == 0x7F), 0.0, raw).astype(np.float32)


E8M0_HALF = _e8m0_half_table()
UE4M3_HALF = _ue4m3_half_table()


@cache
def grid(name: str) -> np.ndarray:
    """An i-quant codebook as float32 (entries, values per entry), unpacked by gguf-py."""
    from gguf import quants

    quant = getattr(quants, name)
    quant.init_grid()
    return np.ascontiguousarray(quant.grid.reshape(quant.grid_shape))


@cache
def ksigns() -> np.ndarray:
    """ksigns_iq2xs: 7 stored sign bits → 8 bits with even parity."""
    from gguf.quants import IQ2_XXS

    return np.frombuffer(IQ2_XXS.ksigns, dtype=np.uint8).copy()


@njit(inline="always")
def u16(b: np.ndarray, o: int) -> np.int64:
    return np.int64(b[o]) | (np.int64(b[o + 1]) << 8)


@njit(inline="always")
def signed(v: np.float32, signs: np.uint8, k: int) -> np.float32:
    """v, negated when bit k of the sign byte is set (gguf multiplies by ±1: the same bits)."""
    return -v if (signs >> np.uint8(k)) & U8_1 else v


# As in ggml_kernels.py, inner loop bounds come from array shapes (``grid.shape[1]``: 8 or 4 values per
# codebook row; ``out.shape[1] >> n``) so that LLVM vectorises them instead of unrolling them.


@parallel_kernel(KERNEL_OPTIONS)
def iq2_xxs(blocks, out, f16, grid, ksigns):  # pragma: no cover - compiled
    # block_iq2_xxs {half d; uint16 qs[32]} as 8 pairs of uint32 (aux0: four grid indices, aux1: four
    # 7-bit sign indices and a 4-bit scale); gguf: (d * (0.5 + s)) * 0.25, then (db * grid) * ±1
    width = grid.shape[1]  # 8
    for i in prange(blocks.shape[0]):
        b = blocks[i]
        y = out[i]
        d = half(f16, b, 0)
        for ib in range(8):
            aux1 = u32(b, 6 + 8 * ib)
            db = d * (np.float32(0.5) + np.float32(aux1 >> 28)) * np.float32(0.25)
            for j in range(4):
                row = grid[b[2 + 8 * ib + j]]
                signs = ksigns[(aux1 >> (7 * j)) & 127]
                for k in range(width):
                    y[32 * ib + 8 * j + k] = signed(db * row[k], signs, k)


@parallel_kernel(KERNEL_OPTIONS)
def iq2_xs(blocks, out, f16, grid, ksigns):  # pragma: no cover - compiled
    # block_iq2_xs {half d; uint16 qs[32]; uint8 scales[8]}: qs = 9-bit grid index | 7-bit sign index;
    # a 4-bit scale per 16 elements; gguf: (d * (0.5 + s)) * 0.25
    width = grid.shape[1]  # 8
    for i in prange(blocks.shape[0]):
        b = blocks[i]
        y = out[i]
        d = half(f16, b, 0)
        for t in range(16):
            sc = (b[66 + (t >> 1)] >> (4 * (t & 1))) & 0x0F
            db = d * (np.float32(0.5) + np.float32(sc)) * np.float32(0.25)
            for j in range(2):
                g = 2 * t + j
                q = u16(b, 2 + 2 * g)
                row = grid[q & 511]
                signs = ksigns[q >> 9]
                for k in range(width):
                    y[8 * g + k] = signed(db * row[k], signs, k)


@parallel_kernel(KERNEL_OPTIONS)
def iq2_s(blocks, out, f16, grid):  # pragma: no cover - compiled
    # block_iq2_s {half d; uint8 qs[32]; uint8 signs[32]; uint8 qh[8]; uint8 scales[8]}: 10-bit grid
    # index = qs[g] | 2 bits of qh, explicit sign bytes; gguf: (d * (0.5 + s)) * 0.25
    width = grid.shape[1]  # 8
    for i in prange(blocks.shape[0]):
        b = blocks[i]
        y = out[i]
        d = half(f16, b, 0)
        for t in range(16):
            sc = (b[74 + (t >> 1)] >> (4 * (t & 1))) & 0x0F
            db = d * (np.float32(0.5) + np.float32(sc)) * np.float32(0.25)
            for j in range(2):
                g = 2 * t + j
                row = grid[np.int64(b[2 + g]) | (np.int64((b[66 + (g >> 2)] >> (2 * (g & 3))) & 3) << 8)]
                signs = b[34 + g]
                for k in range(width):
                    y[8 * g + k] = signed(db * row[k], signs, k)


@parallel_kernel(KERNEL_OPTIONS)
def iq3_xxs(blocks, out, f16, grid, ksigns):  # pragma: no cover - compiled
    # block_iq3_xxs {half d; uint8 qs[96]}: 64 grid indices (4 values each), then 8 uint32 of four 7-bit
    # sign indices and a 4-bit scale; gguf: (d * (0.5 + s)) * 0.5
    width = grid.shape[1]  # 4
    for i in prange(blocks.shape[0]):
        b = blocks[i]
        y = out[i]
        d = half(f16, b, 0)
        for ib in range(8):
            aux = u32(b, 66 + 4 * ib)
            db = d * (np.float32(0.5) + np.float32(aux >> 28)) * np.float32(0.5)
            for j in range(4):
                signs = ksigns[(aux >> (7 * j)) & 127]
                for h in range(2):
                    row = grid[b[2 + 8 * ib + 2 * j + h]]
                    for k in range(width):
                        y[32 * ib + 8 * j + 4 * h + k] = signed(db * row[k], signs, 4 * h + k)


@parallel_kernel(KERNEL_OPTIONS)
def iq3_s(blocks, out, f16, grid):  # pragma: no cover - compiled
    # block_iq3_s {half d; uint8 qs[64]; uint8 qh[8]; uint8 signs[32]; uint8 scales[4]}: 9-bit grid index
    # = qs[g] | bit g of qh; gguf: d * (1 + 2 s), then (db * grid) * ±1
    width = grid.shape[1]  # 4
    for i in prange(blocks.shape[0]):
        b = blocks[i]
        y = out[i]
        d = half(f16, b, 0)
        for ib in range(8):
            sc = (b[106 + (ib >> 1)] >> (4 * (ib & 1))) & 0x0F
            db = d * np.float32(1 + 2 * sc)
            for g in range(8 * ib, 8 * ib + 8):
                row = grid[np.int64(b[2 + g]) | (np.int64((b[66 + (g >> 3)] >> (g & 7)) & 1) << 8)]
                signs = b[74 + (g >> 1)]
                for k in range(width):
                    y[4 * g + k] = signed(db * row[k], signs, 4 * (g & 1) + k)


@parallel_kernel(KERNEL_OPTIONS)
def iq1_s(blocks, out, f16, grid):  # pragma: no cover - compiled
    # block_iq1_s {half d; uint8 qs[32]; uint16 qh[8]}: 11-bit grid index = qs | 3 bits of qh; qh's top
    # bits: a 3-bit scale and the sign of the ±0.125 shift; gguf: (d * (2 s + 1)) * (grid + delta)
    width = grid.shape[1]  # 8
    for i in prange(blocks.shape[0]):
        b = blocks[i]
        y = out[i]
        d = half(f16, b, 0)
        for ib in range(8):
            qh = u16(b, 34 + 2 * ib)
            dl = d * np.float32(2 * ((qh >> 12) & 7) + 1)
            delta = -DELTA_IQ1 if qh & 0x8000 else DELTA_IQ1
            for j in range(4):
                row = grid[np.int64(b[2 + 4 * ib + j]) | (((qh >> (3 * j)) & 7) << 8)]
                for k in range(width):
                    y[32 * ib + 8 * j + k] = dl * (row[k] + delta)


@parallel_kernel(KERNEL_OPTIONS)
def iq1_m(blocks, out, f16, grid):  # pragma: no cover - compiled
    # block_iq1_m {uint8 qs[32]; uint8 qh[16]; uint8 scales[8]}: the half d is spread over the top
    # nibbles of the four uint16 scales; 3-bit scales per 16 elements; gguf: (d * (2 s + 1)) *
    # (grid + delta)
    width = grid.shape[1]  # 8
    for i in prange(blocks.shape[0]):
        b = blocks[i]
        y = out[i]
        s0, s1, s2, s3 = u16(b, 48), u16(b, 50), u16(b, 52), u16(b, 54)
        d = f16[(s0 >> 12) | ((s1 >> 8) & 0x00F0) | ((s2 >> 4) & 0x0F00) | (s3 & 0xF000)]
        for t in range(16):
            sc = (u16(b, 48 + 2 * (t >> 2)) >> (3 * (t & 3))) & 7
            dl = d * np.float32(2 * sc + 1)
            for j in range(2):
                g = 2 * t + j
                qh = (b[32 + (g >> 1)] >> (4 * (g & 1))) & 0x0F
                row = grid[np.int64(b[g]) | (np.int64(qh & 7) << 8)]
                delta = -DELTA_IQ1 if qh & 8 else DELTA_IQ1
                for k in range(width):
                    y[8 * g + k] = dl * (row[k] + delta)


@parallel_kernel(KERNEL_OPTIONS)
def iq4_nl(blocks, out, f16, kvalues):  # pragma: no cover - compiled
    # block_iq4_nl {half d; uint8 qs[16]}: nibbles (low: elements 0-15, high: 16-31) index a 16-value
    # non-linear table; gguf: d * kvalues[q]
    run = out.shape[1] >> 1  # 16
    for i in prange(blocks.shape[0]):
        b = blocks[i]
        y = out[i]
        d = half(f16, b, 0)
        for j in range(run):
            y[j] = d * kvalues[b[2 + j] & U8_0F]
        for j in range(run):
            y[16 + j] = d * kvalues[b[2 + j] >> U8_4]


@parallel_kernel(KERNEL_OPTIONS)
def iq4_xs(blocks, out, f16, kvalues):  # pragma: no cover - compiled
    # block_iq4_xs {half d; uint16 scales_h; uint8 scales_l[4]; uint8 qs[128]}: signed 6-bit scale per
    # 32 elements (low nibble in scales_l, 2 high bits in scales_h), minus 32; gguf: (d * s) * kvalues[q]
    run = out.shape[1] >> 4  # 16
    for i in prange(blocks.shape[0]):
        b = blocks[i]
        y = out[i]
        d = half(f16, b, 0)
        scales_h = u16(b, 2)
        for ib in range(8):
            ls = ((b[4 + (ib >> 1)] >> (4 * (ib & 1))) & 0x0F) | (((scales_h >> (2 * ib)) & 3) << 4)
            dl = d * np.float32(ls - 32)
            for j in range(run):
                y[32 * ib + j] = dl * kvalues[b[8 + 16 * ib + j] & U8_0F]
            for j in range(run):
                y[32 * ib + 16 + j] = dl * kvalues[b[8 + 16 * ib + j] >> U8_4]


@njit(inline="always")
def _ternary(byte: np.uint8, power: np.uint8) -> np.float32:
    # TQ1_0 stores 5 (or 4) base-3 digits per byte as a fixed-point fraction: multiplying by 3**p
    # (mod 256) brings digit p to the top, and (x * 3) >> 8 reads it
    return np.float32(np.int32((np.uint16(np.uint8(byte * power)) * np.uint16(3)) >> np.uint16(8)) - 1)


@parallel_kernel(KERNEL_OPTIONS)
def tq1_0(blocks, out, f16):  # pragma: no cover - compiled
    # block_tq1_0 {uint8 qs[48]; uint8 qh[4]; half d}: elements 32p + j (digit p of qs[j]), then
    # 160 + 16p + j (of qs[32 + j]), then 240 + 4p + j (of qh[j]); gguf: d * q
    run = out.shape[1] >> 3  # 32
    for i in prange(blocks.shape[0]):
        b = blocks[i]
        y = out[i]
        d = half(f16, b, 52)
        power = np.uint8(1)
        for p in range(5):
            for j in range(run):
                y[32 * p + j] = d * _ternary(b[j], power)
            for j in range(run >> 1):
                y[160 + 16 * p + j] = d * _ternary(b[32 + j], power)
            if p < 4:
                for j in range(run >> 3):
                    y[240 + 4 * p + j] = d * _ternary(b[48 + j], power)
            power = np.uint8(power * np.uint8(3))


@parallel_kernel(KERNEL_OPTIONS)
def tq2_0(blocks, out, f16):  # pragma: no cover - compiled
    # block_tq2_0 {uint8 qs[64]; half d}: element 128a + 32s + j is bits 2s.. of qs[32a + j], minus 1
    run = out.shape[1] >> 3  # 32
    for i in prange(blocks.shape[0]):
        b = blocks[i]
        y = out[i]
        d = half(f16, b, 64)
        for a in range(2):
            for s in range(4):
                shift = np.uint8(2 * s)
                for j in range(run):
                    q = (b[32 * a + j] >> shift) & U8_3
                    y[128 * a + 32 * s + j] = d * np.float32(np.int32(q) - 1)


@parallel_kernel(KERNEL_OPTIONS)
def mxfp4(blocks, out, scales, kvalues):  # pragma: no cover - compiled
    # block_mxfp4 {uint8 e; uint8 qs[16]}: E8M0 scale (halved, as kvalues are doubled), E2M1 nibbles
    # low: 0-15, high: 16-31; gguf: d * kvalues[q]
    run = out.shape[1] >> 1  # 16
    for i in prange(blocks.shape[0]):
        b = blocks[i]
        y = out[i]
        d = scales[b[0]]
        for j in range(run):
            y[j] = d * kvalues[b[1 + j] & U8_0F]
        for j in range(run):
            y[16 + j] = d * kvalues[b[1 + j] >> U8_4]


@parallel_kernel(KERNEL_OPTIONS)
def nvfp4(blocks, out, scales, kvalues):  # pragma: no cover - compiled
    # block_nvfp4 {uint8 d[4]; uint8 qs[32]}: four UE4M3 scales, one per 16 elements; sub-block s takes
    # the low nibbles of qs[8s .. 8s+7], then their high nibbles; gguf: d * kvalues[q]
    run = out.shape[1] >> 3  # 8
    for i in prange(blocks.shape[0]):
        b = blocks[i]
        y = out[i]
        for s in range(4):
            d = scales[b[s]]
            for t in range(run):
                y[16 * s + t] = d * kvalues[b[4 + 8 * s + t] & U8_0F]
            for t in range(run):
                y[16 * s + 8 + t] = d * kvalues[b[4 + 8 * s + t] >> U8_4]


_KERNELS: dict[DType, tuple[Callable[..., None], Callable[[], tuple[np.ndarray, ...]]]] = {
    # type: (kernel, its tables after the output)
    DType.IQ2_XXS: (iq2_xxs, lambda: (F16_TO_F32, grid("IQ2_XXS"), ksigns())),
    DType.IQ2_XS: (iq2_xs, lambda: (F16_TO_F32, grid("IQ2_XS"), ksigns())),
    DType.IQ2_S: (iq2_s, lambda: (F16_TO_F32, grid("IQ2_S"))),
    DType.IQ3_XXS: (iq3_xxs, lambda: (F16_TO_F32, grid("IQ3_XXS"), ksigns())),
    DType.IQ3_S: (iq3_s, lambda: (F16_TO_F32, grid("IQ3_S"))),
    DType.IQ1_S: (iq1_s, lambda: (F16_TO_F32, grid("IQ1_S"))),
    DType.IQ1_M: (iq1_m, lambda: (F16_TO_F32, grid("IQ1_M"))),
    DType.IQ4_NL: (iq4_nl, lambda: (F16_TO_F32, KVALUES_IQ4NL)),
    DType.IQ4_XS: (iq4_xs, lambda: (F16_TO_F32, KVALUES_IQ4NL)),
    DType.TQ1_0: (tq1_0, lambda: (F16_TO_F32,)),
    DType.TQ2_0: (tq2_0, lambda: (F16_TO_F32,)),
    DType.MXFP4: (mxfp4, lambda: (E8M0_HALF, KVALUES_MXFP4)),
    DType.NVFP4: (nvfp4, lambda: (UE4M3_HALF, KVALUES_MXFP4)),
}


def kernel_for(dtype: DType) -> BlockDecoder | None:
    """This module's decoder for a type, its tables bound, or None."""
    if dtype not in _KERNELS:
        return None
    kernel, tables = _KERNELS[dtype]
    bound = tables()
    return lambda blocks, out: run(kernel, blocks, out, *bound)
