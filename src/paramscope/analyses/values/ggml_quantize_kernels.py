"""Compiled make_qkx2_quants and make_qx_quants (numba; imported only when quantizing with numba).

The two searches are the slow part of the k-quant quantizers: each tries 16 to 22 grids per sub-block,
and C order means a left-to-right sum per grid, which numpy can only do one element position at a time.
Here they are ggml-quants.c's loops as written, one sub-block per iteration of a ``prange``: float32
throughout (every constant is a float32, integers are converted before they meet a float, so nothing
widens to float64), and numba emits no fused multiply-add without fastmath, so each product and sum
rounds as C's does on x86-64. ggml_quantize.py does the rest (scales to 6 or 4 bits, halves, packing)
with numpy, whose element-wise operations are already exact.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from paramscope.analyses.kernel_options import JitOptions
from paramscope.analyses.parallel_kernel import parallel_kernel

F32 = np.float32
KERNEL_OPTIONS: JitOptions = {"parallel": True, "cache": True, "nogil": True}


@njit(inline="always")
def nearest_int(v: np.float32) -> int:
    return int(np.rint(v))


@parallel_kernel(KERNEL_OPTIONS)
def qkx2_rows(x, weights, nmax, rmin, rdelta, nstep, use_mad, scales, the_mins, levels):  # pragma: no cover
    """make_qkx2_quants on each row of ``x`` (float32 (rows, n)); fills scales, the_mins, levels."""
    n = x.shape[1]
    f_rmin, f_rdelta, f_nmax = F32(rmin), F32(rdelta), F32(nmax)
    for r in prange(x.shape[0]):
        xr, w, L = x[r], weights[r], levels[r]
        aux = np.empty(n, np.uint8)
        lo, hi = xr[0], xr[0]
        sum_w = w[0]
        sum_x = sum_w * xr[0]
        for i in range(1, n):
            if xr[i] < lo:
                lo = xr[i]
            if xr[i] > hi:
                hi = xr[i]
            sum_w += w[i]
            sum_x += w[i] * xr[i]
        if lo > 0:
            lo = F32(0)
        if hi == lo:
            for i in range(n):
                L[i] = 0
            scales[r] = F32(0)
            the_mins[r] = -lo
            continue
        iscale = f_nmax / (hi - lo)
        scale = F32(1) / iscale
        best_error = F32(0)
        for i in range(n):
            L[i] = max(0, min(nmax, nearest_int(iscale * (xr[i] - lo))))
            diff = scale * F32(L[i]) + lo - xr[i]
            diff = abs(diff) if use_mad else diff * diff
            best_error += w[i] * diff
        for step in range(nstep + 1):
            iscale = (f_rmin + f_rdelta * F32(step) + f_nmax) / (hi - lo)
            sum_l, sum_l2, sum_xl = F32(0), F32(0), F32(0)
            for i in range(n):
                level = max(0, min(nmax, nearest_int(iscale * (xr[i] - lo))))
                aux[i] = level
                wl = w[i] * F32(level)
                sum_l += wl
                sum_l2 += wl * F32(level)
                sum_xl += wl * xr[i]
            det = sum_w * sum_l2 - sum_l * sum_l
            if det > 0:
                this_scale = (sum_w * sum_xl - sum_x * sum_l) / det
                this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det
                if this_min > 0:
                    this_min = F32(0)
                    this_scale = sum_xl / sum_l2
                cur_error = F32(0)
                for i in range(n):
                    diff = this_scale * F32(aux[i]) + this_min - xr[i]
                    diff = abs(diff) if use_mad else diff * diff
                    cur_error += w[i] * diff
                if cur_error < best_error:
                    for i in range(n):
                        L[i] = aux[i]
                    best_error = cur_error
                    scale = this_scale
                    lo = this_min  # C overwrites 'min': the next grids start from it
        scales[r] = scale
        the_mins[r] = -lo


@parallel_kernel(KERNEL_OPTIONS)
def qx_rows(x, nmax, eps, scales, levels):  # pragma: no cover - compiled
    """make_qx_quants(n, nmax, x, L, rmse_type=1, NULL) on each row; fills scales and levels (L)."""
    n = x.shape[1]
    f_nmax = F32(nmax)
    for r in prange(x.shape[0]):
        xr, L = x[r], levels[r]
        top, amax = F32(0), F32(0)
        for i in range(n):
            ax = abs(xr[i])
            if ax > amax:
                amax = ax
                top = xr[i]
        if amax < eps:
            for i in range(n):
                L[i] = 0
            scales[r] = F32(0)
            continue
        iscale = -f_nmax / top
        sumlx, suml2 = F32(0), F32(0)
        for i in range(n):
            level = max(-nmax, min(nmax - 1, nearest_int(iscale * xr[i])))
            L[i] = level + nmax
            w = xr[i] * xr[i]
            sumlx += w * xr[i] * F32(level)
            suml2 += w * F32(level) * F32(level)
        scale = sumlx / suml2 if suml2 != 0 else F32(0)
        best = scale * sumlx
        for step in range(-9, 10):
            if step == 0:
                continue
            iscale = -(f_nmax + F32(0.1) * F32(step)) / top
            sumlx, suml2 = F32(0), F32(0)
            for i in range(n):
                level = max(-nmax, min(nmax - 1, nearest_int(iscale * xr[i])))
                w = xr[i] * xr[i]
                sumlx += w * xr[i] * F32(level)
                suml2 += w * F32(level) * F32(level)
            if suml2 > 0 and sumlx * sumlx > best * suml2:
                for i in range(n):
                    L[i] = nmax + max(-nmax, min(nmax - 1, nearest_int(iscale * xr[i])))
                scale = sumlx / suml2
                best = scale * sumlx
        scales[r] = scale


@njit(inline="always")
def best_index_int8(values, x):  # pragma: no cover - compiled
    """ggml-quants.c best_index_int8 over a float32 copy of the int8 table."""
    n = values.shape[0]
    if x <= values[0]:
        return 0
    if x >= values[n - 1]:
        return n - 1
    ml, mu = 0, n - 1
    while mu - ml > 1:
        mav = (ml + mu) // 2
        if x < values[mav]:
            mu = mav
        else:
            ml = mav
    return mu - 1 if x - values[mu - 1] < values[mu] - x else mu


@parallel_kernel(KERNEL_OPTIONS)
def iq4_rows(x, values, ntry, eps, scales):  # pragma: no cover - compiled
    """The per-block scale search of quantize_row_iq4_nl_impl with no importance matrix (weights x²)."""
    n = x.shape[1]
    v0 = values[0]
    for r in prange(x.shape[0]):
        xr = x[r]
        top, amax = F32(0), F32(0)
        for j in range(n):
            ax = abs(xr[j])
            if ax > amax:
                amax = ax
                top = xr[j]
        if amax < eps:
            scales[r] = F32(0)
            continue
        d = -top / v0 if ntry > 0 else top / v0
        inv = F32(1) / d
        sumqx, sumq2 = F32(0), F32(0)
        for j in range(n):
            q = values[best_index_int8(values, inv * xr[j])]
            w = xr[j] * xr[j]
            sumqx += w * q * xr[j]
            sumq2 += w * q * q
        d = sumqx / sumq2 if sumq2 > 0 else F32(0)
        best = d * sumqx
        for itry in range(-ntry, ntry + 1):
            inv = (F32(itry) + v0) / top
            sumqx, sumq2 = F32(0), F32(0)
            for j in range(n):
                q = values[best_index_int8(values, inv * xr[j])]
                w = xr[j] * xr[j]
                sumqx += w * q * xr[j]
                sumq2 += w * q * q
            if sumq2 > 0 and sumqx * sumqx > best * sumq2:
                d = sumqx / sumq2
                best = d * sumqx
        scales[r] = d


@parallel_kernel(KERNEL_OPTIONS)
def q3_rows(x, nmax, eps, scales, levels):  # pragma: no cover - compiled
    """make_q3_quants(n, nmax, x, L, do_rmse=true) on each row; fills scales and levels (L + nmax)."""
    n = x.shape[1]
    for r in prange(x.shape[0]):
        xr, out = x[r], levels[r]
        L = np.empty(n, np.int64)
        top, amax = F32(0), F32(0)
        for i in range(n):
            ax = abs(xr[i])
            if ax > amax:
                amax = ax
                top = xr[i]
        if amax < eps:
            for i in range(n):
                out[i] = 0
            scales[r] = F32(0)
            continue
        iscale = F32(-nmax) / top
        sumlx, suml2 = F32(0), F32(0)
        for i in range(n):
            level = max(-nmax, min(nmax - 1, nearest_int(iscale * xr[i])))
            L[i] = level
            w = xr[i] * xr[i]
            sumlx += w * xr[i] * F32(level)
            suml2 += w * F32(level) * F32(level)
        for _ in range(5):
            n_changed = 0
            for i in range(n):
                w = xr[i] * xr[i]
                slx = sumlx - w * xr[i] * F32(L[i])
                if slx > 0:
                    sl2 = suml2 - w * F32(L[i]) * F32(L[i])
                    new_l = max(-nmax, min(nmax - 1, nearest_int(xr[i] * sl2 / slx)))
                    if new_l != L[i]:
                        slx += w * xr[i] * F32(new_l)
                        sl2 += w * F32(new_l) * F32(new_l)
                        if sl2 > 0 and slx * slx * suml2 > sumlx * sumlx * sl2:
                            L[i] = new_l
                            sumlx = slx
                            suml2 = sl2
                            n_changed += 1
            if n_changed == 0:
                break
        for i in range(n):
            out[i] = L[i] + nmax
        scales[r] = sumlx / suml2 if suml2 > 0 else F32(0)
