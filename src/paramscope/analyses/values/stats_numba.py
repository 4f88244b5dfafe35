"""numba versions of the statistics kernels (stats_kernels.py states what they compute).

Imported only when numba is installed and a scan runs. Each kernel cuts its chunk into
``partials.shape[0]`` parts at row boundaries and runs them in ``prange``, every part writing only its
own row of the partial arrays; ``cache=True`` keeps the compiled code between runs (~0.1 s to load).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

OPTIONS = {"parallel": True, "nogil": True, "cache": True}


@njit(inline="always")
def _key(u: np.uint32) -> np.int64:
    # floor onto the bfloat16 grid, numbered in value order (stats_kernels.grid_keys), without a
    # branch; −0 lands on 0x7FFF, which the caller folds into +0's key 0x8000 afterwards
    v = np.int64(u)
    mag = v & 0x7FFFFFFF
    neg = v >> 31
    return neg * (0x7FFF - ((mag + 0xFFFF) >> 16)) + (1 - neg) * (0x8000 + (mag >> 16))


@njit(inline="always")
def _span(n: int, cols: int, p: int, parts: int) -> tuple[int, int]:
    """Elements [lo, hi) of part ``p``: whole rows when ``cols`` > 0."""
    unit = cols if cols > 0 else 1
    units = n // unit
    return units * p // parts * unit, units * (p + 1) // parts * unit


@njit(**OPTIONS)
def count_codes(codes, cols, abs_table, counts, rowmax, colmax):  # pragma: no cover - compiled
    parts = counts.shape[0]
    for p in prange(parts):
        c = counts[p]
        cm = colmax[p]
        lo, hi = _span(codes.shape[0], cols, p, parts)
        if cols == 0:
            for i in range(lo, hi):
                c[codes[i]] += 1
            continue
        # one pass: the count, the row's and the column's abs-max of each code together (splitting
        # them into separate loops measured slower: the table lookups do not vectorize)
        for start in range(lo, hi, cols):
            m = np.float32(0)
            for j in range(cols):
                code = codes[start + j]
                c[code] += 1
                a = abs_table[code]
                m = max(m, a)
                cm[j] = max(cm[j], a)
            rowmax[start // cols] = m


@njit(**OPTIONS)
def count_sign16(codes, cols, counts, rowmax, colmax):  # pragma: no cover - compiled
    """count_codes for 16-bit sign-magnitude floats (BF16, F16): the row and column maxima are of the
    magnitude bits (code & 0x7FFF), which order like |value|. Kept in uint16 and in a loop of its own
    per row, they vectorize; mixing in wider integers (or the count) measured 2-3x slower."""
    parts = counts.shape[0]
    for p in prange(parts):
        c = counts[p]
        cm = colmax[p]
        lo, hi = _span(codes.shape[0], cols, p, parts)
        if cols == 0:
            for i in range(lo, hi):
                c[codes[i]] += 1
            continue
        for start in range(lo, hi, cols):
            row = codes[start:start + cols]
            for i in range(cols):
                c[row[i]] += 1
            m = np.uint16(0)
            for j in range(cols):
                a = np.uint16(row[j] & np.uint16(0x7FFF))
                m = max(m, a)
                cm[j] = max(cm[j], a)
            rowmax[start // cols] = m


@njit(**OPTIONS)
def count_sign8(codes, cols, counts, rowmax, colmax):  # pragma: no cover - compiled
    """count_sign16 for 8-bit sign-magnitude floats (FP8 E4M3, E5M2): magnitude = code & 0x7F."""
    parts = counts.shape[0]
    for p in prange(parts):
        c = counts[p]
        cm = colmax[p]
        lo, hi = _span(codes.shape[0], cols, p, parts)
        if cols == 0:
            for i in range(lo, hi):
                c[codes[i]] += 1
            continue
        for start in range(lo, hi, cols):
            row = codes[start:start + cols]
            for i in range(cols):
                c[row[i]] += 1
            m = np.uint8(0)
            for j in range(cols):
                a = np.uint8(row[j] & np.uint8(0x7F))
                m = max(m, a)
                cm[j] = max(cm[j], a)
            rowmax[start // cols] = m


@njit(**OPTIONS)
def float_stats(x, cols, k, grid, out, rowmax, colmax):  # pragma: no cover - compiled
    parts = grid.shape[0]
    bits = x.view(np.uint32)
    width = cols if cols > 0 else BLOCK
    for p in prange(parts):
        lo, hi = _span(x.shape[0], cols, p, parts)
        acc = np.zeros(10)
        acc[5], acc[6] = np.inf, -np.inf
        for start in range(lo, hi, width):
            end = min(start + width, hi)
            if _finite_block(x, bits, start, end, k, acc):
                _grid_block(bits, start, end, grid[p])
                if cols > 0:
                    rowmax[start // cols] = _colmax_block(x, start, end, colmax[p])
            else:
                _careful_block(x, bits, start, end, cols, k, acc, grid[p], rowmax, colmax[p])
        out[p, :] = acc
        # −0 took key 0x7FFF in _key; it is +0's bin
        grid[p, 0x8000] += grid[p, 0x7FFF]
        grid[p, 0x7FFF] = 0


BLOCK = 4096  # elements per inner block when the chunk is not cut into rows


@njit(fastmath={"reassoc", "nsz", "contract"})
def _finite_block(x, bits, lo, hi, k, acc):  # pragma: no cover - compiled
    """Sums of one all-finite block, added to ``acc``; False (nothing added) if a NaN or Inf is in it.
    Reassociation lets the sums vectorize; the finiteness test reads the exponent bits, which
    fast-math cannot assume away."""
    bad = 0
    s1 = s2 = sabs = 0.0
    zeros = 0
    mn, mx = np.float32(np.inf), np.float32(-np.inf)
    for i in range(lo, hi):
        bad += (bits[i] & 0x7F800000) == 0x7F800000
        v = x[i]
        d = np.float64(v) - k
        s1 += d
        s2 += d * d
        sabs += abs(np.float64(v))
        zeros += v == 0
        mn = min(mn, v)
        mx = max(mx, v)
    if bad:
        return False
    acc[3] += zeros
    acc[4] += hi - lo
    acc[5] = min(acc[5], mn)
    acc[6] = max(acc[6], mx)
    acc[7] += s1
    acc[8] += s2
    acc[9] += sabs
    return True


@njit
def _grid_block(bits, lo, hi, g):  # pragma: no cover - compiled
    for i in range(lo, hi):
        g[_key(bits[i])] += 1


@njit
def _colmax_block(x, lo, hi, cm):  # pragma: no cover - compiled
    m = np.float32(0)
    for j in range(hi - lo):
        a = abs(x[lo + j])
        m = max(m, a)
        cm[j] = max(cm[j], a)
    return m


@njit
def _careful_block(x, bits, lo, hi, cols, k, acc, g, rowmax, cm):  # pragma: no cover - compiled
    """The same block, one element at a time, with NaN and ±Inf counted apart (rare)."""
    m = np.float32(0)
    for i in range(lo, hi):
        v = x[i]
        a = abs(v)
        if cols > 0:  # NaN counts as an infinite magnitude in the row and column abs-max
            big = np.float32(np.inf) if v != v else a
            m = max(m, big)
            cm[i - lo] = max(cm[i - lo], big)
        if v != v:
            acc[0] += 1
        elif a == np.inf:
            acc[1 if v > 0 else 2] += 1
        else:
            d = np.float64(v) - k
            acc[3] += v == 0
            acc[4] += 1
            acc[5] = min(acc[5], v)
            acc[6] = max(acc[6], v)
            acc[7] += d
            acc[8] += d * d
            acc[9] += a
            g[_key(bits[i])] += 1
    if cols > 0:
        rowmax[lo // cols] = m
