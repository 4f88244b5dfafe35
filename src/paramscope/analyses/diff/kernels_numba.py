"""numba versions of the value-diff kernel (kernels.py states what they compute).

Imported only when numba is installed and a value diff runs. Each call cuts its chunk into
``out.shape[0]`` parts of whole rows (or of ``BLOCK`` values) run in ``prange``; every part writes its
own row of ``out``. ``_row_fast`` is compiled with fastmath so its reductions vectorise; it also counts
values whose exponent bits are all ones (NaN, ±Inf), and a row with any is redone by ``_row_exact``,
a plain loop that leaves them out. A float maximum in the same loop stops LLVM from vectorising it, so
the row's |b − a| go to a buffer whose maximum is taken on the bits (a non-negative float orders like
its bits as an unsigned integer), a loop that vectorises too. ``cache=True`` keeps the compiled code
between runs.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from paramscope.analyses.kernel_options import JitOptions
from paramscope.analyses.parallel_kernel import parallel_kernel

OPTIONS: JitOptions = {"parallel": True, "nogil": True, "cache": True}
BLOCK = 4096
EXP32 = np.uint32(0x7F800000)


@njit(fastmath=True, nogil=True, cache=True)
def _row_fast(a, b, ua, ub, lo, hi, gap):  # pragma: no cover - compiled
    # slices first, then a loop from 0: measured twice as fast as indexing a[lo + j]
    a = a[lo:hi]
    b = b[lo:hi]
    ua = ua[lo:hi]
    ub = ub[lo:hi]
    aa = 0.0
    bb = 0.0
    dd = 0.0
    changed = 0
    bad = 0
    for j in range(a.shape[0]):
        x = np.float64(a[j])
        y = np.float64(b[j])
        d = y - x
        aa += x * x
        bb += y * y
        dd += d * d
        gap[j] = abs(b[j] - a[j])
        changed += np.int64(a[j] != b[j])
        bad += np.int64((ua[j] & EXP32) == EXP32) + np.int64((ub[j] & EXP32) == EXP32)
    return aa, bb, dd, changed, bad


@njit(fastmath=True, nogil=True, cache=True)
def _bits_max(u, m):  # pragma: no cover - compiled
    top = np.uint32(0)
    for j in range(m):
        top = max(top, u[j])
    return top


@njit(nogil=True, cache=True)
def _row_exact(a, b, lo, hi):  # pragma: no cover - compiled
    aa = 0.0
    bb = 0.0
    dd = 0.0
    mx = np.float32(0.0)
    changed = 0
    bad_a = 0
    bad_b = 0
    for j in range(lo, hi):
        x = np.float64(a[j])
        y = np.float64(b[j])
        fx = np.isfinite(x)
        fy = np.isfinite(y)
        bad_a += not fx
        bad_b += not fy
        if x != y and not (np.isnan(x) and np.isnan(y)):
            changed += 1
        if fx and fy:
            d = y - x
            aa += x * x
            bb += y * y
            dd += d * d
            mx = max(mx, abs(b[j] - a[j]))
    return aa, bb, dd, mx, changed, bad_a, bad_b


@njit(nogil=True, cache=True)
def _rows(a, b, ua, ub, cols, out, rowe, p, u0, u1, gap):  # pragma: no cover - compiled
    """Rows (or blocks) u0 .. u1 of the chunk into ``out[p]``; ``gap`` is a row-sized float32 buffer."""
    n = a.shape[0]
    unit = cols if cols > 0 else BLOCK
    gap_bits = gap.view(np.uint32)
    aa = 0.0
    bb = 0.0
    dd = 0.0
    mx = np.float32(0.0)
    changed = 0
    bad_a = 0
    bad_b = 0
    for u in range(u0, u1):
        lo = u * unit
        hi = min(lo + unit, n)
        raa, rbb, rdd, rch, bad = _row_fast(a, b, ua, ub, lo, hi, gap)
        if bad:
            raa, rbb, rdd, rmx, rch, ra, rb = _row_exact(a, b, lo, hi)
            bad_a += ra
            bad_b += rb
        else:
            gap_bits[0] = _bits_max(gap_bits, hi - lo)
            rmx = gap[0]
        aa += raa
        bb += rbb
        dd += rdd
        mx = max(mx, rmx)
        changed += rch
        if u < rowe.shape[0]:  # rows when cols > 0 (a partial last row has no entry)
            rowe[u] = rdd
    out[p, 0] = aa
    out[p, 1] = bb
    out[p, 2] = dd
    out[p, 3] = mx
    out[p, 4] = changed
    out[p, 5] = bad_a
    out[p, 6] = bad_b


@parallel_kernel(OPTIONS)
def pair_f32(a, b, ua, ub, cols, out, rowe):  # pragma: no cover - compiled
    parts = out.shape[0]
    unit = cols if cols > 0 else BLOCK
    units = (a.shape[0] + unit - 1) // unit
    for p in prange(parts):
        gap = np.empty(unit, np.float32)
        _rows(a, b, ua, ub, cols, out, rowe, p, units * p // parts, units * (p + 1) // parts, gap)


@njit(nogil=True, cache=True)
def pair_f32_serial(a, b, ua, ub, cols, out, rowe):  # pragma: no cover - compiled
    """One part, no threads: for chunks too small to be worth waking them."""
    unit = cols if cols > 0 else BLOCK
    _rows(a, b, ua, ub, cols, out, rowe, 0, 0, (a.shape[0] + unit - 1) // unit, np.empty(unit, np.float32))


@njit(nogil=True, cache=True)
def _widen(codes, lo, m, wide):  # pragma: no cover - compiled
    for j in range(m):
        wide[j] = np.uint32(codes[lo + j]) << 16


@njit(nogil=True, cache=True)
def _rows_bf16(ca, cb, cols, out, rowe, p, u0, u1):  # pragma: no cover - compiled
    """Rows u0 .. u1 of BF16 codes into ``out[p]``: each row is widened into float32 buffers (the code
    is the top half of the float32), then the same row loop runs on them."""
    n = ca.shape[0]
    unit = cols if cols > 0 else BLOCK
    ua = np.empty(unit, np.uint32)
    ub = np.empty(unit, np.uint32)
    fa = ua.view(np.float32)
    fb = ub.view(np.float32)
    gap = np.empty(unit, np.float32)
    gap_bits = gap.view(np.uint32)
    aa = 0.0
    bb = 0.0
    dd = 0.0
    mx = np.float32(0.0)
    changed = 0
    bad_a = 0
    bad_b = 0
    for u in range(u0, u1):
        lo = u * unit
        m = min(lo + unit, n) - lo
        _widen(ca, lo, m, ua)
        _widen(cb, lo, m, ub)
        raa, rbb, rdd, rch, bad = _row_fast(fa, fb, ua, ub, 0, m, gap)
        if bad:
            raa, rbb, rdd, rmx, rch, ra, rb = _row_exact(fa, fb, 0, m)
            bad_a += ra
            bad_b += rb
        else:
            gap_bits[0] = _bits_max(gap_bits, m)
            rmx = gap[0]
        aa += raa
        bb += rbb
        dd += rdd
        mx = max(mx, rmx)
        changed += rch
        if u < rowe.shape[0]:
            rowe[u] = rdd
    out[p, 0] = aa
    out[p, 1] = bb
    out[p, 2] = dd
    out[p, 3] = mx
    out[p, 4] = changed
    out[p, 5] = bad_a
    out[p, 6] = bad_b


@parallel_kernel(OPTIONS)
def pair_bf16(ca, cb, cols, out, rowe):  # pragma: no cover - compiled
    parts = out.shape[0]
    unit = cols if cols > 0 else BLOCK
    units = (ca.shape[0] + unit - 1) // unit
    for p in prange(parts):
        _rows_bf16(ca, cb, cols, out, rowe, p, units * p // parts, units * (p + 1) // parts)


@njit(nogil=True, cache=True)
def pair_bf16_serial(ca, cb, cols, out, rowe):  # pragma: no cover - compiled
    unit = cols if cols > 0 else BLOCK
    _rows_bf16(ca, cb, cols, out, rowe, 0, 0, (ca.shape[0] + unit - 1) // unit)
