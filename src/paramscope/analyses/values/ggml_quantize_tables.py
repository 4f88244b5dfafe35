"""llama.cpp's table-based quantizers that gguf-py lacks: IQ4_NL, IQ4_XS, Q1_0 and NVFP4 (ggml-quants.c).

The same contract and float32 discipline as ggml_quantize.py (the k-quants): bytes equal to what
``ggml_quantize_chunk(type, …, imatrix=NULL)`` writes. For IQ4_NL that is ``quantize_iq4_nl``, whose
scale search tries 15 grids (``ntry`` 7), not ``quantize_row_iq4_nl_ref`` (one grid). The IQ4 scale
search runs compiled with numba when installed (ggml_quantize_kernels.iq4_rows).
"""

from __future__ import annotations

import numpy as np

from paramscope.analyses.values.ggml_quantize import (
    F32,
    GROUP_MAX_EPS,
    fp16_round,
    nearest_int,
    seq_sum,
    use_numba,
)
from paramscope.model.dtypes import QK_K

# --- IQ4_NL and IQ4_XS: 4-bit codes into a non-linear table -------------------------------------------
KVALUES_IQ4NL = np.array([-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113], np.int8)
IQ4_NTRY = 7  # quantize_iq4_nl / quantize_iq4_xs (llama-quantize's path); quantize_row_iq4_nl_ref uses -1


def best_index_int8(x: np.ndarray, values: np.ndarray = KVALUES_IQ4NL) -> np.ndarray:
    """best_index_int8: the index of the table value nearest to x (float32), ties to the upper one."""
    v = values.astype(F32)
    mu = np.clip(np.searchsorted(v, x, side="right"), 1, len(v) - 1)  # v[mu − 1] ≤ x < v[mu]
    lower = (x - v[mu - 1]) < (v[mu] - x)
    return np.where(x <= v[0], 0, np.where(x >= v[-1], len(v) - 1, np.where(lower, mu - 1, mu)))


