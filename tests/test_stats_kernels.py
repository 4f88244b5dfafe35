"""The numba ``float_stats`` kernel against two references, on random arrays full of awkward values
(NaN, ±Inf, ±0, subnormals, values near float32's limits, long runs of one value), every row length
(none, 1, short, around the 4,096-element piece), 1 to 3 parts on 1 or 2 numba threads:

- the numpy fallback ``_float_stats_numpy`` (merged over parts): counts, grid, row and column abs-max
  exactly equal, min and max equal as numbers, sums within float64 rounding;
- the kernel as it was before it was vectorized (``previous_float_stats`` below, its arithmetic copied
  verbatim): every output of every part bit-for-bit equal, the sign of a zero min or max included,
  except the three float64 sums, whose order of addition within a block changed: both versions must
  be within the rounding-error bound of a sum of at most 4,096 + blocks terms of the exact sum.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from paramscope.analyses.values import stats_kernels as K

numba = pytest.importorskip("numba")
from numba import njit, prange  # noqa: E402

from paramscope.analyses.values import stats_numba  # noqa: E402

SUMS = (K.F_S1, K.F_S2, K.F_SABS)
SPECIAL = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-45, -1e-45, 1e-39, -3e-39,
                    np.finfo(np.float32).max, -np.finfo(np.float32).max, 3e38, 1.0, -1.0], np.float32)


# --- the previous kernel, arithmetic verbatim (serial parts: prange without parallel is range) ---------
PREV_BLOCK = 4096


@njit(inline="always", cache=True)
def _prev_key(u):  # pragma: no cover - compiled
    v = np.int64(u)
    mag = v & 0x7FFFFFFF
    neg = v >> 31
    return neg * (0x7FFF - ((mag + 0xFFFF) >> 16)) + (1 - neg) * (0x8000 + (mag >> 16))


@njit(inline="always", cache=True)
def _prev_span(n, cols, p, parts):  # pragma: no cover - compiled
    unit = cols if cols > 0 else 1
    units = n // unit
    return units * p // parts * unit, units * (p + 1) // parts * unit


@njit(cache=True)  # compiling it costs ~3 s; cached in tests/__pycache__
def previous_float_stats(x, cols, k, grid, out, rowmax, colmax):  # pragma: no cover - compiled
    parts = grid.shape[0]
    bits = x.view(np.uint32)
    width = cols if cols > 0 else PREV_BLOCK
    for p in prange(parts):
        lo, hi = _prev_span(x.shape[0], cols, p, parts)
        acc = np.zeros(10)
        acc[5], acc[6] = np.inf, -np.inf
        for start in range(lo, hi, width):
            end = min(start + width, hi)
            if _prev_finite_block(x, bits, start, end, k, acc):
                _prev_grid_block(bits, start, end, grid[p])
                if cols > 0:
                    rowmax[start // cols] = _prev_colmax_block(x, start, end, colmax[p])
            else:
                _prev_careful_block(x, bits, start, end, cols, k, acc, grid[p], rowmax, colmax[p])
        out[p, :] = acc
        grid[p, 0x8000] += grid[p, 0x7FFF]
        grid[p, 0x7FFF] = 0


@njit(fastmath={"reassoc", "nsz", "contract"}, cache=True)
def _prev_finite_block(x, bits, lo, hi, k, acc):  # pragma: no cover - compiled
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


@njit(cache=True)
def _prev_grid_block(bits, lo, hi, g):  # pragma: no cover - compiled
    for i in range(lo, hi):
        g[_prev_key(bits[i])] += 1


@njit(cache=True)
def _prev_colmax_block(x, lo, hi, cm):  # pragma: no cover - compiled
    m = np.float32(0)
    for j in range(hi - lo):
        a = abs(x[lo + j])
        m = max(m, a)
        cm[j] = max(cm[j], a)
    return m


@njit(cache=True)
def _prev_careful_block(x, bits, lo, hi, cols, k, acc, g, rowmax, cm):  # pragma: no cover - compiled
    m = np.float32(0)
    for i in range(lo, hi):
        v = x[i]
        a = abs(v)
        if cols > 0:
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
            g[_prev_key(bits[i])] += 1
    if cols > 0:
        rowmax[lo // cols] = m


# --- inputs ---------------------------------------------------------------------------------------------
@st.composite
def arrays(draw: st.DrawFn) -> tuple[np.ndarray, int]:
    """(float32 values, cols): cols 0 (not rows) or a row length that divides the size."""
    cols = draw(st.sampled_from([0, 1, 3, 640, 4095, 4096, 4097, 9000]))
    # a chunk holds a row at least; parts of 2**16 elements and more count through the uint32 lanes
    most = draw(st.sampled_from([3 * 4096 + 7, 20000, 3 * 2**16 + 9]))
    n = cols * draw(st.integers(1, max(1, most // cols))) if cols else draw(st.integers(0, most))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = draw(st.sampled_from([1e-42, 1e-3, 1.0, 1e30]))
    x = rng.standard_normal(n) * scale + draw(st.sampled_from([0.0, 0.0, 3.0, -2e5]))
    shape = draw(st.sampled_from(["normal", "levels", "nonneg", "nonpos", "constant"]))
    if shape == "levels":  # quantized-like: few distinct values, zeros of both signs
        x = np.round(x / scale * 2) * (scale / 2)
    elif shape == "nonneg":  # the min is a zero (its sign is whichever zero comes first)
        x = np.round(np.abs(x) / scale) * scale
        x[rng.random(n) < 0.5] *= -0.0
    elif shape == "nonpos":
        x = -np.round(np.abs(x) / scale) * scale
    elif shape == "constant":
        x = np.full(n, draw(st.sampled_from([*SPECIAL[3:], 0.25])))
    with np.errstate(over="ignore"):
        x = x.astype(np.float32)
    # a few special values at random places: most blocks stay finite, some are not
    for _ in range(draw(st.integers(0, 6)) if n else 0):
        x[draw(st.integers(0, n - 1))] = draw(st.sampled_from(list(SPECIAL)))
    return x, cols


def run(kernel, x: np.ndarray, cols: int, k: float, parts: int):
    grid, out = np.zeros((parts, K.GRID), np.int64), np.zeros((parts, K.N_FIELDS))
    rowmax = np.full(x.size // cols if cols else 0, -1, np.float32)
    colmax = np.zeros((parts, max(cols, 1)), np.float32)
    kernel(x, cols, k, grid, out, rowmax, colmax)
    return grid, out, rowmax, colmax


def sum_bound(x: np.ndarray, k: float, cols: int) -> np.ndarray:
    """Per float64 sum: the error bound of adding its finite terms in blocks of at most 4,096 (or a
    row, the previous kernel's block) then over blocks, γ(m) · Σ|term| with m = block + blocks
    (+ 2 for the merge of parts); the terms themselves are exact here up to one rounding of x − k."""
    f = x[np.isfinite(x)].astype(np.float64)
    d = f - k
    m = max(4096, cols) + -(-x.size // max(1, min(4096, cols or 4096))) + 4
    u = 2.0**-53
    gamma = m * u / (1 - m * u)
    return np.array([gamma * np.abs(d).sum() + f.size * u * np.abs(d).sum(),
                     gamma * (d * d).sum() * 3 + 4 * f.size * u * (d * d).sum(),
                     gamma * np.abs(f).sum()])


def exact_sums(x: np.ndarray, k: float) -> np.ndarray:
    f = x[np.isfinite(x)].astype(np.float64)
    d = f - k
    return np.array([math.fsum(d), math.fsum(d * d), math.fsum(np.abs(f))])


@given(arrays(), st.sampled_from([1, 2, 3]), st.sampled_from([1, 2]), st.sampled_from([0.0, 0.3, -7.5]))
def test_float_stats_matches_the_previous_kernel_and_numpy(case, parts, threads, k):
    x, cols = case
    before = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        new = run(stats_numba.float_stats, x, cols, k, parts)
    finally:
        numba.set_num_threads(before)
    old = run(previous_float_stats, x, cols, k, parts)
    ref = run(K._float_stats_numpy, x, cols, k, 1)
    (g, o, r, c), (g0, o0, r0, c0), (g1, o1, r1, c1) = new, old, ref

    # the previous kernel, per part: bit for bit but for the sums
    assert np.array_equal(g, g0)
    assert r.tobytes() == r0.tobytes() and c.tobytes() == c0.tobytes()
    rest = [f for f in range(K.N_FIELDS) if f not in SUMS]
    assert o[:, rest].tobytes() == o0[:, rest].tobytes()
    # numpy, merged over parts
    assert np.array_equal(g.sum(0), g1[0])
    assert r.tobytes() == r1.tobytes() and c.max(0).tobytes() == c1[0].tobytes()
    for f in (K.F_NAN, K.F_POSINF, K.F_NEGINF, K.F_ZEROS, K.F_N):
        assert o[:, f].sum() == o1[0, f]
    assert o[:, K.F_MIN].min() == o1[0, K.F_MIN] and o[:, K.F_MAX].max() == o1[0, K.F_MAX]
    # the sums: each version within the bound of the exact sum
    exact, bound = exact_sums(x, k), sum_bound(x, k, cols)
    for got in (o[:, SUMS].sum(0), o0[:, SUMS].sum(0), o1[0, SUMS]):
        assert np.all(np.abs(got - exact) <= bound), (got, exact, bound)


def test_a_zero_min_or_max_keeps_the_sign_of_the_first_zero():
    """As the sequential min/max did: of equal values the first is kept, so -0 or +0 by position."""
    x = np.array([3.0, -0.0, 0.0, 2.0] * 3000 + [0.0, 5.0], np.float32)
    for values in (x, -x, x[::-1].copy(), -x[::-1]):
        new = run(stats_numba.float_stats, values, 0, 0.0, 1)
        old = run(previous_float_stats, values, 0, 0.0, 1)
        assert new[1][0, [K.F_MIN, K.F_MAX]].tobytes() == old[1][0, [K.F_MIN, K.F_MAX]].tobytes()
    first = run(stats_numba.float_stats, x, 0, 0.0, 1)[1][0, K.F_MIN]
    assert first == 0 and math.copysign(1, first) == -1
