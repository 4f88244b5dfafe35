"""llama.cpp's k-quant quantizers (ggml-quants.c), ported so that the bytes are ggml's own.

``quantize_q2_k`` … ``quantize_q6_k`` write what ``ggml_quantize_chunk`` writes without an importance
matrix — the call llama-quantize makes, which for the k-quants is ``quantize_row_q{2,3,4,5,6}_K_ref``
(ggml_quantize_tables.py has IQ4_NL, IQ4_XS, Q1_0 and NVFP4). bench/ggml_reference.py compares them with
the C library block by block, and tests/test_ggml_reference.py repeats that on recorded outputs.

Bit-exactness rests on doing each float32 operation C does, in C's order:
- sums run left to right (``seq_sum``: ``np.add.accumulate`` is sequential, while ``ndarray.sum`` adds
  pairwise and rounds differently);
- products group as C writes them: ``w*l*x`` is ``(w*l)*x`` and ``w*diff*diff`` is ``w*(diff*diff)``
  when C first squares ``diff``;
- ggml-base is built for baseline x86-64 (no ``-march=native``), so no multiply-add is fused; a build
  that fuses them (``-ffp-contract`` on an FMA target, e.g. aarch64) can differ from this and from
  x86-64 llama.cpp alike;
- C's state is kept where a loop updates it: make_qkx2_quants' later grids start from the minimum of
  the last better fit, make_q3_quants moves one level at a time with running sums;
- the branches C takes on ties and edge cases are kept: a sub-block whose scale rounds to 0 keeps the
  levels its own fit chose, an all-zero Q6_K super-block is all zero bytes, 6-bit scales wrap through
  ``uint8_t`` before ``MIN(63, …)``.
The searches (make_qkx2_quants, make_qx_quants, make_q3_quants, the IQ4 scale search) run compiled
when numba is installed (ggml_quantize_kernels.py: C's loops as written, a sub-block per thread
iteration); otherwise numpy runs them vectorised across sub-blocks, one op per element position, so
every sub-block still gets C's exact sequence of operations. ``PARAMSCOPE_DECODE_BACKEND=numpy`` forces
numpy here as it does for decoding.
Both backends write the same bytes (tests/test_ggml_reference.py checks each against ggml).
"""

from __future__ import annotations

import numpy as np

from paramscope.model.dtypes import QK_K

F32 = np.float32
GROUP_MAX_EPS = F32(1e-15)  # ggml-quants.c: a group whose max |x| is below this is all zero


def seq_sum(a: np.ndarray) -> np.ndarray:
    """Σ over the last axis, left to right in float32: C's ``for (…) sum += a[i];``."""
    return np.add.accumulate(a, axis=-1, dtype=F32)[..., -1]


def nearest_int(v: np.ndarray) -> np.ndarray:
    """ggml's nearest_int (the 1.5 × 2²³ trick): round half to even, for |v| < 2²²."""
    return np.rint(np.asarray(v, F32)).astype(np.int32)


def fp16_round(v: np.ndarray) -> np.ndarray:
    """GGML_FP32_TO_FP16 then back (round to nearest even)."""
    return np.asarray(v, F32).astype(np.float16).astype(F32)


# --- make_qkx2_quants: x ≈ scale·L − the_min, L in 0..nmax -----------------------------------------------
def use_numba(backend: str | None) -> bool:
    """Run the compiled searches? ``backend`` as dequantize's (None: the default, numba if installed)."""
    from paramscope.analyses.values.decode import default_backend

    return (backend or default_backend()) == "numba"