def iq4_scales(sub: np.ndarray, ntry: int = IQ4_NTRY, backend: str | None = None) -> np.ndarray:
    """The per-32 scale search of quantize_row_iq4_nl_impl without an importance matrix (weights x²)."""
    v = KVALUES_IQ4NL.astype(F32)
    if use_numba(backend):
        from paramscope.analyses.values.ggml_quantize_kernels import iq4_rows

        scales = np.empty(sub.shape[:-1], F32)
        iq4_rows(np.ascontiguousarray(sub.reshape(-1, sub.shape[-1]), F32), v, ntry, GROUP_MAX_EPS,
                 scales.reshape(-1))
        return scales
    w = sub * sub
    pick = np.abs(sub).argmax(axis=-1)[..., None]
    top = np.take_along_axis(sub, pick, axis=-1)
    empty = (np.abs(top) < GROUP_MAX_EPS)[..., 0]
    top = np.where(empty[..., None], F32(1), top)

    def fit(inv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        q = v[best_index_int8(inv * sub)]
        wq = w * q
        return seq_sum(wq * sub), seq_sum(wq * q)

    d = (-top / v[0]) if ntry > 0 else (top / v[0])
    sumqx, sumq2 = fit(F32(1) / d)
    d = np.where(sumq2 > 0, sumqx / sumq2, F32(0)).astype(F32)
    best = d * sumqx
    for itry in range(-ntry, ntry + 1):
        sumqx, sumq2 = fit(F32(itry + int(KVALUES_IQ4NL[0])) / top)
        better = (sumq2 > 0) & (sumqx * sumqx > best * sumq2)
        d = np.where(better, sumqx / sumq2, d).astype(F32)
        best = np.where(better, d * sumqx, best)
    return np.where(empty, F32(0), d).astype(F32)


def _pack_nibbles(L: np.ndarray) -> np.ndarray:
    """q4[16i + j] = L[32i + j] | L[32i + 16 + j] << 4."""
    halves = L.reshape(L.shape[0], -1, 2, 16).astype(np.uint8)
    return (halves[:, :, 0] | (halves[:, :, 1] << 4)).reshape(L.shape[0], -1)


def quantize_iq4_nl(x: np.ndarray, backend: str | None = None) -> np.ndarray:
    """quantize_iq4_nl (no imatrix): float32 values (a multiple of 32) → (n, 18) block_iq4_nl bytes."""
    sub = np.ascontiguousarray(x, F32).reshape(-1, 1, 32)
    with np.errstate(all="ignore"):
        scale = iq4_scales(sub, backend=backend)[:, 0]
        inv = np.where(scale != 0, F32(1) / scale, F32(0))
        L = best_index_int8(inv[:, None] * sub[:, 0])
    out = np.zeros((len(sub), 18), np.uint8)
    out[:, 0:2] = fp16_round(scale).astype(np.float16).reshape(-1, 1).view(np.uint8)
    out[:, 2:] = _pack_nibbles(L)
    return out


def quantize_iq4_xs(x: np.ndarray, backend: str | None = None) -> np.ndarray:
    """quantize_iq4_xs (no imatrix): float32 values (a multiple of 256) → (n, 136) block_iq4_xs bytes."""
    sub = np.ascontiguousarray(x, F32).reshape(-1, QK_K // 32, 32)
    n = len(sub)
    with np.errstate(all="ignore"):
        scales = iq4_scales(sub, backend=backend)
        pick = np.abs(scales).argmax(axis=1)[:, None]  # the first largest |scale|
        max_scale = np.take_along_axis(scales, pick, axis=1)[:, 0]
        d = -max_scale / F32(32)
        inv = np.where(d != 0, F32(1) / d, F32(0))
        ls = np.clip(nearest_int(inv[:, None] * scales), -32, 31)
        dl = d[:, None] * ls.astype(F32)  # the unrounded d, as C
        idl = np.where(dl != 0, F32(1) / dl, F32(0))
        L = best_index_int8(idl[..., None] * sub)
    ls = (ls + 32).astype(np.uint8)
    out = np.zeros((n, 136), np.uint8)
    out[:, 0:2] = d.astype(np.float16).reshape(n, 1).view(np.uint8)
    high = sum(((ls[:, ib] >> 4).astype(np.uint16) << (2 * ib)) for ib in range(8))
    out[:, 2:4] = np.asarray(high, np.uint16).reshape(n, 1).view(np.uint8)
    out[:, 4:8] = (ls[:, 0::2] & 0xF) | ((ls[:, 1::2] & 0xF) << 4)
    out[:, 8:] = _pack_nibbles(L)
    return out


# --- Q1_0 and NVFP4 -------------------------------------------------------------------------------------
KVALUES_MXFP4 = np.array([0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12], np.int8)


def quantize_q1_0(x: np.ndarray, backend: str | None = None) -> np.ndarray:
    """quantize_row_q1_0_ref: float32 values (a multiple of 128) → (n, 18) block_q1_0 bytes: the mean
    |x| as d, a sign bit per value (set for x ≥ 0)."""
    blocks = np.ascontiguousarray(x, F32).reshape(-1, 128)
    d = seq_sum(np.abs(blocks)) / F32(128)
    out = np.zeros((len(blocks), 18), np.uint8)
    out[:, 0:2] = d.astype(np.float16).reshape(-1, 1).view(np.uint8)
    out[:, 2:] = np.packbits(blocks >= 0, axis=1, bitorder="little")
    return out


def fp32_to_ue4m3(v: np.ndarray) -> np.ndarray:
    """ggml-impl.h ggml_fp32_to_ue4m3: unsigned E4M3 (bias 7), mantissa rounded half up on the bits,
    subnormals round(x · 2⁹), saturating at 0x7E (448); not-positive → 0."""
    x = np.minimum(np.asarray(v, F32), F32(448))
    bits = x.view(np.uint32).astype(np.int64)
    exp = ((bits >> 23) & 0xFF) - 127 + 7
    subnormal = exp <= 0  # decided before the mantissa rounds
    man = ((bits >> 20) & 0x7) + ((bits >> 19) & 1)
    carry = man > 7
    exp, man = np.where(carry, exp + 1, exp), np.where(carry, 0, man)
    normal = np.where(exp >= 15, 0x7E, (exp << 3) | man)
    sub = np.clip((x * F32(512) + F32(0.5)).astype(np.int64), 0, 7)  # (int) truncates; man < 1 → 0
    sub = np.where(x * F32(512) + F32(0.5) < 1, 0, sub)
    code = np.where(subnormal, sub, normal)
    return np.where(x > 0, code, 0).astype(np.uint8)


def ue4m3_to_fp32(code: np.ndarray) -> np.ndarray:
    """ggml-impl.h ggml_ue4m3_to_fp32 (which includes the ×0.5 of the kvalues_mxfp4 convention)."""
    c = code.astype(np.int64)
    exp, man = (c >> 3) & 0xF, c & 0x7
    raw = np.where(exp == 0, np.ldexp(man.astype(np.float64), -9),
                   np.ldexp(1 + man / 8.0, exp - 7)).astype(F32)
    return np.where((c == 0) | (c == 0x7F), F32(0), raw * F32(0.5))


def quantize_nvfp4(x: np.ndarray, backend: str | None = None) -> np.ndarray:
    """quantize_row_nvfp4_ref: float32 values (a multiple of 64) → (n, 36) block_nvfp4 bytes: four
    sub-blocks of 16, each a UE4M3 scale amax / 6 and E2M1 codes (the nearest kvalues_mxfp4 · d)."""
    sub = np.ascontiguousarray(x, F32).reshape(-1, 4, 16)
    ue = fp32_to_ue4m3(np.abs(sub).max(axis=-1) / F32(6))
    d = ue4m3_to_fp32(ue)
    grid = KVALUES_MXFP4.astype(F32)[None, None, None, :] * d[..., None, None]  # (n, 4, 1, 16)
    codes = np.abs(grid - sub[..., None]).argmin(axis=-1).astype(np.uint8)  # the first nearest
    out = np.zeros((len(sub), 36), np.uint8)
    out[:, 0:4] = ue
    out[:, 4:] = (codes[:, :, :8] | (codes[:, :, 8:] << 4)).reshape(len(sub), 32)
    return out
