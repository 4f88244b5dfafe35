"""Compiled decoders for the ggml legacy and k-quant types (numba; imported only when decoding).

Each kernel decodes ``blocks`` (uint8, (n, type_size)) into ``out`` (float32, (n, block_size)) with
the blocks spread over the cores (``prange``), one block at a time so its bytes and output stay in L1.
They follow ggml-quants.c ``dequantize_row_*`` and reproduce gguf-py's float32 operation order (noted
per kernel) so results are bit-identical to ``gguf.quants.dequantize``; numba emits no fused
multiply-add without fastmath, so ``a * b - c`` rounds twice, as numpy does. Numbers stay float32:
numba would widen ``float32 - int`` to float64, so integers are converted before any arithmetic.

Speed: each inner loop writes one contiguous run of outputs that share a scale, and its trip count is
read from ``out.shape`` rather than written as a literal. With a literal, LLVM unrolls the loop fully
and then cannot vectorise it (it cannot prove ``out`` does not overlap ``blocks``); with a runtime
bound the loop vectoriser checks the overlap once per loop and emits SIMD code (Q8_0: 3.9 → 12 GB/s
per core in cache). Bit fields stay uint8 (see ``U8_*``) for the same reason (Q3_K: 0.9 → 2.4 G
values/s per core). ggml_kernels_iq.py holds the i-quants, ternary and fp4 types.
"""

from __future__ import annotations

from collections.abc import Callable

import numba
import numpy as np
from numba import njit, prange

from paramscope.analyses.kernel_options import JitOptions
from paramscope.analyses.parallel_kernel import parallel_kernel
from paramscope.model.dtypes import DType

F16_TO_F32 = np.arange(1 << 16, dtype=np.uint16).view(np.float16).astype(np.float32)
BlockDecoder = Callable[[np.ndarray, np.ndarray], None]
KERNEL_OPTIONS: JitOptions = {"parallel": True, "cache": True, "nogil": True}
# Below this many input bytes a call runs on the calling thread alone. Waking the other cores pays on
# a quiet machine from ~64 KB, but when another process holds a core the parallel region waits for it
# (a scheduler slice, milliseconds: 1 MB pieces of Q8_0 fell from 4 to 0.7 GB/s). A caller streaming a
# tensor in pieces can run pieces in its own threads instead; the kernels release the GIL.
PARALLEL_MIN_BYTES = 8 << 20
# uint8 constants: numba widens ``uint8 op int`` to int64, which vectorises 8 times narrower
U8_0F, U8_1, U8_3, U8_4 = np.uint8(0x0F), np.uint8(1), np.uint8(3), np.uint8(4)


@njit(inline="always")
def half(f16: np.ndarray, b: np.ndarray, o: int) -> np.float32:
    """The little-endian IEEE half at byte ``o`` of block ``b``, exactly, by table."""
    return f16[np.int64(b[o]) | (np.int64(b[o + 1]) << 8)]


@njit(inline="always")
def u32(b: np.ndarray, o: int) -> np.int64:
    return (np.int64(b[o]) | (np.int64(b[o + 1]) << 8) | (np.int64(b[o + 2]) << 16)
            | (np.int64(b[o + 3]) << 24))


@parallel_kernel(KERNEL_OPTIONS)
def q8_0(blocks, out, f16):  # pragma: no cover - compiled
    # block_q8_0 {half d; int8 qs[32]}; gguf: x * d
    run = out.shape[1]  # 32
    for i in prange(blocks.shape[0]):
        b = blocks[i]
        y = out[i]
        d = half(f16, b, 0)
        for j in range(run):
            y[j] = np.float32(np.int8(b[2 + j])) * d


@parallel_kernel(KERNEL_OPTIONS)
def q4_0(blocks, out, f16):  # pragma: no cover - compiled
    # block_q4_0 {half d; uint8 qs[16]}: y[j] = low nibble - 8, y[j+16] = high nibble - 8; gguf: d * q
    run = out.shape[1] >> 1  # 16
    for i in prange(blocks.shape[0]):
        b = blocks[i]
        y = out[i]
        d = half(f16, b, 0)
        for j in range(run):
            y[j] = d * np.float32(np.int32(b[2 + j] & U8_0F) - 8)
        for j in range(run):
            y[16 + j] = d * np.float32(np.int32(b[2 + j] >> U8_4) - 8)