def make_qkx2_quants(x: np.ndarray, w: np.ndarray, *, nmax: int, rmin: float, rdelta: float, nstep: int,
                     use_mad: bool = False, backend: str | None = None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(scale, the_min, L) per row of ``x`` under weights ``w``, as make_qkx2_quants: the starting grid,
    then ``nstep`` + 1 stretched grids each refit by weighted least squares; the error is Σ w·|d| with
    ``use_mad``, else Σ w·d²."""
    if use_numba(backend):
        from paramscope.analyses.values.ggml_quantize_kernels import qkx2_rows

        rows, n = x.reshape(-1, x.shape[-1]), x.shape[-1]
        scales, mins = np.empty(len(rows), F32), np.empty(len(rows), F32)
        codes = np.empty(rows.shape, np.uint8)
        qkx2_rows(np.ascontiguousarray(rows, F32), np.ascontiguousarray(w.reshape(-1, n), F32), nmax,
                  rmin, rdelta, nstep, use_mad, scales, mins, codes)
        return scales.reshape(x.shape[:-1]), mins.reshape(x.shape[:-1]), codes.reshape(x.shape)
    n = x.shape[-1]
    lo = np.minimum(x.min(axis=-1), F32(0))  # 'if (min > 0) min = 0'
    hi = x.max(axis=-1)
    sum_w = seq_sum(w)
    sum_x = seq_sum(w * x)
    flat = hi == lo

    def levels(iscale: np.ndarray, low: np.ndarray) -> np.ndarray:
        return np.clip(nearest_int(iscale[..., None] * (x - low[..., None])), 0, nmax).astype(F32)

    def error(scale: np.ndarray, offset: np.ndarray, lv: np.ndarray) -> np.ndarray:
        diff = scale[..., None] * lv + offset[..., None] - x
        return seq_sum(w * (np.abs(diff) if use_mad else diff * diff))

    iscale = F32(nmax) / (hi - lo)
    scale = F32(1) / iscale
    L = levels(iscale, lo)
    best_min = lo
    best_error = error(scale, lo, L)
    for step in range(nstep + 1):
        # C's loop reads 'min', which a better candidate overwrites: later grids start from the new min
        lv = levels((F32(rmin) + F32(rdelta) * F32(step) + F32(nmax)) / (hi - best_min), best_min)
        wl = w * lv
        sum_l, sum_l2, sum_xl = seq_sum(wl), seq_sum(wl * lv), seq_sum(wl * x)
        det = sum_w * sum_l2 - sum_l * sum_l
        this_scale = (sum_w * sum_xl - sum_x * sum_l) / det
        this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det
        clamp = this_min > 0
        this_scale = np.where(clamp, sum_xl / sum_l2, this_scale)
        this_min = np.where(clamp, F32(0), this_min)
        cur_error = error(this_scale, this_min, lv)
        better = (det > 0) & (cur_error < best_error)
        L = np.where(better[..., None], lv, L)
        best_error = np.where(better, cur_error, best_error)
        scale = np.where(better, this_scale, scale)
        best_min = np.where(better, this_min, best_min)
    L = np.where(flat[..., None], F32(0), L)
    return (np.where(flat, F32(0), scale).astype(F32), (-np.where(flat, lo, best_min)).astype(F32),
            L.astype(np.uint8).reshape(*x.shape[:-1], n))


# --- make_qx_quants (rmse_type 1, no weights): x ≈ scale·(L − nmax), L in 0..2·nmax−1 -----------------------
def make_qx_quants(x: np.ndarray, *, nmax: int, backend: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(scale, L) per row of ``x``: the grid through the largest |x|, then 18 stretched ones, each refit
    by least squares weighted by x², as make_qx_quants(n, nmax, x, L, 1, NULL)."""
    if use_numba(backend):
        from paramscope.analyses.values.ggml_quantize_kernels import qx_rows

        rows = np.ascontiguousarray(x.reshape(-1, x.shape[-1]), F32)
        scales, levels = np.empty(len(rows), F32), np.empty(rows.shape, np.uint8)
        qx_rows(rows, nmax, GROUP_MAX_EPS, scales, levels)
        return scales.reshape(x.shape[:-1]), levels.reshape(x.shape)
    pick = np.abs(x).argmax(axis=-1)[..., None]  # the first largest |x|, as C's strict '>'
    top = np.take_along_axis(x, pick, axis=-1)
    empty = (np.abs(top) < GROUP_MAX_EPS)[..., 0]
    top = np.where(empty[..., None], F32(1), top)
    w = x * x
    wx = w * x

    def fit(iscale: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        lv = np.clip(nearest_int(iscale * x), -nmax, nmax - 1).astype(F32)
        return lv, seq_sum(wx * lv), seq_sum(w * lv * lv)

    lv, sumlx, suml2 = fit(F32(-nmax) / top)
    L = lv
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(suml2 != 0, sumlx / suml2, F32(0)).astype(F32)
    best = scale * sumlx
    for step in (*range(-9, 0), *range(1, 10)):
        lv, sumlx, suml2 = fit(-(F32(nmax) + F32(0.1) * F32(step)) / top)
        better = (suml2 > 0) & (sumlx * sumlx > best * suml2)
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(better, sumlx / suml2, scale).astype(F32)
        best = np.where(better, scale * sumlx, best)
        L = np.where(better[..., None], lv, L)
    L = np.where(empty[..., None], F32(-nmax), L)  # C leaves L = 0 (level −nmax) in an all-zero group
    return np.where(empty, F32(0), scale).astype(F32), (L + nmax).astype(np.uint8)


# --- Q4_K and Q5_K: 8 sub-blocks of 32 with 6-bit scales and mins ----------------------------------------
def k_scale_min_quants(x: np.ndarray, nmax: int, rmin: float, nstep: int, backend: str | None = None
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """quantize_row_q4_K_ref / q5_K_ref up to packing: (d, dmin, 6-bit scales, 6-bit mins, levels)."""
    sub = np.ascontiguousarray(x, F32).reshape(-1, QK_K // 32, 32)
    with np.errstate(all="ignore"):  # flat sub-blocks divide by 0 in lanes whose results are dropped
        av_x = np.sqrt(seq_sum(sub * sub) / F32(32))
        weights = av_x[..., None] + np.abs(sub)
        scales, mins, L = make_qkx2_quants(sub, weights, nmax=nmax, rmin=rmin, rdelta=0.1, nstep=nstep,
                                           backend=backend)
        max_scale = np.maximum(scales.max(axis=1), F32(0))  # 'if (scale > max_scale)' from 0
        max_min = np.maximum(mins.max(axis=1), F32(0))
        inv_scale = np.where(max_scale > 0, F32(63) / max_scale, F32(0))
        inv_min = np.where(max_min > 0, F32(63) / max_min, F32(0))
        # uint8_t ls = nearest_int(…); ls = MIN(63, ls): the cast wraps first
        ls = np.minimum(nearest_int(inv_scale[:, None] * scales).astype(np.uint8), np.uint8(63))
        lm = np.minimum(nearest_int(inv_min[:, None] * mins).astype(np.uint8), np.uint8(63))
        d, dmin = fp16_round(max_scale / F32(63)), fp16_round(max_min / F32(63))
        step = d[:, None] * ls.astype(F32)
        offset = dmin[:, None] * lm.astype(F32)
        q = np.clip(nearest_int((sub + offset[..., None]) / step[..., None]), 0, nmax).astype(np.uint8)
    # 'if (!d) continue;': a sub-block whose scale rounds to 0 keeps the levels of its own fit
    return d, dmin, ls, lm, np.where(step[..., None] == 0, L, q)


def quantize_q4_k(x: np.ndarray, backend: str | None = None) -> np.ndarray:
    """quantize_row_q4_K_ref: float32 values (a multiple of 256) → (n, 144) block_q4_K bytes."""
    return pack_q4_k(*k_scale_min_quants(x, nmax=15, rmin=-1.0, nstep=20, backend=backend))


def quantize_q5_k(x: np.ndarray, backend: str | None = None) -> np.ndarray:
    """quantize_row_q5_K_ref: float32 values (a multiple of 256) → (n, 176) block_q5_K bytes."""
    d, dmin, ls, lm, q = k_scale_min_quants(x, nmax=31, rmin=-0.5, nstep=15, backend=backend)
    n = q.shape[0]
    out = np.zeros((n, 176), np.uint8)
    k4 = pack_q4_k(d, dmin, ls, lm, q & 0xF)
    out[:, :16] = k4[:, :16]
    out[:, 48:] = k4[:, 16:]
    # qh[j]: bit 2g is the fifth bit of element 64g + j, bit 2g + 1 that of element 64g + 32 + j
    fifth = (q >> 4).reshape(n, 8, 32)
    out[:, 16:48] = sum((fifth[:, k] << k for k in range(1, 8)), fifth[:, 0]).astype(np.uint8)
    return out


def pack_q4_k(d: np.ndarray, dmin: np.ndarray, ls: np.ndarray, lm: np.ndarray, q: np.ndarray
              ) -> np.ndarray:
    n = q.shape[0]
    out = np.zeros((n, 144), np.uint8)
    out[:, 0:2] = d.astype(np.float16).reshape(n, 1).view(np.uint8)
    out[:, 2:4] = dmin.astype(np.float16).reshape(n, 1).view(np.uint8)
    sc = out[:, 4:16]
    # 6-bit scales and mins, 8 of each in 12 bytes (ggml-common.h get_scale_min_k4 reads them back)
    sc[:, 0:4] = ls[:, 0:4]
    sc[:, 4:8] = lm[:, 0:4]
    sc[:, 8:12] = (ls[:, 4:8] & 0xF) | ((lm[:, 4:8] & 0xF) << 4)
    sc[:, 0:4] |= (ls[:, 4:8] >> 4) << 6
    sc[:, 4:8] |= (lm[:, 4:8] >> 4) << 6
    # 4 chunks of 64 values: low nibbles hold values 0..31 of the chunk, high nibbles 32..63
    pairs = q.reshape(n, 4, 2, 32)
    out[:, 16:] = (pairs[:, :, 0] | (pairs[:, :, 1] << 4)).reshape(n, 128)
    return out


# --- Q6_K ------------------------------------------------------------------------------------------------
def quantize_q6_k(x: np.ndarray, backend: str | None = None) -> np.ndarray:
    """quantize_row_q6_K_ref: float32 values (a multiple of 256) → (n, 210) block_q6_K bytes."""
    sub = np.ascontiguousarray(x, F32).reshape(-1, QK_K // 16, 16)
    with np.errstate(all="ignore"):
        scales, L = make_qx_quants(sub, nmax=32, backend=backend)
        pick = np.abs(scales).argmax(axis=1)[:, None]  # the first largest |scale|
        max_scale = np.take_along_axis(scales, pick, axis=1)[:, 0]
        empty = np.abs(max_scale) < GROUP_MAX_EPS
        iscale = np.where(empty, F32(0), F32(-128) / np.where(empty, F32(1), max_scale))
        d = fp16_round(np.where(empty, F32(0), F32(1) / iscale))
        # int8_t scales[ib] = MIN(127, nearest_int(iscale*scales[ib]))
        sc = np.minimum(nearest_int(iscale[:, None] * scales), 127).astype(np.int8)
        step = d[:, None] * sc.astype(F32)
        q = np.clip(nearest_int(sub / step[..., None]), -32, 31) + 32
    q = np.where(step[..., None] == 0, L, q.astype(np.uint8))
    out = pack_q6_k(d, sc, q)
    out[empty] = 0  # memset(&y[i], 0, sizeof(block_q6_K))
    return out


def pack_q6_k(d: np.ndarray, sc: np.ndarray, q: np.ndarray) -> np.ndarray:
    n = q.shape[0]
    out = np.zeros((n, 210), np.uint8)
    # two halves of 128 values; in each, 4 runs of 32 (a, b, c, e): ql = a|c<<4, b|e<<4; qh = 2 bits each
    runs = q.reshape(n, 2, 4, 32)
    low, high = runs & 0xF, runs >> 4
    ql = np.concatenate([low[:, :, 0] | (low[:, :, 2] << 4), low[:, :, 1] | (low[:, :, 3] << 4)], axis=2)
    qh = high[:, :, 0] | (high[:, :, 1] << 2) | (high[:, :, 2] << 4) | (high[:, :, 3] << 6)
    out[:, 0:128] = ql.reshape(n, 128)
    out[:, 128:192] = qh.reshape(n, 64)
    out[:, 192:208] = sc.reshape(n, 16).view(np.uint8)
    out[:, 208:210] = d.reshape(n, 1).astype(np.float16).view(np.uint8)
    return out


# --- Q2_K: 16 sub-blocks of 16 with 4-bit scales and mins ---------------------------------------------
def quantize_q2_k(x: np.ndarray, backend: str | None = None) -> np.ndarray:
    """quantize_row_q2_K_ref: float32 values (a multiple of 256) → (n, 84) block_q2_K bytes."""
    sub = np.ascontiguousarray(x, F32).reshape(-1, QK_K // 16, 16)
    q4scale = F32(15)
    with np.errstate(all="ignore"):
        scales, mins, L = make_qkx2_quants(sub, np.abs(sub), nmax=3, rmin=-0.5, rdelta=0.1, nstep=15,
                                           use_mad=True, backend=backend)
        max_scale = np.maximum(scales.max(axis=1), F32(0))
        max_min = np.maximum(mins.max(axis=1), F32(0))
        # y.scales[j] = nearest_int(…) and then |= l << 4: each store truncates to uint8_t
        ls = np.where(max_scale[:, None] > 0, nearest_int((q4scale / max_scale)[:, None] * scales), 0)
        lm = np.where(max_min[:, None] > 0, nearest_int((q4scale / max_min)[:, None] * mins), 0)
        packed = (ls.astype(np.uint8) | (lm << 4).astype(np.uint8)).astype(np.uint8)
        d = fp16_round(np.where(max_scale > 0, max_scale / q4scale, F32(0)))
        dmin = fp16_round(np.where(max_min > 0, max_min / q4scale, F32(0)))
        step = d[:, None] * (packed & 0xF).astype(F32)
        offset = dmin[:, None] * (packed >> 4).astype(F32)
        q = np.clip(nearest_int((sub + offset[..., None]) / step[..., None]), 0, 3).astype(np.uint8)
    q = np.where(step[..., None] == 0, L, q)
    n = q.shape[0]
    out = np.zeros((n, 84), np.uint8)
    out[:, 0:16] = packed
    # two halves of 128 values; qs[32h + l] holds values 128h + l + 32k in bits 2k..2k+1
    runs = q.reshape(n, 2, 4, 32)
    out[:, 16:80] = (runs[:, :, 0] | (runs[:, :, 1] << 2) | (runs[:, :, 2] << 4) | (runs[:, :, 3] << 6)
                     ).reshape(n, 64)
    out[:, 80:82] = d.astype(np.float16).reshape(n, 1).view(np.uint8)
    out[:, 82:84] = dmin.astype(np.float16).reshape(n, 1).view(np.uint8)
    return out


# --- Q3_K: 16 sub-blocks of 16, signed 3-bit levels, 6-bit scales ----------------------------------------
def make_q3_quants(x: np.ndarray, *, nmax: int, backend: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(scale, L) per row, as make_q3_quants(n, nmax, x, L, do_rmse=true): the grid through the largest
    |x|, then up to 5 passes that move one level at a time while Σ(x²·x·l)² / Σ(x²·l²) grows."""
    if use_numba(backend):
        from paramscope.analyses.values.ggml_quantize_kernels import q3_rows

        rows = np.ascontiguousarray(x.reshape(-1, x.shape[-1]), F32)
        scales, levels = np.empty(len(rows), F32), np.empty(rows.shape, np.uint8)
        q3_rows(rows, nmax, GROUP_MAX_EPS, scales, levels)
        return scales.reshape(x.shape[:-1]), levels.reshape(x.shape)
    pick = np.abs(x).argmax(axis=-1)[..., None]
    top = np.take_along_axis(x, pick, axis=-1)
    empty = (np.abs(top) < GROUP_MAX_EPS)[..., 0]
    top = np.where(empty[..., None], F32(1), top)
    L = np.clip(nearest_int((F32(-nmax) / top) * x), -nmax, nmax - 1).astype(F32)
    w = x * x
    wx = w * x
    sumlx, suml2 = seq_sum(wx * L), seq_sum(w * L * L)
    active = ~empty
    for _ in range(5):
        changed = np.zeros_like(active)
        for i in range(x.shape[-1]):
            xi, wi, wxi, li = x[..., i], w[..., i], wx[..., i], L[..., i]
            slx = sumlx - wxi * li
            sl2 = suml2 - wi * li * li
            new = np.clip(nearest_int(xi * sl2 / slx), -nmax, nmax - 1).astype(F32)
            slx2 = slx + wxi * new
            sl22 = sl2 + wi * new * new
            take = (active & (slx > 0) & (new != li) & (sl22 > 0)
                    & (slx2 * slx2 * suml2 > sumlx * sumlx * sl22))
            L[..., i] = np.where(take, new, li)
            sumlx = np.where(take, slx2, sumlx)
            suml2 = np.where(take, sl22, suml2)
            changed |= take
        active &= changed
    scale = np.where(suml2 > 0, sumlx / suml2, F32(0)).astype(F32)
    L = np.where(empty[..., None], F32(-nmax), L)  # C leaves L = 0 in an all-zero group
    return np.where(empty, F32(0), scale), (L + nmax).astype(np.uint8)


def quantize_q3_k(x: np.ndarray, backend: str | None = None) -> np.ndarray:
    """quantize_row_q3_K_ref: float32 values (a multiple of 256) → (n, 110) block_q3_K bytes."""
    sub = np.ascontiguousarray(x, F32).reshape(-1, QK_K // 16, 16)
    n = len(sub)
    with np.errstate(all="ignore"):
        scales, L = make_q3_quants(sub, nmax=4, backend=backend)
        pick = np.abs(scales).argmax(axis=1)[:, None]  # the first largest |scale|
        max_scale = np.take_along_axis(scales, pick, axis=1)[:, 0]
        has = max_scale != 0
        iscale = np.where(has, F32(-32) / np.where(has, max_scale, F32(1)), F32(0))
        # int8_t l = nearest_int(iscale*scales[j]); l = MAX(-32, MIN(31, l)) + 32
        ls = np.clip(nearest_int(iscale[:, None] * scales).astype(np.int8), -32, 31).astype(np.int16) + 32
        ls = np.where(has[:, None], ls, 0).astype(np.uint8)
        d = fp16_round(np.where(has, F32(1) / iscale, F32(0)))
        step = d[:, None] * (ls.astype(F32) - F32(32))
        q = np.clip(nearest_int(sub / step[..., None]), -4, 3) + 4
    L = np.where(step[..., None] == 0, L, q.astype(np.uint8)).reshape(n, QK_K)
    out = np.zeros((n, 110), np.uint8)
    high = L > 3  # hmask[j % 32] bit j // 32
    out[:, 0:32] = sum((high[:, 32 * k:32 * (k + 1)].astype(np.uint8) << k) for k in range(8))
    L = np.where(high, L - 4, L).astype(np.uint8)
    runs = L.reshape(n, 2, 4, 32)
    out[:, 32:96] = (runs[:, :, 0] | (runs[:, :, 1] << 2) | (runs[:, :, 2] << 4) | (runs[:, :, 3] << 6)
                     ).reshape(n, 64)
    sc = out[:, 96:108]
    sc[:, 0:8] = (ls[:, 0:8] & 0xF) | ((ls[:, 8:16] & 0xF) << 4)
    top2 = ls >> 4
    sc[:, 8:12] = top2[:, 0:4] | (top2[:, 4:8] << 2) | (top2[:, 8:12] << 4) | (top2[:, 12:16] << 6)
    out[:, 108:110] = d.astype(np.float16).reshape(n, 1).view(np.uint8)
    return out
