"""numba versions of the statistics kernels (stats_kernels.py states what they compute).

Imported only when numba is installed and a scan runs. Each kernel cuts its chunk into
``partials.shape[0]`` parts at row boundaries and runs them in ``prange``, every part writing only its
own row of the partial arrays; ``cache=True`` keeps the compiled code between runs (~0.1 s to load).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from paramscope.analyses.kernel_options import JitOptions
from paramscope.analyses.parallel_kernel import parallel_kernel

OPTIONS: JitOptions = {"parallel": True, "nogil": True, "cache": True}
BLOCK = 4096  # elements per piece: sums run over pieces, and a piece's keys stay in L1
LANES = 4  # interleaved sub-histograms (see _count_keys)
LANE_LIMIT = 2**32 - 1
# parts this small count into the grid directly: zeroing and merging the lanes costs ~50 µs, as much
# as counting 50,000 keys
LANES_FROM = 1 << 16

# numba widens integer arithmetic to 64 bits; the int32/uint32 casts below keep it at 32, which halves
# the vector work of _scan_piece (measured 0.65 -> 0.36 ns per value)
I32, U32 = np.int32, np.uint32


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


@parallel_kernel(OPTIONS)
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


@parallel_kernel(OPTIONS)
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


@parallel_kernel(OPTIONS)
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


@parallel_kernel(OPTIONS)
def float_stats(x, cols, k, grid, out, rowmax, colmax):  # pragma: no cover - compiled
    """Each part walks its rows (4,096-element blocks when ``cols`` is 0) in pieces of at most BLOCK
    elements. Per piece, ``_scan_piece`` (vectorized) reads every element once for the sums, min, max,
    the zero and non-finite counts, the row and column abs-max and each element's grid key; then
    ``_count_keys`` counts the keys. A piece holding NaN or ±Inf is redone by ``_careful_piece``.

    Every output but the three float64 sums is bit for bit that of the sequential loops this replaced
    (tests/test_stats_kernels.py keeps them as the reference), the sign of a zero min or max included;
    the sums differ in their last bits, the order of addition within a piece being the vectorizer's
    (Gemma's means and stds moved by at most 1.2e-14, relative)."""
    parts = grid.shape[0]
    bits = x.view(np.uint32)
    unit = cols if cols > 0 else BLOCK
    for p in prange(parts):
        lo, hi = _span(x.shape[0], cols, p, parts)
        acc = np.zeros(10)
        acc[5], acc[6] = np.inf, -np.inf
        keys = np.empty(BLOCK, np.uint16)
        use_lanes = hi - lo >= LANES_FROM
        lanes = np.zeros(LANES * grid.shape[1] if use_lanes else 0, U32)
        box = np.empty(2, U32)  # a float32's bits, read back as the float (no scalar view)
        cm = colmax[p].view(np.int32)
        since = 0
        for row in range(lo, hi, unit):
            row_end = min(row + unit, hi)
            rm = I32(0)
            for start in range(row, row_end, BLOCK):
                n = min(BLOCK, row_end - start)
                # cm is touched only with cols > 0: the slice is empty otherwise
                sub_cm = cm[start - row:start - row + n] if cols > 0 else cm[:0]
                bad, zeros, s1, s2, sabs, kmn, kmx, rm = _scan_piece(
                    x[start:start + n], bits[start:start + n], k, keys, sub_cm, rm)
                if bad:
                    _careful_piece(x, bits, start, start + n, k, acc, grid[p])
                    continue
                acc[3] += zeros
                acc[4] += n
                acc[7] += s1
                acc[8] += s2
                acc[9] += sabs
                box[0] = _order_bits(_first_zero(bits, start, n, kmn))
                box[1] = _order_bits(_first_zero(bits, start, n, kmx))
                acc[5] = min(acc[5], box.view(np.float32)[0])
                acc[6] = max(acc[6], box.view(np.float32)[1])
                if not use_lanes:
                    _count_direct(keys, n, grid[p])
                    continue
                # uint32 lanes cannot overflow: a lane holds some of the `since` elements counted
                # since the last merge, and after this test since + n <= LANE_LIMIT = 2**32 - 1.
                # In practice one merge per call: a chunk is ~4 Mi elements.
                if since + n > LANE_LIMIT:
                    _merge_lanes(lanes, grid[p])
                    since = 0
                _count_keys(keys, n, lanes)
                since += n
            if cols > 0:
                box[0] = U32(rm)
                rowmax[row // cols] = box.view(np.float32)[0]
        if use_lanes:
            _merge_lanes(lanes, grid[p])
        out[p, :] = acc
        # −0 took key 0x7FFF in _key; it is +0's bin
        grid[p, 0x8000] += grid[p, 0x7FFF]
        grid[p, 0x7FFF] = 0


@njit(inline="always")
def _order(u):  # pragma: no cover - compiled
    """float32 bits → int32 in the floats' order (−0 just below +0): integer min and max vectorize."""
    s = I32(u)
    return I32(s ^ I32(I32(s >> I32(31)) & I32(0x7FFFFFFF)))


@njit(inline="always")
def _order_bits(key):  # pragma: no cover - compiled
    """The inverse of _order (the same map), as uint32 bits."""
    return U32(I32(key ^ I32(I32(key >> I32(31)) & I32(0x7FFFFFFF))))


@njit(inline="always")
def _first_zero(bits, start, n, key):  # pragma: no cover - compiled
    """The piece's min (or max) as an order key. When it is a zero, the first zero of the piece, of
    either sign: the sequential ``min``/``max`` this replaces kept the first of equal values."""
    if key != -1 and key != 0:
        return key
    for i in range(start, start + n):
        if bits[i] & U32(0x7FFFFFFF) == 0:
            return _order(bits[i])
    return key


@njit(fastmath={"reassoc", "contract"})
def _scan_piece(x, bits, k, keys, cm, rm):  # pragma: no cover - compiled
    """One pass over a piece, vectorized: integer tests and maxima on the bits, float64 sums with
    reassociation (the order of the additions within a piece is the vectorizer's: the error stays
    that of a sum of at most BLOCK terms). Returns (any NaN or ±Inf, zeros, Σ(x−k), Σ(x−k)², Σ|x|,
    min and max as _order keys, row abs-max bits). The sums, min, max and keys are meaningless
    when there is a NaN or Inf; the row and column abs-max (``cm`` and ``rm``, as int32 bits of
    |x|, whose integer order is the floats' order) are right in every piece: NaN is clamped to +Inf's
    bits there, an infinite magnitude, as in the numpy kernel."""
    exp = U32(0)
    zeros = I32(0)  # a piece has at most BLOCK elements
    s1 = s2 = sabs = 0.0
    kmn = I32(0x7FFFFFFF)
    kmx = I32(-0x80000000)
    ncm = cm.shape[0]
    for i in range(x.shape[0]):
        u = bits[i]
        mag = U32(u & U32(0x7FFFFFFF))
        exp = max(exp, U32(u & U32(0x7F800000)))
        zeros = I32(zeros + (mag == U32(0)))
        key = _order(u)
        kmn = min(kmn, key)
        kmx = max(kmx, key)
        if ncm:  # a loop invariant: LLVM makes two loops of this one
            a = I32(min(mag, U32(0x7F800000)))
            rm = max(rm, a)
            cm[i] = max(cm[i], a)
        # _key without int64: t = bf16 magnitude floored towards −∞, a negative's key its complement
        neg = U32(U32(0) - U32(u >> U32(31)))
        t = U32(U32(mag + U32(neg & U32(0xFFFF))) >> U32(16))
        keys[i] = np.uint16(U32(U32(0x8000) + t) ^ neg)
        v = np.float64(x[i])
        d = v - k
        s1 += d
        s2 += d * d
        sabs += abs(v)
    return exp == U32(0x7F800000), zeros, s1, s2, sabs, kmn, kmx, rm


@njit
def _count_keys(keys, n, lanes):  # pragma: no cover - compiled
    """Count keys[:n] into LANES interleaved sub-histograms (element i into lane i % 4, at
    key * 4 + lane): repeated keys no longer wait on each other's increment, and a key's lanes share
    a cache line."""
    n4 = n // 4 * 4
    for i in range(0, n4, 4):
        lanes[np.intp(keys[i]) * 4] += 1
        lanes[np.intp(keys[i + 1]) * 4 + 1] += 1
        lanes[np.intp(keys[i + 2]) * 4 + 2] += 1
        lanes[np.intp(keys[i + 3]) * 4 + 3] += 1
    for i in range(n4, n):
        lanes[np.intp(keys[i]) * 4] += 1


@njit
def _count_direct(keys, n, g):  # pragma: no cover - compiled
    for i in range(n):
        g[keys[i]] += 1


@njit
def _merge_lanes(lanes, g):  # pragma: no cover - compiled
    for b in range(g.shape[0]):
        j = 4 * b
        g[b] += np.int64(lanes[j]) + np.int64(lanes[j + 1]) + np.int64(lanes[j + 2]) + np.int64(lanes[j + 3])
    lanes[:] = 0


@njit
def _careful_piece(x, bits, lo, hi, k, acc, g):  # pragma: no cover - compiled
    """The same piece, one element at a time, with NaN and ±Inf counted apart (rare); the row and
    column abs-max are already done."""
    for i in range(lo, hi):
        v = x[i]
        a = abs(v)
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