@parallel_kernel(KERNEL_OPTIONS)
def q4_1(blocks, out, f16):  # pragma: no cover - compiled
    # block_q4_1 {half d; half m; uint8 qs[16]}; gguf: (d * q) + m
    run = out.shape[1] >> 1  # 16
    for i in prange(blocks.shape[0]):
        b = blocks[i]
        y = out[i]
        d = half(f16, b, 0)
        m = half(f16, b, 2)
        for j in range(run):
            y[j] = d * np.float32(b[4 + j] & U8_0F) + m
        for j in range(run):
            y[16 + j] = d * np.float32(b[4 + j] >> U8_4) + m


@njit(inline="always")
def fifth_bit(qh: np.uint32, j: int) -> np.uint8:
    """Bit j of a Q5_0/Q5_1 block's qh, moved to bit 4."""
    return np.uint8(((qh >> np.uint32(j)) & np.uint32(1)) << np.uint32(4))


@parallel_kernel(KERNEL_OPTIONS)
def q5_0(blocks, out, f16):  # pragma: no cover - compiled
    # block_q5_0 {half d; uint8 qh[4]; uint8 qs[16]}: bit j of qh is element j's fifth bit; gguf: d * q
    run = out.shape[1] >> 1  # 16
    for i in prange(blocks.shape[0]):
        b = blocks[i]
        y = out[i]
        d = half(f16, b, 0)
        qh = np.uint32(u32(b, 2))
        for j in range(run):
            q = (b[6 + j] & U8_0F) | fifth_bit(qh, j)
            y[j] = d * np.float32(np.int32(q) - 16)
        for j in range(run):
            q = (b[6 + j] >> U8_4) | fifth_bit(qh, 16 + j)
            y[16 + j] = d * np.float32(np.int32(q) - 16)


@parallel_kernel(KERNEL_OPTIONS)
def q5_1(blocks, out, f16):  # pragma: no cover - compiled
    # block_q5_1 {half d; half m; uint8 qh[4]; uint8 qs[16]}; gguf: (d * q) + m
    run = out.shape[1] >> 1  # 16
    for i in prange(blocks.shape[0]):
        b = blocks[i]
        y = out[i]
        d = half(f16, b, 0)
        m = half(f16, b, 2)
        qh = np.uint32(u32(b, 4))
        for j in range(run):
            y[j] = d * np.float32((b[8 + j] & U8_0F) | fifth_bit(qh, j)) + m
        for j in range(run):
            y[16 + j] = d * np.float32((b[8 + j] >> U8_4) | fifth_bit(qh, 16 + j)) + m


@parallel_kernel(KERNEL_OPTIONS)
def q8_k(blocks, out, scales):  # pragma: no cover - compiled
    # block_q8_K {float d; int8 qs[256]; int16 bsums[16]}; dequantize_row_q8_K: d * qs. The float32 d
    # of each block comes in ``scales`` (numba cannot reinterpret 4 bytes as a float32 in place).
    run = out.shape[1]  # 256
    for i in prange(blocks.shape[0]):
        b = blocks[i]
        y = out[i]
        d = scales[i]
        for j in range(run):
            y[j] = d * np.float32(np.int8(b[4 + j]))


@parallel_kernel(KERNEL_OPTIONS)
def q1_0(blocks, out, f16):  # pragma: no cover - compiled
    # block_q1_0 {half d; uint8 qs[16]}: bit j (LSB first) set → +d, clear → -d (dequantize_row_q1_0)
    run = out.shape[1] >> 4  # 8
    for i in prange(blocks.shape[0]):
        b = blocks[i]
        y = out[i]
        d = half(f16, b, 0)
        for byte in range(16):
            bits = b[2 + byte]
            for k in range(run):
                y[8 * byte + k] = d if (bits >> np.uint8(k)) & U8_1 else -d


@parallel_kernel(KERNEL_OPTIONS)
def q2_k(blocks, out, f16):  # pragma: no cover - compiled
    # block_q2_K {uint8 scales[16]; uint8 qs[64]; half d; half dmin}: element 128a + 32s + j is bits
    # 2s..2s+1 of qs[32a + j]; sub-block (16 elements) t scales by d·(scales[t] & 15), offsets by
    # dmin·(scales[t] >> 4); gguf: (d * sc) * q - (dmin * m)
    run = out.shape[1] >> 4  # 16
    for i in prange(blocks.shape[0]):
        b = blocks[i]
        y = out[i]
        d = half(f16, b, 80)
        dmin = half(f16, b, 82)
        for t in range(16):
            dl = d * np.float32(b[t] & 0x0F)
            ml = dmin * np.float32(b[t] >> 4)
            src = 16 + 32 * (t >> 3) + 16 * (t & 1)
            shift = np.uint8(2 * ((t >> 1) & 3))
            for k in range(run):
                y[16 * t + k] = dl * np.float32((b[src + k] >> shift) & U8_3) - ml


@parallel_kernel(KERNEL_OPTIONS)
def q3_k(blocks, out, f16):  # pragma: no cover - compiled
    # block_q3_K {uint8 hmask[32]; uint8 qs[64]; uint8 scales[12]; half d}: element 128a + 32s + j has
    # low bits 2s..2s+1 of qs[32a + j] and, when bit (4a + s) of hmask[j] is clear, minus 4; 16 signed
    # 6-bit scales (low nibbles in scales[0..7], high 2 bits in scales[8..11]), minus 32; gguf:
    # (d * sc) * q
    run = out.shape[1] >> 4  # 16
    for i in prange(blocks.shape[0]):
        b = blocks[i]
        y = out[i]
        d = half(f16, b, 108)
        for t in range(16):
            low = (b[96 + (t & 7)] >> (4 * (t >> 3))) & 0x0F
            high = (b[104 + (t & 3)] >> (2 * (t >> 2))) & 0x03
            dl = d * np.float32(np.int32(low | (high << 4)) - 32)
            a, s = t >> 3, (t >> 1) & 3
            j0 = 16 * (t & 1)
            src, low_shift, high_bit = 32 + 32 * a + j0, np.uint8(2 * s), np.uint8(4 * a + s)
            for k in range(run):
                low = (b[src + k] >> low_shift) & U8_3
                high = (b[j0 + k] >> high_bit) & U8_1
                y[16 * t + k] = dl * np.float32(np.int32(low) - 4 + (np.int32(high) << 2))


@njit(inline="always")
def k_scale_min(b: np.ndarray, o: int, j: int) -> tuple[np.int32, np.int32]:
    """get_scale_min_k4: the 6-bit scale and min of sub-block j from the 12 bytes at b[o:]."""
    if j < 4:
        return np.int32(b[o + j] & 63), np.int32(b[o + j + 4] & 63)
    sc = (b[o + j + 4] & 0x0F) | ((b[o + j - 4] >> 6) << 4)
    m = (b[o + j + 4] >> 4) | ((b[o + j] >> 6) << 4)
    return np.int32(sc), np.int32(m)


@parallel_kernel(KERNEL_OPTIONS)
def q4_k(blocks, out, f16):  # pragma: no cover - compiled
    # block_q4_K {half d; half dmin; uint8 scales[12]; uint8 qs[128]}: element 64g + 32h + j is nibble h
    # of qs[32g + j], in sub-block 2g + h; gguf: (d * sc) * q - (dmin * m)
    run = out.shape[1] >> 3  # 32
    for i in prange(blocks.shape[0]):
        b = blocks[i]
        y = out[i]
        d = half(f16, b, 0)
        dmin = half(f16, b, 2)
        for g in range(4):
            sc, m = k_scale_min(b, 4, 2 * g)
            d1 = d * np.float32(sc)
            m1 = dmin * np.float32(m)
            for j in range(run):
                y[64 * g + j] = d1 * np.float32(b[16 + 32 * g + j] & U8_0F) - m1
            sc, m = k_scale_min(b, 4, 2 * g + 1)
            d2 = d * np.float32(sc)
            m2 = dmin * np.float32(m)
            for j in range(run):
                y[64 * g + 32 + j] = d2 * np.float32(b[16 + 32 * g + j] >> U8_4) - m2


@parallel_kernel(KERNEL_OPTIONS)
def q5_k(blocks, out, f16):  # pragma: no cover - compiled
    # block_q5_K {half d; half dmin; uint8 scales[12]; uint8 qh[32]; uint8 qs[128]}: as Q4_K, plus bit
    # (2g + h) of qh[j] as the fifth bit; gguf: (d * sc) * q - (dmin * m)
    run = out.shape[1] >> 3  # 32
    for i in prange(blocks.shape[0]):
        b = blocks[i]
        y = out[i]
        d = half(f16, b, 0)
        dmin = half(f16, b, 2)
        for g in range(4):
            sc, m = k_scale_min(b, 4, 2 * g)
            d1 = d * np.float32(sc)
            m1 = dmin * np.float32(m)
            for j in range(run):
                q = (b[48 + 32 * g + j] & U8_0F) | (((b[16 + j] >> np.uint8(2 * g)) & U8_1) << U8_4)
                y[64 * g + j] = d1 * np.float32(q) - m1
            sc, m = k_scale_min(b, 4, 2 * g + 1)
            d2 = d * np.float32(sc)
            m2 = dmin * np.float32(m)
            for j in range(run):
                q = (b[48 + 32 * g + j] >> U8_4) | (((b[16 + j] >> np.uint8(2 * g + 1)) & U8_1) << U8_4)
                y[64 * g + 32 + j] = d2 * np.float32(q) - m2


@parallel_kernel(KERNEL_OPTIONS)
def q6_k(blocks, out, f16):  # pragma: no cover - compiled
    # block_q6_K {uint8 ql[128]; uint8 qh[64]; int8 scales[16]; half d}: element 128a + r takes nibble
    # r // 64 of ql[64a + r % 64] and bits 2(r // 32).. of qh[32a + r % 32], minus 32; gguf:
    # (d * sc) * q
    run = out.shape[1] >> 4  # 16
    for i in prange(blocks.shape[0]):
        b = blocks[i]
        y = out[i]
        d = half(f16, b, 208)
        for t in range(16):
            dl = d * np.float32(np.int8(b[192 + t]))
            a, r = t >> 3, (16 * t) & 127  # a run of 16 stays inside one nibble and one bit pair
            lo_src, lo_shift = 64 * a + (r & 63), np.uint8(4 * (r >> 6))
            hi_src, hi_shift = 128 + 32 * a + (r & 31), np.uint8(2 * (r >> 5))
            for k in range(run):
                lo = (b[lo_src + k] >> lo_shift) & U8_0F
                hi = (b[hi_src + k] >> hi_shift) & U8_3
                y[16 * t + k] = dl * np.float32(np.int32(lo | (hi << U8_4)) - 32)


def run(kernel: Callable[..., None], blocks: np.ndarray, out: np.ndarray, *tables: np.ndarray) -> None:
    """Call a kernel on all cores, or on this thread alone for an input under PARALLEL_MIN_BYTES."""
    if blocks.nbytes >= PARALLEL_MIN_BYTES:
        kernel(blocks, out, *tables)
        return
    threads = numba.get_num_threads()  # a per-thread setting in numba
    numba.set_num_threads(1)
    try:
        kernel(blocks, out, *tables)
    finally:
        numba.set_num_threads(threads)


def _with_fp16_table(kernel: Callable[..., None]) -> BlockDecoder:
    return lambda blocks, out: run(kernel, blocks, out, F16_TO_F32)


def _q8_k(blocks: np.ndarray, out: np.ndarray) -> None:
    run(q8_k, blocks, out, np.ascontiguousarray(blocks[:, :4]).view("<f4").reshape(-1))


KERNELS: dict[DType, BlockDecoder] = {
    **{dtype: _with_fp16_table(kernel) for dtype, kernel in {
        DType.Q4_0: q4_0, DType.Q4_1: q4_1, DType.Q5_0: q5_0, DType.Q5_1: q5_1, DType.Q8_0: q8_0,
        DType.Q1_0: q1_0, DType.Q2_K: q2_k, DType.Q3_K: q3_k, DType.Q4_K: q4_k, DType.Q5_K: q5_k,
        DType.Q6_K: q6_k,
    }.items()},
    DType.Q8_K: _q8_k,
}


def kernel_for(dtype: DType) -> BlockDecoder | None:
    """The compiled decoder of a legacy or k-quant ggml type, or None (ggml_kernels_iq has the rest)."""
    return KERNELS.get(dtype)
